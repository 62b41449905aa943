//! Gradient-descent updates `θ ← θ − η·(…)`: plain SGD, momentum, Nesterov, Adam and AdamW, with L2
//! weight decay and learning-rate schedules defined in absolute epochs.
//!
//! Update rules follow PyTorch's definitions, so the same hyper-parameters mean the same thing.
//! The optimizer's state (velocities, moments) is shaped like the parameters and allocated once.

use crate::error::{Error, Result, normalize_name};
use crate::kernels::{Float, simd};
use crate::network::{Gradients, Network};
use serde::{Deserialize, Serialize};

/// The update rule.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method {
    /// `θ ← θ − η∇L` — the article's gradient descent (on a mini-batch).
    Sgd,
    /// `v ← μv + ∇L`, `θ ← θ − ηv`.
    Momentum {
        /// Momentum `μ` (typically 0.9).
        mu: f64,
    },
    /// `v ← μv + ∇L`, `θ ← θ − η(∇L + μv)` (Nesterov's look-ahead, PyTorch's form).
    Nesterov {
        /// Momentum `μ`.
        mu: f64,
    },
    /// Adam: `m ← β₁m + (1−β₁)∇L`, `v ← β₂v + (1−β₂)∇L²`, `θ ← θ − η·m̂/(√v̂ + ε)` with bias correction.
    Adam {
        /// `β₁`, decay of the first moment.
        beta1: f64,
        /// `β₂`, decay of the second moment.
        beta2: f64,
        /// `ε`, keeps the denominator away from zero.
        eps: f64,
    },
    /// AdamW: Adam with weight decay decoupled from the gradient, `θ ← θ − ηλθ` before the step.
    AdamW {
        /// `β₁`.
        beta1: f64,
        /// `β₂`.
        beta2: f64,
        /// `ε`.
        eps: f64,
    },
}

/// The names [`Method::parse`] accepts.
pub const OPTIMIZER_NAMES: &str = "sgd, momentum, nesterov, adam, adamw";

impl Method {
    /// Parses an optimizer name with default hyper-parameters (`momentum` μ for the momentum kinds).
    pub fn parse(name: &str, momentum: f64) -> Result<Self> {
        Ok(match normalize_name(name).as_str() {
            "sgd" | "gd" | "gradient_descent" => Method::Sgd,
            "momentum" => Method::Momentum { mu: momentum },
            "nesterov" => Method::Nesterov { mu: momentum },
            "adam" => Method::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 },
            "adamw" | "adam_w" => Method::AdamW { beta1: 0.9, beta2: 0.999, eps: 1e-8 },
            other => {
                return Err(Error::UnknownName {
                    kind: "optimizer",
                    name: other.to_string(),
                    expected: OPTIMIZER_NAMES,
                });
            }
        })
    }

    /// The short name (`sgd`, `adam`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Method::Sgd => "sgd",
            Method::Momentum { .. } => "momentum",
            Method::Nesterov { .. } => "nesterov",
            Method::Adam { .. } => "adam",
            Method::AdamW { .. } => "adamw",
        }
    }
}

/// How the learning rate changes over training, as a function of the (fractional) epoch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// `η` throughout (the default).
    Constant,
    /// `η·γ^⌊epoch/every⌋`: multiplied by `gamma` every `every` epochs.
    Step {
        /// Epochs between decays.
        every: usize,
        /// Factor per decay.
        gamma: f64,
    },
    /// `η_min + ½(η − η_min)(1 + cos(π·epoch/epochs))` over the run's total epochs.
    Cosine {
        /// The final learning rate.
        min_lr: f64,
    },
}

/// The names [`Schedule::parse`] accepts.
pub const SCHEDULE_NAMES: &str = "constant, step, cosine";

impl Schedule {
    /// Parses `constant`, `step` (every 10 epochs × 0.1 unless set later) or `cosine` (down to 0).
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match normalize_name(name).as_str() {
            "constant" | "none" => Schedule::Constant,
            "step" => Schedule::Step { every: 10, gamma: 0.1 },
            "cosine" => Schedule::Cosine { min_lr: 0.0 },
            other => {
                return Err(Error::UnknownName { kind: "schedule", name: other.to_string(), expected: SCHEDULE_NAMES });
            }
        })
    }
}

/// An optimizer's settings: rule, learning rate, L2 decay, schedule and warm-up.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Optimizer {
    /// The update rule.
    pub method: Method,
    /// The base learning rate `η`.
    pub lr: f64,
    /// L2 weight decay `λ` on weights (not biases): adds `λW` to `∂L/∂W` (the gradient of
    /// `λ/2‖W‖²`); for AdamW it is decoupled, `W ← W − ηλW`.
    pub weight_decay: f64,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// Linear warm-up from 0 to `η` over this many epochs (fractional allowed; 0 = none).
    pub warmup: f64,
}

impl Default for Optimizer {
    fn default() -> Self {
        Self::sgd(0.1)
    }
}

impl Optimizer {
    /// Plain (mini-batch) gradient descent with learning rate `lr`.
    pub fn sgd(lr: f64) -> Self {
        Self { method: Method::Sgd, lr, weight_decay: 0.0, schedule: Schedule::Constant, warmup: 0.0 }
    }

    /// Adam with the usual β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    pub fn adam(lr: f64) -> Self {
        Self { method: Method::parse("adam", 0.0).unwrap_or(Method::Sgd), ..Self::sgd(lr) }
    }

    /// SGD with momentum `mu`.
    pub fn momentum(lr: f64, mu: f64) -> Self {
        Self { method: Method::Momentum { mu }, ..Self::sgd(lr) }
    }

    /// Checks the settings are usable (positive finite rate, β in [0, 1), …).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidValue { what: "optimizer".into(), message: m });
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!("learning rate must be a positive number, got {}", self.lr));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(format!("weight decay must be ≥ 0, got {}", self.weight_decay));
        }
        if !(self.warmup.is_finite() && self.warmup >= 0.0) {
            return bad(format!("warm-up must be ≥ 0 epochs, got {}", self.warmup));
        }
        match self.method {
            Method::Momentum { mu } | Method::Nesterov { mu } if !(0.0..1.0).contains(&mu) => {
                bad(format!("momentum must be in [0, 1), got {mu}"))
            }
            Method::Adam { beta1, beta2, eps } | Method::AdamW { beta1, beta2, eps }
                if !((0.0..1.0).contains(&beta1) && (0.0..1.0).contains(&beta2) && eps > 0.0) =>
            {
                bad(format!("Adam needs β₁, β₂ in [0, 1) and ε > 0, got {beta1}, {beta2}, {eps}"))
            }
            _ => match self.schedule {
                Schedule::Step { every, gamma } if every == 0 || !(gamma > 0.0 && gamma.is_finite()) => {
                    bad(format!("step schedule needs every ≥ 1 and γ > 0, got {every}, {gamma}"))
                }
                _ => Ok(()),
            },
        }
    }

    /// The learning rate at fractional epoch `epoch` (0 at the start) of a run of `total` epochs.
    pub fn lr_at(&self, epoch: f64, total: usize) -> f64 {
        let base = match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Step { every, gamma } => self.lr * gamma.powi((epoch.floor() as usize / every.max(1)) as i32),
            Schedule::Cosine { min_lr } => {
                let t = (epoch / total.max(1) as f64).clamp(0.0, 1.0);
                min_lr + 0.5 * (self.lr - min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
            }
        };
        if self.warmup > 0.0 && epoch < self.warmup { base * (epoch / self.warmup).min(1.0) } else { base }
    }

    /// Zeroed state (velocities or moments) for `net`.
    pub fn state<T: Float>(&self, net: &Network<T>) -> OptimizerState<T> {
        let shaped = || Gradients::zeros(net).tensors().map(|t| vec![T::zero(); t.len()]).collect();
        let (m, v) = match self.method {
            Method::Sgd => (Vec::new(), Vec::new()),
            Method::Momentum { .. } | Method::Nesterov { .. } => (shaped(), Vec::new()),
            Method::Adam { .. } | Method::AdamW { .. } => (shaped(), shaped()),
        };
        OptimizerState { steps: 0, m, v }
    }

    /// One update of every parameter of `net` from `grads`, at learning rate `lr`, on the calling
    /// thread (the trainer spreads the same updates over its threads: `train::data_parallel`).
    pub fn step<T: Float>(&self, state: &mut OptimizerState<T>, net: &mut Network<T>, grads: &Gradients<T>, lr: f64) {
        state.steps += 1;
        let t = state.steps;
        // Tensors alternate weights and biases: [W, b] per dense layer, then per convolution.
        for (i, (params, g)) in net.tensors_mut().zip(grads.tensors()).enumerate() {
            let (m, v) = state.slot_mut(i);
            self.update(t, lr, i % 2 == 0, params, g, m, v);
        }
    }

    /// Updates one parameter tensor `w` (or a block of one) from its gradient `g`, with the
    /// matching state slices `m`, `v` (empty when the method keeps none), as step `steps`
    /// (Adam's `t`); `is_weight`: weight decay applies (weights, not biases).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn update<T: Float>(
        &self,
        steps: u64,
        lr: f64,
        is_weight: bool,
        w: &mut [T],
        g: &[T],
        m: &mut [T],
        v: &mut [T],
    ) {
        let decay = if is_weight { self.weight_decay } else { 0.0 };
        self.kernel(w, g, m, v, lr, decay, steps as i32);
    }

    /// The element-wise update of one tensor (or block of one) at step `t`: `m`, `v` are its
    /// velocity or moments (empty when the method keeps none).
    #[allow(clippy::too_many_arguments)]
    fn kernel<T: Float>(&self, w: &mut [T], g: &[T], m: &mut [T], v: &mut [T], lr: f64, decay: f64, t: i32) {
        let eta = T::of(lr);
        let lambda = T::of(decay);
        match self.method {
            Method::Sgd => simd(|| sgd(w, g, eta, lambda)),
            Method::Momentum { mu } => simd(|| momentum(w, g, m, eta, lambda, T::of(mu), false)),
            Method::Nesterov { mu } => simd(|| momentum(w, g, m, eta, lambda, T::of(mu), true)),
            Method::Adam { beta1, beta2, eps } | Method::AdamW { beta1, beta2, eps } => {
                let decoupled = matches!(self.method, Method::AdamW { .. });
                let c = AdamConsts {
                    step: T::of(lr / (1.0 - beta1.powi(t))),
                    inv_sqrt_bc2: T::of(1.0 / (1.0 - beta2.powi(t)).sqrt()),
                    b1: T::of(beta1),
                    b2: T::of(beta2),
                    eps: T::of(eps),
                    // AdamW shrinks the weights (θ ← θ − ηλθ); Adam adds λθ to the gradient.
                    shrink: if decoupled { T::one() - eta * lambda } else { T::one() },
                    l2: if decoupled { T::zero() } else { lambda },
                };
                simd(|| adam(w, g, m, v, &c))
            }
        }
    }
}

#[inline(always)]
fn sgd<T: Float>(w: &mut [T], g: &[T], eta: T, lambda: T) {
    for (wi, &gi) in w.iter_mut().zip(g) {
        *wi -= eta * (gi + lambda * *wi);
    }
}

#[inline(always)]
fn momentum<T: Float>(w: &mut [T], g: &[T], v: &mut [T], eta: T, lambda: T, mu: T, nesterov: bool) {
    if nesterov {
        for ((wi, &gi), vi) in w.iter_mut().zip(g).zip(v) {
            let gi = gi + lambda * *wi;
            *vi = mu * *vi + gi;
            *wi -= eta * (gi + mu * *vi);
        }
    } else {
        for ((wi, &gi), vi) in w.iter_mut().zip(g).zip(v) {
            *vi = mu * *vi + gi + lambda * *wi;
            *wi -= eta * *vi;
        }
    }
}

struct AdamConsts<T> {
    step: T,
    inv_sqrt_bc2: T,
    b1: T,
    b2: T,
    eps: T,
    shrink: T,
    l2: T,
}

#[inline(always)]
fn adam<T: Float>(w: &mut [T], g: &[T], m: &mut [T], v: &mut [T], c: &AdamConsts<T>) {
    let (one_b1, one_b2) = (T::one() - c.b1, T::one() - c.b2);
    for (((wi, &gi), mi), vi) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let gi = gi + c.l2 * *wi;
        let wv = *wi * c.shrink;
        *mi = c.b1 * *mi + one_b1 * gi;
        *vi = c.b2 * *vi + one_b2 * gi * gi;
        *wi = wv - c.step * *mi / (vi.sqrt() * c.inv_sqrt_bc2 + c.eps);
    }
}

/// An optimizer's memory between steps: the step count and, per parameter tensor (W⁽¹⁾, b⁽¹⁾,
/// W⁽²⁾, …), the velocity or the two Adam moments.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState<T> {
    /// Updates taken so far (Adam's `t`).
    pub steps: u64,
    /// Velocity (momentum kinds) or first moment (Adam kinds), per tensor.
    pub m: Vec<Vec<T>>,
    /// Second moment (Adam kinds), per tensor.
    pub v: Vec<Vec<T>>,
}

impl<T> OptimizerState<T> {
    /// The state of tensor `slot` (`2l` weights, `2l + 1` bias of layer `l`): first and second
    /// moment, each empty when the method keeps none.
    pub(crate) fn slot_mut(&mut self, slot: usize) -> (&mut [T], &mut [T]) {
        let m = self.m.get_mut(slot).map_or(&mut [][..], |m| &mut m[..]);
        let v = self.v.get_mut(slot).map_or(&mut [][..], |v| &mut v[..]);
        (m, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::Architecture;
    use crate::{Activation, Init, Loss};

    fn one_param_net(w: f64) -> Network<f64> {
        let mut net = Architecture::mlp(&[1, 1], Activation::Identity, Activation::Identity, Loss::HalfMse)
            .init(Init::GlorotUniform)
            .build(0)
            .unwrap();
        net.layers[0].weights[0] = w;
        net.layers[0].bias[0] = 0.0;
        net
    }

    fn grads(g: f64) -> Gradients<f64> {
        Gradients { weights: vec![vec![g]], bias: vec![vec![0.0]], conv_weights: Vec::new(), conv_bias: Vec::new() }
    }

    #[test]
    fn updates_follow_the_formulas() {
        // SGD with L2: w ← w − η(g + λw)
        let mut opt = Optimizer::sgd(0.1);
        opt.weight_decay = 0.5;
        let mut net = one_param_net(2.0);
        let mut st = opt.state(&net);
        opt.step(&mut st, &mut net, &grads(1.0), 0.1);
        assert!((net.layers[0].weights[0] - (2.0 - 0.1 * (1.0 + 1.0))).abs() < 1e-15);

        // Momentum: two steps with g = 1: v = 1 then 1.9
        let opt = Optimizer::momentum(0.1, 0.9);
        let mut net = one_param_net(0.0);
        let mut st = opt.state(&net);
        opt.step(&mut st, &mut net, &grads(1.0), 0.1);
        opt.step(&mut st, &mut net, &grads(1.0), 0.1);
        assert!((net.layers[0].weights[0] + 0.1 * (1.0 + 1.9)).abs() < 1e-15);

        // Adam's first step moves each weight by ≈ η·sign(g).
        let opt = Optimizer::adam(0.01);
        let mut net = one_param_net(0.0);
        let mut st = opt.state(&net);
        opt.step(&mut st, &mut net, &grads(-3.0), 0.01);
        assert!((net.layers[0].weights[0] - 0.01).abs() < 1e-9);

        // AdamW with zero gradient only decays: w ← w(1 − ηλ).
        let mut opt = Optimizer::adam(0.1);
        opt.method = Method::parse("adamw", 0.0).unwrap();
        opt.weight_decay = 0.5;
        let mut net = one_param_net(1.0);
        let mut st = opt.state(&net);
        opt.step(&mut st, &mut net, &grads(0.0), 0.1);
        assert!((net.layers[0].weights[0] - 0.95).abs() < 1e-12);
    }

    #[test]
    fn nesterov_matches_pytorch_form() {
        let opt = Optimizer { method: Method::Nesterov { mu: 0.9 }, ..Optimizer::sgd(0.1) };
        let mut net = one_param_net(0.0);
        let mut st = opt.state(&net);
        opt.step(&mut st, &mut net, &grads(1.0), 0.1);
        // v = 1, w = −0.1(1 + 0.9)
        assert!((net.layers[0].weights[0] + 0.19).abs() < 1e-15);
    }

    #[test]
    fn schedules_are_defined_in_epochs() {
        let mut opt = Optimizer::sgd(1.0);
        opt.schedule = Schedule::Step { every: 2, gamma: 0.5 };
        assert_eq!(opt.lr_at(0.0, 10), 1.0);
        assert_eq!(opt.lr_at(1.9, 10), 1.0);
        assert_eq!(opt.lr_at(2.0, 10), 0.5);
        assert_eq!(opt.lr_at(4.5, 10), 0.25);
        opt.schedule = Schedule::Cosine { min_lr: 0.0 };
        assert!((opt.lr_at(5.0, 10) - 0.5).abs() < 1e-12);
        assert!(opt.lr_at(10.0, 10).abs() < 1e-12);
        opt.schedule = Schedule::Constant;
        opt.warmup = 2.0;
        assert!((opt.lr_at(0.5, 10) - 0.25).abs() < 1e-12);
        assert_eq!(opt.lr_at(3.0, 10), 1.0);
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(Optimizer::sgd(0.0).validate().is_err());
        assert!(Optimizer::sgd(f64::NAN).validate().is_err());
        assert!(Optimizer::momentum(0.1, 1.5).validate().is_err());
        assert!(Method::parse("rmsprop", 0.9).is_err());
        assert_eq!(Method::parse("Nesterov", 0.8).unwrap(), Method::Nesterov { mu: 0.8 });
    }
}
