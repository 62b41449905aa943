//! The reference path: the article's column-vector form, one sample at a time, in plain loops,
//! recording every `z`, `a`, `δ` and gradient. No GEMM, no batching: it is what the fast path in
//! [`crate::network`] must agree with, and what `explain` prints.
//!
//! Gradients are those of the batch-mean loss `L = (1/B)Σₛ Lₛ`, so each sample's `δ` here is its own
//! `∂Lₛ/∂z` divided by `B` — exactly `∂L/∂z` for that sample's row, as the fast path holds it.

use crate::activation::Activation;
use crate::error::{Result, shape_error};
use crate::loss::Loss;
use crate::network::Network;

/// Every quantity of one sample's forward and backward pass, layer by layer (index 0 = layer 1).
#[derive(Clone, Debug, PartialEq)]
pub struct SampleTrace {
    /// The input `x = a⁽⁰⁾`.
    pub x: Vec<f64>,
    /// The target `y`.
    pub y: Vec<f64>,
    /// `z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾` per layer.
    pub z: Vec<Vec<f64>>,
    /// `a⁽ˡ⁾ = f(z⁽ˡ⁾)` per layer.
    pub a: Vec<Vec<f64>>,
    /// `f′(z⁽ˡ⁾)` per layer, for element-wise activations (`None` for softmax).
    pub fprime: Vec<Option<Vec<f64>>>,
    /// This sample's loss `Lₛ`.
    pub loss: f64,
    /// `∂L/∂a⁽ᴸ⁾` of the batch-mean loss.
    pub dl_da: Vec<f64>,
    /// `δ⁽ˡ⁾ = ∂L/∂z⁽ˡ⁾` of the batch-mean loss, per layer.
    pub delta: Vec<Vec<f64>>,
    /// `(W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾` per layer (the back-propagated error before `⊙ f′`; last layer: `∂L/∂a⁽ᴸ⁾`).
    pub back: Vec<Vec<f64>>,
}

/// A whole trace: each sample, the batch-mean loss and gradients, and the parameters after one
/// gradient-descent step `θ ← θ − η∂L/∂θ`.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// Per-sample records.
    pub samples: Vec<SampleTrace>,
    /// `L`, the mean of the samples' losses.
    pub loss: f64,
    /// `∂L/∂W⁽ˡ⁾ = Σₛ δ⁽ˡ⁾ₛ(a⁽ˡ⁻¹⁾ₛ)ᵀ`, rows × columns.
    pub grad_w: Vec<Vec<Vec<f64>>>,
    /// `∂L/∂b⁽ˡ⁾ = Σₛ δ⁽ˡ⁾ₛ`.
    pub grad_b: Vec<Vec<f64>>,
    /// `W⁽ˡ⁾ − η∂L/∂W⁽ˡ⁾`.
    pub updated_w: Vec<Vec<Vec<f64>>>,
    /// `b⁽ˡ⁾ − η∂L/∂b⁽ˡ⁾`.
    pub updated_b: Vec<Vec<f64>>,
    /// The learning rate `η` used.
    pub lr: f64,
}

fn matvec(w: &[Vec<f64>], x: &[f64], b: &[f64]) -> Vec<f64> {
    w.iter().zip(b).map(|(row, &bj)| row.iter().zip(x).map(|(wji, xi)| wji * xi).sum::<f64>() + bj).collect()
}

fn activate(f: Activation, z: &[f64]) -> Vec<f64> {
    match f {
        Activation::Softmax => {
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
            let s: f64 = e.iter().sum();
            e.iter().map(|v| v / s).collect()
        }
        _ => z.iter().map(|&v| f.value(v)).collect(),
    }
}

/// `Jᵀg` for the activation's Jacobian `J = ∂a/∂z`: `g ⊙ f′(z)` element-wise, or the full softmax
/// Jacobian `Jᵢⱼ = aᵢ(δᵢⱼ − aⱼ)` written out.
fn jacobian_t(f: Activation, z: &[f64], a: &[f64], g: &[f64]) -> Vec<f64> {
    match f {
        Activation::Softmax => (0..a.len())
            .map(|j| (0..a.len()).map(|i| g[i] * a[i] * (if i == j { 1.0 } else { 0.0 } - a[j])).sum())
            .collect(),
        _ => (0..a.len()).map(|j| g[j] * f.derivative(z[j], a[j])).collect(),
    }
}

/// Traces `net` (in `f64`) on samples `xs` with targets `ys`, and one gradient-descent step of rate `lr`.
pub fn trace(net: &Network<f64>, xs: &[Vec<f64>], ys: &[Vec<f64>], lr: f64) -> Result<Trace> {
    if xs.is_empty() || xs.len() != ys.len() {
        return Err(shape_error(
            "samples",
            "as many targets as inputs (at least one)",
            format!("{} inputs and {} targets", xs.len(), ys.len()),
            None,
        ));
    }
    let layers: Vec<(Vec<Vec<f64>>, Vec<f64>, Activation)> = net
        .layers
        .iter()
        .map(|l| (l.weights.chunks(l.inputs).map(<[f64]>::to_vec).collect(), l.bias.clone(), l.activation))
        .collect();
    let out = layers.len() - 1;
    let inv_b = 1.0 / xs.len() as f64;
    let mut samples = Vec::with_capacity(xs.len());
    for (s, (x, y)) in xs.iter().zip(ys).enumerate() {
        net.check_input(x, 1)?;
        if y.len() != net.outputs() {
            return Err(shape_error(
                format!("target of sample {}", s + 1),
                format!("{} values", net.outputs()),
                format!("{}", y.len()),
                None,
            ));
        }
        // Forward: z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾, a⁽ˡ⁾ = f(z⁽ˡ⁾).
        let (mut z, mut a) = (Vec::new(), Vec::new());
        for (l, (w, b, f)) in layers.iter().enumerate() {
            let input = if l == 0 { x } else { &a[l - 1] };
            let zl = matvec(w, input, b);
            a.push(activate(*f, &zl));
            z.push(zl);
        }
        let f_out = layers[out].2;
        let (zl, al) = (&z[out], &a[out]);
        let loss = match net.loss {
            Loss::HalfMse => 0.5 * al.iter().zip(y).map(|(a, y)| (a - y) * (a - y)).sum::<f64>(),
            Loss::CrossEntropy => {
                let m = zl.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let lse = m + zl.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                y.iter().zip(zl).map(|(y, z)| y * (lse - z)).sum()
            }
            Loss::BinaryCrossEntropy => {
                let (k, c) = match f_out {
                    Activation::Sigmoid { k, c } => (k, c),
                    _ => (1.0, 0.0),
                };
                zl.iter()
                    .zip(y)
                    .map(|(&z, &y)| {
                        let u = k * (z - c);
                        u.max(0.0) - y * u + (-u.abs()).exp().ln_1p()
                    })
                    .sum()
            }
        };
        // ∂L/∂a⁽ᴸ⁾ and δ⁽ᴸ⁾ = ∂L/∂z⁽ᴸ⁾ of the batch-mean loss.
        let (dl_da, delta_out): (Vec<f64>, Vec<f64>) = match net.loss {
            Loss::HalfMse => {
                let g: Vec<f64> = al.iter().zip(y).map(|(a, y)| (a - y) * inv_b).collect();
                let d = jacobian_t(f_out, zl, al, &g);
                (g, d)
            }
            Loss::CrossEntropy => {
                let g = al.iter().zip(y).map(|(a, y)| -y / a * inv_b).collect();
                let sy: f64 = y.iter().sum();
                (g, al.iter().zip(y).map(|(a, y)| (a * sy - y) * inv_b).collect())
            }
            Loss::BinaryCrossEntropy => {
                let k = match f_out {
                    Activation::Sigmoid { k, .. } => k,
                    _ => 1.0,
                };
                let g = al.iter().zip(y).map(|(a, y)| (a - y) / (a * (1.0 - a)) * inv_b).collect();
                (g, al.iter().zip(y).map(|(a, y)| k * (a - y) * inv_b).collect())
            }
        };
        // Backward: δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ f′(z⁽ˡ⁾).
        let mut delta = vec![Vec::new(); layers.len()];
        let mut back = vec![Vec::new(); layers.len()];
        back[out] = dl_da.clone();
        delta[out] = delta_out;
        for l in (0..out).rev() {
            let w_next = &layers[l + 1].0;
            let wt_delta: Vec<f64> =
                (0..z[l].len()).map(|i| w_next.iter().zip(&delta[l + 1]).map(|(row, d)| row[i] * d).sum()).collect();
            delta[l] = jacobian_t(layers[l].2, &z[l], &a[l], &wt_delta);
            back[l] = wt_delta;
        }
        let fprime = layers
            .iter()
            .enumerate()
            .map(|(l, (_, _, f))| {
                f.is_elementwise().then(|| z[l].iter().zip(&a[l]).map(|(&z, &a)| f.derivative(z, a)).collect())
            })
            .collect();
        samples.push(SampleTrace { x: x.clone(), y: y.clone(), z, a, fprime, loss, dl_da, delta, back });
    }
    // ∂L/∂W⁽ˡ⁾ = Σₛ δ⁽ˡ⁾(a⁽ˡ⁻¹⁾)ᵀ, ∂L/∂b⁽ˡ⁾ = Σₛ δ⁽ˡ⁾.
    let mut grad_w: Vec<Vec<Vec<f64>>> = layers.iter().map(|(w, _, _)| vec![vec![0.0; w[0].len()]; w.len()]).collect();
    let mut grad_b: Vec<Vec<f64>> = layers.iter().map(|(_, b, _)| vec![0.0; b.len()]).collect();
    for s in &samples {
        for l in 0..layers.len() {
            let input = if l == 0 { &s.x } else { &s.a[l - 1] };
            for (j, &d) in s.delta[l].iter().enumerate() {
                for (i, &ai) in input.iter().enumerate() {
                    grad_w[l][j][i] += d * ai;
                }
                grad_b[l][j] += d;
            }
        }
    }
    let updated_w = layers
        .iter()
        .zip(&grad_w)
        .map(|((w, _, _), g)| {
            w.iter().zip(g).map(|(wr, gr)| wr.iter().zip(gr).map(|(w, g)| w - lr * g).collect()).collect()
        })
        .collect();
    let updated_b =
        layers.iter().zip(&grad_b).map(|((_, b, _), g)| b.iter().zip(g).map(|(b, g)| b - lr * g).collect()).collect();
    let loss = samples.iter().map(|s| s.loss).sum::<f64>() * inv_b;
    Ok(Trace { samples, loss, grad_w, grad_b, updated_w, updated_b, lr })
}
