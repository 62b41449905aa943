//! What a run tells its caller: a report per epoch ([`EpochReport`]), progress as it goes
//! ([`Progress`]), the outcome of an epoch and of a run, and an epoch stopped part-way
//! ([`PartialEpoch`]).

use serde::{Deserialize, Serialize};

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
    /// Seconds of [`seconds`](Self::seconds) spent summing gradients across processes (runs over
    /// several processes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm_seconds: Option<f64>,
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
    /// Batches whose gradient norms were taken (every
    /// [`NORM_EVERY`](super::trainer::NORM_EVERY)th, and the last).
    #[serde(default)]
    pub norm_batches: usize,
    /// Training seconds spent so far.
    pub seconds: f64,
    /// The learning rate of the last batch.
    pub lr: f64,
}

/// What one call of [`Trainer::run_epoch`](super::trainer::Trainer::run_epoch) ended with.
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
