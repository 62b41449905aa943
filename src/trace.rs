//! The reference path: the article's column-vector form, one sample at a time, in plain loops,
//! recording every `z`, `a`, `δ` and gradient. No GEMM, no batching: it is what the fast path in
//! [`crate::network`] must agree with, and what `explain` prints.
//!
//! Gradients are those of the batch-mean loss `L = (1/B)Σₛ Lₛ`, so each sample's `δ` here is its own
//! `∂Lₛ/∂z` divided by `B` — exactly `∂L/∂z` for that sample's row, as the fast path holds it.
//!
//! A convolutional network's convolution and pooling layers come first, each traced by its own
//! nested-loop reference path ([`crate::conv::Conv2d::forward_reference`],
//! [`crate::conv::Conv2d::backward_reference`], [`crate::pool::MaxPool2d`]); their maps are kept
//! flat, channels × rows × columns, as the dense layers after them read them.

use crate::activation::Activation;
use crate::error::{Result, shape_error};
use crate::loss::Loss;
use crate::network::{Feature, Network};

/// One convolution's or pooling's quantities for one sample, each map flat (C × H × W).
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureTrace {
    /// `z = W ⊛ a_below + b` (a convolution; empty for pooling).
    pub z: Vec<f64>,
    /// The layer's output: `f(z)`, or the pooled maxima.
    pub a: Vec<f64>,
    /// `f′(z)` (a convolution; empty for pooling).
    pub fprime: Vec<f64>,
    /// `∂L/∂a` of this layer's output: what the layer above sends down (the first dense layer's
    /// `(W)ᵀδ`, a pooling's routing, or a convolution's full convolution of δ with its flipped
    /// kernel).
    pub back: Vec<f64>,
    /// `δ = ∂L/∂z = back ⊙ f′(z)` (a convolution; empty for pooling).
    pub delta: Vec<f64>,
    /// For pooling: the index (in the input maps) of each window's winner, which its δ goes to.
    pub winner: Vec<usize>,
}

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
    /// The convolution and pooling layers before the dense ones, in order (empty for a dense
    /// network); the first dense layer reads the last one's `a`.
    pub features: Vec<FeatureTrace>,
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
    /// `∂L/∂W` of each convolution (out × in × k × k, flat), by feature layer (empty for pooling).
    pub feature_grad_w: Vec<Vec<f64>>,
    /// `∂L/∂b` of each convolution, by feature layer (empty for pooling).
    pub feature_grad_b: Vec<Vec<f64>>,
    /// Each convolution's `W − η∂L/∂W`, by feature layer (empty for pooling).
    pub feature_updated_w: Vec<Vec<f64>>,
    /// Each convolution's `b − η∂L/∂b`, by feature layer (empty for pooling).
    pub feature_updated_b: Vec<Vec<f64>>,
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
    // A convolution's ∂L/∂W[o,c,p,q] = Σₛ Σᵢⱼ δ[o,i,j]·x[c,i+p−P,j+q−P] and ∂L/∂b[o] = Σₛ Σᵢⱼ δ[o,i,j],
    // summed over the samples as their δ are found (empty for pooling).
    let sized = |len: fn(&crate::conv::Conv2d<f64>) -> usize| -> Vec<Vec<f64>> {
        net.features
            .iter()
            .map(|f| match f {
                Feature::Conv(c) => vec![0.0; len(c)],
                Feature::Pool(_) => Vec::new(),
            })
            .collect()
    };
    let mut feature_grad_w = sized(|c| c.weights.len());
    let mut feature_grad_b = sized(|c| c.bias.len());
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
        // The convolution and pooling layers, each on the one before.
        let mut features: Vec<FeatureTrace> = Vec::with_capacity(net.features.len());
        for f in &net.features {
            let below = features.last().map_or(x, |t| &t.a);
            let n = f.output().len();
            let mut t = FeatureTrace {
                z: Vec::new(),
                a: vec![0.0; n],
                fprime: Vec::new(),
                back: Vec::new(),
                delta: Vec::new(),
                winner: Vec::new(),
            };
            match f {
                Feature::Conv(c) => {
                    t.z = vec![0.0; n];
                    c.forward_reference(below, 1, &mut t.z, &mut t.a);
                    t.fprime = t.z.iter().zip(&t.a).map(|(&z, &a)| c.activation.derivative(z, a)).collect();
                }
                Feature::Pool(p) => {
                    let mut winner = vec![0u32; n];
                    p.forward(below, 1, &mut t.a, &mut winner);
                    t.winner = winner.into_iter().map(|w| w as usize).collect();
                }
            }
            features.push(t);
        }
        let dense_x = features.last().map_or(x, |t| &t.a);
        // Forward: z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾, a⁽ˡ⁾ = f(z⁽ˡ⁾).
        let (mut z, mut a) = (Vec::new(), Vec::new());
        for (l, (w, b, f)) in layers.iter().enumerate() {
            let input = if l == 0 { dense_x } else { &a[l - 1] };
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
        // Into the convolutional part: ∂L/∂a of its output is (W⁽¹⁾)ᵀδ⁽¹⁾, then down layer by layer.
        if let Some(top) = features.last_mut() {
            let w1 = &layers[0].0;
            top.back = (0..top.a.len()).map(|i| w1.iter().zip(&delta[0]).map(|(row, d)| row[i] * d).sum()).collect();
        }
        for k in (0..features.len()).rev() {
            let (below, here) = features.split_at_mut(k);
            let t = &mut here[0];
            let below_len = net.features[k].input().len();
            let mut down = vec![0.0; below_len];
            match &net.features[k] {
                Feature::Conv(c) => {
                    t.delta = t.back.iter().zip(&t.fprime).map(|(g, fp)| g * fp).collect();
                    let (mut gw, mut gb) = (vec![0.0; c.weights.len()], vec![0.0; c.bias.len()]);
                    let input = below.last().map_or(x, |b| &b.a);
                    c.backward_reference(input, &t.delta, 1, &mut gw, &mut gb, (k > 0).then_some(&mut down[..]));
                    feature_grad_w[k].iter_mut().zip(&gw).for_each(|(g, v)| *g += v);
                    feature_grad_b[k].iter_mut().zip(&gb).for_each(|(g, v)| *g += v);
                }
                Feature::Pool(_) => {
                    // δ goes to the window's winner, 0 elsewhere.
                    for (&d, &w) in t.back.iter().zip(&t.winner) {
                        down[w] += d;
                    }
                }
            }
            if let Some(b) = below.last_mut() {
                b.back = down;
            }
        }
        let fprime = layers
            .iter()
            .enumerate()
            .map(|(l, (_, _, f))| {
                f.is_elementwise().then(|| z[l].iter().zip(&a[l]).map(|(&z, &a)| f.derivative(z, a)).collect())
            })
            .collect();
        samples.push(SampleTrace { x: x.clone(), y: y.clone(), z, a, fprime, loss, dl_da, delta, back, features });
    }
    // ∂L/∂W⁽ˡ⁾ = Σₛ δ⁽ˡ⁾(a⁽ˡ⁻¹⁾)ᵀ, ∂L/∂b⁽ˡ⁾ = Σₛ δ⁽ˡ⁾.
    let mut grad_w: Vec<Vec<Vec<f64>>> = layers.iter().map(|(w, _, _)| vec![vec![0.0; w[0].len()]; w.len()]).collect();
    let mut grad_b: Vec<Vec<f64>> = layers.iter().map(|(_, b, _)| vec![0.0; b.len()]).collect();
    for s in &samples {
        for l in 0..layers.len() {
            let input = if l > 0 { &s.a[l - 1] } else { s.features.last().map_or(&s.x, |t| &t.a) };
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
    let (feature_updated_w, feature_updated_b) = net
        .features
        .iter()
        .enumerate()
        .map(|(k, f)| match f {
            Feature::Conv(c) => (
                c.weights.iter().zip(&feature_grad_w[k]).map(|(w, g)| w - lr * g).collect(),
                c.bias.iter().zip(&feature_grad_b[k]).map(|(b, g)| b - lr * g).collect(),
            ),
            Feature::Pool(_) => (Vec::new(), Vec::new()),
        })
        .unzip();
    let loss = samples.iter().map(|s| s.loss).sum::<f64>() * inv_b;
    Ok(Trace {
        samples,
        loss,
        grad_w,
        grad_b,
        updated_w,
        updated_b,
        feature_grad_w,
        feature_grad_b,
        feature_updated_w,
        feature_updated_b,
        lr,
    })
}
