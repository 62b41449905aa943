//! The article's worked 2-2-1 sigmoid example, and a check of every number it prints.
//!
//! The printed values are data (`article_values.json`). Each quantity also has its formula here, so
//! it can be computed twice: from the true values before it (the truth) and from the article's own
//! printed values before it — which shows whether a wrong number is a new slip or one carried forward.

use crate::activation::{Activation, logistic};
use crate::error::{Error, Result};
use crate::layer::Dense;
use crate::loss::Loss;
use crate::network::Network;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The example's input `x`.
pub const X: [f64; 2] = [0.5, 0.1];
/// The example's target `y`.
pub const Y: f64 = 1.0;
/// The example's learning rate `η`.
pub const LR: f64 = 0.1;

/// The article's network: `W₁ = [[0.1, 0.2], [0.3, 0.4]]`, `b₁ = [0.1, 0.2]`, `W₂ = [[0.5, 0.6]]`,
/// `b₂ = [0.3]`, sigmoid on both layers, half squared error.
pub fn network() -> Network<f64> {
    let l1 = Dense {
        inputs: 2,
        outputs: 2,
        weights: vec![0.1, 0.2, 0.3, 0.4],
        bias: vec![0.1, 0.2],
        activation: Activation::SIGMOID,
    };
    let l2 = Dense { inputs: 2, outputs: 1, weights: vec![0.5, 0.6], bias: vec![0.3], activation: Activation::SIGMOID };
    Network { features: Vec::new(), layers: vec![l1, l2], loss: Loss::HalfMse }
}

/// One value as the article prints it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Printed {
    /// Which quantity (`z1`, `a1`, `delta2`, …).
    pub id: String,
    /// The article's section it appears in.
    pub section: String,
    /// The numbers as printed (matrices row by row).
    pub printed: Vec<f64>,
    /// Decimals printed for each number: its precision.
    pub decimals: Vec<u32>,
}

#[derive(Deserialize)]
struct PrintedFile {
    values: Vec<Printed>,
}

/// The article's printed values, from the data file compiled into the binary.
pub fn printed_values() -> Vec<Printed> {
    // The file is part of the source tree and checked by a test; failing to parse it is a bug.
    serde_json::from_str::<PrintedFile>(include_str!("article_values.json")).map(|f| f.values).unwrap_or_default()
}

/// One quantity checked: the true value, the article's, and the article's own arithmetic.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// Quantity id.
    pub id: String,
    /// Section of the article.
    pub section: String,
    /// The true value (f64).
    pub true_value: Vec<f64>,
    /// The article's printed value.
    pub article: Vec<f64>,
    /// The value the formula gives from the article's own printed inputs.
    pub from_article_inputs: Vec<f64>,
    /// Decimals the article prints for each entry.
    pub decimals: Vec<u32>,
    /// Per entry: the article differs from the truth by more than its printed precision (10^-decimals).
    pub wrong: Vec<bool>,
    /// Per entry: the article differs from what its own earlier numbers give (a new slip here).
    pub new_slip: Vec<bool>,
    /// Per entry: the article's number is its own value cut off (truncated) rather than rounded.
    pub truncated: Vec<bool>,
}

impl Check {
    /// Whether any entry is wrong.
    pub fn is_wrong(&self) -> bool {
        self.wrong.iter().any(|&w| w)
    }
}

type Values = HashMap<&'static str, Vec<f64>>;

/// A quantity's formula over the quantities before it.
type Formula = fn(&Values) -> Vec<f64>;

fn sig_prime(a: &[f64]) -> Vec<f64> {
    a.iter().map(|a| a * (1.0 - a)).collect()
}

/// The example's quantities in order, each computed from earlier ones by the article's formulas.
fn formulas() -> Vec<(&'static str, Formula)> {
    vec![
        ("z1", |_| vec![0.1 * X[0] + 0.2 * X[1] + 0.1, 0.3 * X[0] + 0.4 * X[1] + 0.2]),
        ("a1", |v| v["z1"].iter().map(|&z| logistic(z)).collect()),
        ("z2", |v| vec![0.5 * v["a1"][0] + 0.6 * v["a1"][1] + 0.3]),
        ("a2", |v| vec![logistic(v["z2"][0])]),
        ("L", |v| vec![0.5 * (v["a2"][0] - Y).powi(2)]),
        ("dL_da2", |v| vec![v["a2"][0] - Y]),
        ("sigma_prime_z2", |v| sig_prime(&v["a2"])),
        ("delta2", |v| vec![v["dL_da2"][0] * v["sigma_prime_z2"][0]]),
        ("W2T_delta2", |v| vec![0.5 * v["delta2"][0], 0.6 * v["delta2"][0]]),
        ("sigma_prime_z1", |v| sig_prime(&v["a1"])),
        ("delta1", |v| v["W2T_delta2"].iter().zip(&v["sigma_prime_z1"]).map(|(g, s)| g * s).collect()),
        ("dL_dW2", |v| v["a1"].iter().map(|a| v["delta2"][0] * a).collect()),
        ("dL_db2", |v| v["delta2"].clone()),
        ("dL_dW1", |v| {
            let d = &v["delta1"];
            vec![d[0] * X[0], d[0] * X[1], d[1] * X[0], d[1] * X[1]]
        }),
        ("dL_db1", |v| v["delta1"].clone()),
        ("W2_new", |v| vec![0.5 - LR * v["dL_dW2"][0], 0.6 - LR * v["dL_dW2"][1]]),
        ("b2_new", |v| vec![0.3 - LR * v["dL_db2"][0]]),
        ("W1_new", |v| [0.1, 0.2, 0.3, 0.4].iter().zip(&v["dL_dW1"]).map(|(w, g)| w - LR * g).collect()),
        ("b1_new", |v| [0.1, 0.2].iter().zip(&v["dL_db1"]).map(|(b, g)| b - LR * g).collect()),
    ]
}

/// The true value of every quantity, by the formulas in order.
pub fn true_values() -> HashMap<&'static str, Vec<f64>> {
    let mut v = Values::new();
    for (id, f) in formulas() {
        let x = f(&v);
        v.insert(id, x);
    }
    v
}

/// Checks `printed` against the truth and against the article's own arithmetic.
pub fn check(printed: &[Printed]) -> Result<Vec<Check>> {
    let truth = true_values();
    let mut article = Values::new();
    let mut out = Vec::new();
    for (id, f) in formulas() {
        let p = printed.iter().find(|p| p.id == id).ok_or_else(|| Error::InvalidValue {
            what: "article values".into(),
            message: format!("no printed value for '{id}'"),
        })?;
        let t = &truth[id];
        if p.printed.len() != t.len() || p.decimals.len() != t.len() {
            return Err(Error::InvalidValue {
                what: "article values".into(),
                message: format!(
                    "'{id}' has {} numbers and {} precisions; expected {}",
                    p.printed.len(),
                    p.decimals.len(),
                    t.len()
                ),
            });
        }
        // Each quantity from the article's own inputs: the truth where it prints nothing before.
        let mut inputs = truth.clone();
        inputs.extend(article.iter().map(|(k, v)| (*k, v.clone())));
        let own = f(&inputs);
        let tol = |d: u32| 10f64.powi(-(d as i32));
        let wrong = (0..t.len()).map(|i| (p.printed[i] - t[i]).abs() > tol(p.decimals[i])).collect();
        let new_slip = (0..t.len()).map(|i| (p.printed[i] - own[i]).abs() > tol(p.decimals[i])).collect();
        let truncated = (0..t.len())
            .map(|i| {
                let scale = 10f64.powi(p.decimals[i] as i32);
                let (cut, round) = ((own[i] * scale).trunc() / scale, (own[i] * scale).round() / scale);
                (p.printed[i] - cut).abs() < 0.5 / scale && (cut - round).abs() > 0.5 / scale
            })
            .collect();
        out.push(Check {
            id: id.to_string(),
            section: p.section.clone(),
            true_value: t.clone(),
            article: p.printed.clone(),
            decimals: p.decimals.clone(),
            from_article_inputs: own,
            wrong,
            new_slip,
            truncated,
        });
        article.insert(id, p.printed.clone());
    }
    Ok(out)
}

/// The article's non-numeric slips, in English and Chinese.
pub fn notes() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "δ₁ = (W₂ᵀδ₂) ⊙ σ′(z₁) is an element-wise (Hadamard) product; the text calls it an inner product of W₂ and σ′(z₁), which would give one number, not a vector.",
            "δ₁ = (W₂ᵀδ₂) ⊙ σ′(z₁) 是逐元素（Hadamard）乘积；原文称之为 W₂ 与 σ′(z₁) 的“内积”，内积只会得到一个数，而不是向量。",
        ),
        (
            "∂L/∂W₂ = δ₂a₁ᵀ has the shape of W₂, a 1×2 row; the article prints it as a 2×1 column (and W₂'s update likewise).",
            "∂L/∂W₂ = δ₂a₁ᵀ 与 W₂ 形状相同，是 1×2 的行向量；原文把它（以及 W₂ 的更新）写成了 2×1 的列向量。",
        ),
        (
            "In the derivation of δ₁₂ the last factor is printed ∂a₁₂/∂z₁; it should be ∂a₁₂/∂z₁₂.",
            "推导 δ₁₂ 时最后一个因子印成了 ∂a₁₂/∂z₁，应为 ∂a₁₂/∂z₁₂。",
        ),
        (
            "The slip enters at z₁: its second entry is 0.3·0.5 + 0.4·0.1 + 0.2 = 0.39, not 0.35; every later number carries it.",
            "错误始于 z₁：第二个分量应为 0.3·0.5 + 0.4·0.1 + 0.2 = 0.39，而不是 0.35；之后的数字都沿用了这个错误。",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_agree_with_the_reference_path() {
        let t = crate::trace::trace(&network(), &[X.to_vec()], &[vec![Y]], LR).unwrap();
        let v = true_values();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
        let s = &t.samples[0];
        assert!(close(v["z1"][1], s.z[0][1]) && close(v["a2"][0], s.a[1][0]) && close(v["L"][0], t.loss));
        assert!(close(v["delta1"][0], s.delta[0][0]) && close(v["delta1"][1], s.delta[0][1]));
        assert!(close(v["dL_dW1"][2], t.grad_w[0][1][0]) && close(v["W2_new"][1], t.updated_w[1][0][1]));
        assert!(close(v["b1_new"][1], t.updated_b[0][1]));
    }

    #[test]
    fn flags_are_computed_from_the_data() {
        let printed = printed_values();
        assert_eq!(printed.len(), formulas().len());
        let checks = check(&printed).unwrap();
        let by = |id: &str| checks.iter().find(|c| c.id == id).unwrap().clone();
        // The slip enters at z₁[1] and is new there.
        assert_eq!(by("z1").wrong, vec![false, true]);
        assert_eq!(by("z1").new_slip, vec![false, true]);
        // a₁[0] = 0.5424 truncated to 0.542 is within the printed precision; a₁[1] carries the slip.
        assert_eq!(by("a1").wrong, vec![false, true]);
        assert_eq!(by("a1").new_slip, vec![false, false]);
        assert!(by("delta2").is_wrong() && !by("delta2").new_slip[0]);
        // a₁, a₂ and a₂(1 − a₂) are cut to three decimals rather than rounded.
        assert_eq!(by("a1").truncated, vec![false, true]);
        assert_eq!(by("a2").truncated, vec![true]);
        assert_eq!(by("sigma_prime_z2").truncated, vec![true]);
        assert_eq!(by("z2").truncated, vec![false]);
        // Editing one stored value changes the flags.
        let mut edited = printed.clone();
        edited.iter_mut().find(|p| p.id == "z1").unwrap().printed[1] = 0.39;
        let checks = check(&edited).unwrap();
        let z1 = checks.iter().find(|c| c.id == "z1").unwrap();
        assert_eq!(z1.wrong, vec![false, false]);
        let a1 = checks.iter().find(|c| c.id == "a1").unwrap();
        assert_eq!(a1.new_slip, vec![false, true], "a₁ no longer follows from the article's z₁");
    }
}
