//! Grey images: the luminance of a decoded photo, transparency composited, large photos averaged
//! down, as `f32` levels the preprocessing works on.

use image::DynamicImage;

/// Larger images are averaged down (by a whole factor) until no side exceeds this, before any other
/// step: the digit ends up 20 pixels tall anyway.
pub const WORK_SIDE: usize = 1024;

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
    if img.color().has_alpha() {
        grey_of(img.to_luma_alpha8().as_raw(), true, w, h)
    } else {
        grey_of(img.to_luma8().as_raw(), false, w, h)
    }
}

/// [`to_grey`] on 8-bit levels, `w × h` row-major, interleaved with alpha when `with_alpha`. Large
/// images are averaged down as they are read, so nothing of their full size is allocated here.
pub(super) fn grey_of(raw: &[u8], with_alpha: bool, w: usize, h: usize) -> GreyImage {
    let step = if with_alpha { 2 } else { 1 };
    let luma = |i: usize| raw[i * step];
    let alpha = |i: usize| raw[i * step + 1];
    // Composite over a contrasting background only when some pixel is not opaque.
    let under = (with_alpha && (0..w * h).any(|i| alpha(i) < 255)).then(|| {
        let (sum, weight) = (0..w * h).fold((0.0f64, 0.0f64), |(s, n), i| {
            (s + f64::from(luma(i)) * f64::from(alpha(i)), n + f64::from(alpha(i)))
        });
        let opaque_mean = if weight > 0.0 { sum / weight } else { 0.0 };
        if opaque_mean < 128.0 { 255.0f32 } else { 0.0 }
    });
    let level = |i: usize| -> f32 {
        let g = f32::from(luma(i));
        match under {
            Some(under) => {
                let a = f32::from(alpha(i)) / 255.0;
                g * a + under * (1.0 - a)
            }
            None => g,
        }
    };
    let factor = w.max(h).div_ceil(WORK_SIDE).max(1);
    if factor == 1 {
        return GreyImage { width: w, height: h, pixels: (0..w * h).map(level).collect() };
    }
    let (ow, oh) = (w.div_ceil(factor), h.div_ceil(factor));
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
