//! Loss functions `L` (mean over the batch) and the output-layer error `δᴸ = ∂L/∂zᴸ` each one gives.
//!
//! Each loss knows its own `δᴸ`: for softmax + cross-entropy and sigmoid + binary cross-entropy the
//! chain `∂L/∂a ⊙ f′(z)` collapses to `a − y`, which is both cheaper and free of `0·∞`.

use crate::activation::Activation;
use crate::error::{Error, Result, normalize_name};
use crate::kernels::Float;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A loss function. Every value is the mean over the samples of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Loss {
    /// Half squared error, `L = ½‖a − y‖²` per sample; `∂L/∂a = a − y` (the article's choice: the
    /// ½ makes that derivative clean). Works with any output activation.
    HalfMse,
    /// Cross-entropy `L = −Σⱼ yⱼ log aⱼ` on a softmax output, computed from the logits as
    /// `log Σₖ e^{zₖ} − Σⱼ yⱼ zⱼ` so it never takes `log 0`. `δᴸ = a − y`.
    CrossEntropy,
    /// Binary cross-entropy `L = −Σⱼ [yⱼ log aⱼ + (1 − yⱼ) log(1 − aⱼ)]` on sigmoid outputs, computed
    /// stably from the logits. `δᴸ = k(a − y)` for a sigmoid of steepness `k`.
    BinaryCrossEntropy,
}

/// The names [`Loss::parse`] accepts.
pub const LOSS_NAMES: &str = "half_mse, cross_entropy, binary_cross_entropy";

impl Loss {
    /// Parses `half-mse`, `cross_entropy`, `bce`, … (`-` and `_` alike).
    pub fn parse(name: &str) -> Result<Self> {
        match normalize_name(name).as_str() {
            "half_mse" | "mse" | "half_squared_error" | "quadratic" => Ok(Loss::HalfMse),
            "cross_entropy" | "ce" | "categorical_cross_entropy" => Ok(Loss::CrossEntropy),
            "binary_cross_entropy" | "bce" => Ok(Loss::BinaryCrossEntropy),
            other => Err(Error::UnknownName { kind: "loss", name: other.to_string(), expected: LOSS_NAMES }),
        }
    }

    /// Refuses output activations this loss is not defined for, saying what to use instead.
    pub fn check_output(self, output: Activation) -> Result<()> {
        let bad = |hint: &str| {
            Err(Error::Incompatible { loss: self.to_string(), activation: output.to_string(), hint: hint.to_string() })
        };
        match (self, output) {
            (Loss::HalfMse, _) => Ok(()),
            (Loss::CrossEntropy, Activation::Softmax) => Ok(()),
            (Loss::CrossEntropy, _) => {
                bad("cross-entropy needs a softmax output layer (--output-activation softmax); \
                 for independent sigmoid outputs use binary-cross-entropy")
            }
            (Loss::BinaryCrossEntropy, Activation::Sigmoid { .. }) => Ok(()),
            (Loss::BinaryCrossEntropy, _) => {
                bad("binary cross-entropy needs sigmoid outputs (--output-activation sigmoid); \
                 for one-of-n classes use softmax with cross-entropy")
            }
        }
    }

    /// `L`, the mean over the batch of the per-sample loss; `z`, `a`, `y` are batch × `width`.
    ///
    /// Accumulated in `f64` so that the reported loss does not depend on summation order.
    pub fn value<T: Float>(self, output: Activation, z: &[T], a: &[T], y: &[T], width: usize) -> f64 {
        if width == 0 || y.is_empty() {
            return 0.0;
        }
        let batch = y.len() / width;
        let mut total = 0.0f64;
        match self {
            Loss::HalfMse => {
                for (&ai, &yi) in a.iter().zip(y) {
                    let d = (ai - yi).f64();
                    total += 0.5 * d * d;
                }
            }
            Loss::CrossEntropy => {
                for (zr, yr) in z.chunks_exact(width).zip(y.chunks_exact(width)) {
                    let m = zr.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v.f64()));
                    let lse = m + zr.iter().map(|&v| (v.f64() - m).exp()).sum::<f64>().ln();
                    for (&zi, &yi) in zr.iter().zip(yr) {
                        total += yi.f64() * (lse - zi.f64());
                    }
                }
            }
            Loss::BinaryCrossEntropy => {
                let (k, c) = sigmoid_params(output);
                for (&zi, &yi) in z.iter().zip(y) {
                    let u = k * (zi.f64() - c);
                    total += u.max(0.0) - yi.f64() * u + (-u.abs()).exp().ln_1p();
                }
            }
        }
        total / batch as f64
    }

    /// Writes `δᴸ = ∂L/∂zᴸ` of the batch-mean loss into `delta` (batch × `width`).
    pub fn output_delta<T: Float>(self, output: Activation, z: &[T], a: &[T], y: &[T], width: usize, delta: &mut [T]) {
        if width == 0 || y.is_empty() {
            return;
        }
        let inv_batch = T::one() / T::of((y.len() / width) as f64);
        match self {
            Loss::HalfMse => {
                // ∂L/∂a = (a − y)/B, then through f′ (or softmax's Jacobian).
                for ((d, &ai), &yi) in delta.iter_mut().zip(a).zip(y) {
                    *d = (ai - yi) * inv_batch;
                }
                output.backprop_rows(z, a, delta, width);
            }
            Loss::CrossEntropy => {
                // δ = (a·Σy − y)/B, which is (a − y)/B for a one-hot or probability target.
                for ((dr, ar), yr) in
                    delta.chunks_exact_mut(width).zip(a.chunks_exact(width)).zip(y.chunks_exact(width))
                {
                    let sy: T = yr.iter().copied().sum();
                    for ((d, &ai), &yi) in dr.iter_mut().zip(ar).zip(yr) {
                        *d = (ai * sy - yi) * inv_batch;
                    }
                }
            }
            Loss::BinaryCrossEntropy => {
                let k = T::of(sigmoid_params(output).0) * inv_batch;
                for ((d, &ai), &yi) in delta.iter_mut().zip(a).zip(y) {
                    *d = (ai - yi) * k;
                }
            }
        }
    }
}

fn sigmoid_params(act: Activation) -> (f64, f64) {
    match act {
        Activation::Sigmoid { k, c } => (k, c),
        _ => (1.0, 0.0),
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Loss::HalfMse => "half_mse",
            Loss::CrossEntropy => "cross_entropy",
            Loss::BinaryCrossEntropy => "binary_cross_entropy",
        })
    }
}

impl std::str::FromStr for Loss {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Loss::parse(s)
    }
}

impl TryFrom<String> for Loss {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Loss::parse(&s)
    }
}

impl From<Loss> for String {
    fn from(l: Loss) -> String {
        l.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_accept_dash_and_underscore() {
        assert_eq!(Loss::parse("half-mse").unwrap(), Loss::HalfMse);
        assert_eq!(Loss::parse("half_mse").unwrap(), Loss::HalfMse);
        assert_eq!(Loss::parse("Cross-Entropy").unwrap(), Loss::CrossEntropy);
        let e = Loss::parse("hinge").unwrap_err().to_string();
        assert!(e.contains("unknown loss 'hinge'"), "{e}");
    }

    #[test]
    fn incompatible_pairs_are_refused_with_a_hint() {
        let e = Loss::CrossEntropy.check_output(Activation::Relu).unwrap_err().to_string();
        assert!(e.contains("softmax"), "{e}");
        assert!(Loss::BinaryCrossEntropy.check_output(Activation::Softmax).is_err());
        assert!(Loss::HalfMse.check_output(Activation::Softmax).is_ok());
    }

    #[test]
    fn cross_entropy_is_finite_for_extreme_logits() {
        let z = [1000.0f64, -1000.0];
        let mut a = [0.0; 2];
        crate::activation::softmax_row(&z, &mut a);
        let l = Loss::CrossEntropy.value(Activation::Softmax, &z, &a, &[0.0, 1.0], 2);
        assert!((l - 2000.0).abs() < 1e-9, "{l}");
    }

    #[test]
    fn binary_cross_entropy_matches_its_definition() {
        let z = [0.3f64, -1.1];
        let y = [1.0, 0.0];
        let a: Vec<f64> = z.iter().map(|&v| crate::activation::logistic(v)).collect();
        let want = -(y[0] * a[0].ln() + (1.0 - y[0]) * (1.0 - a[0]).ln())
            - (y[1] * a[1].ln() + (1.0 - y[1]) * (1.0 - a[1]).ln());
        let got = Loss::BinaryCrossEntropy.value(Activation::SIGMOID, &z, &a, &y, 2);
        assert!((got - want).abs() < 1e-12);
    }
}
