//! The symbols `explain` writes: each activation and loss as a formula, in plain text and in
//! LaTeX (for `--format markdown`), and how many digits its numbers get.

use neuralnet::activation::Activation;
use neuralnet::loss::Loss;
use neuralnet::plot::notation::Digits;

/// How `explain` writes numbers: six significant digits, trailing zeros trimmed.
pub const DIGITS: Digits = Digits::Significant(6);

/// `a₁` as LaTeX, `a_{1}`; `x` stays `x`.
pub fn latex_name(n: &str) -> String {
    match n.strip_prefix('a') {
        Some(rest) => {
            format!("a_{{{}}}", rest.chars().map(|c| (c as u32 - '₀' as u32).to_string()).collect::<String>())
        }
        None => n.to_string(),
    }
}

/// A written vector or matrix with LaTeX brackets that grow with their contents.
pub fn latex_value(v: &str) -> String {
    v.replace('[', "\\left[").replace(']', "\\right]")
}

/// The activation's symbol in plain text: `σ`, `tanh`, `relu`, …
pub fn act_symbol(a: Activation) -> &'static str {
    match a {
        Activation::Sigmoid { .. } => "σ",
        Activation::Tanh => "tanh",
        Activation::Relu => "relu",
        Activation::LeakyRelu { .. } => "lrelu",
        Activation::Identity => "id",
        Activation::Step { .. } => "step",
        Activation::Softmax => "softmax",
    }
}

/// The activation's symbol in LaTeX: `\sigma`, `\tanh`, `\mathrm{relu}`, …
pub fn latex_act(a: Activation) -> &'static str {
    match a {
        Activation::Sigmoid { .. } => "\\sigma",
        Activation::Tanh => "\\tanh",
        Activation::Relu => "\\mathrm{relu}",
        Activation::LeakyRelu { .. } => "\\mathrm{lrelu}",
        Activation::Identity => "\\mathrm{id}",
        Activation::Step { .. } => "\\mathrm{step}",
        Activation::Softmax => "\\mathrm{softmax}",
    }
}

/// `f′(z)` written with the activation's output `an` where the derivative has that form.
pub fn derivative_formula(a: Activation, an: &str) -> String {
    match a {
        Activation::Sigmoid { k: 1.0, .. } => format!("{an}(1 − {an})"),
        Activation::Sigmoid { k, .. } => format!("{}·{an}(1 − {an})", DIGITS.num(k)),
        Activation::Tanh => format!("1 − {an}²"),
        Activation::Relu => "1 if z > 0 else 0".into(),
        Activation::LeakyRelu { alpha } => format!("1 if z > 0 else {}", DIGITS.num(alpha)),
        Activation::Identity => "1".into(),
        Activation::Step { .. } => "0 (no gradient flows through a step)".into(),
        Activation::Softmax => "Jacobian".into(),
    }
}

/// The loss as a formula of `aᴸ` (or `zᴸ`) and `y`.
pub fn loss_formula(l: Loss) -> String {
    match l {
        Loss::HalfMse => "½‖aᴸ − y‖²".into(),
        Loss::CrossEntropy => "−Σ y log softmax(zᴸ)".into(),
        Loss::BinaryCrossEntropy => "−Σ [y log aᴸ + (1 − y) log(1 − aᴸ)]".into(),
    }
}
