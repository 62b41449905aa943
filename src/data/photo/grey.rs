//! Grey images: the luminance of a decoded photo, transparency composited, large photos averaged
//! down, as `f32` levels the preprocessing works on.

use image::DynamicImage;

/// Larger images are averaged down (by a whole factor) until no side exceeds this, before any other
/// step: the digit ends up 20 pixels tall anyway, and a digit a tenth of the frame's height still
/// keeps 25. Averaging also lowers the sensor noise the threshold must clear. (It was 1,024; at 256 a
/// 300–600 px photo costs a quarter of the preprocessing time and reads as well: 985 of 1,000
/// photo-like test digits against 984, `examples/bench_photo.rs`.)
pub const WORK_SIDE: usize = 256;

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

/// The image's luminance, averaged down by a whole factor until no side exceeds [`WORK_SIDE`].
/// Transparent pixels are composited over a background that contrasts with the opaque ones (a
/// drawing of dark strokes on a transparent canvas reads as dark ink on white).
/// (`read::decode_grey` does the same from a file without keeping the decoded image.)
pub fn to_grey(img: &DynamicImage) -> GreyImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    match img {
        DynamicImage::ImageLuma8(p) => grey_of(Pixels::Luma(p.as_raw()), w, h),
        DynamicImage::ImageLumaA8(p) => grey_of(Pixels::LumaAlpha(p.as_raw()), w, h),
        DynamicImage::ImageRgb8(p) => grey_of(Pixels::Rgb(p.as_raw()), w, h),
        DynamicImage::ImageRgba8(p) => grey_of(Pixels::Rgba(p.as_raw()), w, h),
        other if other.color().has_alpha() => grey_of(Pixels::Rgba(other.to_rgba8().as_raw()), w, h),
        other => grey_of(Pixels::Rgb(other.to_rgb8().as_raw()), w, h),
    }
}

/// 8-bit pixels, row-major, in one of the layouts decoders give.
#[derive(Clone, Copy)]
pub(super) enum Pixels<'a> {
    Luma(&'a [u8]),
    LumaAlpha(&'a [u8]),
    Rgb(&'a [u8]),
    Rgba(&'a [u8]),
}

/// The luminance of an sRGB pixel: Rec. 709 weights (0.2126, 0.7152, 0.0722) in 16-bit fixed point
/// (they sum to 65536, so white stays 255), rounded.
pub(super) fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((13_933 * u32::from(r) + 46_871 * u32::from(g) + 4_732 * u32::from(b) + 32_768) >> 16) as u8
}

/// [`to_grey`] on 8-bit pixels, `w × h`. Large images are averaged down as they are read, so
/// nothing of their full size is allocated here.
pub(super) fn grey_of(pixels: Pixels, w: usize, h: usize) -> GreyImage {
    match pixels {
        Pixels::Luma(raw) => grey_from(raw, 1, w, h, |p| p[0], None::<fn(&[u8]) -> u8>),
        Pixels::LumaAlpha(raw) => grey_from(raw, 2, w, h, |p| p[0], Some(|p: &[u8]| p[1])),
        Pixels::Rgb(raw) => grey_from(raw, 3, w, h, |p| luma(p[0], p[1], p[2]), None::<fn(&[u8]) -> u8>),
        Pixels::Rgba(raw) => grey_from(raw, 4, w, h, |p| luma(p[0], p[1], p[2]), Some(|p: &[u8]| p[3])),
    }
}

/// [`grey_of`] for pixels of `channels` bytes, with their luminance and (if any) alpha.
fn grey_from(
    raw: &[u8],
    channels: usize,
    w: usize,
    h: usize,
    luma_of: impl Fn(&[u8]) -> u8 + Copy,
    alpha_of: Option<impl Fn(&[u8]) -> u8 + Copy>,
) -> GreyImage {
    let px = |i: usize| &raw[i * channels..(i + 1) * channels];
    // Composite over a contrasting background only when some pixel is not opaque.
    let under = alpha_of.filter(|alpha| (0..w * h).any(|i| alpha(px(i)) < 255)).map(|alpha| {
        let (sum, weight) = (0..w * h).fold((0.0f64, 0.0f64), |(s, n), i| {
            let a = f64::from(alpha(px(i)));
            (s + f64::from(luma_of(px(i))) * a, n + a)
        });
        let opaque_mean = if weight > 0.0 { sum / weight } else { 0.0 };
        (alpha, if opaque_mean < 128.0 { 255.0f32 } else { 0.0 })
    });
    let level = |i: usize| -> f32 {
        let g = f32::from(luma_of(px(i)));
        match under {
            Some((alpha, under)) => {
                let a = f32::from(alpha(px(i))) / 255.0;
                g * a + under * (1.0 - a)
            }
            None => g,
        }
    };
    let factor = w.max(h).div_ceil(WORK_SIDE).max(1);
    if factor == 1 {
        let pixels = match under {
            None => raw.chunks_exact(channels).map(|p| f32::from(luma_of(p))).collect(),
            Some(_) => (0..w * h).map(level).collect(),
        };
        return GreyImage { width: w, height: h, pixels };
    }
    let (ow, oh) = (w.div_ceil(factor), h.div_ceil(factor));
    if under.is_none() {
        // Opaque: whole levels summed as integers (what the f32 sums below give exactly), column
        // sums over each band of `factor` rows first (contiguous, vectorised), then across.
        let mut pixels = Vec::with_capacity(ow * oh);
        let mut columns = vec![0u32; w];
        for band in raw.chunks(factor * w * channels) {
            columns.fill(0);
            for row in band.chunks_exact(w * channels) {
                for (c, p) in columns.iter_mut().zip(row.chunks_exact(channels)) {
                    *c += u32::from(luma_of(p));
                }
            }
            let rows = (band.len() / (w * channels)) as f32;
            pixels.extend(columns.chunks(factor).map(|c| c.iter().sum::<u32>() as f32 / (c.len() as f32 * rows)));
        }
        return GreyImage { width: ow, height: oh, pixels };
    }
    let mut sum = vec![0.0f32; ow * oh];
    let mut count = vec![0u32; ow * oh];
    for y in 0..h {
        let row = (y / factor) * ow;
        for x in 0..w {
            sum[row + x / factor] += level(y * w + x);
            count[row + x / factor] += 1;
        }
    }
    let pixels = sum.iter().zip(&count).map(|(&s, &c)| s / c.max(1) as f32).collect();
    GreyImage { width: ow, height: oh, pixels }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_keeps_black_white_and_greys() {
        assert_eq!(luma(0, 0, 0), 0);
        assert_eq!(luma(255, 255, 255), 255);
        for g in 0..=255u8 {
            assert_eq!(luma(g, g, g), g);
        }
        assert_eq!(luma(255, 0, 0), 54);
        assert_eq!(luma(0, 255, 0), 182);
        assert_eq!(luma(0, 0, 255), 18);
    }

    #[test]
    fn large_images_are_averaged_by_whole_blocks() {
        // 600×7 grey: factor 3, the last column block whole, the last row block one row.
        let (w, h) = (600, 7);
        let raw: Vec<u8> = (0..w * h).map(|i| ((i * 37) % 256) as u8).collect();
        let g = grey_of(Pixels::Luma(&raw), w, h);
        assert_eq!((g.width, g.height), (200, 3));
        for (oy, rows) in [(0, 0..3), (1, 3..6), (2, 6..7)] {
            for ox in [0, 77, 199] {
                let block: Vec<f32> = rows
                    .clone()
                    .flat_map(|y| (3 * ox..3 * ox + 3).map(move |x| (y, x)))
                    .map(|(y, x)| f32::from(raw[y * w + x]))
                    .collect();
                assert_eq!(g.pixels[oy * 200 + ox], block.iter().sum::<f32>() / block.len() as f32);
            }
        }
        // Colour: the same levels as the grey image of its luminance.
        let rgb: Vec<u8> = raw.iter().flat_map(|&v| [v, v / 2, 255 - v]).collect();
        let lum: Vec<u8> = rgb.chunks_exact(3).map(|p| luma(p[0], p[1], p[2])).collect();
        assert_eq!(grey_of(Pixels::Rgb(&rgb), w, h), grey_of(Pixels::Luma(&lum), w, h));
    }
}
