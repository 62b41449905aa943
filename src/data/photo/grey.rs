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
