//! The training loop: epochs of shuffled mini-batches, forward, δ recursion, optimizer step;
//! validation, early stopping and divergence checks at epoch ends.
//!
//! The library knows nothing about the terminal: progress goes to a [`Progress`] the caller supplies.
//! After the first batch a training step allocates nothing: all buffers are made before the loop.

use crate::data::augment::{Augment, Scratch};
use crate::dataset::Dataset;
use crate::error::{Error, Result, shape_error};
use crate::kernels::{Float, matmul_at_b_rows, sum_squares};
use crate::metrics;
use crate::network::{Dropout, Gradients, Network, Workspace};
use crate::optimizer::{Optimizer, OptimizerState, split, split_state};
use crate::rng::{Rng, rng};
use crate::split::folds;
use rand::Rng as _;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// How to train: epochs, batch size, optimizer, regularisation, seed, threads, early stopping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Total epochs (exactly this many run unless early stopping ends the run sooner).
    pub epochs: usize,
    /// Rows per mini-batch.
    pub batch_size: usize,
    /// The update rule and its schedule.
    pub optimizer: Optimizer,
    /// Dropout probability on hidden layers (0 = off).
    pub dropout: f64,
    /// Seed for shuffling and dropout (initialisation has its own).
    pub seed: u64,
    /// Threads for the matrix products.
    pub threads: usize,
    /// Stop when the validation loss has not improved for this many epochs, and restore the best
    /// weights (needs a validation set).
    pub patience: Option<usize>,
    /// Random distortions of each training image (images only; validation data is left as it is).
    #[serde(default)]
    pub augment: Option<Augment>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 32,
            optimizer: Optimizer::default(),
            dropout: 0.0,
            seed: 1,
            threads: 1,
            patience: None,
            augment: None,
        }
    }
}

impl TrainConfig {
    /// Checks the settings before any work starts.
    pub fn validate(&self) -> Result<()> {
        self.optimizer.validate()?;
        let bad = |m: String| Err(Error::InvalidValue { what: "training settings".into(), message: m });
        if self.batch_size == 0 {
            return bad("batch size must be at least 1".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        Ok(())
    }
}

/// What happened in one epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Training accuracy over the epoch (classification only; with dropout active).
    pub train_accuracy: Option<f64>,
    /// Validation loss, if a validation set was given.
    pub val_loss: Option<f64>,
    /// Validation accuracy (classification only).
    pub val_accuracy: Option<f64>,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Mean over the epoch's batches of each layer's gradient norm `‖∂L/∂θ⁽ˡ⁾‖`.
    pub grad_norms: Vec<f64>,
    /// Wall-clock seconds of training in this epoch (validation excluded).
    pub seconds: f64,
    /// Training rows per second.
    pub samples_per_sec: f64,
}

/// Receives progress during training; every method has a no-op default.
pub trait Progress: Send {
    /// After each batch: batches done in this epoch, batches per epoch, running mean loss.
    fn batch(&mut self, _epoch: usize, _done: usize, _total: usize, _loss: f64) {}
    /// After each epoch.
    fn epoch(&mut self, _report: &EpochReport) {}
    /// Polled after each batch; returning true ends training after that batch.
    fn should_stop(&mut self) -> bool {
        false
    }
}

/// No progress reporting: `train(…, &mut ())`.
impl Progress for () {}

/// The outcome of a training run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSummary {
    /// One report per epoch run.
    pub epochs: Vec<EpochReport>,
    /// Epoch whose weights the network holds at the end (the best one under early stopping).
    pub best_epoch: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// Whether the caller's [`Progress::should_stop`] ended the run.
    pub interrupted: bool,
}

/// An epoch stopped part-way (by [`Progress::should_stop`]): where to pick it up again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartialEpoch {
    /// The next batch to run (from 0).
    pub next_batch: usize,
    /// Sum of the batch losses × rows so far.
    pub loss_sum: f64,
    /// Correctly classified rows so far.
    pub correct: usize,
    /// Rows seen so far.
    pub rows: usize,
    /// Batches run so far.
    pub batches: usize,
    /// Sums of the per-layer gradient norms so far (of the batches whose norms were taken).
    pub norm_sums: Vec<f64>,
    /// Batches whose gradient norms were taken (every [`NORM_EVERY`]th, and the last).
    #[serde(default)]
    pub norm_batches: usize,
    /// Training seconds spent so far.
    pub seconds: f64,
    /// The learning rate of the last batch.
    pub lr: f64,
}

/// What one call of [`Trainer::run_epoch`] ended with.
#[derive(Clone, Debug, PartialEq)]
pub enum EpochOutcome {
    /// The epoch finished; `stop` is true when early stopping ends the run here.
    Finished {
        /// The epoch's report.
        report: EpochReport,
        /// Early stopping: no better validation loss for `patience` epochs.
        stop: bool,
    },
    /// [`Progress::should_stop`] asked to stop; the trainer holds a [`PartialEpoch`].
    Interrupted,
}

/// Everything a training run carries from step to step, allocated once: batch buffers, workspace,
/// gradients, optimizer state, generators, progress through the epochs. Saved in checkpoints.
pub struct Trainer<T> {
    /// The optimizer's velocities or moments.
    pub state: OptimizerState<T>,
    /// Shuffling generator.
    pub data_rng: Rng,
    /// Dropout generator.
    pub dropout_rng: Rng,
    /// Epochs completed.
    pub epoch: usize,
    /// Reports of the completed epochs.
    pub history: Vec<EpochReport>,
    /// Early stopping: the best validation loss, its epoch and weights.
    pub best: Option<(f64, usize, Network<T>)>,
    /// Early stopping: epochs since the best one.
    pub since_best: usize,
    /// The current epoch's shuffled row order.
    pub order: Vec<usize>,
    /// An epoch interrupted part-way, if any.
    pub partial: Option<PartialEpoch>,
    last_good: Network<T>,
    ws: Workspace<T>,
    grads: Gradients<T>,
    xb: Vec<T>,
    yb: Vec<T>,
    aug: Scratch,
    /// The second half of each batch, when batches are split between two threads.
    half: Option<Half<T>>,
    pool: Option<rayon::ThreadPool>,
}

/// Buffers for the second half of a batch split between threads (data parallelism): its own
/// workspace, gradients and dropout generator (re-seeded each batch from the trainer's, so that
/// a checkpoint needs nothing more).
struct Half<T> {
    ws: Workspace<T>,
    grads: Gradients<T>,
    rng: Rng,
    aug: Scratch,
    /// Per layer: is its weight gradient computed for the whole batch at once ([`JOINT_MIN`])?
    joint: Vec<bool>,
    /// The whole batch's δ⁽ˡ⁾ and input of such a layer, gathered from the two halves.
    delta: Vec<T>,
    input: Vec<T>,
}

/// The buffers one forward/backward pass over some rows works in.
struct Part<'a, T> {
    ws: &'a mut Workspace<T>,
    grads: &'a mut Gradients<T>,
    rng: &'a mut Rng,
    aug: &'a mut Scratch,
}

/// Gathers rows `ids` of `data` into `x`, `y`, distorts them if asked, and runs forward and backward
/// into `part`: returns the rows' mean loss and how many were classified correctly (0 for
/// regression). The optimizer step is the caller's.
#[allow(clippy::too_many_arguments)]
fn rows_step<T: Float>(
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
) -> (f64, usize) {
    let (rows, k) = (ids.len(), net.outputs());
    data.gather(ids, x, y);
    if let Some(a) = &config.augment {
        a.apply(x, ids, config.seed, epoch, part.aug, aug_threads);
    }
    let dropout = (config.dropout > 0.0).then_some(Dropout { p: config.dropout, rng: part.rng });
    let loss =
        net.loss_and_gradients_except(&x[..rows * data.features], y, rows, part.ws, part.grads, dropout, skip_weights);
    let correct = match data.labels() {
        Some(_) => metrics::count_correct(&part.ws.a(net.layers.len() - 1)[..rows * k], &y[..rows * k], k),
        None => 0,
    };
    (loss, correct)
}

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

/// `∂L/∂W = δᵀX` of one layer for a whole batch (`delta`: batch × `n_out`, `input`: batch ×
/// `n_in`, each half's rows already weighted) into `g`, and the optimizer's update of `w` from it,
/// block of rows by block; the rows are halved between the two threads of the pool.
#[allow(clippy::too_many_arguments)]
fn joint_weight_step<T: Float>(
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
) {
    let rows_of = |first: usize, w: &mut [T], g: &mut [T], m: &mut [T], v: &mut [T]| {
        let per_block = (JOINT_BLOCK / n_in.max(1)).max(1);
        let rows = w.len() / n_in.max(1);
        for start in (0..rows).step_by(per_block) {
            let len = per_block.min(rows - start);
            let span = start * n_in..(start + len) * n_in;
            matmul_at_b_rows(batch, n_out, n_in, delta, input, first + start, len, &mut g[span.clone()]);
            let mb = if m.is_empty() { &mut [][..] } else { &mut m[span.clone()] };
            let vb = if v.is_empty() { &mut [][..] } else { &mut v[span.clone()] };
            opt.update_weight_block(steps, lr, &mut w[span.clone()], &g[span.clone()], mb, vb);
        }
    };
    let mid = n_out / 2;
    let (w0, w1) = w.split_at_mut(mid * n_in);
    let (g0, g1) = g.split_at_mut(mid * n_in);
    let ((m0, v0), (m1, v1)) = split_state(m, v, mid * n_in);
    rayon::join(|| rows_of(0, w0, g0, m0, v0), || rows_of(mid, w1, g1, m1, v1));
}

/// Gradient norms are taken on every this-many-th batch (and the last of each epoch): summing the
/// squares of every parameter after every batch is a measurable share of an epoch
/// (`docs/design.md`, "Measured constants").
pub const NORM_EVERY: usize = 8;

impl<T: Float> Trainer<T> {
    /// Buffers for training `net` on `rows` rows with `config`.
    pub fn new(net: &Network<T>, rows: usize, config: &TrainConfig) -> Self {
        let b = config.batch_size.max(1);
        let joint: Vec<bool> = net.layers.iter().map(|l| l.weights.len() >= JOINT_MIN).collect();
        // The widest of the joint layers' outputs, and inputs above the first layer (whose input
        // is the batch itself), for the gathered δ and inputs.
        let width = |f: &dyn Fn(usize, &crate::layer::Dense<T>) -> usize| {
            net.layers.iter().enumerate().filter(|&(i, _)| joint[i]).map(|(i, l)| f(i, l)).max().unwrap_or(0)
        };
        Self {
            state: config.optimizer.state(net),
            data_rng: rng(config.seed),
            dropout_rng: rng(config.seed ^ 0x9e37_79b9_7f4a_7c15),
            epoch: 0,
            history: Vec::new(),
            best: None,
            since_best: 0,
            order: (0..rows).collect(),
            partial: None,
            last_good: net.clone(),
            ws: Workspace::new(
                net,
                b,
                if config.threads >= 2 && b >= SPLIT_BATCH_MIN { config.threads / 2 } else { config.threads },
            ),
            grads: Gradients::zeros(net),
            half: (config.threads >= 2 && b >= SPLIT_BATCH_MIN).then(|| Half {
                ws: Workspace::new(net, b - b / 2, config.threads - config.threads / 2),
                grads: Gradients::zeros(net),
                rng: rng(0),
                aug: config.augment.map(|a| a.scratch(b - b / 2)).unwrap_or_default(),
                joint: joint.clone(),
                delta: vec![T::zero(); b * width(&|_, l| l.outputs)],
                input: vec![T::zero(); b * width(&|i, l| if i == 0 { 0 } else { l.inputs })],
            }),
            xb: vec![T::zero(); b * net.inputs()],
            yb: vec![T::zero(); b * net.outputs()],
            aug: config.augment.map(|a| a.scratch(b)).unwrap_or_default(),
            pool: (config.threads > 1)
                .then(|| rayon::ThreadPoolBuilder::new().num_threads(config.threads).build().ok())
                .flatten(),
        }
    }

    /// Runs `f` inside this trainer's thread pool (if it has one), where the products' parallel
    /// splits allocate nothing; each pool thread is warmed up first.
    pub fn install<R: Send>(&mut self, f: impl FnOnce(&mut Self) -> R + Send) -> R {
        match self.pool.take() {
            Some(pool) => {
                pool.broadcast(|_| crate::kernels::warm_up_threads::<T>());
                let r = pool.install(|| f(self));
                self.pool = Some(pool);
                r
            }
            None => f(self),
        }
    }

    /// Gradients of the last step.
    pub fn gradients(&self) -> &Gradients<T> {
        &self.grads
    }

    /// One step on the rows `idx` of `data` at learning rate `lr`: forward, backward, update.
    /// Returns the batch loss and the number of correctly classified rows (0 for regression).
    pub fn step(
        &mut self,
        net: &mut Network<T>,
        data: &Dataset<T>,
        idx: &[usize],
        config: &TrainConfig,
        lr: f64,
    ) -> (f64, usize) {
        let b = idx.len();
        if b >= SPLIT_BATCH_MIN
            && let Some(half) = self.half.as_mut()
        {
            let (f, k) = (data.features, net.outputs());
            let h = b / 2;
            let (x1, x2) = self.xb[..b * f].split_at_mut(h * f);
            let (y1, y2) = self.yb[..b * k].split_at_mut(h * k);
            let drop = config.dropout > 0.0;
            if drop {
                half.rng = rng(self.dropout_rng.random::<u64>());
            }
            let (ws, grads, rng1, aug1) = (&mut self.ws, &mut self.grads, &mut self.dropout_rng, &mut self.aug);
            let joint = &half.joint[..];
            let shared: &Network<T> = net;
            let epoch = self.epoch;
            // Each half gathers (and distorts) its own rows: that work is split too.
            let run = |ids: &[usize], x: &mut [T], y: &mut [T], part: Part<'_, T>| {
                rows_step(shared, data, config, epoch, ids, x, y, part, 1, joint)
            };
            let (i1, i2) = idx.split_at(h);
            let ((l1, c1), (l2, c2)) = rayon::join(
                || run(i1, x1, y1, Part { ws, grads, rng: rng1, aug: aug1 }),
                || {
                    let part =
                        Part { ws: &mut half.ws, grads: &mut half.grads, rng: &mut half.rng, aug: &mut half.aug };
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
            let weights = grads.weights.iter_mut().zip(&half.grads.weights).zip(joint).filter(|(_, j)| !**j);
            for (g, g2) in weights.map(|(p, _)| p).chain(grads.bias.iter_mut().zip(&half.grads.bias)) {
                // Halved between the threads when large, like an optimizer update.
                split(g, g2, &mut [], &mut [], &average);
            }
            config.optimizer.step_except(&mut self.state, net, &self.grads, lr, joint);
            for l in (0..net.layers.len()).filter(|&l| joint[l]) {
                let layer = &mut net.layers[l];
                let (n_out, n_in) = (layer.outputs, layer.inputs);
                // The whole batch's δ⁽ˡ⁾, each half's rows weighted as in the average above.
                let delta = &mut half.delta[..b * n_out];
                let (d1, d2) = delta.split_at_mut(h * n_out);
                for (dst, src, t) in [(d1, self.ws.delta(l), t1), (d2, half.ws.delta(l), t2)] {
                    for (d, &s) in dst.iter_mut().zip(src) {
                        *d = s * t;
                    }
                }
                // Its input: the batch rows themselves for the first layer, else both halves' a⁽ˡ⁻¹⁾.
                let input: &[T] = if l == 0 {
                    &self.xb[..b * n_in]
                } else {
                    let (i1, i2) = half.input[..b * n_in].split_at_mut(h * n_in);
                    i1.copy_from_slice(&self.ws.input(l, &[], drop)[..h * n_in]);
                    i2.copy_from_slice(&half.ws.input(l, &[], drop)[..(b - h) * n_in]);
                    &half.input[..b * n_in]
                };
                let steps = self.state.steps;
                let (m, v) = self.state.weights_mut(l);
                let g = &mut self.grads.weights[l];
                joint_weight_step(
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
                );
            }
            return (l1 * w1 + l2 * w2, c1 + c2);
        }
        let (f, k) = (data.features, net.outputs());
        let part = Part { ws: &mut self.ws, grads: &mut self.grads, rng: &mut self.dropout_rng, aug: &mut self.aug };
        let (x, y) = (&mut self.xb[..b * f], &mut self.yb[..b * k]);
        let (loss, correct) = rows_step(net, data, config, self.epoch, idx, x, y, part, config.threads, &[]);
        config.optimizer.step(&mut self.state, net, &self.grads, lr);
        (loss, correct)
    }

    /// Runs (or continues) epoch `self.epoch + 1`: shuffle, every batch, then validation and early
    /// stopping. On divergence the network is put back to its weights at the start of the epoch.
    pub fn run_epoch(
        &mut self,
        net: &mut Network<T>,
        data: &Dataset<T>,
        val: Option<&Dataset<T>>,
        config: &TrainConfig,
        progress: &mut dyn Progress,
    ) -> Result<EpochOutcome> {
        let epoch = self.epoch;
        let n = data.len();
        if self.order.len() != n {
            return Err(shape_error(
                "training data",
                format!("{} rows (as when training started)", self.order.len()),
                format!("{n} rows"),
                None,
            ));
        }
        let mut p = match self.partial.take() {
            Some(p) => p,
            None => {
                // Each epoch's order depends only on the generator, so a resumed run repeats it.
                for (i, o) in self.order.iter_mut().enumerate() {
                    *o = i;
                }
                self.order.shuffle(&mut self.data_rng);
                self.last_good.clone_from(net);
                PartialEpoch {
                    next_batch: 0,
                    loss_sum: 0.0,
                    correct: 0,
                    rows: 0,
                    batches: 0,
                    norm_sums: vec![0.0; net.layers.len()],
                    norm_batches: 0,
                    seconds: 0.0,
                    lr: 0.0,
                }
            }
        };
        let batches = n.div_ceil(config.batch_size);
        let t0 = Instant::now();
        let order = std::mem::take(&mut self.order);
        let mut result = Ok(());
        let mut interrupted = false;
        for (bi, idx) in order.chunks(config.batch_size).enumerate().skip(p.next_batch) {
            let lr = config.optimizer.lr_at(epoch as f64 + bi as f64 / batches as f64, config.epochs);
            let (loss, correct) = self.step(net, data, idx, config, lr);
            let diverged = |what: String| Err(Error::Diverged { epoch: epoch + 1, batch: bi + 1, what });
            if !loss.is_finite() {
                result = diverged("the loss".into());
                break;
            }
            // Gradient norms (reported per epoch, and a divergence check) on a sample of batches: a
            // non-finite gradient elsewhere makes the next batch's loss non-finite, which is caught
            // above; the last batch of an epoch is always checked.
            if bi % NORM_EVERY == 0 || bi + 1 == batches {
                for (l, (w, b)) in self.grads.weights.iter().zip(&self.grads.bias).enumerate() {
                    let sq = (sum_squares(w) + sum_squares(b)).f64();
                    if !sq.is_finite() {
                        result = diverged(format!("the gradient of layer {}", l + 1));
                        break;
                    }
                    p.norm_sums[l] += sq.sqrt();
                }
                p.norm_batches += 1;
            }
            if result.is_err() {
                break;
            }
            p.loss_sum += loss * idx.len() as f64;
            p.correct += correct;
            p.rows += idx.len();
            p.batches += 1;
            p.lr = lr;
            p.next_batch = bi + 1;
            progress.batch(epoch + 1, bi + 1, batches, p.loss_sum / p.rows as f64);
            if bi + 1 < batches && progress.should_stop() {
                interrupted = true;
                break;
            }
        }
        self.order = order;
        p.seconds += t0.elapsed().as_secs_f64();
        if let Err(e) = result {
            net.clone_from(&self.last_good);
            return Err(e);
        }
        if interrupted {
            // The last batch's gradient may not have been checked: never checkpoint bad weights.
            if net.layers.iter().any(|l| l.weights.iter().chain(&l.bias).any(|v| !v.is_finite())) {
                net.clone_from(&self.last_good);
                return Err(Error::Diverged {
                    epoch: epoch + 1,
                    batch: p.next_batch,
                    what: "the weights after the update".into(),
                });
            }
            self.partial = Some(p);
            return Ok(EpochOutcome::Interrupted);
        }
        let (val_loss, val_accuracy) = match val.filter(|v| !v.is_empty()) {
            Some(v) => {
                let e = metrics::evaluate(net, v, 1000, config.threads)?;
                (Some(e.loss), e.accuracy)
            }
            None => (None, None),
        };
        let report = EpochReport {
            epoch: epoch + 1,
            train_loss: p.loss_sum / p.rows.max(1) as f64,
            train_accuracy: data.labels().map(|_| p.correct as f64 / p.rows.max(1) as f64),
            val_loss,
            val_accuracy,
            lr: p.lr,
            grad_norms: p.norm_sums.iter().map(|s| s / p.norm_batches.max(1) as f64).collect(),
            seconds: p.seconds,
            samples_per_sec: p.rows as f64 / p.seconds.max(1e-9),
        };
        self.epoch += 1;
        self.history.push(report.clone());
        progress.epoch(&report);
        let mut stop = false;
        if let (Some(patience), Some(vl)) = (config.patience, val_loss) {
            if self.best.as_ref().is_none_or(|(b, _, _)| vl < *b) {
                self.best = Some((vl, epoch + 1, net.clone()));
                self.since_best = 0;
            } else {
                self.since_best += 1;
                stop = self.since_best >= patience;
            }
        }
        Ok(EpochOutcome::Finished { report, stop })
    }

    /// Puts the best weights seen (early stopping) into `net`, if they beat the last epoch's;
    /// returns the epoch whose weights `net` now holds.
    pub fn restore_best(&self, net: &mut Network<T>) -> usize {
        let last = self.history.last().map_or(0, |r| r.epoch);
        match (&self.best, self.history.last().and_then(|r| r.val_loss)) {
            (Some((loss, epoch, best)), Some(last_loss)) if last_loss > *loss => {
                net.clone_from(best);
                *epoch
            }
            _ => last,
        }
    }
}

/// Trains `net` on `data` for `config.epochs` epochs, validating on `val` after each epoch.
///
/// On divergence (NaN or infinite loss or gradient) the network is restored to the weights at the
/// end of the last good epoch and an error names the epoch and batch.
pub fn train<T: Float>(
    net: &mut Network<T>,
    data: &Dataset<T>,
    val: Option<&Dataset<T>>,
    config: &TrainConfig,
    progress: &mut dyn Progress,
) -> Result<TrainSummary> {
    let mut trainer = Trainer::new(net, data.len(), config);
    train_with(net, &mut trainer, data, val, config, progress)
}

/// [`train`] with a caller-owned [`Trainer`], which may hold a run to resume.
pub fn train_with<T: Float>(
    net: &mut Network<T>,
    trainer: &mut Trainer<T>,
    data: &Dataset<T>,
    val: Option<&Dataset<T>>,
    config: &TrainConfig,
    progress: &mut dyn Progress,
) -> Result<TrainSummary> {
    check_run(net, data, val, config)?;
    let first = trainer.history.len();
    let (stopped_early, interrupted) = trainer.install(|trainer| -> Result<(bool, bool)> {
        while trainer.epoch < config.epochs {
            match trainer.run_epoch(net, data, val, config, progress)? {
                EpochOutcome::Finished { stop: true, .. } => return Ok((true, false)),
                EpochOutcome::Finished { .. } => {}
                EpochOutcome::Interrupted => return Ok((false, true)),
            }
        }
        Ok((false, false))
    })?;
    let best_epoch = if interrupted { trainer.epoch } else { trainer.restore_best(net) };
    Ok(TrainSummary { epochs: trainer.history[first..].to_vec(), best_epoch, stopped_early, interrupted })
}

/// Mean over `k` folds of the best validation loss reached when training a network made by
/// `make_net` on the other folds with `config` (early stopping on the held-out fold when
/// `config.patience` is set). Used to choose settings, such as the weight decay, without touching
/// the caller's own validation split.
pub fn cross_validate<T: Float>(
    make_net: impl Fn() -> Result<Network<T>>,
    data: &Dataset<T>,
    k: usize,
    config: &TrainConfig,
) -> Result<f64> {
    let folds = folds(data.labels(), data.len(), k, config.seed);
    let mut total = 0.0;
    for (f, held_out) in folds.iter().enumerate() {
        let rest: Vec<usize> = folds.iter().enumerate().filter(|&(g, _)| g != f).flat_map(|(_, v)| v.clone()).collect();
        let (train_part, val_part) = (data.select(&rest), data.select(held_out));
        let mut net = make_net()?;
        let summary = match train(&mut net, &train_part, Some(&val_part), config, &mut ()) {
            Ok(s) => s,
            Err(Error::Diverged { .. }) => return Ok(f64::INFINITY),
            Err(e) => return Err(e),
        };
        total += summary.epochs.iter().filter_map(|r| r.val_loss).fold(f64::INFINITY, f64::min);
    }
    Ok(total / folds.len() as f64)
}

/// Checks before any work that the data fit the network and the settings are usable.
pub fn check_run<T: Float>(
    net: &Network<T>,
    data: &Dataset<T>,
    val: Option<&Dataset<T>>,
    config: &TrainConfig,
) -> Result<()> {
    config.validate()?;
    check_fits(net, data, "training data")?;
    if let Some(a) = &config.augment
        && a.pixels() != data.features
    {
        return Err(shape_error(
            "augmentation",
            format!("{}×{} images = {} features", a.width, a.height, a.pixels()),
            format!("{} features per row", data.features),
            Some("augmentation distorts images; tables cannot be augmented".into()),
        ));
    }
    if let Some(v) = val {
        check_fits(net, v, "validation data")?;
    }
    if data.is_empty() {
        return Err(Error::InvalidValue { what: "training data".into(), message: "no rows to train on".into() });
    }
    if config.patience.is_some() && val.is_none_or(|v| v.is_empty()) {
        return Err(Error::InvalidValue {
            what: "early stopping".into(),
            message: "--patience needs a validation set (--val-size > 0)".into(),
        });
    }
    Ok(())
}

fn check_fits<T: Float>(net: &Network<T>, data: &Dataset<T>, what: &str) -> Result<()> {
    if data.features != net.inputs() {
        return Err(shape_error(
            what,
            format!("{} features per row (the network's input width)", net.inputs()),
            format!("{} features", data.features),
            Some("the first layer size must match the data".into()),
        ));
    }
    if data.target_width() != net.outputs() {
        return Err(shape_error(
            what,
            format!("{} classes/targets (the network's output width)", net.outputs()),
            format!("{}", data.target_width()),
            Some("the last layer size must match the number of classes".into()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_validation_scores_a_worse_setting_worse() {
        use crate::{Activation, Init, Loss};
        // y = 2x − 1 on 40 rows: a linear network fits it; a huge weight decay cannot.
        let x: Vec<f64> = (0..40).map(|i| i as f64 / 20.0 - 1.0).collect();
        let y: Vec<f64> = x.iter().map(|v| 2.0 * v - 1.0).collect();
        let data = Dataset::regression(x, 1, y, 1).unwrap();
        let make =
            || Network::new(&[1, 1], Activation::Identity, Activation::Identity, Loss::HalfMse, Init::GlorotUniform, 3);
        let mut config = TrainConfig { epochs: 200, batch_size: 8, patience: Some(20), ..Default::default() };
        config.optimizer.lr = 0.05;
        let good = cross_validate(make, &data, 4, &config).unwrap();
        config.optimizer.weight_decay = 5.0;
        let bad = cross_validate(make, &data, 4, &config).unwrap();
        assert!(good < 1e-3 && bad > 10.0 * good, "{good} vs {bad}");
    }

    #[test]
    fn a_batch_split_between_two_threads_takes_the_same_steps() {
        use crate::{Activation, Init, Loss};
        // [300, 256, 300, 3] has two layers over JOINT_MIN weights (the first, whose input is the
        // batch itself, and one whose input is gathered from the halves); 71 rows split unevenly.
        // Every fifth input is zero in every row, and most others in most rows (a digit's margins).
        for (sizes, rows) in [(vec![12, 9, 3], 70), (vec![300, 256, 300, 3], 71)] {
            let features = sizes[0];
            let x: Vec<f64> = (0..rows * features)
                .map(|i| if i % 5 == 0 || (i * 7) % 3 != 0 { 0.0 } else { ((i * 37) % 19) as f64 / 19.0 - 0.4 })
                .collect();
            let labels: Vec<u32> = (0..rows).map(|i| (i % 3) as u32).collect();
            let data = Dataset::classification(x, features, labels, 3).unwrap();
            let make = || {
                Network::new(&sizes, Activation::Tanh, Activation::Softmax, Loss::CrossEntropy, Init::GlorotUniform, 2)
            };
            let idx: Vec<usize> = (0..rows).rev().collect();
            let mut decayed = Optimizer::sgd(0.05);
            decayed.weight_decay = 0.01;
            let optimizers = [
                Optimizer::adam(0.01),
                Optimizer::momentum(0.05, 0.9),
                decayed,
                Optimizer { method: crate::optimizer::Method::Nesterov { mu: 0.8 }, ..Optimizer::sgd(0.02) },
                Optimizer {
                    method: crate::optimizer::Method::AdamW { beta1: 0.9, beta2: 0.99, eps: 1e-8 },
                    weight_decay: 0.1,
                    ..Optimizer::sgd(0.01)
                },
            ];
            for optimizer in optimizers {
                let mut results = Vec::new();
                for threads in [1, 2] {
                    let config = TrainConfig { batch_size: rows, threads, optimizer, ..Default::default() };
                    let mut net = make().unwrap();
                    let mut t = Trainer::new(&net, rows, &config);
                    assert_eq!(t.half.is_some(), threads == 2);
                    let mut out = Vec::new();
                    for _ in 0..3 {
                        out.push(t.install(|t| t.step(&mut net, &data, &idx, &config, optimizer.lr)));
                    }
                    results.push((net, out, t.gradients().layer_norms()));
                }
                let ((a, oa, ga), (b, ob, gb)) = (&results[0], &results[1]);
                for ((la, ca), (lb, cb)) in oa.iter().zip(ob) {
                    assert!((la - lb).abs() < 1e-12 && ca == cb, "{sizes:?} {optimizer:?}: {la} {lb} {ca} {cb}");
                }
                for (p, q) in ga.iter().zip(gb) {
                    assert!((p - q).abs() < 1e-10, "{sizes:?} {optimizer:?}: gradient norm {p} vs {q}");
                }
                for (x, y) in a.layers.iter().zip(&b.layers) {
                    for (p, q) in x.weights.iter().chain(&x.bias).zip(y.weights.iter().chain(&y.bias)) {
                        assert!((p - q).abs() < 1e-12, "{sizes:?} {optimizer:?}: {p} vs {q}");
                    }
                }
            }
        }
    }
}
