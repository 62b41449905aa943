//! A trainer's state as plain data: [`TrainerSnapshot`], which
//! [`Trainer::snapshot`](super::trainer::Trainer::snapshot) produces and
//! [`Trainer::restore`](super::trainer::Trainer::restore) consumes, so that a run stopped anywhere
//! continues exactly. `model_file` writes and reads it as safetensors; it knows nothing of the
//! trainer itself.

use super::report::{EpochReport, PartialEpoch};
use crate::error::{Error, Result};
use crate::network::Network;
use crate::optimizer::OptimizerState;
use crate::rng::Rng;

/// Early stopping's best epoch so far: its validation loss, number (from 1) and weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Best<T> {
    /// The validation loss.
    pub loss: f64,
    /// The epoch, from 1.
    pub epoch: usize,
    /// The weights at the end of that epoch.
    pub network: Network<T>,
}

/// Everything a trainer carries from one batch to the next, besides its buffers: optimizer state,
/// generators, row order, progress, history and early-stopping state.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainerSnapshot<T> {
    /// Epochs completed.
    pub epoch: usize,
    /// The optimizer's step count and velocities or moments.
    pub optimizer: OptimizerState<T>,
    /// Shuffling generator.
    pub data_rng: Rng,
    /// Reports of the completed epochs.
    pub history: Vec<EpochReport>,
    /// Early stopping: the best epoch so far.
    pub best: Option<Best<T>>,
    /// Early stopping: epochs since the best one.
    pub since_best: usize,
    /// The current epoch's shuffled row order.
    pub order: Vec<usize>,
    /// An epoch interrupted part-way, if any.
    pub partial: Option<PartialEpoch>,
}

impl<T> TrainerSnapshot<T> {
    /// Checks the snapshot is whole for `net`: the row order is a permutation of the training rows
    /// (or a batch would read out of range) and an interrupted epoch has one norm sum per layer.
    /// Returns the reason when not.
    pub fn check(&self, net: &Network<T>) -> std::result::Result<(), String> {
        let mut seen = vec![false; self.order.len()];
        for &i in &self.order {
            if i >= self.order.len() || std::mem::replace(&mut seen[i], true) {
                return Err("tensor 'trainer.order' is not a permutation of the training rows".into());
            }
        }
        if let Some(p) = &self.partial
            && p.norm_sums.len() != net.layers.len()
        {
            return Err("the interrupted epoch's state does not match the network".into());
        }
        Ok(())
    }

    /// Checks the snapshot fits a trainer of `rows` training rows whose optimizer keeps state
    /// shaped like `fresh`.
    pub(super) fn fits(&self, rows: usize, fresh: &OptimizerState<T>) -> Result<()> {
        if rows != self.order.len() {
            return Err(Error::InvalidValue {
                what: "checkpoint".into(),
                message: format!(
                    "it was written for {} training rows but the data now has {}; use the same data and --val-size",
                    self.order.len(),
                    rows
                ),
            });
        }
        if fresh.m.len() != self.optimizer.m.len() || fresh.v.len() != self.optimizer.v.len() {
            return Err(Error::InvalidValue {
                what: "checkpoint".into(),
                message: "its optimizer state does not match the optimizer of this run".into(),
            });
        }
        Ok(())
    }
}
