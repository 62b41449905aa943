//! Weight initialisation schemes, all drawn from one seeded RNG: the same seed gives the same bits.

use crate::activation::Activation;
use crate::error::{Error, Result, normalize_name};
use crate::kernels::Float;
use crate::rng::Rng;
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How a layer's weights `W` (outputs × inputs) and biases `b` start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Init {
    /// Glorot/Xavier uniform: `W ~ U(±√(6/(n_in+n_out)))`, `b = 0`. Keeps variance for tanh/sigmoid.
    GlorotUniform,
    /// Glorot/Xavier normal: `W ~ N(0, 2/(n_in+n_out))`, `b = 0`.
    GlorotNormal,
    /// He uniform: `W ~ U(±√(6/n_in))`, `b = 0`. For ReLU, which halves the variance.
    HeUniform,
    /// He normal: `W ~ N(0, 2/n_in)`, `b = 0`.
    HeNormal,
    /// Nielsen's improved init: `W ~ N(0, 1/n_in)` (std `1/√n_in`), `b ~ N(0, 1)`.
    Nielsen,
    /// The standard normal of Nielsen's first network: `W, b ~ N(0, 1)`.
    StandardNormal,
    /// PyTorch's `nn.Linear` default: `W, b ~ U(±1/√n_in)` (Kaiming uniform with `a = √5`), for
    /// comparisons with PyTorch from the same starting distribution.
    Pytorch,
}

/// The names [`Init::parse`] accepts.
pub const INIT_NAMES: &str = "glorot_uniform, glorot_normal, he_uniform, he_normal, nielsen, standard_normal, pytorch";

impl Init {
    /// Parses `he-normal`, `glorot_uniform` (also `xavier-…`), … (`-` and `_` alike).
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match normalize_name(name).as_str() {
            "glorot_uniform" | "xavier_uniform" | "glorot" | "xavier" => Init::GlorotUniform,
            "glorot_normal" | "xavier_normal" => Init::GlorotNormal,
            "he_uniform" | "kaiming_uniform" | "he" => Init::HeUniform,
            "he_normal" | "kaiming_normal" => Init::HeNormal,
            "nielsen" => Init::Nielsen,
            "standard_normal" | "normal" => Init::StandardNormal,
            "pytorch" | "torch" => Init::Pytorch,
            other => {
                return Err(Error::UnknownName {
                    kind: "initialisation",
                    name: other.to_string(),
                    expected: INIT_NAMES,
                });
            }
        })
    }

    /// The usual choice for a layer with this activation: He for ReLU-like, Glorot otherwise.
    pub fn default_for(activation: Activation) -> Init {
        match activation {
            Activation::Relu | Activation::LeakyRelu { .. } => Init::HeUniform,
            _ => Init::GlorotUniform,
        }
    }

    /// Fills `weights` (n_out × n_in) and `bias` (n_out) from `rng`.
    pub fn fill<T: Float>(self, n_in: usize, n_out: usize, weights: &mut [T], bias: &mut [T], rng: &mut Rng) {
        let fan_avg = (n_in + n_out).max(1) as f64;
        let fan_in = n_in.max(1) as f64;
        let uniform = |limit: f64, rng: &mut Rng, w: &mut [T]| {
            for x in w.iter_mut() {
                *x = T::of(rng.random_range(-limit..limit));
            }
        };
        let normal = |std: f64, rng: &mut Rng, w: &mut [T]| {
            for x in w.iter_mut() {
                let s: f64 = StandardNormal.sample(rng);
                *x = T::of(s * std);
            }
        };
        bias.fill(T::zero());
        match self {
            Init::GlorotUniform => uniform((6.0 / fan_avg).sqrt(), rng, weights),
            Init::GlorotNormal => normal((2.0 / fan_avg).sqrt(), rng, weights),
            Init::HeUniform => uniform((6.0 / fan_in).sqrt(), rng, weights),
            Init::HeNormal => normal((2.0 / fan_in).sqrt(), rng, weights),
            Init::Nielsen => {
                normal(1.0 / fan_in.sqrt(), rng, weights);
                normal(1.0, rng, bias);
            }
            Init::StandardNormal => {
                normal(1.0, rng, weights);
                normal(1.0, rng, bias);
            }
            Init::Pytorch => {
                uniform(1.0 / fan_in.sqrt(), rng, weights);
                uniform(1.0 / fan_in.sqrt(), rng, bias);
            }
        }
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Init::GlorotUniform => "glorot_uniform",
            Init::GlorotNormal => "glorot_normal",
            Init::HeUniform => "he_uniform",
            Init::HeNormal => "he_normal",
            Init::Nielsen => "nielsen",
            Init::StandardNormal => "standard_normal",
            Init::Pytorch => "pytorch",
        })
    }
}

impl std::str::FromStr for Init {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Init::parse(s)
    }
}

impl TryFrom<String> for Init {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Init::parse(&s)
    }
}

impl From<Init> for String {
    fn from(i: Init) -> String {
        i.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::rng;

    #[test]
    fn same_seed_same_bits() {
        let (mut w1, mut b1) = (vec![0.0f32; 300], vec![0.0f32; 10]);
        let (mut w2, mut b2) = (vec![0.0f32; 300], vec![0.0f32; 10]);
        Init::Nielsen.fill(30, 10, &mut w1, &mut b1, &mut rng(7));
        Init::Nielsen.fill(30, 10, &mut w2, &mut b2, &mut rng(7));
        assert_eq!(w1, w2);
        assert_eq!(b1, b2);
    }

    #[test]
    fn scales_follow_the_formulas() {
        let (n_in, n_out) = (400, 100);
        let mut w = vec![0.0f64; n_in * n_out];
        let mut b = vec![0.0f64; n_out];
        let var = |w: &[f64]| w.iter().map(|x| x * x).sum::<f64>() / w.len() as f64;
        for (init, want) in [
            (Init::HeNormal, 2.0 / 400.0),
            (Init::HeUniform, 2.0 / 400.0),
            (Init::GlorotUniform, 2.0 / 500.0),
            (Init::GlorotNormal, 2.0 / 500.0),
            (Init::Nielsen, 1.0 / 400.0),
            (Init::StandardNormal, 1.0),
            (Init::Pytorch, 1.0 / 1200.0),
        ] {
            init.fill(n_in, n_out, &mut w, &mut b, &mut rng(1));
            let v = var(&w);
            assert!((v / want - 1.0).abs() < 0.05, "{init}: variance {v}, want {want}");
        }
        // PyTorch's default draws the biases from the weights' range too.
        Init::Pytorch.fill(n_in, n_out, &mut w, &mut b, &mut rng(2));
        let limit = 1.0 / 20.0;
        assert!(w.iter().chain(&b).all(|x| x.abs() <= limit) && b.iter().any(|x| x.abs() > limit / 2.0));
    }

    #[test]
    fn names_parse() {
        assert_eq!(Init::parse("he-normal").unwrap(), Init::HeNormal);
        assert_eq!(Init::parse("standard_normal").unwrap(), Init::StandardNormal);
        assert_eq!(Init::parse("PyTorch").unwrap(), Init::Pytorch);
        assert_eq!(Init::Pytorch.to_string(), "pytorch");
        assert!(Init::parse("zeros").is_err());
    }
}
