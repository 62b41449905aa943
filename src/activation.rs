//! Activation functions `a = f(z)`, each with its derivative `f′(z)` beside it.
//!
//! Element-wise activations are applied to every entry of `z`; softmax acts on a whole row (one
//! sample) and so has a full Jacobian, used in [`Activation::backprop_rows`].

use crate::error::{Error, Result, normalize_name};
use crate::kernels::Float;
use crate::kernels::float::{Floats, FloatsMut};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An activation function. Parameters are kept in `f64` so that a model file records them exactly.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Activation {
    /// `f(z) = z`, `f′(z) = 1`. For regression outputs.
    Identity,
    /// The article's decision rule: `f(z) = 1 if z > threshold else 0`.
    ///
    /// Its derivative is 0 everywhere it exists, so no gradient flows through it: a network of
    /// steps cannot be trained by gradient descent. That is why the article replaces it by a sigmoid.
    Step {
        /// The threshold `t` (the article uses 5).
        threshold: f64,
    },
    /// `f(z) = 1/(1+e^{−k(z−c)})`, `f′(z) = k·a(1−a)`. As `k → ∞` it approaches the step at `c`.
    Sigmoid {
        /// Steepness `k` (default 1).
        k: f64,
        /// Centre `c` (default 0).
        c: f64,
    },
    /// `f(z) = tanh z`, `f′(z) = 1 − a²`.
    Tanh,
    /// `f(z) = max(0, z)`, `f′(z) = 1 if z > 0 else 0` (0 at the kink).
    Relu,
    /// `f(z) = z if z > 0 else αz`, `f′(z) = 1 if z > 0 else α`.
    LeakyRelu {
        /// Slope `α` for negative inputs (default 0.01).
        alpha: f64,
    },
    /// `aⱼ = e^{zⱼ}/Σₖ e^{zₖ}` over one sample's row; Jacobian `∂aⱼ/∂zᵢ = aⱼ(δᵢⱼ − aᵢ)`.
    Softmax,
}

/// The names [`Activation::parse`] accepts.
pub const ACTIVATION_NAMES: &str = "identity, step[:T], sigmoid[:k[,c]], tanh, relu, leaky_relu[:alpha], softmax";

impl Activation {
    /// The plain logistic sigmoid (k = 1, c = 0).
    pub const SIGMOID: Activation = Activation::Sigmoid { k: 1.0, c: 0.0 };

    /// Parses `relu`, `sigmoid`, `sigmoid:100,5`, `step:5`, `leaky-relu:0.1`, … (`-` and `_` alike).
    pub fn parse(spec: &str) -> Result<Self> {
        // Only the name is normalised: a parameter may be negative (`step:-1`, `sigmoid:1,-0.5`).
        let (name, params) = match spec.trim().split_once(':') {
            Some((n, p)) => (normalize_name(n), Some(p.to_string())),
            None => (normalize_name(spec), None),
        };
        let spec = match &params {
            Some(p) => format!("{name}:{p}"),
            None => name.clone(),
        };
        let nums = |max: usize| -> Result<Vec<f64>> {
            let Some(p) = &params else { return Ok(vec![]) };
            let v: Vec<f64> = p
                .split(',')
                .map(|s| {
                    s.trim().parse::<f64>().map_err(|_| Error::InvalidValue {
                        what: format!("activation '{spec}'"),
                        message: format!("'{s}' is not a number"),
                    })
                })
                .collect::<Result<_>>()?;
            if v.len() > max || v.iter().any(|x| !x.is_finite()) {
                return Err(Error::InvalidValue {
                    what: format!("activation '{spec}'"),
                    message: format!("expected at most {max} finite parameter(s)"),
                });
            }
            Ok(v)
        };
        let act = match name.as_str() {
            "identity" | "linear" | "none" => {
                nums(0)?;
                Activation::Identity
            }
            "step" | "heaviside" => Activation::Step { threshold: nums(1)?.first().copied().unwrap_or(0.0) },
            "sigmoid" | "logistic" => {
                let v = nums(2)?;
                let k = v.first().copied().unwrap_or(1.0);
                if k <= 0.0 {
                    return Err(Error::InvalidValue {
                        what: format!("activation '{spec}'"),
                        message: "the steepness k must be positive".into(),
                    });
                }
                Activation::Sigmoid { k, c: v.get(1).copied().unwrap_or(0.0) }
            }
            "tanh" => {
                nums(0)?;
                Activation::Tanh
            }
            "relu" => {
                nums(0)?;
                Activation::Relu
            }
            "leaky_relu" | "leakyrelu" => Activation::LeakyRelu { alpha: nums(1)?.first().copied().unwrap_or(0.01) },
            "softmax" => {
                nums(0)?;
                Activation::Softmax
            }
            _ => {
                return Err(Error::UnknownName { kind: "activation", name: spec, expected: ACTIVATION_NAMES });
            }
        };
        Ok(act)
    }

    /// Whether `f` acts entry by entry (everything except softmax).
    pub fn is_elementwise(self) -> bool {
        !matches!(self, Activation::Softmax)
    }

    /// `f(z)` for one entry. Softmax is not element-wise: use [`Activation::forward_rows`].
    #[inline(always)]
    pub fn value<T: Float>(self, z: T) -> T {
        match self {
            Activation::Identity | Activation::Softmax => z,
            Activation::Step { threshold } => {
                if z > T::of(threshold) {
                    T::one()
                } else {
                    T::zero()
                }
            }
            Activation::Sigmoid { k, c } => logistic(T::of(k) * (z - T::of(c))),
            Activation::Tanh => z.tanh(),
            Activation::Relu => {
                if z > T::zero() {
                    z
                } else {
                    T::zero()
                }
            }
            Activation::LeakyRelu { alpha } => {
                if z > T::zero() {
                    z
                } else {
                    T::of(alpha) * z
                }
            }
        }
    }

    /// `f′(z)` for one entry, given `z` and `a = f(z)` (whichever is cheaper to use).
    #[inline(always)]
    pub fn derivative<T: Float>(self, z: T, a: T) -> T {
        match self {
            Activation::Identity => T::one(),
            Activation::Step { .. } => T::zero(),
            Activation::Sigmoid { k, .. } => T::of(k) * a * (T::one() - a),
            Activation::Tanh => T::one() - a * a,
            Activation::Relu => {
                if z > T::zero() {
                    T::one()
                } else {
                    T::zero()
                }
            }
            Activation::LeakyRelu { alpha } => {
                if z > T::zero() {
                    T::one()
                } else {
                    T::of(alpha)
                }
            }
            // Not element-wise; the diagonal of the Jacobian is all an entry-wise caller could use,
            // and that would be wrong, so callers go through `backprop_rows`.
            Activation::Softmax => a * (T::one() - a),
        }
    }

    /// `z ← z + b` (bias broadcast over rows) and `a ← f(z)`, in one pass over a batch of rows.
    pub fn forward_rows<T: Float>(self, z: &mut [T], bias: &[T], a: &mut [T]) {
        forward_rows_simd(self, z, bias, a)
    }
}

crate::kernels::simd_fn! {
    fn forward_rows_simd<T: Float>(f: Activation, z: &mut [T], bias: &[T], a: &mut [T]) -> () = forward_rows_kernel;
}

#[inline(always)]
fn forward_rows_kernel<T: Float>(f: Activation, z: &mut [T], bias: &[T], a: &mut [T]) {
    let this = f;
    {
        let width = bias.len();
        debug_assert_eq!(z.len(), a.len());
        if width == 0 {
            return;
        }
        if this == Activation::Softmax
            && let (FloatsMut::F32(z), Floats::F32(bias), FloatsMut::F32(a)) =
                (T::typed_mut(z), T::typed(bias), T::typed_mut(a))
            && crate::kernels::softmax_rows_short(z, bias, a)
        {
            // Short f32 rows (MNIST's 10 classes), 16 at a time, a row to a vector lane: the
            // same bits as the rows below.
            return;
        }
        for (zr, ar) in z.chunks_exact_mut(width).zip(a.chunks_exact_mut(width)) {
            for (zi, bi) in zr.iter_mut().zip(bias) {
                *zi += *bi;
            }
            match this {
                Activation::Softmax => softmax_row(zr, ar),
                Activation::Identity => ar.copy_from_slice(zr),
                Activation::Sigmoid { k, c } => {
                    // 1/(1 + e^{−k(z−c)}) with a vectorised exp; the clamp inside it keeps e finite.
                    let (k, c) = (T::of(k), T::of(c));
                    for (ai, &zi) in ar.iter_mut().zip(zr.iter()) {
                        *ai = -k * (zi - c);
                    }
                    T::exp_in_place(ar);
                    for ai in ar.iter_mut() {
                        *ai = T::one() / (T::one() + *ai);
                    }
                }
                Activation::Relu => {
                    for (ai, zi) in ar.iter_mut().zip(zr.iter()) {
                        *ai = zi.max(T::zero());
                    }
                }
                _ => {
                    for (ai, zi) in ar.iter_mut().zip(zr.iter()) {
                        *ai = this.value(*zi);
                    }
                }
            }
        }
    }
}

impl Activation {
    /// Turns `g = ∂L/∂a` into `δ = ∂L/∂z` in place, row by row: `δ = g ⊙ f′(z)` for element-wise
    /// activations, `δ = Jᵀg = a ⊙ (g − (g·a))` for softmax (its full Jacobian).
    pub fn backprop_rows<T: Float>(self, z: &[T], a: &[T], g: &mut [T], width: usize) {
        if width == 0 {
            return;
        }
        match self {
            Activation::Softmax => {
                for (gr, ar) in g.chunks_exact_mut(width).zip(a.chunks_exact(width)) {
                    let s: T = gr.iter().zip(ar).map(|(&gi, &ai)| gi * ai).sum();
                    for (gi, &ai) in gr.iter_mut().zip(ar) {
                        *gi = ai * (*gi - s);
                    }
                }
            }
            Activation::Identity => {}
            Activation::Relu => {
                // Branch-free, so it vectorises: the sign of z is random.
                for (gi, &zi) in g.iter_mut().zip(z) {
                    *gi = if zi > T::zero() { *gi } else { T::zero() };
                }
            }
            _ => {
                for ((gi, &zi), &ai) in g.iter_mut().zip(z).zip(a) {
                    *gi *= self.derivative(zi, ai);
                }
            }
        }
    }
}

/// The logistic function `1/(1+e^{−u})`, computed without overflow for any `u`.
#[inline(always)]
pub fn logistic<T: Float>(u: T) -> T {
    if u >= T::zero() {
        T::one() / (T::one() + (-u).exp())
    } else {
        let e = u.exp();
        e / (T::one() + e)
    }
}

/// Softmax of one row, shifted by its maximum so that `exp` never overflows.
pub fn softmax_row<T: Float>(z: &[T], a: &mut [T]) {
    let m = z.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
    for (ai, &zi) in a.iter_mut().zip(z) {
        *ai = zi - m;
    }
    T::exp_in_place(a);
    let sum: T = a.iter().copied().sum();
    let inv = T::one() / sum;
    for ai in a.iter_mut() {
        *ai *= inv;
    }
}

impl fmt::Display for Activation {
    /// The canonical spelling, which [`Activation::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Activation::Identity => write!(f, "identity"),
            Activation::Step { threshold } => write!(f, "step:{threshold}"),
            Activation::Sigmoid { k, c } if k == 1.0 && c == 0.0 => write!(f, "sigmoid"),
            Activation::Sigmoid { k, c } => write!(f, "sigmoid:{k},{c}"),
            Activation::Tanh => write!(f, "tanh"),
            Activation::Relu => write!(f, "relu"),
            Activation::LeakyRelu { alpha } => write!(f, "leaky_relu:{alpha}"),
            Activation::Softmax => write!(f, "softmax"),
        }
    }
}

impl std::str::FromStr for Activation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Activation::parse(s)
    }
}

impl TryFrom<String> for Activation {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Activation::parse(&s)
    }
}

impl From<Activation> for String {
    fn from(a: Activation) -> String {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_with_dash_or_underscore_and_round_trip() {
        for s in ["relu", "tanh", "identity", "softmax", "sigmoid", "sigmoid:100,5", "step:5", "leaky_relu:0.1"] {
            let a = Activation::parse(s).unwrap();
            assert_eq!(Activation::parse(&a.to_string()).unwrap(), a);
        }
        assert_eq!(Activation::parse("Leaky-ReLU").unwrap(), Activation::LeakyRelu { alpha: 0.01 });
        let err = Activation::parse("swish").unwrap_err().to_string();
        assert!(err.contains("unknown activation 'swish'") && err.contains("relu"), "{err}");
        assert!(Activation::parse("sigmoid:abc").is_err());
        assert!(Activation::parse("sigmoid:0").is_err());
        assert!(Activation::parse("relu:3").is_err());
        // Negative parameters and exponents (only the name's dashes are underscores).
        assert_eq!(Activation::parse("Step:-1").unwrap(), Activation::Step { threshold: -1.0 });
        assert_eq!(Activation::parse("sigmoid:1e-3,-0.5").unwrap(), Activation::Sigmoid { k: 1e-3, c: -0.5 });
        assert_eq!(Activation::parse("leaky-relu:-0.1").unwrap(), Activation::LeakyRelu { alpha: -0.1 });
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let acts = [
            Activation::Identity,
            Activation::SIGMOID,
            Activation::Sigmoid { k: 3.0, c: 0.5 },
            Activation::Tanh,
            Activation::Relu,
            Activation::LeakyRelu { alpha: 0.1 },
            Activation::Step { threshold: 0.0 },
        ];
        for act in acts {
            for &z in &[-2.3f64, -0.7, 0.4, 1.9] {
                let h = 1e-6;
                let num = (act.value(z + h) - act.value(z - h)) / (2.0 * h);
                let ana = act.derivative(z, act.value(z));
                assert!((num - ana).abs() < 1e-8, "{act} at {z}: {num} vs {ana}");
            }
        }
    }

    #[test]
    fn relu_derivative_is_zero_at_the_kink() {
        assert_eq!(Activation::Relu.derivative(0.0f64, 0.0), 0.0);
    }

    #[test]
    fn sigmoid_is_stable_for_large_inputs() {
        assert_eq!(logistic(1000.0f64), 1.0);
        assert_eq!(logistic(-1000.0f64), 0.0);
        assert!(logistic(-100.0f32) > 0.0);
    }

    #[test]
    fn softmax_rows_sum_to_one_and_survive_large_logits() {
        let mut z = vec![1000.0f64, 1001.0, 1002.0, 0.0, 0.0, 0.0];
        let mut a = vec![0.0; 6];
        Activation::Softmax.forward_rows(&mut z, &[0.0; 3], &mut a);
        assert!((a[..3].iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((a[3] - 1.0 / 3.0).abs() < 1e-12);
        assert!(a[2] > a[1] && a[1] > a[0]);
    }

    #[test]
    fn softmax_backprop_uses_the_full_jacobian() {
        // Compare Jᵀg with a finite-difference Jacobian of softmax.
        let z = [0.3f64, -1.2, 0.8];
        let g = [0.5f64, -0.25, 1.5];
        let mut a = [0.0; 3];
        softmax_row(&z, &mut a);
        let mut delta = g;
        Activation::Softmax.backprop_rows(&z, &a, &mut delta, 3);
        for i in 0..3 {
            let h = 1e-6;
            let (mut zp, mut zm) = (z, z);
            zp[i] += h;
            zm[i] -= h;
            let (mut ap, mut am) = ([0.0; 3], [0.0; 3]);
            softmax_row(&zp, &mut ap);
            softmax_row(&zm, &mut am);
            let num: f64 = (0..3).map(|j| g[j] * (ap[j] - am[j]) / (2.0 * h)).sum();
            assert!((num - delta[i]).abs() < 1e-8);
        }
    }

    #[test]
    fn steep_sigmoid_approaches_the_step() {
        let step = Activation::Step { threshold: 5.0 };
        let sig = Activation::Sigmoid { k: 100.0, c: 5.0 };
        let mut z = -5.0f64;
        while z <= 15.0 {
            if (z - 5.0).abs() >= 0.1 {
                assert!((step.value(z) - sig.value(z)).abs() <= 1e-3, "z = {z}");
            }
            z += 0.01;
        }
    }
}
