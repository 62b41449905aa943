//! The training loop: epochs of shuffled mini-batches, forward, δ recursion, optimizer step;
//! validation, early stopping and divergence checks at epoch ends.
//!
//! The library knows nothing about the terminal: progress goes to a [`Progress`] the caller supplies.
//! After the first batch a training step allocates nothing: all buffers are made before the loop.

use crate::dataset::Dataset;
use crate::error::{Error, Result, shape_error};
use crate::init::{Rng, rng};
use crate::linalg::{Float, sum_squares};
use crate::metrics;
use crate::network::{Dropout, Gradients, Network, Workspace};
use crate::optimizer::{Optimizer, OptimizerState};
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

/// Everything a training step needs, allocated once: batch buffers, workspace, gradients, state.
pub struct Trainer<T> {
    /// The optimizer's velocities or moments.
    pub state: OptimizerState<T>,
    /// Shuffling generator.
    pub data_rng: Rng,
    /// Dropout generator.
    pub dropout_rng: Rng,
    ws: Workspace<T>,
    grads: Gradients<T>,
    xb: Vec<T>,
    yb: Vec<T>,
    order: Vec<usize>,
    pool: Option<rayon::ThreadPool>,
}

impl<T: Float> Trainer<T> {
    /// Buffers for training `net` on `rows` rows with `config`.
    pub fn new(net: &Network<T>, rows: usize, config: &TrainConfig) -> Self {
        let b = config.batch_size.max(1);
        Self {
            state: config.optimizer.state(net),
            data_rng: rng(config.seed),
            dropout_rng: rng(config.seed ^ 0x9e37_79b9_7f4a_7c15),
            ws: Workspace::new(net, b, config.threads),
            grads: Gradients::zeros(net),
            xb: vec![T::zero(); b * net.inputs()],
            yb: vec![T::zero(); b * net.outputs()],
            order: (0..rows).collect(),
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
                pool.broadcast(|_| crate::linalg::warm_up_threads::<T>());
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
        data.gather(idx, &mut self.xb, &mut self.yb);
        let dropout = (config.dropout > 0.0).then_some(Dropout { p: config.dropout, rng: &mut self.dropout_rng });
        let loss =
            net.loss_and_gradients(&self.xb[..b * data.features], &self.yb, b, &mut self.ws, &mut self.grads, dropout);
        let correct = match data.labels() {
            Some(_) => {
                let last = net.layers.len() - 1;
                metrics::count_correct(
                    &self.ws.a(last)[..b * net.outputs()],
                    &self.yb[..b * net.outputs()],
                    net.outputs(),
                )
            }
            None => 0,
        };
        config.optimizer.step(&mut self.state, net, &self.grads, lr);
        (loss, correct)
    }

    /// Runs the epoch `epoch` (from 0): shuffle, then every batch.
    fn run_epoch(
        &mut self,
        net: &mut Network<T>,
        data: &Dataset<T>,
        config: &TrainConfig,
        epoch: usize,
        progress: &mut dyn Progress,
        norms: &mut [f64],
    ) -> Result<EpochStats> {
        let n = data.len();
        let mut order = std::mem::take(&mut self.order);
        order.shuffle(&mut self.data_rng);
        let batches = n.div_ceil(config.batch_size);
        let mut stats = EpochStats::default();
        norms.fill(0.0);
        for (bi, idx) in order.chunks(config.batch_size).enumerate() {
            let lr = config.optimizer.lr_at(epoch as f64 + bi as f64 / batches as f64, config.epochs);
            let (loss, correct) = self.step(net, data, idx, config, lr);
            if !loss.is_finite() {
                self.order = order;
                return Err(Error::Diverged { epoch: epoch + 1, batch: bi + 1, what: "the loss".into() });
            }
            for (l, (w, b)) in self.grads.weights.iter().zip(&self.grads.bias).enumerate() {
                let sq = (sum_squares(w) + sum_squares(b)).f64();
                if !sq.is_finite() {
                    self.order = order;
                    return Err(Error::Diverged {
                        epoch: epoch + 1,
                        batch: bi + 1,
                        what: format!("the gradient of layer {}", l + 1),
                    });
                }
                norms[l] += sq.sqrt();
            }
            stats.loss_sum += loss * idx.len() as f64;
            stats.correct += correct;
            stats.rows += idx.len();
            stats.batches += 1;
            stats.lr = lr;
            progress.batch(epoch + 1, bi + 1, batches, stats.loss_sum / stats.rows as f64);
            if progress.should_stop() {
                stats.interrupted = true;
                break;
            }
        }
        for v in norms.iter_mut() {
            *v /= stats.batches.max(1) as f64;
        }
        self.order = order;
        Ok(stats)
    }
}

#[derive(Default)]
struct EpochStats {
    loss_sum: f64,
    correct: usize,
    rows: usize,
    batches: usize,
    lr: f64,
    interrupted: bool,
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
    train_with(net, &mut trainer, data, val, config, 0, progress)
}

/// [`train`] with a caller-owned [`Trainer`], starting after `start_epoch` completed epochs
/// (to resume a run).
pub fn train_with<T: Float>(
    net: &mut Network<T>,
    trainer: &mut Trainer<T>,
    data: &Dataset<T>,
    val: Option<&Dataset<T>>,
    config: &TrainConfig,
    start_epoch: usize,
    progress: &mut dyn Progress,
) -> Result<TrainSummary> {
    trainer.install(|trainer| train_loop(net, trainer, data, val, config, start_epoch, progress))
}

fn train_loop<T: Float>(
    net: &mut Network<T>,
    trainer: &mut Trainer<T>,
    data: &Dataset<T>,
    val: Option<&Dataset<T>>,
    config: &TrainConfig,
    start_epoch: usize,
    progress: &mut dyn Progress,
) -> Result<TrainSummary> {
    config.validate()?;
    check_fits(net, data, "training data")?;
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
    let mut summary =
        TrainSummary { epochs: Vec::new(), best_epoch: start_epoch, stopped_early: false, interrupted: false };
    let mut last_good = net.clone();
    let mut best: Option<(f64, Network<T>)> = None;
    let mut since_best = 0;
    let mut norms = vec![0.0; net.layers.len()];
    for epoch in start_epoch..config.epochs {
        let t0 = Instant::now();
        let stats = match trainer.run_epoch(net, data, config, epoch, progress, &mut norms) {
            Ok(s) => s,
            Err(e) => {
                *net = last_good;
                return Err(e);
            }
        };
        let seconds = t0.elapsed().as_secs_f64();
        let (val_loss, val_accuracy) = match val.filter(|v| !v.is_empty()) {
            Some(v) => {
                let e = metrics::evaluate(net, v, 1000, config.threads)?;
                (Some(e.loss), e.accuracy)
            }
            None => (None, None),
        };
        let report = EpochReport {
            epoch: epoch + 1,
            train_loss: stats.loss_sum / stats.rows.max(1) as f64,
            train_accuracy: data.labels().map(|_| stats.correct as f64 / stats.rows.max(1) as f64),
            val_loss,
            val_accuracy,
            lr: stats.lr,
            grad_norms: norms.clone(),
            seconds,
            samples_per_sec: stats.rows as f64 / seconds.max(1e-9),
        };
        progress.epoch(&report);
        summary.epochs.push(report);
        summary.best_epoch = epoch + 1;
        last_good.clone_from(net);
        if stats.interrupted {
            summary.interrupted = true;
            break;
        }
        if let (Some(patience), Some(vl)) = (config.patience, val_loss) {
            if best.as_ref().is_none_or(|(b, _)| vl < *b) {
                best = Some((vl, net.clone()));
                since_best = 0;
            } else {
                since_best += 1;
                if since_best >= patience {
                    summary.stopped_early = true;
                    break;
                }
            }
        }
    }
    if let Some((loss, best_net)) = best
        && summary.epochs.last().and_then(|r| r.val_loss).is_some_and(|l| l > loss)
    {
        summary.best_epoch =
            summary.epochs.iter().find(|r| r.val_loss == Some(loss)).map_or(summary.best_epoch, |r| r.epoch);
        *net = best_net;
    }
    Ok(summary)
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
