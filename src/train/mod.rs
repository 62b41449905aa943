//! Training: [`config`] (what to do, and the checks before a run), [`trainer`] (epochs of
//! shuffled mini-batches, forward, δ recursion, optimizer step; validation, early stopping and
//! divergence checks), [`data_parallel`] (a batch halved between two threads; across processes, `processes` and
//! [`crate::distributed`]), [`checkpoint`]
//! (the trainer's state as plain data), [`report`] (what a run tells its caller) and [`cv`]
//! (k-fold cross-validation) and [`recipe`] (the image and table defaults, with the weight-decay
//! search).
//!
//! The library knows nothing about the terminal: progress goes to a [`Progress`] the caller supplies.

pub mod checkpoint;
pub mod config;
pub mod cv;
pub mod data_parallel;
mod processes;
pub mod recipe;
pub mod report;
pub mod trainer;

pub use checkpoint::{Best, TrainerSnapshot};
pub use config::{TrainConfig, check_run};
pub use cv::cross_validate;
pub use data_parallel::{JOINT_MIN, SPLIT_BATCH_MIN};
pub use recipe::{DataKind, Recipe, WeightDecaySearch, search_weight_decay};
pub use report::{EpochOutcome, EpochReport, PartialEpoch, Progress, TrainSummary};
pub use trainer::{Checkpoints, NORM_EVERY, RunEnd, SaveCheckpoint, Trainer, train, train_checkpointed, train_with};
