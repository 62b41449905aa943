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

use super::grey::{GreyImage, WORK_SIDE};
use super::ops::{
    bounding_box, dilate, dilate_values, keep_digit_components, otsu_threshold, percentiles, resample_area,
    stroke_width, subtract_background,
};
use super::read::decode_grey;
use crate::data::error::DataError;
use std::path::Path;

/// Side of the output image (MNIST's 28).
pub const SIDE: usize = 28;
/// Side of the box the ink's bounding box is scaled into (MNIST's 20).
pub const BOX: usize = 20;
/// Where the centre of mass is placed in the 28×28 image (row, column), in pixel-index units (the
/// first pixel's centre is 0). MNIST's own digits average about this.
pub const CENTRE: (f64, f64) = (14.0, 14.0);

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

/// Reads an image file and preprocesses it into the 28×28 MNIST-style input ([`preprocess_grey`]).
pub fn load_and_preprocess(path: &Path) -> Result<Preprocessed, DataError> {
    Ok(preprocess_grey(&decode_grey(path)?))
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
    let tail = (0.002f64).max(8.0 / pixels.len() as f64).min(0.5);
    let [paper_level, dark, light] = percentiles(&pixels, [0.5, tail, 1.0 - tail]);
    let inverted = paper_level - dark > light - paper_level;
    let mut v = pixels;
    if inverted {
        v.iter_mut().for_each(|p| *p = 255.0 - *p);
    }

    // 3. Paper level per region, subtracted.
    let mut s = v;
    subtract_background(&mut s, w, h);

    // 4. Noise and threshold.
    let [med] = percentiles(&s, [0.5]);
    let dev: Vec<f32> = s.iter().map(|x| (x - med).abs()).collect();
    let [mad] = percentiles(&dev, [0.5]);
    drop(dev);
    let sigma = (1.4826 * mad).max(1.0);
    let otsu = otsu_threshold(&s);
    let threshold = otsu.max(med + 4.0 * sigma);
    let mask: Vec<bool> = s.iter().map(|&x| x > threshold).collect();

    // 5. Pieces of ink: keep the digit, drop specks and stray marks.
    let kept = keep_digit_components(&mask, w, h);
    drop(mask);
    let Some((bx0, by0, bx1, by1)) = bounding_box(&kept, w, h) else {
        return Preprocessed::empty(inverted, paper_level);
    };
    let ink_values: Vec<f32> = s.iter().zip(&kept).filter(|(_, k)| **k).map(|(x, _)| *x).collect();
    let [ink_level] = percentiles(&ink_values, [0.95]);
    let min_contrast = (6.0 * sigma).max(24.0);
    if ink_level - med < min_contrast {
        return Preprocessed::empty(inverted, paper_level);
    }

    // From here on only the region around the kept ink matters: `near` (the kept pieces grown by
    // `radius`) is where ink may be, so the rest is cut off.
    let long = (bx1 - bx0 + 1).max(by1 - by0 + 1);
    let radius = (long / 40).max(1);
    let (rx0, ry0) = (bx0.saturating_sub(radius), by0.saturating_sub(radius));
    let (rx1, ry1) = ((bx1 + radius).min(w - 1), (by1 + radius).min(h - 1));
    let (w, h) = (rx1 - rx0 + 1, ry1 - ry0 + 1);
    let region = |full: &[f32]| -> Vec<f32> {
        (ry0..=ry1).flat_map(|y| full[y * img.width + rx0..=y * img.width + rx1].iter().copied()).collect()
    };
    let kept: Vec<bool> =
        (ry0..=ry1).flat_map(|y| kept[y * img.width + rx0..=y * img.width + rx1].iter().copied()).collect();
    let s = region(&s);

    // 6. Clean ink: the noise floor removed, zero away from the kept pieces, stretched to 255.
    let near = dilate(&kept, w, h, radius);
    let floor = (med + 3.0 * sigma).min(med + 0.5 * (threshold - med));
    let span = (ink_level - floor).max(1.0);
    let ink: Vec<f32> = s
        .iter()
        .zip(&near)
        .map(|(&x, &n)| if n { ((x - floor) / span * 255.0).clamp(0.0, 255.0) } else { 0.0 })
        .collect();
    let Some((x0, y0, x1, y1)) = bounding_box(&ink.iter().map(|&x| x > 0.0).collect::<Vec<_>>(), w, h) else {
        return Preprocessed::empty(inverted, paper_level);
    };
    let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1);

    // 7. Thin strokes: thicken to ~2 pixels at the 20-pixel scale (MNIST's strokes are 2–3). The
    // ink is zero outside the region, so growing it needs the region widened by as much, up to the
    // image's edges.
    let long = cw.max(ch) as f64;
    let stroke = stroke_width(&kept, w, h);
    let scale = BOX as f64 / long;
    let want = 2.0 / scale;
    let mut pad = 0;
    let (mut ink, mut w, mut h, mut x0, mut y0, mut x1, mut y1) = (ink, w, h, x0, y0, x1, y1);
    if stroke * scale < 1.6 {
        pad = (((want - stroke) / 2.0).ceil() as usize).max(1);
        let (left, top) = (pad.min(rx0), pad.min(ry0));
        let (right, bottom) = (pad.min(img.width - 1 - rx1), pad.min(img.height - 1 - ry1));
        let (ww, wh) = (w + left + right, h + top + bottom);
        let mut wide = vec![0f32; ww * wh];
        for y in 0..h {
            wide[(y + top) * ww + left..(y + top) * ww + left + w].copy_from_slice(&ink[y * w..(y + 1) * w]);
        }
        ink = dilate_values(&wide, ww, wh, pad);
        (w, h, x0, y0, x1, y1) = (ww, wh, x0 + left, y0 + top, x1 + left, y1 + top);
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
}
