//! Data augmentation for images: each training image, each epoch, is seen through a fresh small
//! random distortion, so the network learns the digit and not the pixels.
//!
//! Two families, as Simard, Steinkraus and Platt (2003) used on MNIST:
//! - **affine**: rotation ±`rotate`°, scale 1 ± `scale` (each axis), shear ±`shear`, shift ±`shift` px;
//! - **elastic**: a random displacement field, every component uniform in (−1, 1), smoothed by a
//!   Gaussian of standard deviation `sigma` px and multiplied by `alpha`.
//!
//! Output pixel `p` takes the input at `A(p − c) + c + t + α·(G_σ * u)(p)` (bilinear, the background
//! outside), where `c` is the image centre. The random numbers of an image depend only on the seed,
//! the epoch and the row, so a run is reproducible, thread count and resumption notwithstanding.

use crate::error::{Error, Result};
use crate::kernels::Float;
use crate::rng::{Rng, rng};
use rand::{Rng as _, RngCore as _};
use serde::{Deserialize, Serialize};

/// Random affine transforms: the largest rotation, scale change, shear and shift drawn.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Affine {
    /// Rotation, degrees: uniform in ±rotate.
    pub rotate: f64,
    /// Scale change per axis: a factor uniform in 1 ± scale.
    pub scale: f64,
    /// Horizontal shear: uniform in ±shear.
    pub shear: f64,
    /// Shift per axis, pixels: uniform in ±shift.
    pub shift: f64,
}

impl Default for Affine {
    fn default() -> Self {
        Self { rotate: 10.0, scale: 0.1, shear: 0.1, shift: 2.0 }
    }
}

/// Elastic distortion (Simard et al. 2003): displacement field `alpha · (G_sigma * U(−1, 1))`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Elastic {
    /// Strength: the smoothed field is multiplied by this.
    pub alpha: f64,
    /// Smoothness: the Gaussian's standard deviation in pixels.
    pub sigma: f64,
}

impl Default for Elastic {
    fn default() -> Self {
        Self { alpha: 34.0, sigma: 4.0 }
    }
}

/// What to do to each training image: either family or both, on `width × height` images whose
/// background (the value of a blank pixel after normalisation) is `fill`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Random affine transforms, if any.
    pub affine: Option<Affine>,
    /// Elastic distortion, if any.
    pub elastic: Option<Elastic>,
    /// Image width in pixels.
    pub width: usize,
    /// Image height in pixels.
    pub height: usize,
    /// The value a pixel takes outside the image.
    pub fill: f64,
}

impl Augment {
    /// Parses a specification: `affine`, `elastic` or `affine,elastic`, optionally with settings
    /// that also switch their family on: `rotate=15,scale=0.1,shear=0.1,shift=2` (affine),
    /// `alpha=34,sigma=4` (elastic). `none` gives `None`. Image size and fill come from the data.
    pub fn parse(spec: &str, width: usize, height: usize, fill: f64) -> Result<Option<Self>> {
        let bad = |m: String| Error::InvalidValue { what: format!("augmentation '{spec}'"), message: m };
        let mut affine: Option<Affine> = None;
        let mut elastic: Option<Elastic> = None;
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                None => match part.to_ascii_lowercase().as_str() {
                    "none" => {}
                    "affine" => {
                        affine.get_or_insert_with(Affine::default);
                    }
                    "elastic" => {
                        elastic.get_or_insert_with(Elastic::default);
                    }
                    other => {
                        return Err(bad(format!(
                            "unknown part '{other}' (expected affine, elastic, none or rotate=, scale=, shear=, shift=, alpha=, sigma=)"
                        )));
                    }
                },
                Some((key, value)) => {
                    let v: f64 = value
                        .trim()
                        .parse()
                        .ok()
                        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                        .ok_or_else(|| bad(format!("{key} must be a number ≥ 0, not '{value}'")))?;
                    let key = key.trim().to_ascii_lowercase();
                    match key.as_str() {
                        "rotate" | "scale" | "shear" | "shift" => {
                            let a = affine.get_or_insert_with(Affine::default);
                            match key.as_str() {
                                "rotate" => a.rotate = v,
                                "scale" if v < 1.0 => a.scale = v,
                                "scale" => return Err(bad(format!("scale must be below 1, not {v}"))),
                                "shear" => a.shear = v,
                                _ => a.shift = v,
                            }
                        }
                        "alpha" | "sigma" => {
                            let e = elastic.get_or_insert_with(Elastic::default);
                            match key.as_str() {
                                "alpha" => e.alpha = v,
                                _ if v > 0.0 => e.sigma = v,
                                _ => return Err(bad("sigma must be above 0".into())),
                            }
                        }
                        _ => return Err(bad(format!("unknown setting '{key}'"))),
                    }
                }
            }
        }
        if affine.is_none() && elastic.is_none() {
            return Ok(None);
        }
        let augment = Self { affine, elastic, width, height, fill };
        augment.validate()?;
        Ok(Some(augment))
    }

    /// Checks every setting, as [`Augment::parse`] does and as a run resumed from a checkpoint
    /// (whose settings were written by someone) needs before it allocates anything: images of at
    /// least 2×2 pixels and at most 2²⁶, finite settings, a scale change below 1, and an elastic
    /// σ of at most the image's side (the smoothing kernel spans 6σ: a wider one smooths nothing
    /// more and would only take memory).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidValue { what: "augmentation".into(), message: m });
        let (w, h) = (self.width, self.height);
        if w < 2 || h < 2 || w.checked_mul(h).is_none_or(|p| p > 1 << 26) {
            return bad(format!("needs images of 2×2 to 2²⁶ pixels, not {w}×{h}"));
        }
        if !self.fill.is_finite() {
            return bad(format!("the background value must be finite, not {}", self.fill));
        }
        if let Some(a) = &self.affine {
            for (name, v) in [("rotate", a.rotate), ("scale", a.scale), ("shear", a.shear), ("shift", a.shift)] {
                if !(v.is_finite() && v >= 0.0) {
                    return bad(format!("{name} must be a number ≥ 0, not {v}"));
                }
            }
            if a.scale >= 1.0 {
                return bad(format!("scale must be below 1, not {}", a.scale));
            }
        }
        if let Some(e) = &self.elastic {
            if !(e.alpha.is_finite() && e.alpha >= 0.0) {
                return bad(format!("alpha must be a number ≥ 0, not {}", e.alpha));
            }
            let side = w.max(h) as f64;
            if !(e.sigma > 0.0 && e.sigma <= side) {
                return bad(format!("sigma must be above 0 and at most the image's side ({side} px), not {}", e.sigma));
            }
        }
        Ok(())
    }

    /// Pixels per image.
    pub fn pixels(&self) -> usize {
        self.width * self.height
    }

    /// Floats of an image in its background frame (see [`Self::one`]).
    fn framed(&self) -> usize {
        (self.width + 3) * (self.height + 3)
    }

    /// Scratch floats per image: dx, dy, a smoothing pass, and an edge-padded copy for it.
    fn per_image(&self, taps: usize) -> usize {
        let side = self.width.max(self.height);
        3 * self.pixels() + (side + taps) * side
    }

    /// The Gaussian's taps `G[-r..=r]`, normalised to sum 1 (r = ⌈3σ⌉).
    fn kernel(sigma: f64) -> Vec<f32> {
        let r = (3.0 * sigma).ceil() as i64;
        let w: Vec<f64> = (-r..=r).map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp()).collect();
        let s: f64 = w.iter().sum();
        w.iter().map(|v| (v / s) as f32).collect()
    }

    /// Buffers for distorting up to `rows` images at a time (made once, before training).
    pub fn scratch(&self, rows: usize) -> Scratch {
        let kernel = self.elastic.map(|e| Self::kernel(e.sigma)).unwrap_or_default();
        Scratch {
            made_for: Some((*self, rows)),
            buf: vec![0.0; rows * self.per_image(kernel.len())],
            kernel,
            src: vec![0.0; rows * self.framed()],
        }
    }

    /// Distorts the images `x` (rows × pixels) in place. `ids` are the rows' positions in the data
    /// set, which with `seed` and `epoch` fix each image's random numbers. Splits the rows over
    /// `threads` (rayon::join; nothing is allocated).
    pub fn apply<T: Float>(
        &self,
        x: &mut [T],
        ids: &[usize],
        seed: u64,
        epoch: usize,
        s: &mut Scratch,
        threads: usize,
    ) {
        let p = self.pixels();
        let rows = ids.len();
        if !s.made_for.is_some_and(|(a, n)| a == *self && n >= rows) {
            *s = self.scratch(rows);
        }
        let per = self.per_image(s.kernel.len());
        let rows_of =
            Rows { x: &mut x[..rows * p], ids, buf: &mut s.buf[..rows * per], src: &mut s.src[..rows * self.framed()] };
        self.split(rows_of, Draw { kernel: &s.kernel, seed, epoch }, threads.max(1));
    }

    /// Halves `r` between threads `parts` times over, then distorts each part's images.
    fn split<T: Float>(&self, r: Rows<'_, T>, d: Draw<'_>, parts: usize) {
        let n = r.ids.len();
        if parts > 1 && n > 1 {
            let half = n / 2;
            let per = r.buf.len() / n;
            let (x0, x1) = r.x.split_at_mut(half * self.pixels());
            let (b0, b1) = r.buf.split_at_mut(half * per);
            let (s0, s1) = r.src.split_at_mut(half * self.framed());
            let (i0, i1) = r.ids.split_at(half);
            rayon::join(
                || self.split(Rows { x: x0, ids: i0, buf: b0, src: s0 }, d, parts / 2),
                || self.split(Rows { x: x1, ids: i1, buf: b1, src: s1 }, d, parts - parts / 2),
            );
            return;
        }
        rows_simd(self, r, d);
    }

    /// The images of `r` one after another (inlined into the instruction set `rows_simd` picks).
    #[inline(always)]
    fn rows<T: Float>(&self, r: Rows<'_, T>, d: Draw<'_>) {
        let p = self.pixels();
        let per = r.buf.len() / r.ids.len().max(1);
        let fp = self.framed();
        for (k, &id) in r.ids.iter().enumerate() {
            let mut g = rng(d.seed ^ 0xa076_1d64_78bd_642f ^ ((d.epoch as u64) << 40) ^ id as u64);
            let (img, b, s) =
                (&mut r.x[k * p..(k + 1) * p], &mut r.buf[k * per..(k + 1) * per], &mut r.src[k * fp..(k + 1) * fp]);
            self.one(img, b, s, d.kernel, &mut g);
        }
    }

    /// One image: draw the transform, then resample.
    #[inline(always)]
    fn one<T: Float>(&self, img: &mut [T], buf: &mut [f32], src: &mut [f32], kernel: &[f32], r: &mut Rng) {
        let (w, h) = (self.width, self.height);
        let p = w * h;
        src.fill(self.fill as f32);
        for (y, row) in img.chunks_exact(w).enumerate() {
            for (s, v) in src[(y + 1) * (w + 3) + 1..].iter_mut().zip(row) {
                *s = v.f64() as f32;
            }
        }
        // Inverse map output → input: A (p − c) + c + t.
        let (mut a, mut t) = ([1.0f64, 0.0, 0.0, 1.0], [0.0f64, 0.0]);
        if let Some(af) = self.affine {
            let th = r.random_range(-1.0..=1.0) * af.rotate.to_radians();
            let sx = 1.0 + r.random_range(-1.0..=1.0) * af.scale;
            let sy = 1.0 + r.random_range(-1.0..=1.0) * af.scale;
            let sh = r.random_range(-1.0..=1.0) * af.shear;
            t = [r.random_range(-1.0..=1.0) * af.shift, r.random_range(-1.0..=1.0) * af.shift];
            // Forward: rotate · shear · scale; its inverse is what resampling needs.
            let (c, s) = (th.cos(), th.sin());
            let f = [c * sx, (c * sh - s) * sy, s * sx, (s * sh + c) * sy];
            let det = f[0] * f[3] - f[1] * f[2];
            a = [f[3] / det, -f[1] / det, -f[2] / det, f[0] / det];
            t = [-(a[0] * t[0] + a[1] * t[1]), -(a[2] * t[0] + a[3] * t[1])];
        }
        let (dx, rest) = buf.split_at_mut(p);
        let (dy, rest) = rest.split_at_mut(p);
        let (tmp, pad) = rest.split_at_mut(p);
        let elastic = match self.elastic {
            Some(e) => {
                // Uniform in [−1, 1): the top 24 bits of each half of a 64-bit draw.
                for pair in dx.chunks_exact_mut(2).chain(dy.chunks_exact_mut(2)) {
                    let bits = r.next_u64();
                    pair[0] = ((bits >> 40) as f32).mul_add(2.0 / 16_777_216.0, -1.0);
                    pair[1] = (((bits >> 8) & 0xff_ffff) as f32).mul_add(2.0 / 16_777_216.0, -1.0);
                }
                if p % 2 == 1 {
                    dx[p - 1] = r.random_range(-1.0f32..1.0);
                    dy[p - 1] = r.random_range(-1.0f32..1.0);
                }
                smooth(dx, tmp, pad, w, h, kernel);
                smooth(dy, tmp, pad, w, h, kernel);
                e.alpha as f32
            }
            None => 0.0,
        };
        let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
        let a = a.map(|v| v as f32);
        let (ox, oy) = (
            (t[0] + cx - a[0] as f64 * cx - a[1] as f64 * cy) as f32,
            (t[1] + cy - a[2] as f64 * cx - a[3] as f64 * cy) as f32,
        );
        // The source sits in a frame of background one pixel wide on the left and top, two on the
        // right and bottom; coordinates are clamped into [−1, w] × [−1, h], beyond which every
        // neighbour is background anyway, so the four reads need no bounds tests.
        let pw = w + 3;
        for yo in 0..h {
            for xo in 0..w {
                let i = yo * w + xo;
                let (u, v) = (xo as f32, yo as f32);
                let xs = (a[0] * u + a[1] * v + ox + elastic * dx[i]).clamp(-1.0, w as f32);
                let ys = (a[2] * u + a[3] * v + oy + elastic * dy[i]).clamp(-1.0, h as f32);
                // floor without a libm call (the baseline instruction set has no rounding op).
                let floor = |v: f32| (v as i32) - ((v as i32) as f32 > v) as i32;
                let (x0, y0) = (floor(xs), floor(ys));
                let (fx, fy) = (xs - x0 as f32, ys - y0 as f32);
                let j = (y0 + 1) as usize * pw + (x0 + 1) as usize;
                let top = src[j] + (src[j + 1] - src[j]) * fx;
                let bottom = src[j + pw] + (src[j + pw + 1] - src[j + pw]) * fx;
                img[i] = T::of((top + (bottom - top) * fy) as f64);
            }
        }
    }
}

/// A part of a batch being distorted: its images, their rows in the data set, and their scratch.
struct Rows<'a, T> {
    x: &'a mut [T],
    ids: &'a [usize],
    buf: &'a mut [f32],
    src: &'a mut [f32],
}

/// What fixes the random draws: the Gaussian's taps, the run's seed and the epoch.
#[derive(Clone, Copy)]
struct Draw<'k> {
    kernel: &'k [f32],
    seed: u64,
    epoch: usize,
}

crate::kernels::simd_fn! {
    /// [`Augment::rows`] compiled for the widest vector instructions this CPU has.
    fn rows_simd<T: Float>(a: &Augment, r: Rows<'_, T>, d: Draw<'_>) -> () = rows_kernel;
}

#[inline(always)]
fn rows_kernel<T: Float>(a: &Augment, r: Rows<'_, T>, d: Draw<'_>) {
    a.rows(r, d)
}

/// Separable Gaussian smoothing of `f` (`w × h`) in place, zero outside the image (the field is
/// damped near the edges: replicating the edge values instead, on 28×28 images with σ = 4, gave
/// displacements of 2.3 px rms and up to 17 px, which smeared ink along the borders; with zeros,
/// 1.3 px rms and at most ~6 px, as the usual implementations); `tmp` (`w·h`) and `pad`
/// (`(max(w, h) + taps)·max(w, h)`) are scratch. Both passes run down columns with a transpose
/// between them, each as `taps` long vector updates over the whole image.
#[inline(always)]
fn smooth(f: &mut [f32], tmp: &mut [f32], pad: &mut [f32], w: usize, h: usize, kernel: &[f32]) {
    smooth_columns(f, tmp, pad, w, h, kernel);
    transpose(tmp, f, w, h);
    smooth_columns(f, tmp, pad, h, w, kernel);
    transpose(tmp, f, h, w);
}

/// `dst = G * src` along the vertical axis of a `w × h` image: `src` is copied into `pad` between
/// `r` rows of zeros above and below, then `dst = Σₖ G[k] · pad[rows k .. k + h]`.
#[inline(always)]
fn smooth_columns(src: &[f32], dst: &mut [f32], pad: &mut [f32], w: usize, h: usize, kernel: &[f32]) {
    let r = kernel.len() / 2;
    let p = w * h;
    let pad = &mut pad[..(h + 2 * r) * w];
    pad.fill(0.0);
    pad[r * w..(r + h) * w].copy_from_slice(&src[..h * w]);
    let dst = &mut dst[..p];
    dst.fill(0.0);
    for (k, &g) in kernel.iter().enumerate() {
        for (o, &v) in dst.iter_mut().zip(&pad[k * w..k * w + p]) {
            *o += g * v;
        }
    }
}

/// `dst` (`h × w`) = `src` (`w × h`) transposed.
#[inline(always)]
fn transpose(src: &[f32], dst: &mut [f32], w: usize, h: usize) {
    for y in 0..h {
        for x in 0..w {
            dst[x * h + y] = src[y * w + x];
        }
    }
}

impl std::fmt::Display for Augment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(a) = self.affine {
            parts.push(format!(
                "affine (rotate ±{}°, scale ±{}%, shear ±{}, shift ±{} px)",
                a.rotate,
                a.scale * 100.0,
                a.shear,
                a.shift
            ));
        }
        if let Some(e) = self.elastic {
            parts.push(format!("elastic (α = {}, σ = {} px)", e.alpha, e.sigma));
        }
        write!(f, "{}", parts.join(" + "))
    }
}

/// Buffers of [`Augment::apply`], made once by [`Augment::scratch`].
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    made_for: Option<(Augment, usize)>,
    kernel: Vec<f32>,
    buf: Vec<f32>,
    src: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digit() -> Vec<f32> {
        // A vertical bar, 4 px wide, rows 6..22 of a 28×28 image.
        let mut img = vec![0.0f32; 784];
        for y in 6..22 {
            for x in 12..16 {
                img[y * 28 + x] = 1.0;
            }
        }
        img
    }

    fn run(spec: &str, img: &[f32], id: usize, epoch: usize) -> Vec<f32> {
        let aug = Augment::parse(spec, 28, 28, 0.0).unwrap().unwrap();
        let mut s = aug.scratch(1);
        let mut x = img.to_vec();
        aug.apply(&mut x, &[id], 5, epoch, &mut s, 1);
        x
    }

    #[test]
    fn parse_names_settings_and_errors() {
        let a = Augment::parse("affine,elastic", 28, 28, 0.0).unwrap().unwrap();
        assert_eq!(a.affine, Some(Affine::default()));
        assert_eq!(a.elastic, Some(Elastic::default()));
        let a = Augment::parse("rotate=15, sigma=6", 28, 28, -0.4).unwrap().unwrap();
        assert_eq!(a.affine.unwrap().rotate, 15.0);
        assert_eq!(a.elastic.unwrap().sigma, 6.0);
        assert_eq!(a.fill, -0.4);
        assert_eq!(Augment::parse("none", 28, 28, 0.0).unwrap(), None);
        for (bad, needle) in [
            ("twist", "unknown part 'twist'"),
            ("rotate=x", "rotate must be a number"),
            ("sigma=0", "sigma must be above 0"),
            ("scale=1.5", "scale must be below 1"),
            ("colour=2", "unknown setting 'colour'"),
            ("shift=-1", "shift must be a number ≥ 0"),
            // The smoothing kernel spans 6σ: a σ of 10⁹ px would ask for 48 GB.
            ("elastic,sigma=1e9", "sigma must be above 0 and at most the image's side (28 px)"),
        ] {
            let e = Augment::parse(bad, 28, 28, 0.0).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
        assert!(Augment::parse("affine", 1, 1, 0.0).is_err());
        assert!(Augment::parse("elastic,sigma=28", 28, 28, 0.0).is_ok());
        // Settings read back from a checkpoint are checked too, before any scratch is sized.
        let mut a = Augment::parse("elastic", 28, 28, 0.0).unwrap().unwrap();
        a.elastic = Some(Elastic { alpha: 34.0, sigma: 1e5 });
        let config = crate::train::TrainConfig { augment: Some(a), ..Default::default() };
        assert!(config.validate().unwrap_err().to_string().contains("sigma"));
        a.elastic = None;
        a.width = usize::MAX;
        assert!(a.validate().unwrap_err().to_string().contains("pixels"));
    }

    #[test]
    fn identity_settings_change_nothing() {
        let img = digit();
        let out = run("rotate=0,scale=0,shear=0,shift=0", &img, 3, 0);
        for (a, b) in img.iter().zip(&out) {
            assert!((a - b).abs() < 1e-5);
        }
        // Elastic with zero strength is the identity too.
        assert!(run("alpha=0", &img, 3, 0).iter().zip(&img).all(|(a, b)| (a - b).abs() < 1e-5));
    }

    #[test]
    fn a_shift_moves_the_ink_and_keeps_it() {
        // With only a shift the image moves by whole or part pixels; the ink (sum) is nearly kept.
        let img = digit();
        let out = run("rotate=0,scale=0,shear=0,shift=2", &img, 7, 1);
        let (sum_in, sum_out): (f32, f32) = (img.iter().sum(), out.iter().sum());
        assert!((sum_in - sum_out).abs() / sum_in < 0.15, "{sum_in} vs {sum_out}");
        assert_ne!(out, img);
        let cx =
            |v: &[f32]| v.iter().enumerate().map(|(i, p)| (i % 28) as f32 * p).sum::<f32>() / v.iter().sum::<f32>();
        assert!((cx(&out) - cx(&img)).abs() <= 2.01, "{} vs {}", cx(&out), cx(&img));
    }

    #[test]
    fn far_transforms_give_background() {
        // Shifted or shrunk far outside the frame, every pixel is the background value.
        let aug = Augment::parse("rotate=0,scale=0,shear=0,shift=1000", 28, 28, -0.25).unwrap().unwrap();
        let mut s = aug.scratch(64);
        let mut x: Vec<f32> = (0..64).flat_map(|_| digit()).collect();
        let ids: Vec<usize> = (0..64).collect();
        aug.apply(&mut x, &ids, 1, 0, &mut s, 1);
        let moved = x.chunks(784).filter(|img| img.iter().all(|&v| v == -0.25)).count();
        assert!(moved >= 60, "{moved} of 64 images fully off the frame");
        let mut y: Vec<f32> = (0..64).flat_map(|_| digit()).collect();
        // A scratch made for other settings is remade, not misused.
        Augment::parse("alpha=1000,sigma=1", 28, 28, 0.0).unwrap().unwrap().apply(&mut y, &ids, 1, 0, &mut s, 1);
        assert_ne!(y, (0..64).flat_map(|_| digit()).collect::<Vec<_>>());
        assert!(y.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
    }

    #[test]
    fn distortions_are_seeded_per_epoch_and_row() {
        let img = digit();
        let a = run("affine,elastic", &img, 4, 2);
        assert_eq!(a, run("affine,elastic", &img, 4, 2));
        assert_ne!(a, run("affine,elastic", &img, 4, 3));
        assert_ne!(a, run("affine,elastic", &img, 5, 2));
        assert!(a.iter().all(|v| v.is_finite() && (-1e-6..=1.0 + 1e-6).contains(v)));
        // Elastic displacements at the defaults are a few pixels: the ink stays mostly in place.
        let overlap: f32 = a.iter().zip(&img).map(|(x, y)| x * y).sum::<f32>() / img.iter().sum::<f32>();
        assert!(overlap > 0.3, "overlap {overlap}");
    }

    #[test]
    fn threads_do_not_change_the_result() {
        let aug = Augment::parse("affine,elastic", 28, 28, 0.0).unwrap().unwrap();
        let imgs: Vec<f32> = (0..7).flat_map(|_| digit()).collect();
        let ids: Vec<usize> = (10..17).collect();
        let mut one = imgs.clone();
        let mut s = aug.scratch(7);
        aug.apply(&mut one, &ids, 9, 0, &mut s, 1);
        let mut two = imgs.clone();
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap()
            .install(|| aug.apply(&mut two, &ids, 9, 0, &mut s, 2));
        assert_eq!(one, two);
    }

    #[test]
    fn smoothing_matches_the_direct_sum() {
        let (w, h) = (5usize, 3usize);
        let f0: Vec<f32> = (0..15).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
        let k = Augment::kernel(0.7);
        let r = (k.len() / 2) as i64;
        let mut f = f0.clone();
        let mut tmp = vec![0.0; 15];
        let mut pad = vec![0.0; (5 + k.len()) * 5];
        smooth(&mut f, &mut tmp, &mut pad, w, h, &k);
        let inside = |i: i64, n: usize| (0..n as i64).contains(&i);
        for y in 0..h {
            for x in 0..w {
                let mut s = 0.0;
                for (a, ga) in k.iter().enumerate() {
                    for (b, gb) in k.iter().enumerate() {
                        let (yy, xx) = (y as i64 + a as i64 - r, x as i64 + b as i64 - r);
                        if inside(yy, h) && inside(xx, w) {
                            s += ga * gb * f0[yy as usize * w + xx as usize];
                        }
                    }
                }
                assert!((s - f[y * w + x]).abs() < 1e-5, "({x}, {y}): {s} vs {}", f[y * w + x]);
            }
        }
    }

    #[test]
    fn gaussian_kernel_sums_to_one() {
        let k = Augment::kernel(4.0);
        assert_eq!(k.len(), 25);
        assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(k[12] > k[11] && k[11] > k[0]);
    }
}
