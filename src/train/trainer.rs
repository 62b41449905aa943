//! The trainer: epochs of shuffled mini-batches, forward, δ recursion, optimizer step; validation,
//! early stopping and divergence checks at epoch ends.
//!
//! After the first batch a training step allocates nothing: all buffers are made before the loop.

use super::checkpoint::{Best, TrainerSnapshot};
use super::config::{TrainConfig, check_run};
use super::data_parallel::{self, Half, Part, SPLIT_BATCH_MIN, rows_step};
use super::processes::Processes;
use super::report::{EpochOutcome, EpochReport, PartialEpoch, Progress, TrainSummary};
use crate::data::augment::Scratch;
use crate::dataset::Dataset;
use crate::distributed::Collective;
use crate::error::{Error, Result, shape_error};
use crate::kernels::{Float, pack_rows, packed_len, sum_squares, unpack_rows, warm_up_threads};
use crate::layer::SparseWeights;
use crate::metrics;
use crate::network::{Gradients, Network, Workspace};
use crate::optimizer::OptimizerState;
use crate::rng::{Rng, rng};
use rand::seq::SliceRandom;
use std::sync::Arc;
use std::time::Instant;

/// Everything a training run carries from step to step, allocated once: batch buffers, workspace,
/// gradients, optimizer state, generators, progress through the epochs. Its state (all but the
/// buffers) goes in and out as a [`TrainerSnapshot`] for checkpoints.
pub struct Trainer<T> {
    /// The optimizer's velocities or moments.
    state: OptimizerState<T>,
    /// Shuffling generator.
    data_rng: Rng,
    /// Epochs completed.
    epoch: usize,
    /// Reports of the completed epochs.
    history: Vec<EpochReport>,
    /// Early stopping: the best validation loss, its epoch and weights.
    best: Option<Best<T>>,
    /// Early stopping: epochs since the best one.
    since_best: usize,
    /// The current epoch's shuffled row order.
    order: Vec<usize>,
    /// An epoch interrupted part-way, if any.
    partial: Option<PartialEpoch>,
    last_good: Network<T>,
    ws: Workspace<T>,
    grads: Gradients<T>,
    xb: Vec<T>,
    yb: Vec<T>,
    aug: Scratch,
    /// The second half of each batch, when batches are split between two threads.
    half: Option<Half<T>>,
    pool: Option<rayon::ThreadPool>,
    /// This trainer's part in a run over several processes, if it is one.
    processes: Option<Processes<T>>,
    /// Whether epochs may hold the first layer's `W` packed ([`SparseWeights::Packed`]): a fully
    /// connected network whose every pass lists its first layer's inputs when asked (f32,
    /// AVX-512F, one thread per pass), in one process.
    packs_first: bool,
    /// Whether the first layer's `W`, its gradients and optimizer state are packed now: from the
    /// first step of an epoch whose inputs were sparse enough to be listed, to the epoch's last.
    first_packed: bool,
    /// The other buffer of each tensor that [`Trainer::relay_first_layer`] lays out.
    first_spares: Vec<Vec<T>>,
    /// How many times the first layer was laid out packed (the tests check that it was).
    #[cfg(test)]
    packed_epochs: usize,
}

/// Gradient norms are taken on every this-many-th batch (and the last of each epoch): summing the
/// squares of every parameter after every batch is a measurable share of an epoch
/// (`docs/design.md`, "Measured constants").
pub const NORM_EVERY: usize = 8;

impl<T: Float> Trainer<T> {
    /// Buffers for training `net` on `rows` rows with `config`.
    pub fn new(net: &Network<T>, rows: usize, config: &TrainConfig) -> Self {
        // No batch holds more than the data set's rows, whatever the batch size asked.
        let b = config.batch_size.clamp(1, rows.max(1));
        // A batch is split between two threads for fully connected networks; a convolutional
        // network's threads go to its products for now.
        let half = data_parallel::splits(config) && net.features.is_empty();
        let ws = Workspace::new(net, b, if half { config.threads / 2 } else { config.threads });
        let half = if half { Half::new(net, config, b) } else { None };
        Self {
            packs_first: ws.lists_first_layer() && half.as_ref().is_none_or(|h| h.lists_first_layer()),
            first_packed: false,
            first_spares: Vec::new(),
            #[cfg(test)]
            packed_epochs: 0,
            state: config.optimizer.state(net),
            data_rng: rng(config.seed),
            epoch: 0,
            history: Vec::new(),
            best: None,
            since_best: 0,
            order: (0..rows).collect(),
            partial: None,
            last_good: net.clone(),
            ws,
            grads: Gradients::zeros(net),
            half,
            xb: vec![T::zero(); b * net.inputs()],
            yb: vec![T::zero(); b * net.outputs()],
            aug: config.augment.map(|a| a.scratch(b)).unwrap_or_default(),
            pool: (config.threads > 1)
                .then(|| {
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(config.threads)
                        .start_handler(|_| crate::kernels::flush_to_zero_for_good())
                        .build()
                        .ok()
                })
                .flatten(),
            processes: None,
        }
    }

    /// Makes this trainer one of the processes of `comm` (when there are several): each step
    /// works on this process's share of the batch and sums the gradients across processes
    /// ([`crate::distributed`]); validation is shared too, and at each epoch's end the processes
    /// check that they hold the same weights and agree whether to stop. Every process must
    /// start from the same network (see [`crate::distributed::broadcast_network`]).
    pub fn distribute(&mut self, net: &Network<T>, comm: Arc<dyn Collective>) {
        if comm.size() > 1 {
            self.processes = Some(Processes::new(comm, net));
            self.packs_first = false;
            if let Some(h) = self.half.as_mut() {
                h.without_joint_layers();
            }
        }
    }

    /// Whether the run should stop: asked of `progress`, or agreed by the processes.
    fn stop_requested(&mut self, progress: &mut dyn Progress) -> bool {
        match &self.processes {
            Some(p) => p.stop,
            None => progress.should_stop(),
        }
    }

    /// Runs `f` inside this trainer's thread pool (if it has one), where the products' parallel
    /// splits allocate nothing; each pool thread is warmed up first. Subnormal floats are flushed
    /// to zero on every thread that trains (the pool's, and the calling thread until `f` returns:
    /// [`crate::kernels::subnormal`]).
    pub fn install<R: Send>(&mut self, f: impl FnOnce(&mut Self) -> R + Send) -> R {
        let _flush = crate::kernels::FlushToZero::on_this_thread();
        match self.pool.take() {
            Some(pool) => {
                pool.broadcast(|_| warm_up_threads::<T>());
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
        if self.processes.is_some() {
            return self.process_step(net, data, idx, config, lr);
        }
        if b >= SPLIT_BATCH_MIN
            && let Some(half) = self.half.as_mut()
        {
            let first = Part { ws: &mut self.ws, grads: &mut self.grads, aug: &mut self.aug };
            return half.step(
                first,
                &mut self.xb,
                &mut self.yb,
                &mut self.state,
                net,
                data,
                idx,
                config,
                self.epoch,
                lr,
                self.first_packed,
            );
        }
        let (f, k) = (data.features, net.outputs());
        let part = Part { ws: &mut self.ws, grads: &mut self.grads, aug: &mut self.aug };
        let (x, y) = (&mut self.xb[..b * f], &mut self.yb[..b * k]);
        let first = if self.first_packed { SparseWeights::Packed } else { SparseWeights::Rows(None) };
        let (loss, correct) =
            rows_step(net, data, config, self.epoch, idx, x, y, part, config.threads, &[], 1.0, first);
        data_parallel::update(&config.optimizer, &mut self.state, net, &self.grads, lr, &[]);
        (loss, correct)
    }

    /// [`Trainer::step`] as one of several processes: forward and backward on this process's
    /// share of `idx`, the sum of the shares' gradients, the update.
    fn process_step(
        &mut self,
        net: &mut Network<T>,
        data: &Dataset<T>,
        idx: &[usize],
        config: &TrainConfig,
        lr: f64,
    ) -> (f64, usize) {
        let (b, f, k) = (idx.len(), data.features, net.outputs());
        let Some(processes) = self.processes.as_mut() else { return (f64::NAN, 0) };
        let mine = &idx[processes.share(b)];
        let r = mine.len();
        // This process's share of the batch mean: its rows' mean gradient × rows / batch.
        let share = r as f64 / b as f64;
        let mut part = Part { ws: &mut self.ws, grads: &mut self.grads, aug: &mut self.aug };
        let (loss, correct) = match self.half.as_mut() {
            _ if r == 0 => (0.0, 0),
            Some(half) if r >= SPLIT_BATCH_MIN => {
                half.gradients(&mut part, &mut self.xb, &mut self.yb, net, data, mine, config, self.epoch, share, false)
            }
            _ => {
                let (x, y) = (&mut self.xb[..r * f], &mut self.yb[..r * k]);
                rows_step(
                    net,
                    data,
                    config,
                    self.epoch,
                    mine,
                    x,
                    y,
                    part,
                    config.threads,
                    &[],
                    share,
                    SparseWeights::Rows(None),
                )
            }
        };
        let (loss, correct) = processes.sum_step(&mut self.grads, r, loss * share, correct);
        data_parallel::update(&config.optimizer, &mut self.state, net, &self.grads, lr, &[]);
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
        let batches = n.div_ceil(config.batch_size);
        let mut p = match self.partial.take() {
            // An interrupted epoch (from a checkpoint) resumes where it stopped only if that is a
            // place this run's batches reach: the same batch size, a batch within the epoch.
            Some(p)
                if p.next_batch > batches
                    || p.batches != p.next_batch
                    || p.rows != p.next_batch.saturating_mul(config.batch_size).min(n) =>
            {
                return Err(Error::InvalidValue {
                    what: "checkpoint".into(),
                    message: format!(
                        "its interrupted epoch stopped after batch {} ({} rows), which batches of {} rows over {n} rows \
                         do not reach; resume with the run's own settings",
                        p.next_batch, p.rows, config.batch_size
                    ),
                });
            }
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
        let t0 = Instant::now();
        let order = std::mem::take(&mut self.order);
        let mut result = Ok(());
        let mut interrupted = false;
        let mut left_packed = false;
        for (bi, idx) in order.chunks(config.batch_size).enumerate().skip(p.next_batch) {
            let lr = config.optimizer.lr_at(epoch as f64 + bi as f64 / batches as f64, config.epochs);
            if let Some(p) = self.processes.as_mut() {
                // Carried in the step's sum: all processes stop after the same batch.
                p.want_stop = progress.should_stop();
            }
            let (loss, correct) = self.step(net, data, idx, config, lr);
            if self.packs_first {
                // Inputs sparse enough to list: hold W⁽¹⁾ packed for the next steps. A batch too
                // dense (which took the dense product, from W unpacked) ends that for the epoch:
                // inputs whose density hovers about the threshold would otherwise lay W out
                // again and again. Which layout holds W changes no number, only time.
                let listed = self.ws.sparse_listing().is_some();
                if listed && !self.first_packed && !left_packed {
                    self.relay_first_layer(net, true);
                } else if !listed && self.first_packed {
                    self.relay_first_layer(net, false);
                    left_packed = true;
                }
            }
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
            if bi + 1 < batches && self.stop_requested(progress) {
                interrupted = true;
                break;
            }
        }
        self.order = order;
        if self.first_packed {
            self.relay_first_layer(net, false);
        }
        p.seconds += t0.elapsed().as_secs_f64();
        if let Err(e) = result {
            net.clone_from(&self.last_good);
            return Err(e);
        }
        if interrupted {
            // The last batch's gradient may not have been checked: never checkpoint bad weights.
            if net.tensors().any(|t| t.iter().any(|v| !v.is_finite())) {
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
        let (val_loss, val_accuracy) = match (val.filter(|v| !v.is_empty()), &self.processes) {
            (Some(v), Some(p)) => p.validate(net, v, config.threads).map(|(l, a)| (Some(l), a))?,
            (Some(v), None) => {
                let e = metrics::evaluate(net, v, 1000, config.threads)?;
                (Some(e.loss), e.accuracy)
            }
            (None, _) => (None, None),
        };
        let mut comm_seconds = None;
        if let Some(p) = self.processes.as_mut() {
            p.end_epoch(net, epoch + 1, progress.should_stop())?;
            comm_seconds = Some(std::mem::take(&mut p.seconds));
        }
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
            comm_seconds,
        };
        self.epoch += 1;
        self.history.push(report.clone());
        progress.epoch(&report);
        let mut stop = false;
        if let (Some(patience), Some(vl)) = (config.patience, val_loss) {
            if self.best.as_ref().is_none_or(|b| vl < b.loss) {
                self.best = Some(Best { loss: vl, epoch: epoch + 1, network: net.clone() });
                self.since_best = 0;
            } else {
                self.since_best += 1;
                stop = self.since_best >= patience;
            }
        }
        Ok(EpochOutcome::Finished { report, stop })
    }

    /// Lays the first layer's `W`, its gradients (this trainer's and the second half's) and the
    /// optimizer's state for it out packed (`packed`) or back as the layer stores it: the same
    /// values, moved. Done at most twice an epoch, so that no step packs `W` for its forward
    /// product or transposes its gradient into `W`'s layout (docs/design.md, "Sparse inputs").
    fn relay_first_layer(&mut self, net: &mut Network<T>, packed: bool) {
        let (n, k) = (net.layers[0].outputs, net.layers[0].inputs);
        // Each tensor moves between its own buffer and a spare one kept here, so that only the
        // first epoch allocates, and each tensor keeps the same two places in memory.
        let spares = &mut self.first_spares;
        let mut relay = |i: usize, t: &mut Vec<T>| {
            if t.is_empty() {
                return;
            }
            if spares.len() <= i {
                spares.resize_with(i + 1, Vec::new);
            }
            let out = &mut spares[i];
            out.clear();
            out.resize(if packed { packed_len(n, k) } else { n * k }, T::zero());
            if packed {
                pack_rows(t, n, k, out);
            } else {
                unpack_rows(t, n, k, out);
            }
            std::mem::swap(t, out);
        };
        relay(0, &mut net.layers[0].weights);
        relay(1, &mut self.grads.weights[0]);
        if let Some(h) = self.half.as_mut() {
            relay(2, h.first_gradient());
        }
        for (i, moments) in [&mut self.state.m, &mut self.state.v].into_iter().enumerate() {
            if let Some(t) = moments.first_mut() {
                relay(3 + i, t);
            }
        }
        self.first_packed = packed;
        #[cfg(test)]
        {
            self.packed_epochs += usize::from(packed);
        }
    }

    /// Keeps every epoch's first layer laid out as the layer stores it (the tests compare the two).
    #[cfg(test)]
    pub(super) fn without_packed_first_layer(&mut self) {
        self.packs_first = false;
    }

    /// Whether epochs may hold the first layer packed here.
    #[cfg(test)]
    pub(super) fn packs_first_layer(&self) -> bool {
        self.packs_first
    }

    /// Epochs completed.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Reports of the completed epochs.
    pub fn history(&self) -> &[EpochReport] {
        &self.history
    }

    /// The trainer's state, all but its buffers, for a checkpoint.
    pub fn snapshot(&self) -> TrainerSnapshot<T> {
        TrainerSnapshot {
            epoch: self.epoch,
            optimizer: self.state.clone(),
            data_rng: self.data_rng.clone(),
            history: self.history.clone(),
            best: self.best.clone(),
            since_best: self.since_best,
            order: self.order.clone(),
            partial: self.partial.clone(),
        }
    }

    /// Puts a [`TrainerSnapshot`] back, into a trainer made for the same network, data and settings
    /// (refused, with the reason, when its rows or optimizer state do not fit).
    pub fn restore(&mut self, s: TrainerSnapshot<T>) -> Result<()> {
        s.fits(self.order.len(), &self.state)?;
        self.state = s.optimizer;
        self.data_rng = s.data_rng;
        self.epoch = s.epoch;
        self.history = s.history;
        self.best = s.best;
        self.since_best = s.since_best;
        self.order = s.order;
        self.partial = s.partial;
        Ok(())
    }

    /// Puts the best weights seen (early stopping) into `net`, if they beat the last epoch's;
    /// returns the epoch whose weights `net` now holds.
    pub fn restore_best(&self, net: &mut Network<T>) -> usize {
        let last = self.history.last().map_or(0, |r| r.epoch);
        match (&self.best, self.history.last().and_then(|r| r.val_loss)) {
            (Some(best), Some(last_loss)) if last_loss > best.loss => {
                net.clone_from(&best.network);
                best.epoch
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

/// [`train`] with a caller-owned [`Trainer`], which may hold a run to resume: a
/// [`train_checkpointed`] run that saves nothing, the best weights restored after early stopping.
pub fn train_with<T: Float>(
    net: &mut Network<T>,
    trainer: &mut Trainer<T>,
    data: &Dataset<T>,
    val: Option<&Dataset<T>>,
    config: &TrainConfig,
    progress: &mut dyn Progress,
) -> Result<TrainSummary> {
    let first = trainer.history.len();
    let checkpoints = Checkpoints { every: 0, min_seconds: 0.0, save: &mut |_: &Network<T>, _: &Trainer<T>| Ok(()) };
    let end = train_checkpointed(net, trainer, data, val, config, progress, checkpoints)?;
    let interrupted = end == RunEnd::Interrupted;
    let best_epoch = if interrupted { trainer.epoch } else { trainer.restore_best(net) };
    Ok(TrainSummary {
        epochs: trainer.history[first..].to_vec(),
        best_epoch,
        stopped_early: end == RunEnd::StoppedEarly,
        interrupted,
    })
}

/// How a [`train_checkpointed`] run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// All `config.epochs` epochs ran.
    Done,
    /// Early stopping ended the run (the best weights are not restored yet: see
    /// [`Trainer::restore_best`]).
    StoppedEarly,
    /// [`Progress::should_stop`] asked to stop; a checkpoint was saved to resume from.
    Interrupted,
}

/// Writes a checkpoint from the network and the trainer (see [`Trainer::snapshot`]).
pub type SaveCheckpoint<'a, T> = dyn FnMut(&Network<T>, &Trainer<T>) -> Result<()> + Send + 'a;

/// When and how a long run saves the state it can resume from.
pub struct Checkpoints<'a, T> {
    /// After every this-many epochs, and after the last; 0: only when the run is interrupted.
    pub every: usize,
    /// But no sooner than this many seconds after the previous save (the first and the last are
    /// always saved): a run of many short epochs (a small table's thousand) would otherwise spend
    /// most of its time writing and syncing files. 0 saves every `every` epochs.
    pub min_seconds: f64,
    /// Writes one.
    pub save: &'a mut SaveCheckpoint<'a, T>,
}

/// [`train_with`] for long runs that must survive an interruption: a checkpoint is saved as
/// `checkpoints` says, and whenever the run stops at the caller's request — mid-epoch or at an
/// epoch's end —, so that it can resume bit for bit. On divergence the error names the epoch and
/// batch, and `net` holds the weights of the end of the last good epoch.
pub fn train_checkpointed<T: Float>(
    net: &mut Network<T>,
    trainer: &mut Trainer<T>,
    data: &Dataset<T>,
    val: Option<&Dataset<T>>,
    config: &TrainConfig,
    progress: &mut dyn Progress,
    checkpoints: Checkpoints<'_, T>,
) -> Result<RunEnd> {
    let Checkpoints { every, min_seconds, save } = checkpoints;
    let mut last_save: Option<Instant> = None;
    check_run(net, data, val, config)?;
    trainer.install(|t| {
        while t.epoch < config.epochs {
            match t.run_epoch(net, data, val, config, progress)? {
                EpochOutcome::Interrupted => {
                    save(net, t)?;
                    return Ok(RunEnd::Interrupted);
                }
                EpochOutcome::Finished { stop, .. } => {
                    let last = t.epoch == config.epochs || stop;
                    let due = last_save.is_none_or(|at| at.elapsed().as_secs_f64() >= min_seconds);
                    if every > 0 && ((t.epoch.is_multiple_of(every) && due) || last) {
                        save(net, t)?;
                        last_save = Some(Instant::now());
                    }
                    if stop {
                        return Ok(RunEnd::StoppedEarly);
                    }
                    if t.stop_requested(progress) && !last {
                        save(net, t)?;
                        return Ok(RunEnd::Interrupted);
                    }
                }
            }
        }
        Ok(RunEnd::Done)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::Architecture;
    use crate::optimizer::Optimizer;

    /// Asks to stop once `stop_after` epochs have ended.
    struct StopAfter {
        stop_after: usize,
        epochs: usize,
    }

    impl Progress for StopAfter {
        fn epoch(&mut self, _report: &EpochReport) {
            self.epochs += 1;
        }
        fn should_stop(&mut self) -> bool {
            self.epochs >= self.stop_after
        }
    }

    /// 40 rows of 3 inputs in 2 classes, and a 3-5-2 tanh network for them.
    fn forty_rows() -> (Dataset<f64>, Architecture) {
        use crate::{Activation, Loss};
        let x: Vec<f64> = (0..40 * 3).map(|i| ((i * 37) % 23) as f64 / 23.0 - 0.5).collect();
        let labels: Vec<u32> = (0..40).map(|i| (i % 2) as u32).collect();
        let data = Dataset::classification(x, 3, labels, 2).unwrap();
        (data, Architecture::mlp(&[3, 5, 2], Activation::Tanh, Activation::Softmax, Loss::CrossEntropy))
    }

    #[test]
    fn checkpointed_runs_save_every_n_epochs_the_last_and_on_a_stop_and_resume_bit_for_bit() {
        let (data, arch) = forty_rows();
        let config = TrainConfig { epochs: 5, batch_size: 8, optimizer: Optimizer::adam(0.01), ..Default::default() };
        let run = |progress: &mut dyn Progress, every: usize| {
            let mut net: Network<f64> = arch.build(4).unwrap();
            let mut trainer = Trainer::new(&net, data.len(), &config);
            let mut saved = Vec::new();
            let mut save = |_: &Network<f64>, t: &Trainer<f64>| {
                saved.push((t.epoch(), t.snapshot()));
                Ok(())
            };
            let checkpoints = Checkpoints { every, min_seconds: 0.0, save: &mut save };
            let end = train_checkpointed(&mut net, &mut trainer, &data, None, &config, progress, checkpoints).unwrap();
            (end, net, saved)
        };
        // Every second epoch and the last.
        let (end, full, saved) = run(&mut (), 2);
        assert_eq!(end, RunEnd::Done);
        assert_eq!(saved.iter().map(|(e, _)| *e).collect::<Vec<_>>(), [2, 4, 5]);
        // Asked to stop after epoch 3: saved there (every = 0 saves nothing else), and resuming
        // from that snapshot ends where the uninterrupted run ends.
        let (end, stopped, saved) = run(&mut StopAfter { stop_after: 3, epochs: 0 }, 0);
        assert_eq!(end, RunEnd::Interrupted);
        assert_eq!(saved.len(), 1);
        let (epoch, snapshot) = saved.into_iter().next().unwrap();
        assert_eq!(epoch, 3);
        let mut net = stopped;
        let mut trainer = Trainer::new(&net, data.len(), &config);
        trainer.restore(snapshot).unwrap();
        let mut nothing = |_: &Network<f64>, _: &Trainer<f64>| Ok(());
        let checkpoints = Checkpoints { every: 0, min_seconds: 0.0, save: &mut nothing };
        let end = train_checkpointed(&mut net, &mut trainer, &data, None, &config, &mut (), checkpoints).unwrap();
        assert_eq!(end, RunEnd::Done);
        assert_eq!(net, full);
    }

    #[test]
    fn a_batch_larger_than_the_data_set_is_the_whole_data_set() {
        // Buffers are sized for the rows there are: a batch size past any memory (a typo, or a
        // doctored checkpoint) trains as one batch of every row, on one thread and two.
        let (data, arch) = forty_rows();
        for threads in [1, 2] {
            let run = |batch_size: usize| {
                let config = TrainConfig { epochs: 3, batch_size, threads, ..Default::default() };
                let mut net: Network<f64> = arch.build(4).unwrap();
                train(&mut net, &data, None, &config, &mut ()).unwrap();
                net
            };
            assert_eq!(run(usize::MAX), run(40), "{threads} thread(s)");
        }
    }

    #[test]
    fn a_convolutional_network_learns_bars_the_same_on_one_and_two_threads() {
        use crate::conv::{Conv2d, Maps, Padding};
        use crate::layer::Dense;
        use crate::network::Feature;
        use crate::pool::MaxPool2d;
        use crate::{Activation, Loss};
        // 6×6 images: a vertical bar (class 0) or a horizontal one (class 1) at any position.
        let (mut x, mut labels) = (Vec::new(), Vec::new());
        for pos in 0..6 {
            for class in 0..2u32 {
                for shift in [0.0, 0.1] {
                    x.extend((0..36).map(|i| {
                        let (r, c) = (i / 6, i % 6);
                        if (class == 0 && c == pos) || (class == 1 && r == pos) { 1.0 - shift } else { shift }
                    }));
                    labels.push(class);
                }
            }
        }
        let data = Dataset::classification(x, 36, labels, 2).unwrap();
        let build = || {
            let mut rng = crate::rng::rng(5);
            let mut c = Conv2d::zeros(Maps::new(1, 6, 6), 4, 3, Padding::Same, Activation::Relu).unwrap();
            crate::init::Init::HeNormal.fill(9, 4, &mut c.weights, &mut c.bias, &mut rng);
            let p = MaxPool2d::new(c.output()).unwrap();
            let mut d = Dense::zeros(p.output().len(), 2, Activation::Softmax);
            crate::init::Init::GlorotUniform.fill(d.inputs, 2, &mut d.weights, &mut d.bias, &mut rng);
            Network::with_features(vec![Feature::Conv(c), Feature::Pool(p)], vec![d], Loss::CrossEntropy).unwrap()
        };
        let mut nets = Vec::new();
        for threads in [1, 2] {
            let config = TrainConfig {
                epochs: 60,
                batch_size: 8,
                threads,
                optimizer: Optimizer::adam(0.02),
                ..Default::default()
            };
            let mut net: Network<f64> = build();
            train(&mut net, &data, None, &config, &mut ()).unwrap();
            assert_eq!(crate::metrics::accuracy(&net, &data).unwrap(), 1.0, "{threads} thread(s)");
            nets.push(net);
        }
        assert_eq!(nets[0], nets[1]);
    }

    #[test]
    fn every_thread_that_trains_flushes_subnormals_and_the_caller_gets_its_mode_back() {
        use crate::kernels::subnormal::flushing;
        use crate::{Activation, Loss};
        let arch = Architecture::mlp(&[3, 5, 2], Activation::Tanh, Activation::Softmax, Loss::CrossEntropy);
        let net: Network<f64> = arch.build(4).unwrap();
        let before = flushing();
        // The global pool, started now (threads inherit the mode of the thread that starts them).
        let global = rayon::broadcast(|_| flushing());
        for threads in [1, 2] {
            let config = TrainConfig { threads, ..Default::default() };
            let mut trainer = Trainer::new(&net, 10, &config);
            let (here, pool) = trainer.install(|_| (flushing(), rayon::broadcast(|_| flushing())));
            assert!(here || !cfg!(target_arch = "x86_64"), "{threads} thread(s)");
            if threads == 1 {
                // No pool of its own: the global one is the application's, and keeps its mode.
                assert_eq!(pool, global);
            } else {
                assert!(pool.iter().all(|&f| f == here), "{threads} threads: {pool:?}");
            }
            assert_eq!(flushing(), before, "{threads} thread(s)");
        }
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
                Architecture::mlp(&sizes, Activation::Tanh, Activation::Softmax, Loss::CrossEntropy)
                    .init(Init::GlorotUniform)
                    .build(2)
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
            // Dropout's masks are drawn per row: the same whichever thread draws them.
            for (optimizer, dropout) in optimizers.into_iter().flat_map(|o| [(o, 0.0), (o, 0.3)]) {
                let mut results = Vec::new();
                for threads in [1, 2] {
                    let config = TrainConfig { batch_size: rows, threads, optimizer, dropout, ..Default::default() };
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

    #[test]
    fn packing_the_first_layer_once_for_both_halves_changes_no_bit() {
        use crate::{Activation, Init, Loss};
        // f32, 100 inputs, a fifth of them nonzero: each half (32 rows) lists its inputs, and from
        // the second step W⁽¹⁾ is packed once for both halves (on AVX-512F); the same steps with
        // each half packing its own must give the same bits.
        let (features, rows) = (100, 64);
        let x: Vec<f32> = (0..rows * features)
            .map(|i| if (i * 7 + i / features) % 5 == 0 { ((i * 37) % 19) as f32 / 19.0 + 0.05 } else { 0.0 })
            .collect();
        let labels: Vec<u32> = (0..rows).map(|i| (i % 3) as u32).collect();
        let data = Dataset::classification(x, features, labels, 3).unwrap();
        let idx: Vec<usize> = (0..rows).rev().collect();
        let optimizer = Optimizer::adam(0.01);
        let config = TrainConfig { batch_size: rows, threads: 2, optimizer, dropout: 0.3, ..Default::default() };
        let run = |shared: bool| {
            let mut net =
                Architecture::mlp(&[features, 300, 3], Activation::Relu, Activation::Softmax, Loss::CrossEntropy)
                    .init(Init::HeUniform)
                    .build::<f32>(5)
                    .unwrap();
            let mut t = Trainer::new(&net, rows, &config);
            if !shared {
                t.half.as_mut().unwrap().without_packed_first();
            }
            for _ in 0..3 {
                t.install(|t| t.step(&mut net, &data, &idx, &config, optimizer.lr));
            }
            let packs = t.half.as_ref().unwrap().packs_first();
            (net, packs)
        };
        let ((a, packs), (b, _)) = (run(true), run(false));
        assert_eq!(packs, crate::kernels::cpu::has_avx512f());
        for (x, y) in a.layers.iter().zip(&b.layers) {
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&x.weights), bits(&y.weights));
            assert_eq!(bits(&x.bias), bits(&y.bias));
        }
    }

    #[test]
    fn holding_the_first_layer_packed_through_an_epoch_changes_no_bit() {
        use crate::{Activation, Init, Loss};
        // f32, 98 inputs (k not a multiple of 16, its last group of 4 partial); a fifth of the
        // inputs nonzero in two rows of three, three fifths in the third, so that batches are
        // judged sparse or too dense by turns (each must take the product it takes unpacked);
        // hidden widths 130 (not a multiple of 64: padded blocks) and 700 (≥ JOINT_MIN weights:
        // the split step's joint update, in packed blocks); 200 rows in batches of 48, so each
        // epoch ends on 8 rows (below the sparse products' 16). After each epoch the weights,
        // biases and optimizer state must be the bits of the same epochs run with W⁽¹⁾ as the
        // layer stores it, on 1 and 2 threads, with Adam and momentum.
        let rows = 200;
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        for (features, hidden, threads, optimizer) in [
            (98, 130, 1, Optimizer::adam(0.01)),
            (98, 130, 2, Optimizer::momentum(0.05, 0.9)),
            (98, 700, 2, Optimizer::adam(0.01)),
            (98, 700, 1, Optimizer::momentum(0.05, 0.9)),
            (784, 100, 1, Optimizer::adam(0.01)),
            (784, 100, 2, Optimizer::adam(0.01)),
        ] {
            let x: Vec<f32> = (0..rows * features)
                .map(|i| {
                    let ink = if (i / features) % 3 == 0 { (i * 7) % 5 < 3 } else { (i * 7 + i / features) % 5 == 0 };
                    if ink { ((i * 37) % 19) as f32 / 19.0 + 0.05 } else { 0.0 }
                })
                .collect();
            let labels: Vec<u32> = (0..rows).map(|i| (i % 3) as u32).collect();
            let data = Dataset::classification(x, features, labels, 3).unwrap();
            let config =
                TrainConfig { batch_size: 48, threads, optimizer, dropout: 0.2, epochs: 2, ..Default::default() };
            let run = |packed: bool| {
                let mut net = Architecture::mlp(
                    &[features, hidden, 3],
                    Activation::Relu,
                    Activation::Softmax,
                    Loss::CrossEntropy,
                )
                .init(Init::HeUniform)
                .build::<f32>(5)
                .unwrap();
                let mut t = Trainer::new(&net, rows, &config);
                let packs = t.packs_first_layer();
                if !packed {
                    t.without_packed_first_layer();
                }
                let mut epochs = Vec::new();
                for _ in 0..2 {
                    t.install(|t| t.run_epoch(&mut net, &data, None, &config, &mut ())).unwrap();
                    assert_eq!(net.layers[0].weights.len(), hidden * features);
                    epochs.push((net.clone(), t.snapshot().optimizer));
                }
                (epochs, packs, t.packed_epochs)
            };
            let ((a, packs, packed_epochs), (b, _, unpacked)) = (run(true), run(false));
            assert_eq!(packs, crate::kernels::cpu::has_avx512f(), "{hidden} hidden, {threads} threads");
            assert_eq!((packed_epochs > 0, unpacked), (packs, 0), "{features} inputs, {hidden} hidden");
            for ((na, sa), (nb, sb)) in a.iter().zip(&b) {
                for (x, y) in na.layers.iter().zip(&nb.layers) {
                    assert_eq!(bits(&x.weights), bits(&y.weights), "{hidden} hidden, {threads} threads");
                    assert_eq!(bits(&x.bias), bits(&y.bias));
                }
                for (x, y) in sa.m.iter().zip(&sb.m).chain(sa.v.iter().zip(&sb.v)) {
                    assert_eq!(bits(x), bits(y), "{hidden} hidden, {threads} threads: optimizer state");
                }
                assert_eq!(sa.steps, sb.steps);
            }
        }
    }

    /// Runs `f` in each process of an in-process world of `size` (threads standing in for
    /// processes), returning each one's result.
    fn in_processes<R: Send>(size: usize, f: impl Fn(Arc<dyn Collective>) -> R + Sync) -> Vec<R> {
        let world = crate::distributed::InProcess::world(size);
        std::thread::scope(|s| {
            let f = &f;
            let handles: Vec<_> = world.into_iter().map(|c| s.spawn(move || f(Arc::new(c)))).collect();
            handles.into_iter().map(|h| h.join().expect("a process panicked")).collect()
        })
    }

    /// 130 rows of 40 features in 3 classes, 20 held out, for the process tests.
    fn process_data() -> (Dataset<f64>, Dataset<f64>) {
        let x: Vec<f64> =
            (0..130 * 40).map(|i| if i % 3 == 0 { 0.0 } else { ((i * 37) % 19) as f64 / 19.0 - 0.4 }).collect();
        let labels: Vec<u32> = (0..130).map(|i| (i % 3) as u32).collect();
        Dataset::classification(x, 40, labels, 3).unwrap().split_off_end(20)
    }

    fn process_arch() -> Architecture {
        use crate::{Activation, Init, Loss};
        Architecture::mlp(&[40, 24, 3], Activation::Relu, Activation::Softmax, Loss::CrossEntropy).init(Init::HeUniform)
    }

    #[test]
    fn processes_take_the_same_steps_as_one_process_whatever_their_number_and_threads() {
        let (data, val) = process_data();
        // Batches of 70 over 110 rows: shares of 35 (split between two threads when a process
        // has two) or 23–24, and a last batch of 40; with dropout, whose masks are drawn per row.
        for (dropout, optimizer) in [(0.0, Optimizer::adam(0.01)), (0.3, Optimizer::momentum(0.05, 0.9))] {
            let config =
                |threads| TrainConfig { epochs: 2, batch_size: 70, threads, dropout, optimizer, ..Default::default() };
            let alone = |threads| {
                let mut net: Network<f64> = process_arch().build(7).unwrap();
                let s = train(&mut net, &data, Some(&val), &config(threads), &mut ()).unwrap();
                (net, s)
            };
            let (one, s1) = alone(1);
            for (size, threads) in [(2, 1), (3, 1), (2, 2)] {
                let runs = in_processes(size, |c| {
                    // Each process builds its own network; process 0's goes to all.
                    let mut net: Network<f64> = process_arch().build(7 + c.rank() as u64).unwrap();
                    crate::distributed::broadcast_network(&*c, &mut net);
                    let mut t = Trainer::new(&net, data.len(), &config(threads));
                    t.distribute(&net, c);
                    let s = train_with(&mut net, &mut t, &data, Some(&val), &config(threads), &mut ()).unwrap();
                    (net, s)
                });
                for (net, s) in &runs {
                    assert_eq!(net, &runs[0].0, "processes disagree");
                    for (p, q) in net.layers.iter().zip(&one.layers) {
                        for (a, b) in p.weights.iter().chain(&p.bias).zip(q.weights.iter().chain(&q.bias)) {
                            assert!((a - b).abs() < 1e-10, "{size}×{threads}, dropout {dropout}: {a} vs {b}");
                        }
                    }
                    for (e, f) in s.epochs.iter().zip(&s1.epochs) {
                        assert!((e.train_loss - f.train_loss).abs() < 1e-12, "{e:?} vs {f:?}");
                        assert_eq!(e.train_accuracy, f.train_accuracy);
                        assert!((e.val_loss.unwrap() - f.val_loss.unwrap()).abs() < 1e-12);
                        assert_eq!(e.val_accuracy, f.val_accuracy);
                        assert!(e.comm_seconds.is_some() && f.comm_seconds.is_none());
                    }
                }
            }
        }
    }

    #[test]
    fn processes_in_f32_stay_within_a_millionth_of_one_process_on_two_threads() {
        let (data, _) = process_data();
        let data =
            Dataset::classification(data.x.iter().map(|&v| v as f32).collect(), 40, data.labels().unwrap().to_vec(), 3)
                .unwrap();
        let config = |threads| TrainConfig {
            epochs: 1,
            batch_size: 110,
            threads,
            dropout: 0.3,
            optimizer: Optimizer::adam(1e-3),
            ..Default::default()
        };
        let mut one: Network<f32> = process_arch().build(3).unwrap();
        train(&mut one, &data, None, &config(2), &mut ()).unwrap();
        let two = in_processes(2, |c| {
            let mut net: Network<f32> = process_arch().build(3).unwrap();
            let mut t = Trainer::new(&net, data.len(), &config(1));
            t.distribute(&net, c);
            train_with(&mut net, &mut t, &data, None, &config(1), &mut ()).unwrap();
            net
        });
        for (p, q) in two[0].layers.iter().zip(&one.layers) {
            for (a, b) in p.weights.iter().chain(&p.bias).zip(q.weights.iter().chain(&q.bias)) {
                assert!((a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1e-3), "{a} vs {b}");
            }
        }
    }

    /// Asks to stop once `after` batches have run.
    struct StopAfterBatches {
        after: usize,
        batches: usize,
    }

    impl Progress for StopAfterBatches {
        fn batch(&mut self, _: usize, _: usize, _: usize, _: f64) {
            self.batches += 1;
        }
        fn should_stop(&mut self) -> bool {
            self.batches >= self.after
        }
    }

    #[test]
    fn an_interrupted_epoch_that_these_batches_do_not_reach_is_refused() {
        let (data, arch) = forty_rows();
        let config = TrainConfig { epochs: 2, batch_size: 8, ..Default::default() };
        let mut net: Network<f64> = arch.build(4).unwrap();
        let mut t = Trainer::new(&net, data.len(), &config);
        let outcome = t.run_epoch(&mut net, &data, None, &config, &mut StopAfterBatches { after: 2, batches: 0 });
        assert!(matches!(outcome, Ok(EpochOutcome::Interrupted)));
        let snapshot = t.snapshot();
        // As written: resumes. Doctored (past the epoch's 5 batches, or rows that do not add up), or
        // resumed with another batch size: refused, naming the batch.
        let doctor = |f: &dyn Fn(&mut PartialEpoch)| {
            let mut s = snapshot.clone();
            f(s.partial.as_mut().unwrap());
            s
        };
        let cases = [
            (snapshot.clone(), 8, true),
            (doctor(&|p| p.next_batch = 1000), 8, false),
            (doctor(&|p| p.rows = 0), 8, false),
            (snapshot.clone(), 16, false),
        ];
        for (s, batch_size, resumes) in cases {
            let config = TrainConfig { batch_size, ..config.clone() };
            let mut net = net.clone();
            let mut t = Trainer::new(&net, data.len(), &config);
            t.restore(s).unwrap();
            match t.run_epoch(&mut net, &data, None, &config, &mut ()) {
                Ok(_) => assert!(resumes),
                Err(e) => assert!(!resumes && e.to_string().contains("interrupted epoch stopped after batch"), "{e}"),
            }
        }
    }

    #[test]
    fn processes_stop_together_when_one_is_asked_to_and_resume_bit_for_bit() {
        let (data, val) = process_data();
        let config = TrainConfig {
            epochs: 3,
            batch_size: 16,
            dropout: 0.2,
            optimizer: Optimizer::adam(0.01),
            ..Default::default()
        };
        let run = |stop_at: Option<usize>| {
            in_processes(2, |c| {
                let mut net: Network<f64> = process_arch().build(5).unwrap();
                let mut t = Trainer::new(&net, data.len(), &config);
                t.distribute(&net, c.clone());
                // Only process 1 is asked to stop, after its 9th batch (epoch 2, batch 2).
                let mut progress =
                    StopAfterBatches { after: stop_at.filter(|_| c.rank() == 1).unwrap_or(usize::MAX), batches: 0 };
                let mut saved = None;
                let mut save = |_: &Network<f64>, t: &Trainer<f64>| {
                    saved = Some(t.snapshot());
                    Ok(())
                };
                let end = train_checkpointed(
                    &mut net,
                    &mut t,
                    &data,
                    Some(&val),
                    &config,
                    &mut progress,
                    Checkpoints { every: 0, min_seconds: 0.0, save: &mut save },
                )
                .unwrap();
                (end, net, saved)
            })
        };
        let full = run(None);
        let stopped = run(Some(9));
        for (end, _, saved) in &stopped {
            assert_eq!(*end, RunEnd::Interrupted);
            let s = saved.as_ref().unwrap();
            assert_eq!(
                (s.epoch, s.partial.as_ref().unwrap().next_batch),
                (1, 3),
                "stopped after the batch whose sum carried the flag"
            );
        }
        // Resumed with three processes instead of two.
        let snapshot = stopped[0].2.clone().unwrap();
        let resumed = in_processes(3, |c| {
            let mut net = stopped[0].1.clone();
            let mut t = Trainer::new(&net, data.len(), &config);
            t.restore(snapshot.clone()).unwrap();
            t.distribute(&net, c);
            let mut nothing = |_: &Network<f64>, _: &Trainer<f64>| Ok(());
            train_checkpointed(
                &mut net,
                &mut t,
                &data,
                Some(&val),
                &config,
                &mut (),
                Checkpoints { every: 0, min_seconds: 0.0, save: &mut nothing },
            )
            .unwrap();
            net
        });
        for (p, q) in resumed[0].layers.iter().zip(&full[0].1.layers) {
            for (a, b) in p.weights.iter().chain(&p.bias).zip(q.weights.iter().chain(&q.bias)) {
                assert!((a - b).abs() < 1e-10, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn processes_that_hold_different_weights_stop_with_an_error_naming_one() {
        let (data, _) = process_data();
        let config = TrainConfig { epochs: 2, batch_size: 32, ..Default::default() };
        let results = in_processes(3, |c| {
            // Not broadcast: process 2 starts from other weights.
            let mut net: Network<f64> = process_arch().build(if c.rank() == 2 { 9 } else { 1 }).unwrap();
            let mut t = Trainer::new(&net, data.len(), &config);
            t.distribute(&net, c);
            train_with(&mut net, &mut t, &data, None, &config, &mut ()).map(|_| ())
        });
        for r in results {
            let e = r.unwrap_err().to_string();
            assert!(e.contains("after epoch 1 process 2 holds different weights from process 0"), "{e}");
        }
    }
}
