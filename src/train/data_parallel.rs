//! Data parallelism on two threads: a batch of at least [`SPLIT_BATCH_MIN`] rows is halved, each
//! half runs forward and backward on its own thread, and the batch's gradient is the halves'
//! row-weighted average. Also the threads' share of the optimizer step: each large tensor's
//! update is halved between the pool's threads (`update`), and the weight gradient of a large
//! layer is taken for the whole batch a block at a time, each block updated while in cache
//! ([`JOINT_MIN`]).

use super::config::TrainConfig;
use crate::data::augment::Scratch;
use crate::dataset::Dataset;
use crate::kernels::{
    Float, PackedWeights, SparseScratch, matmul_at_b_rows, matmul_sparse_dt_x_packed, matmul_sparse_dt_x_rows,
    pack_rows, packed_len,
};
use crate::layer::{Dense, SparseWeights};
use crate::metrics;
use crate::network::{Dropout, Gradients, Network, Workspace};
use crate::optimizer::{Optimizer, OptimizerState};

/// Batches of at least this many rows are split between two threads when the trainer has two or
/// more: each half runs forward and backward on its own, and the two gradients are averaged.
/// One hand-off per batch instead of one per matrix product, which gained nothing at two threads
/// (the scheduler's wake-ups eat the gain; figures in `docs/design.md`, "Measured constants").
pub const SPLIT_BATCH_MIN: usize = 32;

/// In a batch split between two threads, a layer with at least this many weights gets its weight
/// gradient `∂L/∂W = δᵀX` for the whole batch at once, a block of rows at a time, each block
/// updated by the optimizer while it is in cache; the two threads take half the rows each. The
/// halves then need not each write a full gradient, nor be averaged: for 784-800-10 that is
/// 15 MB less memory traffic per step, with the same products.
pub const JOINT_MIN: usize = 1 << 16;

/// Weights per block of [`joint_weight_step`]: the block's gradient, weights and optimizer state
/// (~100 KB each in f32) stay in L2 between the product and the update.
const JOINT_BLOCK: usize = 1 << 15;

/// Elements per element-wise pass below which splitting between threads costs more than it saves.
const SPLIT_MIN: usize = 1 << 16;

/// Runs the element-wise update `f` on `w`, `g` and the state slices `m`, `v` (empty when the
/// method has none), halved between the threads of the current rayon pool when large: a
/// 784×800 layer's update reads and writes ~10 MB per step, too much to leave to one core.
/// (Also used for other element-wise passes over large tensors, with `m`, `v` empty.)
fn split<T: Float>(
    w: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    f: &(impl Fn(&mut [T], &[T], &mut [T], &mut [T]) + Sync),
) {
    // Outside a pool (one thread) do not even ask: that would start rayon's global pool.
    if w.len() < SPLIT_MIN || rayon::current_thread_index().is_none() || rayon::current_num_threads() < 2 {
        return f(w, g, m, v);
    }
    let mid = w.len() / 2;
    let (w0, w1) = w.split_at_mut(mid);
    let (g0, g1) = g.split_at(mid);
    let ((m0, v0), (m1, v1)) = split_state(m, v, mid);
    rayon::join(|| f(w0, g0, m0, v0), || f(w1, g1, m1, v1));
}

/// A tensor's two state slices, first and second moment.
type State<'a, T> = (&'a mut [T], &'a mut [T]);

/// The state slices `m`, `v` of a tensor cut at element `mid`; an empty one (a method that keeps
/// no such state) stays empty on both sides.
fn split_state<'a, T>(m: &'a mut [T], v: &'a mut [T], mid: usize) -> (State<'a, T>, State<'a, T>) {
    let at = |s: &[T]| if s.is_empty() { 0 } else { mid };
    let (ma, va) = (at(m), at(v));
    let (m0, m1) = m.split_at_mut(ma);
    let (v0, v1) = v.split_at_mut(va);
    ((m0, v0), (m1, v1))
}

/// One optimizer step over every parameter of `net` from `grads` at learning rate `lr`, each large
/// tensor's update halved between the pool's threads ([`split`]); the weights of the layers `l`
/// with `skip_weights[l]` set are left to [`joint_weight_step`], as part of this same step.
pub(super) fn update<T: Float>(
    opt: &Optimizer,
    state: &mut OptimizerState<T>,
    net: &mut Network<T>,
    grads: &Gradients<T>,
    lr: f64,
    skip_weights: &[bool],
) {
    state.steps += 1;
    let t = state.steps;
    // Tensors alternate weights and biases: [W, b] per dense layer (tensor 2l is layer l's W),
    // then per convolution.
    for (i, (params, g)) in net.tensors_mut().zip(grads.tensors()).enumerate() {
        let is_weight = i % 2 == 0;
        if is_weight && skip_weights.get(i / 2).copied().unwrap_or(false) {
            continue;
        }
        let (m, v) = state.slot_mut(i);
        split(params, g, m, v, &|w, g, m, v| opt.update(t, lr, is_weight, w, g, m, v));
    }
}

/// `∂L/∂W = δᵀX` of one layer for a whole batch (`delta`: batch × `n_out`, `input`: batch ×
/// `n_in`, each half's rows already weighted) into `g`, and the optimizer's update of `w` from it,
/// block of rows by block; the rows are halved between the two threads of the pool. With
/// `sparse` (the input's nonzero entries listed there, each half's rows in its own listing), the
/// products skip the zero inputs ([`matmul_sparse_dt_x_rows`]), in blocks of 64 rows, its tile's
/// height. With `packed`, `w`, `g`, `m`, `v` are in the packed layout
/// ([`crate::kernels::pack_rows`]), whose blocks of 64 outputs are contiguous
/// ([`matmul_sparse_dt_x_packed`]; without a listing, the dense product's rows are packed there,
/// through `tmp`, one buffer per thread).
#[allow(clippy::too_many_arguments)]
fn joint_weight_step<T: Float>(
    sparse: Option<&[&SparseScratch<T>]>,
    packed: bool,
    opt: &Optimizer,
    steps: u64,
    lr: f64,
    batch: usize,
    n_out: usize,
    n_in: usize,
    delta: &[T],
    input: &[T],
    w: &mut [T],
    g: &mut [T],
    m: &mut [T],
    v: &mut [T],
    tmp: &mut [Vec<T>; 2],
) {
    // Where outputs `start..start + len` lie in w, g, m, v (packed: whole blocks of 64).
    let block_len = packed_len(1, n_in);
    let span_of = |start: usize, len: usize| match packed {
        true => start / 64 * block_len..(start + len).div_ceil(64) * block_len,
        false => start * n_in..(start + len) * n_in,
    };
    let rows_of = |first: usize, rows: usize, w: &mut [T], g: &mut [T], m: &mut [T], v: &mut [T], tmp: &mut Vec<T>| {
        let per_block = match sparse {
            Some(_) => 64,
            None if packed => 64,
            None => (JOINT_BLOCK / n_in.max(1)).max(1),
        };
        for start in (0..rows).step_by(per_block) {
            let len = per_block.min(rows - start);
            let span = span_of(start, len);
            match sparse {
                Some(listed) if packed => {
                    matmul_sparse_dt_x_packed(delta, n_out, first + start, len, &mut g[span.clone()], listed)
                }
                Some(listed) => matmul_sparse_dt_x_rows(delta, n_out, first + start, len, &mut g[span.clone()], listed),
                // Packed `W` and a batch too dense to list: the dense product's rows, packed.
                None if packed => {
                    tmp.resize(64 * n_in, T::zero());
                    matmul_at_b_rows(batch, n_out, n_in, delta, input, first + start, len, &mut tmp[..len * n_in]);
                    pack_rows(&tmp[..len * n_in], len, n_in, &mut g[span.clone()]);
                }
                None => matmul_at_b_rows(batch, n_out, n_in, delta, input, first + start, len, &mut g[span.clone()]),
            }
            let mb = if m.is_empty() { &mut [][..] } else { &mut m[span.clone()] };
            let vb = if v.is_empty() { &mut [][..] } else { &mut v[span.clone()] };
            opt.update(steps, lr, true, &mut w[span.clone()], &g[span.clone()], mb, vb);
        }
    };
    // Packed, the halves meet at a block's edge.
    let mid = if packed { n_out.div_ceil(64) / 2 * 64 } else { n_out / 2 };
    let at = span_of(0, mid).end;
    let (w0, w1) = w.split_at_mut(at);
    let (g0, g1) = g.split_at_mut(at);
    let ((m0, v0), (m1, v1)) = split_state(m, v, at);
    let [t0, t1] = tmp;
    rayon::join(|| rows_of(0, mid, w0, g0, m0, v0, t0), || rows_of(mid, n_out - mid, w1, g1, m1, v1, t1));
}

/// Buffers for the second half of a batch split between threads (data parallelism): its own
/// workspace and gradients (dropout masks are drawn per row, see [`Dropout`]).
pub(super) struct Half<T> {
    ws: Workspace<T>,
    grads: Gradients<T>,
    aug: Scratch,
    /// Per layer: is its weight gradient computed for the whole batch at once ([`JOINT_MIN`])?
    joint: Vec<bool>,
    /// The whole batch's δ⁽ˡ⁾ and input of such a layer, gathered from the two halves.
    delta: Vec<T>,
    input: Vec<T>,
    /// The first layer's `W`, packed once per step for both halves' sparse forward products
    /// (each would otherwise pack all of it): made where that product can run, and packed only
    /// while the halves' inputs were sparse enough for it in the step before.
    packed_first: Option<PackedWeights>,
    /// Each thread's rows of a dense `∂L/∂W⁽¹⁾` on their way into its packed layout.
    block_rows: [Vec<T>; 2],
}

/// The buffers one forward/backward pass over some rows works in.
pub(super) struct Part<'a, T> {
    pub(super) ws: &'a mut Workspace<T>,
    pub(super) grads: &'a mut Gradients<T>,
    pub(super) aug: &'a mut Scratch,
}

/// Gathers rows `ids` of `data` into `x`, `y`, distorts them if asked, and runs forward and backward
/// into `part` (the gradients of the rows' mean loss times `scale`): returns the rows' mean loss
/// and how many were classified correctly (0 for regression). The optimizer step is the caller's.
/// `first`: how the first layer's `W` is held for this step.
#[allow(clippy::too_many_arguments)]
pub(super) fn rows_step<T: Float>(
    net: &Network<T>,
    data: &Dataset<T>,
    config: &TrainConfig,
    epoch: usize,
    ids: &[usize],
    x: &mut [T],
    y: &mut [T],
    part: Part<'_, T>,
    aug_threads: usize,
    skip_weights: &[bool],
    scale: f64,
    first: SparseWeights<'_>,
) -> (f64, usize) {
    let (rows, k) = (ids.len(), net.outputs());
    data.gather(ids, x, y);
    if let Some(a) = &config.augment {
        a.apply(x, ids, config.seed, epoch, part.aug, aug_threads);
    }
    let dropout = (config.dropout > 0.0).then_some(Dropout { p: config.dropout, seed: config.seed, epoch, rows: ids });
    let loss = net.loss_and_gradients_except(
        &x[..rows * data.features],
        y,
        rows,
        part.ws,
        part.grads,
        dropout,
        skip_weights,
        scale,
        first,
    );
    let correct = match data.labels() {
        Some(_) => metrics::count_correct(&part.ws.a(net.layers.len() - 1)[..rows * k], &y[..rows * k], k),
        None => 0,
    };
    (loss, correct)
}

/// Whether `config` splits its batches between two threads (at least two, and batches of at least
/// [`SPLIT_BATCH_MIN`] rows).
pub(super) fn splits(config: &TrainConfig) -> bool {
    config.threads >= 2 && config.batch_size.max(1) >= SPLIT_BATCH_MIN
}

impl<T: Float> Half<T> {
    /// The second half's buffers for training `net` with `config` on batches of up to `b` rows,
    /// if it splits its batches.
    pub(super) fn new(net: &Network<T>, config: &TrainConfig, b: usize) -> Option<Self> {
        let joint: Vec<bool> = net.layers.iter().map(|l| l.weights.len() >= JOINT_MIN).collect();
        // The widest of the joint layers' outputs, and inputs above the first layer (whose input
        // is the batch itself), for the gathered δ and inputs.
        let width = |f: &dyn Fn(usize, &Dense<T>) -> usize| {
            net.layers.iter().enumerate().filter(|&(i, _)| joint[i]).map(|(i, l)| f(i, l)).max().unwrap_or(0)
        };
        splits(config).then(|| Half {
            ws: Workspace::new(net, b - b / 2, config.threads - config.threads / 2),
            grads: Gradients::zeros(net),
            aug: config.augment.map(|a| a.scratch(b - b / 2)).unwrap_or_default(),
            delta: vec![T::zero(); b * width(&|_, l| l.outputs)],
            input: vec![T::zero(); b * width(&|i, l| if i == 0 { 0 } else { l.inputs })],
            joint: joint.clone(),
            block_rows: [Vec::new(), Vec::new()],
            packed_first: match &net.layers[0] {
                first if net.features.is_empty() => PackedWeights::new(&first.weights, first.outputs, first.inputs),
                _ => None,
            },
        })
    }

    /// Forward and backward on the rows `idx` (at least [`SPLIT_BATCH_MIN`]) of `data`, the first
    /// half in `first`'s buffers on this thread and the second in this one's on another; the
    /// batch's gradient (the halves' row-weighted average) ends in `first.grads`, but for the
    /// weights of the joint layers, which [`Half::step`] computes with their update. `xb`, `yb`
    /// hold the whole batch's rows. Returns the batch loss and the number of correctly classified
    /// rows.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn gradients(
        &mut self,
        first: &mut Part<'_, T>,
        xb: &mut [T],
        yb: &mut [T],
        net: &Network<T>,
        data: &Dataset<T>,
        idx: &[usize],
        config: &TrainConfig,
        epoch: usize,
        scale: f64,
        first_packed: bool,
    ) -> (f64, usize) {
        let b = idx.len();
        let (f, k) = (data.features, net.outputs());
        let h = b / 2;
        let (x1, x2) = xb[..b * f].split_at_mut(h * f);
        let (y1, y2) = yb[..b * k].split_at_mut(h * k);
        let joint = &self.joint[..];
        // W⁽¹⁾ packed once for both halves, half of it on each thread, where the last step's
        // halves listed their inputs (so this one's likely will).
        // (Not needed where the trainer holds W⁽¹⁾ packed for the epoch.)
        let packed = match self.packed_first.as_mut() {
            _ if first_packed => SparseWeights::Packed,
            Some(p) if first.ws.sparse_listing().is_some() && self.ws.sparse_listing().is_some() => {
                p.repack(&net.layers[0].weights, 2);
                SparseWeights::Rows(Some(&*p))
            }
            _ => SparseWeights::Rows(None),
        };
        // Each half gathers (and distorts) its own rows: that work is split too.
        let run = |ids: &[usize], x: &mut [T], y: &mut [T], part: Part<'_, T>| {
            rows_step(net, data, config, epoch, ids, x, y, part, 1, joint, scale, packed)
        };
        let (i1, i2) = idx.split_at(h);
        let ((l1, c1), (l2, c2)) = rayon::join(
            || run(i1, x1, y1, Part { ws: first.ws, grads: first.grads, aug: first.aug }),
            || {
                let part = Part { ws: &mut self.ws, grads: &mut self.grads, aug: &mut self.aug };
                run(i2, x2, y2, part)
            },
        );
        // Each half's gradient is its own mean: the batch's is their row-weighted average.
        let (w1, w2) = (h as f64 / b as f64, (b - h) as f64 / b as f64);
        let (t1, t2) = (T::of(w1), T::of(w2));
        let average = |g: &mut [T], g2: &[T], _: &mut [T], _: &mut [T]| {
            for (a, &c) in g.iter_mut().zip(g2) {
                *a = *a * t1 + c * t2;
            }
        };
        let grads = &mut *first.grads;
        let weights = grads.weights.iter_mut().zip(&self.grads.weights).zip(joint).filter(|(_, j)| !**j);
        for (g, g2) in weights.map(|(p, _)| p).chain(grads.bias.iter_mut().zip(&self.grads.bias)) {
            // Halved between the threads when large, like an optimizer update.
            split(g, g2, &mut [], &mut [], &average);
        }
        (l1 * w1 + l2 * w2, c1 + c2)
    }

    /// Drops the packed first layer, so that each half packs its own (the tests compare the two).
    #[cfg(test)]
    pub(super) fn without_packed_first(&mut self) {
        self.packed_first = None;
    }

    /// Whether the next step packs the first layer once for both halves (as far as this half's
    /// last pass tells: it listed its inputs).
    #[cfg(test)]
    pub(super) fn packs_first(&self) -> bool {
        self.packed_first.is_some() && self.ws.sparse_listing().is_some()
    }

    /// Whether every pass of this half lists the first layer's inputs when asked
    /// ([`Workspace::lists_first_layer`]).
    pub(super) fn lists_first_layer(&self) -> bool {
        self.ws.lists_first_layer()
    }

    /// This half's gradient of the first layer's `W`, for the trainer to re-lay with `W`.
    pub(super) fn first_gradient(&mut self) -> &mut Vec<T> {
        &mut self.grads.weights[0]
    }

    /// Processes take the weight gradients of every layer from [`Half::gradients`]: they sum them
    /// before any update.
    pub(super) fn without_joint_layers(&mut self) {
        self.joint.fill(false);
        self.delta = Vec::new();
        self.input = Vec::new();
    }

    /// One step on the rows `idx` (at least [`SPLIT_BATCH_MIN`]) of `data`: [`Half::gradients`],
    /// then the update. Returns the batch loss and the number of correctly classified rows.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn step(
        &mut self,
        mut first: Part<'_, T>,
        xb: &mut [T],
        yb: &mut [T],
        state: &mut OptimizerState<T>,
        net: &mut Network<T>,
        data: &Dataset<T>,
        idx: &[usize],
        config: &TrainConfig,
        epoch: usize,
        lr: f64,
        first_packed: bool,
    ) -> (f64, usize) {
        let result = self.gradients(&mut first, xb, yb, net, data, idx, config, epoch, 1.0, first_packed);
        let b = idx.len();
        let h = b / 2;
        let (t1, t2) = (T::of(h as f64 / b as f64), T::of((b - h) as f64 / b as f64));
        let drop = config.dropout > 0.0;
        let Part { ws, grads, .. } = first;
        let joint = &self.joint[..];
        update(&config.optimizer, state, net, grads, lr, joint);
        for l in (0..net.layers.len()).filter(|&l| joint[l]) {
            let layer = &mut net.layers[l];
            let (n_out, n_in) = (layer.outputs, layer.inputs);
            // The whole batch's δ⁽ˡ⁾, each half's rows weighted as in the average above.
            let delta = &mut self.delta[..b * n_out];
            let (d1, d2) = delta.split_at_mut(h * n_out);
            for (dst, src, t) in [(d1, ws.delta(l), t1), (d2, self.ws.delta(l), t2)] {
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d = s * t;
                }
            }
            // Its input: the batch rows themselves for the first layer, else both halves' a⁽ˡ⁻¹⁾.
            let input: &[T] = if l == 0 {
                &xb[..b * n_in]
            } else {
                let (i1, i2) = self.input[..b * n_in].split_at_mut(h * n_in);
                i1.copy_from_slice(&ws.input(l, &[], drop)[..h * n_in]);
                i2.copy_from_slice(&self.ws.input(l, &[], drop)[..(b - h) * n_in]);
                &self.input[..b * n_in]
            };
            // The first layer of a fully connected network: where each half listed its rows'
            // nonzero inputs (sparse enough), the products skip the zeros.
            let listings = match (ws.sparse_listing(), self.ws.sparse_listing()) {
                (Some(a), Some(b)) if l == 0 => Some([a, b]),
                _ => None,
            };
            let sparse = listings.as_ref().map(|both| &both[..]);
            let steps = state.steps;
            let (m, v) = state.slot_mut(2 * l);
            let g = &mut grads.weights[l];
            joint_weight_step(
                sparse,
                first_packed && l == 0,
                &config.optimizer,
                steps,
                lr,
                b,
                n_out,
                n_in,
                delta,
                input,
                &mut layer.weights,
                g,
                m,
                v,
                &mut self.block_rows,
            );
        }
        result
    }
}
