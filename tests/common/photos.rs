//! MNIST digits re-rendered as photos of dark ink on grey, noisy paper: the photo-like test images
//! of `tests/predict.rs`, also read by `examples/bench_photo.rs` (through `#[path]`).

use image::{ImageEncoder, codecs::jpeg::JpegEncoder, codecs::png::PngEncoder};
use rand::Rng;
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::path::Path;

/// How a fixture is saved.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    GreyPng,
    TintedPng,
    TintedJpeg,
}

/// One MNIST digit (28×28, ink 255 on 0) as a photo of dark ink on grey, noisy paper: upscaled to
/// about 300 pixels (bilinear), placed off-centre on a larger page, paper level 200–245 with
/// Gaussian noise and a slight lighting gradient; tinted RGB for some kinds.
pub fn render_photo(digit: &[u8], rng: &mut Xoshiro256PlusPlus, kind: Kind, path: &Path) {
    std::fs::write(path, photo_bytes(digit, rng, kind)).unwrap();
}

/// [`render_photo`]'s file contents.
pub fn photo_bytes(digit: &[u8], rng: &mut Xoshiro256PlusPlus, kind: Kind) -> Vec<u8> {
    let size = rng.random_range(260..=340usize);
    let (w, h) = (size + rng.random_range(60..260usize), size + rng.random_range(60..260usize));
    let (ox, oy) = (rng.random_range(0..=w - size), rng.random_range(0..=h - size));
    let paper = rng.random_range(200.0..245.0f64);
    let ink = rng.random_range(10.0..80.0f64);
    let noise = Normal::new(0.0, rng.random_range(3.0..10.0f64)).unwrap();
    let (gx, gy) = (rng.random_range(-15.0..15.0f64), rng.random_range(-15.0..15.0f64));
    let sample = |u: f64, v: f64| -> f64 {
        // Bilinear, in 28×28 pixel-centre coordinates, 0 outside.
        let (fx, fy) = (u - 0.5, v - 0.5);
        let (x0, y0) = (fx.floor(), fy.floor());
        let (ax, ay) = (fx - x0, fy - y0);
        let at = |x: f64, y: f64| {
            if x < 0.0 || y < 0.0 || x >= 28.0 || y >= 28.0 {
                0.0
            } else {
                f64::from(digit[y as usize * 28 + x as usize])
            }
        };
        (at(x0, y0) * (1.0 - ax) + at(x0 + 1.0, y0) * ax) * (1.0 - ay)
            + (at(x0, y0 + 1.0) * (1.0 - ax) + at(x0 + 1.0, y0 + 1.0) * ax) * ay
    };
    let grey: Vec<f64> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            let local = paper + gx * (x as f64 / w as f64 - 0.5) + gy * (y as f64 / h as f64 - 0.5);
            let d = if x >= ox && y >= oy && x < ox + size && y < oy + size {
                let s = 28.0 / size as f64;
                sample((x - ox) as f64 * s + s / 2.0, (y - oy) as f64 * s + s / 2.0) / 255.0
            } else {
                0.0
            };
            local - (local - ink) * d
        })
        .collect();
    let mut file = Vec::new();
    match kind {
        Kind::GreyPng => {
            let px: Vec<u8> = grey.iter().map(|g| (g + noise.sample(rng)).clamp(0.0, 255.0) as u8).collect();
            PngEncoder::new(&mut file).write_image(&px, w as u32, h as u32, image::ExtendedColorType::L8).unwrap();
        }
        Kind::TintedPng | Kind::TintedJpeg => {
            // Warm paper or cool paper, and blue-black or brown ink.
            let paper_tint = [[1.0, 0.94, 0.82], [0.88, 0.95, 1.0], [1.0, 0.97, 0.9]][rng.random_range(0..3usize)];
            let ink_tint = [[0.6, 0.7, 1.6], [1.3, 1.0, 0.8], [1.0, 1.0, 1.0]][rng.random_range(0..3usize)];
            let mut px = Vec::with_capacity(w * h * 3);
            for &g in &grey {
                // How much of this pixel is ink (0 paper … 1 ink), to mix the two tints.
                let t = ((paper - g) / (paper - ink)).clamp(0.0, 1.0);
                for c in 0..3 {
                    let tint = paper_tint[c] * (1.0 - t) + ink_tint[c] * t;
                    px.push((g * tint + noise.sample(rng)).clamp(0.0, 255.0) as u8);
                }
            }
            if let Kind::TintedJpeg = kind {
                JpegEncoder::new_with_quality(&mut file, 88)
                    .write_image(&px, w as u32, h as u32, image::ExtendedColorType::Rgb8)
                    .unwrap();
            } else {
                PngEncoder::new(&mut file)
                    .write_image(&px, w as u32, h as u32, image::ExtendedColorType::Rgb8)
                    .unwrap();
            }
        }
    }
    file
}
