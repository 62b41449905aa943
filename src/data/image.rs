//! Digit photos → MNIST-style 28×28 images, the way MNIST itself was made, made robust to photos.
//!
//! MNIST's digits are white ink (255) on black (0), the ink's bounding box scaled into 20×20 with its
//! aspect ratio kept (with anti-aliasing), then placed in 28×28 so that the centre of mass is in the
//! middle. A phone photo or scan is none of that: grey or tinted paper, uneven light, sensor noise,
//! dark ink on light paper (usually) or light on dark, any size, anywhere in the frame. The pipeline
//! ([`preprocess_grey`]) is:
//!
//! 1. grey levels (luminance; [`load_and_preprocess`] applies the EXIF orientation first, and large
//!    photos are averaged down to at most [`WORK_SIDE`] pixels a side);
//! 2. polarity: the paper is the median level, the ink is the long tail on one side of it; when the
//!    long tail is the dark side the paper is light and the image is inverted, so ink is bright;
//! 3. the paper level, estimated locally (a low percentile per block, then the minimum over
//!    neighbouring blocks, interpolated) and subtracted, so grey or unevenly lit paper counts as 0;
//! 4. threshold: Otsu's, but never below 4σ of the paper's noise (σ from the median absolute
//!    deviation), so sensor noise is not ink; no ink when nothing stands clear of the noise;
//! 5. connected pieces of ink: small specks and pieces far from the digit are dropped;
//! 6. crop to the ink's bounding box and stretch the darkest ink to full intensity (255);
//! 7. thin pen strokes are thickened to the stroke width MNIST digits have at 20×20;
//! 8. scale into 20×20 keeping the aspect ratio, with an area filter (each output pixel the mean of
//!    the input area it covers);
//! 9. place in 28×28 with the centre of mass at the centre.
//!
//! Everything up to decoding is pure functions on pixels, so a web page or another command can reuse
//! it with pixels from anywhere.

use super::error::DataError;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use std::path::Path;

/// Side of the output image (MNIST's 28).
pub const SIDE: usize = 28;
/// Side of the box the ink's bounding box is scaled into (MNIST's 20).
pub const BOX: usize = 20;
/// Images wider or taller than this are refused before decoding (read from the header).
pub const MAX_SIDE: u32 = 16_384;
/// Images with more pixels than this (50 megapixels) are refused before decoding.
pub const MAX_PIXELS: u64 = 50_000_000;
/// Most bytes the decoder may allocate (a 50-megapixel RGBA image needs 200 MB).
pub const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
/// Larger images are averaged down (by a whole factor) until no side exceeds this, before any other
/// step: the digit ends up 20 pixels tall anyway.
pub const WORK_SIDE: usize = 1024;
/// Where the centre of mass is placed in the 28×28 image (row, column), in pixel-index units (the
/// first pixel's centre is 0). MNIST's own digits average about this.
pub const CENTRE: (f64, f64) = (14.0, 14.0);

/// A grey image: `pixels[y * width + x]`, 0 = black to 255 = white (any `f32`, not rounded).
#[derive(Clone, Debug, PartialEq)]
pub struct GreyImage {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Row-major grey levels.
    pub pixels: Vec<f32>,
}

/// What the preprocessing made of an image: the 28×28 input and what it found.
#[derive(Clone, Debug, PartialEq)]
pub struct Preprocessed {
    /// 28×28 grey levels, row-major, ink 255 on background 0 (like MNIST); all 0 when no ink.
    pub pixels: Vec<u8>,
    /// Whether any ink was found (clearly above the paper's noise).
    pub ink: bool,
    /// Whether the paper was light (dark ink) and the image was inverted.
    pub inverted: bool,
    /// The paper's median grey level in the input (0–255).
    pub paper_level: f32,
}

impl Preprocessed {
    fn empty(inverted: bool, paper_level: f32) -> Self {
        Self { pixels: vec![0; SIDE * SIDE], ink: false, inverted, paper_level }
    }
}

/// Decodes a PNG or JPEG file with the EXIF orientation applied. The header is read first and
/// images over [`MAX_SIDE`] or [`MAX_PIXELS`] are refused before any pixel is decoded; the decoder
/// itself runs under [`MAX_DECODE_BYTES`].
pub fn decode(path: &Path) -> Result<DynamicImage, DataError> {
    decode_with(path, || open_reader(path))
}

/// [`decode`] for an image already in memory (an upload, say), with the same checks and limits;
/// `name` only names it in error messages.
pub fn decode_bytes(bytes: &[u8], name: &Path) -> Result<DynamicImage, DataError> {
    decode_with(name, || {
        let io = |source| DataError::Io { path: name.to_path_buf(), action: "reading", source };
        let reader = ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().map_err(io)?;
        check_format(reader, name, || Ok(bytes[..bytes.len().min(8)].to_vec()))
    })
}

/// The shared body of [`decode`] and [`decode_bytes`]: `open` gives a fresh reader each time (the
/// header is read with one, the pixels with another).
fn decode_with<R: std::io::BufRead + std::io::Seek>(
    path: &Path,
    open: impl Fn() -> Result<ImageReader<R>, DataError>,
) -> Result<DynamicImage, DataError> {
    let reader = open()?;
    let (width, height) = reader.into_dimensions().map_err(|e| decode_error(path, e))?;
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(DataError::ImageTooLarge {
            path: path.to_path_buf(),
            width,
            height,
            max_side: MAX_SIDE,
            max_pixels: MAX_PIXELS,
        });
    }
    let mut reader = open()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| decode_error(path, e))?;
    // A broken EXIF block is no reason to refuse the picture: use it unrotated.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(path, e))?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Opens `path` and identifies PNG or JPEG by content (not by extension).
fn open_reader(path: &Path) -> Result<ImageReader<std::io::BufReader<std::fs::File>>, DataError> {
    let io = |source| DataError::Io { path: path.to_path_buf(), action: "reading", source };
    // By content only: `ImageReader::open` would trust the extension of a text file named `x.png`.
    let file = std::fs::File::open(path).map_err(io)?;
    let reader = ImageReader::new(std::io::BufReader::new(file)).with_guessed_format().map_err(io)?;
    check_format(reader, path, || {
        let mut start = [0u8; 8];
        let n = std::fs::File::open(path).and_then(|mut f| std::io::Read::read(&mut f, &mut start)).map_err(io)?;
        Ok(start[..n].to_vec())
    })
}

/// PNG and JPEG pass; anything else is refused, naming the format or the first bytes (`start`).
fn check_format<R: std::io::BufRead + std::io::Seek>(
    reader: ImageReader<R>,
    path: &Path,
    start: impl FnOnce() -> Result<Vec<u8>, DataError>,
) -> Result<ImageReader<R>, DataError> {
    match reader.format() {
        Some(image::ImageFormat::Png | image::ImageFormat::Jpeg) => Ok(reader),
        Some(other) => Err(DataError::ImageUnsupported { path: path.to_path_buf(), format: format!("{other:?}") }),
        None => {
            let start = start()?;
            let found = if start.is_empty() {
                "the file is empty".to_string()
            } else {
                format!(
                    "it starts with bytes {}",
                    start.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
                )
            };
            Err(DataError::NotAnImage { path: path.to_path_buf(), found })
        }
    }
}

fn decode_error(path: &Path, e: image::ImageError) -> DataError {
    match e {
        image::ImageError::IoError(source) => DataError::Io { path: path.to_path_buf(), action: "reading", source },
        other => DataError::ImageDecode { path: path.to_path_buf(), message: other.to_string() },
    }
}

/// Reads an image file and preprocesses it into the 28×28 MNIST-style input ([`preprocess_grey`]).
pub fn load_and_preprocess(path: &Path) -> Result<Preprocessed, DataError> {
    let img = decode(path)?;
    Ok(preprocess_grey(&to_grey(&img)))
}

/// The image's luminance, averaged down by a whole factor until no side exceeds [`WORK_SIDE`].
/// Transparent pixels are composited over a background that contrasts with the opaque ones (a
/// drawing of dark strokes on a transparent canvas reads as dark ink on white).
pub fn to_grey(img: &DynamicImage) -> GreyImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (luma, alpha) = if img.color().has_alpha() {
        let la = img.to_luma_alpha8();
        let raw = la.into_raw();
        let luma: Vec<u8> = raw.iter().step_by(2).copied().collect();
        let alpha: Vec<u8> = raw.iter().skip(1).step_by(2).copied().collect();
        (luma, Some(alpha))
    } else {
        (img.to_luma8().into_raw(), None)
    };
    let mut grey: Vec<f32> = luma.iter().map(|&v| f32::from(v)).collect();
    if let Some(alpha) = alpha.filter(|a| a.iter().any(|&v| v < 255)) {
        let (sum, weight) = luma
            .iter()
            .zip(&alpha)
            .fold((0.0f64, 0.0f64), |(s, n), (&l, &a)| (s + f64::from(l) * f64::from(a), n + f64::from(a)));
        let opaque_mean = if weight > 0.0 { sum / weight } else { 0.0 };
        let under = if opaque_mean < 128.0 { 255.0 } else { 0.0 };
        for (g, &a) in grey.iter_mut().zip(&alpha) {
            let a = f32::from(a) / 255.0;
            *g = *g * a + under * (1.0 - a);
        }
    }
    let factor = w.max(h).div_ceil(WORK_SIDE).max(1);
    if factor == 1 {
        return GreyImage { width: w, height: h, pixels: grey };
    }
    let (ow, oh) = (w.div_ceil(factor), h.div_ceil(factor));
    let mut sum = vec![0.0f32; ow * oh];
    let mut count = vec![0u32; ow * oh];
    for y in 0..h {
        let row = (y / factor) * ow;
        for x in 0..w {
            sum[row + x / factor] += grey[y * w + x];
            count[row + x / factor] += 1;
        }
    }
    let pixels = sum.iter().zip(&count).map(|(&s, &c)| s / c.max(1) as f32).collect();
    GreyImage { width: ow, height: oh, pixels }
}

/// The preprocessing pipeline (see the module documentation) on grey levels (0 black – 255 white):
/// returns the 28×28 MNIST-style image (ink 255 on 0) and what it found. Images larger than
/// [`WORK_SIDE`] are averaged down first.
pub fn preprocess_grey(img: &GreyImage) -> Preprocessed {
    let (w, h) = (img.width, img.height);
    if w == 0 || h == 0 || img.pixels.len() != w * h {
        return Preprocessed::empty(false, 0.0);
    }
    if w.max(h) > WORK_SIDE {
        let f = w.max(h) as f64 / WORK_SIDE as f64;
        let (nw, nh) = (((w as f64 / f).round() as usize).max(1), ((h as f64 / f).round() as usize).max(1));
        let small = GreyImage { width: nw, height: nh, pixels: resample_area(&img.pixels, w, h, nw, nh) };
        return preprocess_grey(&small);
    }
    let pixels: Vec<f32> = img.pixels.iter().map(|v| if v.is_finite() { v.clamp(0.0, 255.0) } else { 0.0 }).collect();

    // 2. Polarity: the paper is the median; the ink is whichever tail reaches further from it.
    let mut sorted = pixels.clone();
    sorted.sort_by(f32::total_cmp);
    let paper_level = percentile_sorted(&sorted, 0.5);
    let tail = (0.002f64).max(8.0 / sorted.len() as f64).min(0.5);
    let dark_reach = paper_level - percentile_sorted(&sorted, tail);
    let light_reach = percentile_sorted(&sorted, 1.0 - tail) - paper_level;
    let inverted = dark_reach > light_reach;
    let v: Vec<f32> = if inverted { pixels.iter().map(|p| 255.0 - p).collect() } else { pixels };

    // 3. Paper level per region, subtracted.
    let bg = background_map(&v, w, h);
    let s: Vec<f32> = v.iter().zip(&bg).map(|(a, b)| a - b).collect();

    // 4. Noise and threshold.
    let mut ss = s.clone();
    ss.sort_by(f32::total_cmp);
    let med = percentile_sorted(&ss, 0.5);
    let mut dev: Vec<f32> = s.iter().map(|x| (x - med).abs()).collect();
    dev.sort_by(f32::total_cmp);
    let sigma = (1.4826 * percentile_sorted(&dev, 0.5)).max(1.0);
    let otsu = otsu_threshold(&ss);
    let threshold = otsu.max(med + 4.0 * sigma);
    let mask: Vec<bool> = s.iter().map(|&x| x > threshold).collect();

    // 5. Pieces of ink: keep the digit, drop specks and stray marks.
    let kept = keep_digit_components(&mask, w, h);
    let ink_values: Vec<f32> = s.iter().zip(&kept).filter(|(_, k)| **k).map(|(x, _)| *x).collect();
    if ink_values.is_empty() {
        return Preprocessed::empty(inverted, paper_level);
    }
    let mut iv = ink_values;
    iv.sort_by(f32::total_cmp);
    let ink_level = percentile_sorted(&iv, 0.95);
    let min_contrast = (6.0 * sigma).max(24.0);
    if ink_level - med < min_contrast {
        return Preprocessed::empty(inverted, paper_level);
    }

    // 6. Clean ink: the noise floor removed, zero away from the kept pieces, stretched to 255.
    let (bx0, by0, bx1, by1) = bounding_box(&kept, w, h).unwrap_or((0, 0, w - 1, h - 1));
    let long = (bx1 - bx0 + 1).max(by1 - by0 + 1);
    let radius = (long / 40).max(1);
    let near = dilate(&kept, w, h, radius);
    let floor = (med + 3.0 * sigma).min(med + 0.5 * (threshold - med));
    let span = (ink_level - floor).max(1.0);
    let mut ink: Vec<f32> = s
        .iter()
        .zip(&near)
        .map(|(&x, &n)| if n { ((x - floor) / span * 255.0).clamp(0.0, 255.0) } else { 0.0 })
        .collect();
    let Some((x0, y0, x1, y1)) = bounding_box(&ink.iter().map(|&x| x > 0.0).collect::<Vec<_>>(), w, h) else {
        return Preprocessed::empty(inverted, paper_level);
    };
    let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1);

    // 7. Thin strokes: thicken to ~2 pixels at the 20-pixel scale (MNIST's strokes are 2–3).
    let long = cw.max(ch) as f64;
    let stroke = stroke_width(&kept, w, h);
    let scale = BOX as f64 / long;
    let want = 2.0 / scale;
    let mut pad = 0;
    if stroke * scale < 1.6 {
        pad = (((want - stroke) / 2.0).ceil() as usize).max(1);
        ink = dilate_values(&ink, w, h, pad);
    }
    let (x0, y0) = (x0.saturating_sub(pad), y0.saturating_sub(pad));
    let (x1, y1) = ((x1 + pad).min(w - 1), (y1 + pad).min(h - 1));
    let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1);
    let mut crop = Vec::with_capacity(cw * ch);
    for y in y0..=y1 {
        crop.extend_from_slice(&ink[y * w + x0..=y * w + x1]);
    }

    // 8. Into 20×20, aspect ratio kept, area filter; the darkest ink at 255.
    let (dw, dh) = if cw >= ch {
        (BOX, ((BOX as f64 * ch as f64 / cw as f64).round() as usize).clamp(1, BOX))
    } else {
        (((BOX as f64 * cw as f64 / ch as f64).round() as usize).clamp(1, BOX), BOX)
    };
    let mut small = resample_area(&crop, cw, ch, dw, dh);
    let max = small.iter().copied().fold(0.0f32, f32::max);
    if max <= 0.0 {
        return Preprocessed::empty(inverted, paper_level);
    }
    small.iter_mut().for_each(|x| *x = (*x * 255.0 / max).clamp(0.0, 255.0));

    // 9. Centre of mass to the centre of 28×28.
    let (mut m, mut my, mut mx) = (0.0f64, 0.0f64, 0.0f64);
    for y in 0..dh {
        for x in 0..dw {
            let v = f64::from(small[y * dw + x]);
            m += v;
            my += v * y as f64;
            mx += v * x as f64;
        }
    }
    let (cy, cx) = (my / m, mx / m);
    let oy = ((CENTRE.0 - cy).round().max(0.0) as usize).min(SIDE - dh);
    let ox = ((CENTRE.1 - cx).round().max(0.0) as usize).min(SIDE - dw);
    let mut out = vec![0u8; SIDE * SIDE];
    for y in 0..dh {
        for x in 0..dw {
            out[(y + oy) * SIDE + x + ox] = small[y * dw + x].round() as u8;
        }
    }
    Preprocessed { pixels: out, ink: true, inverted, paper_level }
}

/// The value at fraction `q` (0–1) of sorted values, interpolated.
fn percentile_sorted(sorted: &[f32], q: f64) -> f32 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, (pos - pos.floor()) as f32);
    let j = (i + 1).min(sorted.len() - 1);
    sorted[i] + (sorted[j] - sorted[i]) * frac
}

/// Otsu's threshold on sorted values: the level that maximises the between-class variance of the
/// two sides (over a 256-bin histogram of the values' range).
fn otsu_threshold(sorted: &[f32]) -> f32 {
    let (lo, hi) = (sorted[0], sorted[sorted.len() - 1]);
    if hi - lo < 1e-6 {
        return hi;
    }
    let bins = 256;
    let width = (hi - lo) / bins as f32;
    let mut hist = vec![0f64; bins];
    for &x in sorted {
        hist[(((x - lo) / width) as usize).min(bins - 1)] += 1.0;
    }
    let total: f64 = hist.iter().sum();
    let sum_all: f64 = hist.iter().enumerate().map(|(i, &c)| i as f64 * c).sum();
    let (mut w0, mut sum0, mut best, mut best_i) = (0.0, 0.0, -1.0, 0);
    for (i, &c) in hist.iter().enumerate() {
        w0 += c;
        sum0 += i as f64 * c;
        let w1 = total - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let d = sum0 / w0 - (sum_all - sum0) / w1;
        let between = w0 * w1 * d * d;
        if between > best {
            best = between;
            best_i = i;
        }
    }
    lo + (best_i + 1) as f32 * width
}

/// The paper level under each pixel of an ink-bright image: per block (about 16 blocks along the
/// longer side) the 30th percentile, then the minimum over the 3×3 neighbouring blocks (a block full
/// of ink takes its neighbours' paper), bilinearly interpolated between block centres.
fn background_map(v: &[f32], w: usize, h: usize) -> Vec<f32> {
    let block = w.max(h).div_ceil(16).max(8);
    let (gw, gh) = (w.div_ceil(block), h.div_ceil(block));
    let mut grid = vec![0f32; gw * gh];
    let mut buf = Vec::with_capacity(block * block);
    for gy in 0..gh {
        for gx in 0..gw {
            buf.clear();
            for y in gy * block..((gy + 1) * block).min(h) {
                buf.extend_from_slice(&v[y * w + gx * block..y * w + ((gx + 1) * block).min(w)]);
            }
            buf.sort_by(f32::total_cmp);
            grid[gy * gw + gx] = percentile_sorted(&buf, 0.3);
        }
    }
    let mut low = grid.clone();
    for gy in 0..gh {
        for gx in 0..gw {
            let mut m = f32::INFINITY;
            for ny in gy.saturating_sub(1)..=(gy + 1).min(gh - 1) {
                for nx in gx.saturating_sub(1)..=(gx + 1).min(gw - 1) {
                    m = m.min(grid[ny * gw + nx]);
                }
            }
            low[gy * gw + gx] = m;
        }
    }
    let coord = |p: usize, n: usize| {
        let g = ((p as f32 + 0.5) / block as f32 - 0.5).clamp(0.0, (n - 1) as f32);
        let i = (g.floor() as usize).min(n - 1);
        (i, (i + 1).min(n - 1), g - i as f32)
    };
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        let (y0, y1, fy) = coord(y, gh);
        for x in 0..w {
            let (x0, x1, fx) = coord(x, gw);
            let top = low[y0 * gw + x0] * (1.0 - fx) + low[y0 * gw + x1] * fx;
            let bottom = low[y1 * gw + x0] * (1.0 - fx) + low[y1 * gw + x1] * fx;
            out[y * w + x] = top * (1.0 - fy) + bottom * fy;
        }
    }
    out
}

/// Keeps the pieces (8-connected) of `mask` that make up the digit: the largest, and every piece
/// at least 5% of its size (and a few pixels) that lies within one digit size of it.
fn keep_digit_components(mask: &[bool], w: usize, h: usize) -> Vec<bool> {
    let mut label = vec![0u32; w * h];
    // (area, x0, y0, x1, y1) per component; label k is index k − 1.
    let mut comps: Vec<(usize, usize, usize, usize, usize)> = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !mask[start] || label[start] != 0 {
            continue;
        }
        let id = comps.len() as u32 + 1;
        let mut c = (0, usize::MAX, usize::MAX, 0, 0);
        label[start] = id;
        stack.push(start);
        while let Some(p) = stack.pop() {
            let (x, y) = (p % w, p / w);
            c = (c.0 + 1, c.1.min(x), c.2.min(y), c.3.max(x), c.4.max(y));
            for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    let q = ny * w + nx;
                    if mask[q] && label[q] == 0 {
                        label[q] = id;
                        stack.push(q);
                    }
                }
            }
        }
        comps.push(c);
    }
    let min_area = 4 + (w * h) / 20_000;
    let Some((big, &(area, bx0, by0, bx1, by1))) = comps.iter().enumerate().max_by_key(|(_, c)| c.0) else {
        return vec![false; w * h];
    };
    if area < min_area {
        return vec![false; w * h];
    }
    let reach = (bx1 - bx0).max(by1 - by0) + 1;
    let keep: Vec<bool> = comps
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let near = c.1 <= bx1 + reach && c.3 + reach >= bx0 && c.2 <= by1 + reach && c.4 + reach >= by0;
            i == big || (c.0 * 20 >= area && c.0 >= min_area && near)
        })
        .collect();
    label.iter().map(|&l| l != 0 && keep[l as usize - 1]).collect()
}

/// (x0, y0, x1, y1), inclusive, of the set pixels; `None` when none are.
fn bounding_box(mask: &[bool], w: usize, h: usize) -> Option<(usize, usize, usize, usize)> {
    let mut b: Option<(usize, usize, usize, usize)> = None;
    for y in 0..h {
        for x in 0..w {
            if mask[y * w + x] {
                b = Some(match b {
                    None => (x, y, x, y),
                    Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
                });
            }
        }
    }
    b
}

/// The set pixels grown by `r` in every direction (a square structuring element).
fn dilate(mask: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    let as_f: Vec<f32> = mask.iter().map(|&m| if m { 1.0 } else { 0.0 }).collect();
    dilate_values(&as_f, w, h, r).iter().map(|&v| v > 0.0).collect()
}

/// Each value replaced by the maximum within `r` pixels (square window), rows then columns.
fn dilate_values(v: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut rows = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let (a, b) = (x.saturating_sub(r), (x + r).min(w - 1));
            rows[y * w + x] = v[y * w + a..=y * w + b].iter().copied().fold(0.0, f32::max);
        }
    }
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        let (a, b) = (y.saturating_sub(r), (y + r).min(h - 1));
        for x in 0..w {
            out[y * w + x] = (a..=b).map(|yy| rows[yy * w + x]).fold(0.0, f32::max);
        }
    }
    out
}

/// Mean stroke width of the set pixels: area over half the boundary length (a stroke of width `s`
/// and length `L` has area `sL` and about `2L` boundary pixels).
fn stroke_width(mask: &[bool], w: usize, h: usize) -> f64 {
    let (mut area, mut edge) = (0usize, 0usize);
    for y in 0..h {
        for x in 0..w {
            if !mask[y * w + x] {
                continue;
            }
            area += 1;
            let outside = |dx: isize, dy: isize| {
                let (nx, ny) = (x as isize + dx, y as isize + dy);
                nx < 0 || ny < 0 || nx >= w as isize || ny >= h as isize || !mask[ny as usize * w + nx as usize]
            };
            if outside(1, 0) || outside(-1, 0) || outside(0, 1) || outside(0, -1) {
                edge += 1;
            }
        }
    }
    if edge == 0 { 0.0 } else { 2.0 * area as f64 / edge as f64 }
}

/// Resamples a `sw`×`sh` image to `dw`×`dh` with an area filter: each output pixel is the mean of
/// the input area it covers (fractional pixels weighted by coverage), columns then rows.
pub fn resample_area(src: &[f32], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<f32> {
    let weights = |s: usize, d: usize| -> Vec<Vec<(usize, f32)>> {
        let ratio = s as f64 / d as f64;
        (0..d)
            .map(|o| {
                let (a, b) = (o as f64 * ratio, (o + 1) as f64 * ratio);
                let mut ws = Vec::new();
                let mut i = a.floor() as usize;
                while (i as f64) < b && i < s {
                    let cover = (b.min(i as f64 + 1.0) - a.max(i as f64)) / ratio;
                    if cover > 0.0 {
                        ws.push((i, cover as f32));
                    }
                    i += 1;
                }
                ws
            })
            .collect()
    };
    let (wx, wy) = (weights(sw, dw), weights(sh, dh));
    let mut tmp = vec![0f32; dw * sh];
    for y in 0..sh {
        for (ox, ws) in wx.iter().enumerate() {
            tmp[y * dw + ox] = ws.iter().map(|&(i, c)| src[y * sw + i] * c).sum();
        }
    }
    let mut out = vec![0f32; dw * dh];
    for (oy, ws) in wy.iter().enumerate() {
        for x in 0..dw {
            out[oy * dw + x] = ws.iter().map(|&(i, c)| tmp[i * dw + x] * c).sum();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w`×`h` page of `paper` with deterministic noise of about ±`noise`, and `ink` drawn where
    /// `shape(x, y)` holds.
    fn page(w: usize, h: usize, paper: f32, ink: f32, noise: f32, shape: impl Fn(usize, usize) -> bool) -> GreyImage {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let pixels = (0..w * h)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let n = ((state % 2001) as f32 / 1000.0 - 1.0) * noise;
                let base = if shape(i % w, i / w) { ink } else { paper };
                (base + n).clamp(0.0, 255.0)
            })
            .collect();
        GreyImage { width: w, height: h, pixels }
    }

    fn centre_of_mass(p: &[u8]) -> (f64, f64) {
        let (mut m, mut my, mut mx) = (0.0, 0.0, 0.0);
        for (i, &v) in p.iter().enumerate() {
            let v = f64::from(v);
            m += v;
            my += v * (i / SIDE) as f64;
            mx += v * (i % SIDE) as f64;
        }
        (my / m, mx / m)
    }

    fn ink_box(p: &[u8]) -> (usize, usize) {
        let mask: Vec<bool> = p.iter().map(|&v| v > 0).collect();
        let (x0, y0, x1, y1) = bounding_box(&mask, SIDE, SIDE).unwrap();
        (x1 - x0 + 1, y1 - y0 + 1)
    }

    /// A thick "1": a vertical bar, off-centre.
    fn one(x: usize, y: usize) -> bool {
        (200..230).contains(&x) && (60..260).contains(&y)
    }

    /// A thick "0": a ring, off-centre.
    fn zero(x: usize, y: usize) -> bool {
        let (dx, dy) = ((x as f64 - 90.0) / 60.0, (y as f64 - 200.0) / 90.0);
        let r = (dx * dx + dy * dy).sqrt();
        (0.7..1.0).contains(&r)
    }

    fn check_mnist_like(p: &Preprocessed, tall: bool) {
        assert!(p.ink);
        assert_eq!(p.pixels.iter().copied().max(), Some(255));
        let (cy, cx) = centre_of_mass(&p.pixels);
        assert!((cy - 14.0).abs() <= 1.0 && (cx - 14.0).abs() <= 1.0, "centre of mass ({cy}, {cx})");
        let (bw, bh) = ink_box(&p.pixels);
        assert!(bw <= BOX && bh <= BOX, "ink box {bw}×{bh}");
        if tall {
            assert_eq!(bh, BOX);
        }
        // Background: the corners of the 28×28 are empty.
        for (y, x) in [(0, 0), (0, 27), (27, 0), (27, 27), (1, 1), (26, 26)] {
            assert_eq!(p.pixels[y * SIDE + x], 0);
        }
        let ink_pixels = p.pixels.iter().filter(|&&v| v > 0).count();
        assert!((20..=400).contains(&ink_pixels), "{ink_pixels} ink pixels");
    }

    #[test]
    fn dark_ink_on_grey_noisy_paper() {
        for (paper, noise) in [(215.0, 12.0), (245.0, 4.0), (180.0, 20.0)] {
            let p = preprocess_grey(&page(320, 300, paper, 40.0, noise, one));
            assert!(p.inverted);
            assert!((p.paper_level - paper).abs() < 5.0);
            check_mnist_like(&p, true);
            let z = preprocess_grey(&page(320, 300, paper, 40.0, noise, zero));
            assert!(z.inverted);
            check_mnist_like(&z, true);
            // A ring keeps its hole.
            assert_eq!(z.pixels[14 * SIDE + 14], 0);
        }
    }

    #[test]
    fn light_ink_on_dark_is_not_inverted() {
        let p = preprocess_grey(&page(320, 300, 30.0, 220.0, 10.0, one));
        assert!(!p.inverted);
        check_mnist_like(&p, true);
        let z = preprocess_grey(&page(320, 300, 50.0, 200.0, 10.0, zero));
        assert!(!z.inverted);
        check_mnist_like(&z, true);
    }

    #[test]
    fn uneven_lighting_is_not_ink() {
        // Paper from 150 on the left to 245 on the right; the ink on the right (125) is lighter than
        // the paper on the left.
        let mut img = page(400, 300, 120.0, 0.0, 6.0, zero);
        for (i, v) in img.pixels.iter_mut().enumerate() {
            let x = (i % 400) as f32;
            *v = (*v + 30.0 + 95.0 * x / 399.0).clamp(0.0, 255.0);
        }
        let p = preprocess_grey(&img);
        assert!(p.inverted);
        check_mnist_like(&p, true);
    }

    #[test]
    fn specks_far_away_are_ignored() {
        let speck = |x: usize, y: usize| (2..6).contains(&x) && (2..6).contains(&y);
        let with = preprocess_grey(&page(320, 300, 220.0, 30.0, 6.0, |x, y| one(x, y) || speck(x, y)));
        let without = preprocess_grey(&page(320, 300, 220.0, 30.0, 6.0, one));
        check_mnist_like(&with, true);
        assert_eq!(ink_box(&with.pixels), ink_box(&without.pixels));
    }

    #[test]
    fn blank_and_noise_only_pages_hold_no_ink() {
        for img in [
            page(200, 150, 230.0, 230.0, 0.0, |_, _| false),
            page(200, 150, 230.0, 230.0, 15.0, |_, _| false),
            page(300, 300, 40.0, 40.0, 25.0, |_, _| false),
            GreyImage { width: 0, height: 0, pixels: vec![] },
        ] {
            let p = preprocess_grey(&img);
            assert!(!p.ink);
            assert!(p.pixels.iter().all(|&v| v == 0));
            assert_eq!(p.pixels.len(), SIDE * SIDE);
        }
    }

    #[test]
    fn thin_pen_strokes_are_thickened() {
        // A 3-pixel-wide "1" 400 pixels tall: 0.15 pixels at 20×20 unless thickened.
        let p = preprocess_grey(&page(300, 500, 230.0, 40.0, 4.0, |x, y| {
            (150..153).contains(&x) && (50..450).contains(&y)
        }));
        check_mnist_like(&p, true);
        let (bw, _) = ink_box(&p.pixels);
        assert!(bw >= 2, "stroke {bw} pixel(s) wide");
        let strong = p.pixels.iter().filter(|&&v| v > 128).count();
        assert!(strong >= 30, "{strong} strong pixels");
    }

    #[test]
    fn large_images_are_reduced_first() {
        let p = preprocess_grey(&page(2500, 2000, 220.0, 30.0, 8.0, |x, y| {
            (1500..1700).contains(&x) && (300..1800).contains(&y)
        }));
        check_mnist_like(&p, true);
    }

    #[test]
    fn area_resampling_keeps_the_mean() {
        let src: Vec<f32> = (0..37 * 23).map(|i| (i % 11) as f32 * 20.0).collect();
        let out = resample_area(&src, 37, 23, 20, 13);
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!((mean(&src) - mean(&out)).abs() < 0.5);
        assert_eq!(resample_area(&[7.0; 16], 4, 4, 2, 2), vec![7.0; 4]);
        assert_eq!(resample_area(&[0.0, 10.0, 20.0, 30.0], 4, 1, 2, 1), vec![5.0, 25.0]);
    }

    #[test]
    fn otsu_splits_two_levels() {
        let mut v: Vec<f32> = (0..100).map(|i| if i < 70 { 20.0 } else { 200.0 }).collect();
        v.sort_by(f32::total_cmp);
        let t = otsu_threshold(&v);
        assert!(t > 20.0 && t <= 200.0, "{t}");
    }

    #[test]
    fn decode_bytes_reads_what_decode_reads_and_refuses_what_it_refuses() {
        use image::ImageEncoder;
        let grey: Vec<u8> = (0..40 * 30).map(|i| (i % 251) as u8).collect();
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png).write_image(&grey, 40, 30, image::ExtendedColorType::L8).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.png");
        std::fs::write(&file, &png).unwrap();
        let name = Path::new("upload");
        assert_eq!(decode_bytes(&png, name).unwrap(), decode(&file).unwrap());
        assert!(matches!(decode_bytes(b"hello, world", name), Err(DataError::NotAnImage { .. })));
        assert!(matches!(decode_bytes(b"", name), Err(DataError::NotAnImage { .. })));
        assert!(matches!(decode_bytes(&png[..40], name), Err(DataError::ImageDecode { .. } | DataError::Io { .. })));
    }
}
