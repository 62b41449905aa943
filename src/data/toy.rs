//! The small 2-D data sets that learners first watch a network on (as TensorFlow Playground has
//! them): XOR, two circles, two spirals, two Gaussians — each point labelled 0 or 1 — and a
//! regression surface. Points lie in `[−6, 6]²`; `noise` (0 to 0.5) blurs the classes. Each set is
//! drawn from its seed alone, so a shared setup redraws the same points.

use crate::error::{Error, Result};
use crate::rng::rng;
use rand::Rng as _;
use std::f64::consts::PI;

/// Half the side of the square the points lie in.
pub const EXTENT: f64 = 6.0;

/// Which data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Toy {
    /// Label 1 where `x₁x₂ ≥ 0`: what one neuron cannot separate.
    Xor,
    /// Label 1 inside a disc of radius 2, 0 on a ring from 3.5 to 5.
    Circles,
    /// Two interleaved spirals.
    Spirals,
    /// Two Gaussian clouds around (2, 2) (label 1) and (−2, −2) (label 0).
    Gaussians,
    /// Regression: `y = e^{−|x−(2,2)|²/8} − e^{−|x+(2,2)|²/8}` plus noise.
    Surface,
}

impl Toy {
    /// Every data set, in the order a menu lists them.
    pub const ALL: [Toy; 5] = [Toy::Xor, Toy::Circles, Toy::Spirals, Toy::Gaussians, Toy::Surface];

    /// Whether the targets are real numbers (else labels 0 and 1).
    pub fn is_regression(self) -> bool {
        self == Toy::Surface
    }

    /// Its name, as the command line and URLs write it.
    pub fn name(self) -> &'static str {
        match self {
            Toy::Xor => "xor",
            Toy::Circles => "circles",
            Toy::Spirals => "spirals",
            Toy::Gaussians => "gaussians",
            Toy::Surface => "surface",
        }
    }

    /// The data set named `name`.
    pub fn parse(name: &str) -> Result<Self> {
        Toy::ALL.into_iter().find(|t| t.name() == name).ok_or_else(|| Error::InvalidValue {
            what: "data set".into(),
            message: format!("unknown '{name}' (expected xor, circles, spirals, gaussians or surface)"),
        })
    }

    /// The regression surface's value at `(x₁, x₂)` (noise-free).
    pub fn surface(x1: f64, x2: f64) -> f64 {
        let bump = |c: f64| (-((x1 - c).powi(2) + (x2 - c).powi(2)) / 8.0).exp();
        bump(2.0) - bump(-2.0)
    }

    /// `n` points `([x₁, x₂], y)` with `noise` in 0..=0.5, drawn from `seed`.
    pub fn points(self, n: usize, noise: f64, seed: u64) -> Vec<([f64; 2], f64)> {
        let mut r = rng(seed);
        let noise = noise.clamp(0.0, 0.5);
        let mut uniform = |lo: f64, hi: f64| r.random_range(lo..hi);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let label = if i % 2 == 0 { 1.0 } else { 0.0 };
            let p = match self {
                Toy::Xor => {
                    // Away from the axes by a margin, then blurred by up to ±5·noise.
                    let pad = 0.3;
                    let mut x1 = uniform(-5.0, 5.0);
                    let mut x2 = uniform(-5.0, 5.0);
                    x1 += if x1 > 0.0 { pad } else { -pad };
                    x2 += if x2 > 0.0 { pad } else { -pad };
                    let y = if x1 * x2 >= 0.0 { 1.0 } else { 0.0 };
                    let (n1, n2) = (uniform(-5.0, 5.0) * noise, uniform(-5.0, 5.0) * noise);
                    out.push(([x1 + n1, x2 + n2], y));
                    continue;
                }
                Toy::Circles => {
                    let radius = if label == 1.0 { uniform(0.0, 2.0) } else { uniform(3.5, 5.0) };
                    let angle = uniform(0.0, 2.0 * PI);
                    let (n1, n2) = (uniform(-5.0, 5.0) * noise, uniform(-5.0, 5.0) * noise);
                    [radius * angle.sin() + n1, radius * angle.cos() + n2]
                }
                Toy::Spirals => {
                    let k = (i / 2) as f64 / (n / 2).max(1) as f64;
                    let radius = k * 5.0;
                    let t = 1.75 * k * 2.0 * PI + if label == 1.0 { 0.0 } else { PI };
                    let (n1, n2) = (uniform(-1.0, 1.0) * noise, uniform(-1.0, 1.0) * noise);
                    [radius * t.sin() + n1, radius * t.cos() + n2]
                }
                Toy::Gaussians => {
                    // A standard deviation from 0.5 (no noise) to 2 (noise 0.5), by Box–Muller.
                    let sd = 0.5 + 3.0 * noise;
                    let c = if label == 1.0 { 2.0 } else { -2.0 };
                    let (u, v) = (uniform(f64::EPSILON, 1.0), uniform(0.0, 2.0 * PI));
                    let rad = (-2.0 * u.ln()).sqrt() * sd;
                    [c + rad * v.cos(), c + rad * v.sin()]
                }
                Toy::Surface => {
                    let (x1, x2) = (uniform(-EXTENT, EXTENT), uniform(-EXTENT, EXTENT));
                    let y = Toy::surface(x1, x2) + uniform(-1.0, 1.0) * noise;
                    out.push(([x1, x2], y));
                    continue;
                }
            };
            out.push((p, label));
        }
        for (p, _) in &mut out {
            p.iter_mut().for_each(|v| *v = v.clamp(-EXTENT, EXTENT));
        }
        out
    }
}

/// An input the network may be given, computed from the point `(x₁, x₂)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// `x₁`.
    X1,
    /// `x₂`.
    X2,
    /// `x₁²`.
    X1Squared,
    /// `x₂²`.
    X2Squared,
    /// `x₁x₂`.
    X1X2,
    /// `sin x₁`.
    SinX1,
    /// `sin x₂`.
    SinX2,
}

impl Input {
    /// Every input, in the order they enter the network.
    pub const ALL: [Input; 7] =
        [Input::X1, Input::X2, Input::X1Squared, Input::X2Squared, Input::X1X2, Input::SinX1, Input::SinX2];

    /// Its value at the point.
    pub fn of(self, [x1, x2]: [f64; 2]) -> f64 {
        match self {
            Input::X1 => x1,
            Input::X2 => x2,
            Input::X1Squared => x1 * x1,
            Input::X2Squared => x2 * x2,
            Input::X1X2 => x1 * x2,
            Input::SinX1 => x1.sin(),
            Input::SinX2 => x2.sin(),
        }
    }

    /// How it is written: `x₁`, `x₁²`, `sin x₁`, …
    pub fn label(self) -> &'static str {
        match self {
            Input::X1 => "x₁",
            Input::X2 => "x₂",
            Input::X1Squared => "x₁²",
            Input::X2Squared => "x₂²",
            Input::X1X2 => "x₁x₂",
            Input::SinX1 => "sin x₁",
            Input::SinX2 => "sin x₂",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_set_is_drawn_from_its_seed_inside_the_square() {
        for toy in Toy::ALL {
            let a = toy.points(200, 0.2, 7);
            assert_eq!(a, toy.points(200, 0.2, 7), "{toy:?}");
            assert_ne!(a, toy.points(200, 0.2, 8), "{toy:?}");
            assert_eq!(a.len(), 200);
            assert!(a.iter().all(|(p, y)| p.iter().all(|v| v.abs() <= EXTENT) && y.is_finite()), "{toy:?}");
            if !toy.is_regression() {
                let ones = a.iter().filter(|(_, y)| *y == 1.0).count();
                assert!(a.iter().all(|(_, y)| *y == 0.0 || *y == 1.0));
                assert!((60..=140).contains(&ones), "{toy:?}: {ones} of 200 labelled 1");
            }
            assert_eq!(Toy::parse(toy.name()).unwrap(), toy);
        }
        assert!(Toy::parse("moons").unwrap_err().to_string().contains("xor, circles"));
    }

    #[test]
    fn without_noise_the_labels_follow_their_rule() {
        for ([x1, x2], y) in Toy::Xor.points(300, 0.0, 1) {
            assert_eq!(y == 1.0, x1 * x2 >= 0.0);
        }
        for ([x1, x2], y) in Toy::Circles.points(300, 0.0, 1) {
            let r = (x1 * x1 + x2 * x2).sqrt();
            assert!(if y == 1.0 { r <= 2.0 } else { (3.5..=5.0).contains(&r) }, "r {r} label {y}");
        }
        for ([x1, x2], y) in Toy::Surface.points(100, 0.0, 1) {
            assert_eq!(y, Toy::surface(x1, x2));
        }
        assert_eq!(Input::X1X2.of([2.0, -3.0]), -6.0);
        assert_eq!(Input::SinX2.of([0.0, 0.0]), 0.0);
    }
}
