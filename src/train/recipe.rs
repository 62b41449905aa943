//! The two defaults a run starts from, the same for the command and for a library user: the digit
//! reader on images and the small-table model, with the table's weight-decay search.
//!
//! Images: 784-1024-10 ReLU, softmax + cross-entropy, Adam (η = 1e-3, cosine decay over 30 epochs),
//! batch 128, dropout 0.3. Tables: one hidden layer of 64 ReLU units (softmax + cross-entropy, or
//! identity + half squared error for regression), Adam (η = 1e-3, constant), batch 32, up to 1,000
//! epochs with early stopping (patience 50), and the L2 weight decay chosen by
//! [`search_weight_decay`].

use super::config::TrainConfig;
use super::cv::fold_score;
use crate::activation::Activation;
use crate::architecture::Architecture;
use crate::dataset::Dataset;
use crate::distributed::Collective;
use crate::error::Result;
use crate::init::Init;
use crate::kernels::Float;
use crate::loss::Loss;
use crate::network::Network;
use crate::optimizer::{Method, Optimizer, Schedule};
use crate::split::folds;
use rayon::prelude::*;

/// What a run learns from; the defaults differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    /// Images (MNIST-style): the digit reader.
    Images,
    /// A CSV table, classifying (`regress: false`) or predicting a number.
    Table {
        /// Whether the target is a number to predict rather than a class.
        regress: bool,
    },
}

/// The defaults of a run: every setting a user may override.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Activation of the hidden layers.
    pub activation: Activation,
    /// Activation of the output layer.
    pub output_activation: Activation,
    /// The loss.
    pub loss: Loss,
    /// The optimizer's method.
    pub method: Method,
    /// Its learning-rate schedule.
    pub schedule: Schedule,
    /// Total epochs.
    pub epochs: usize,
    /// Rows per mini-batch.
    pub batch_size: usize,
    /// Dropout on hidden layers.
    pub dropout: f64,
    /// Early-stopping patience, if any.
    pub patience: Option<usize>,
    /// Whether the weight decay is chosen by [`search_weight_decay`] (tables) rather than 0.
    pub search_weight_decay: bool,
}

impl Recipe {
    /// The defaults for `kind`.
    pub fn for_data(kind: DataKind) -> Self {
        let adam = Method::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
        match kind {
            DataKind::Images => Recipe {
                hidden: vec![1024],
                activation: Activation::Relu,
                output_activation: Activation::Softmax,
                loss: Loss::CrossEntropy,
                method: adam,
                schedule: Schedule::Cosine { min_lr: 0.0 },
                epochs: 30,
                batch_size: 128,
                dropout: 0.3,
                patience: None,
                search_weight_decay: false,
            },
            DataKind::Table { regress } => Recipe {
                hidden: vec![64],
                activation: Activation::Relu,
                output_activation: if regress { Activation::Identity } else { Activation::Softmax },
                loss: if regress { Loss::HalfMse } else { Loss::CrossEntropy },
                method: adam,
                schedule: Schedule::Constant,
                epochs: 1000,
                batch_size: 32,
                dropout: 0.0,
                patience: Some(50),
                search_weight_decay: true,
            },
        }
    }

    /// Fits the recipe to a table too small to hold out rows: with no validation rows there is
    /// nothing to stop early on, so early stopping is turned off (all epochs run, the last weights
    /// are kept) and the reason is returned, in the user's terms, to be shown. `None`: nothing
    /// changed.
    pub fn fit_to_validation_rows(&mut self, train_rows: usize, val_rows: usize) -> Option<String> {
        if val_rows > 0 || self.patience.is_none() {
            return None;
        }
        self.patience = None;
        let search = if self.search_weight_decay && train_rows < 2 * L2_FOLDS {
            format!(", and no weight-decay search (it needs at least {} training rows; 0 is used)", 2 * L2_FOLDS)
        } else {
            String::new()
        };
        Some(format!(
            "{train_rows} rows are too few to hold out a validation split, so there is no early stopping: every \
             epoch runs and the last weights are kept{search}"
        ))
    }

    /// The learning rate `method` starts from when none is given: 1e-3 for Adam and AdamW, 0.1
    /// for gradient descent with or without momentum.
    pub fn default_lr(method: Method) -> f64 {
        if matches!(method, Method::Adam { .. } | Method::AdamW { .. }) { 1e-3 } else { 0.1 }
    }

    /// The network for `inputs` inputs and `outputs` outputs, initialised as usual for its hidden
    /// activation ([`Init::default_for`]).
    pub fn architecture(&self, inputs: usize, outputs: usize) -> Architecture {
        let sizes: Vec<usize> =
            std::iter::once(inputs).chain(self.hidden.iter().copied()).chain(std::iter::once(outputs)).collect();
        Architecture::mlp(&sizes, self.activation, self.output_activation, self.loss)
            .init(Init::default_for(self.activation))
    }

    /// The training settings, seeded with `seed`, on `threads` threads (no weight decay yet: see
    /// [`search_weight_decay`]).
    pub fn config(&self, seed: u64, threads: usize) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs,
            batch_size: self.batch_size,
            optimizer: Optimizer {
                method: self.method,
                lr: Self::default_lr(self.method),
                weight_decay: 0.0,
                schedule: self.schedule,
                warmup: 0.0,
            },
            dropout: self.dropout,
            seed,
            threads,
            patience: self.patience,
            augment: None,
        }
    }
}

/// Weight decays tried by [`search_weight_decay`].
pub const L2_CANDIDATES: [f64; 5] = [0.0, 0.001, 0.01, 0.03, 0.1];
/// Folds of that search.
pub const L2_FOLDS: usize = 5;
/// Above this many training rows the search is skipped (it costs folds × candidates runs) and no
/// decay is used: large tables need less regularisation.
pub const L2_SEARCH_MAX_ROWS: usize = 20_000;

/// What [`search_weight_decay`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightDecaySearch {
    /// The decay chosen (0 when the search was skipped).
    pub best: f64,
    /// Each candidate with its mean validation loss over the folds; empty when skipped.
    pub scores: Vec<(f64, f64)>,
}

/// The weight decay for a table: small tables overfit easily and a held-out split of a few dozen
/// rows is too noisy to choose on, so each of [`L2_CANDIDATES`] is scored by [`L2_FOLDS`]-fold
/// cross-validation on the training rows (mean best validation loss, early stopping with the
/// config's patience or 50) and the lowest wins. Skipped (0) above [`L2_SEARCH_MAX_ROWS`] rows or
/// with fewer than two rows per fold.
///
/// The 25 runs are shared between the processes of `c` (run `j` in process `j mod N`), whose
/// scores are summed, and within a process between `config.threads` threads, each run on one
/// thread: the same choice whatever the number of processes or threads.
pub fn search_weight_decay<T: Float>(
    make_net: impl Fn() -> Result<Network<T>> + Sync,
    train_set: &Dataset<T>,
    config: &TrainConfig,
    c: &dyn Collective,
) -> Result<WeightDecaySearch> {
    if train_set.len() > L2_SEARCH_MAX_ROWS || train_set.len() < 2 * L2_FOLDS {
        return Ok(WeightDecaySearch { best: 0.0, scores: Vec::new() });
    }
    let folds = folds(train_set.labels(), train_set.len(), L2_FOLDS, config.seed);
    let runs = L2_CANDIDATES.len() * L2_FOLDS;
    let run = |j: usize| {
        let mut cj = TrainConfig { threads: 1, ..config.clone() };
        cj.optimizer.weight_decay = L2_CANDIDATES[j / L2_FOLDS];
        cj.patience = Some(cj.patience.unwrap_or(50));
        fold_score(&make_net, train_set, &folds, j % L2_FOLDS, &cj).map(|s| (j, s))
    };
    let ids: Vec<usize> = (c.rank()..runs).step_by(c.size()).collect();
    let pool = (config.threads > 1)
        .then(|| rayon::ThreadPoolBuilder::new().num_threads(config.threads).build().ok())
        .flatten();
    let scores: Vec<Result<(usize, f64)>> = match &pool {
        Some(pool) => pool.install(|| ids.par_iter().map(|&j| run(j)).collect()),
        None => ids.iter().map(|&j| run(j)).collect(),
    };
    let mut mine = vec![0.0; runs];
    for r in scores {
        let (j, s) = r?;
        mine[j] = s;
    }
    let mut all = vec![0.0; runs];
    c.sum_f64(&mine, &mut all, "the weight-decay search");
    let scores: Vec<(f64, f64)> = L2_CANDIDATES
        .iter()
        .zip(all.chunks_exact(L2_FOLDS))
        .map(|(&l2, fold_scores)| (l2, fold_scores.iter().sum::<f64>() / L2_FOLDS as f64))
        .collect();
    let (best, _) = scores.iter().copied().fold((0.0, f64::INFINITY), |b, s| if s.1 < b.1 { s } else { b });
    Ok(WeightDecaySearch { best, scores })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recipes_state_the_documented_defaults() {
        let images = Recipe::for_data(DataKind::Images);
        let arch = images.architecture(784, 10);
        assert_eq!(arch.sizes(), [784, 1024, 10]);
        assert_eq!(arch.init, Some(Init::HeUniform));
        let c = images.config(1, 2);
        assert_eq!((c.epochs, c.batch_size, c.dropout, c.optimizer.lr), (30, 128, 0.3, 1e-3));
        let table = Recipe::for_data(DataKind::Table { regress: true });
        assert_eq!(table.architecture(5, 1).activations(), [Activation::Relu, Activation::Identity]);
        assert_eq!(table.loss, Loss::HalfMse);
        assert_eq!(table.config(1, 1).patience, Some(50));
        assert_eq!(Recipe::default_lr(Method::parse("sgd", 0.9).unwrap()), 0.1);
    }

    #[test]
    fn a_table_without_validation_rows_trains_without_early_stopping() {
        let mut table = Recipe::for_data(DataKind::Table { regress: false });
        assert_eq!(table.fit_to_validation_rows(40, 6), None);
        assert_eq!(table.patience, Some(50));
        let why = table.fit_to_validation_rows(3, 0).unwrap();
        assert_eq!(table.patience, None);
        assert!(why.contains("3 rows") && why.contains("no early stopping") && why.contains("at least 10"), "{why}");
        let mut images = Recipe::for_data(DataKind::Images);
        assert_eq!(images.fit_to_validation_rows(3, 0), None);
    }

    #[test]
    fn the_search_is_skipped_on_too_few_rows() {
        let data = Dataset::<f32>::classification(vec![0.0, 1.0, 2.0, 3.0], 1, vec![0, 1, 0, 1], 2).unwrap();
        let make = || Architecture::mlp(&[1, 2], Activation::Softmax, Activation::Softmax, Loss::CrossEntropy).build(1);
        let found = search_weight_decay(make, &data, &TrainConfig::default(), &crate::distributed::Solo).unwrap();
        assert_eq!(found, WeightDecaySearch { best: 0.0, scores: vec![] });
    }

    #[test]
    fn the_search_chooses_the_same_whatever_the_number_of_processes() {
        let x: Vec<f32> = (0..60 * 3).map(|i| ((i * 29) % 17) as f32 / 17.0 - 0.5).collect();
        let labels: Vec<u32> = (0..60).map(|i| u32::from(x[3 * i] + x[3 * i + 1] > 0.0)).collect();
        let data = Dataset::classification(x, 3, labels, 2).unwrap();
        let make = || Architecture::mlp(&[3, 6, 2], Activation::Relu, Activation::Softmax, Loss::CrossEntropy).build(2);
        let config = TrainConfig {
            epochs: 20,
            batch_size: 8,
            patience: Some(5),
            optimizer: Optimizer::adam(0.02),
            ..Default::default()
        };
        let alone = search_weight_decay(make, &data, &config, &crate::distributed::Solo).unwrap();
        assert_eq!(alone.scores.len(), L2_CANDIDATES.len());
        for size in [2, 3] {
            let world = crate::distributed::InProcess::world(size);
            let found: Vec<WeightDecaySearch> = std::thread::scope(|s| {
                let hs: Vec<_> =
                    world.iter().map(|c| s.spawn(|| search_weight_decay(make, &data, &config, c).unwrap())).collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert!(found.iter().all(|f| *f == alone), "{size} processes: {found:?} vs {alone:?}");
        }
    }

    #[test]
    fn the_search_chooses_the_same_whatever_the_number_of_threads() {
        let x: Vec<f32> = (0..60 * 3).map(|i| ((i * 31) % 19) as f32 / 19.0 - 0.5).collect();
        let labels: Vec<u32> = (0..60).map(|i| u32::from(x[3 * i] - x[3 * i + 2] > 0.0)).collect();
        let data = Dataset::classification(x, 3, labels, 2).unwrap();
        let make = || Architecture::mlp(&[3, 6, 2], Activation::Relu, Activation::Softmax, Loss::CrossEntropy).build(4);
        let config = |threads| TrainConfig {
            epochs: 15,
            batch_size: 32,
            threads,
            patience: Some(5),
            optimizer: Optimizer::adam(0.02),
            ..Default::default()
        };
        let one = search_weight_decay(make, &data, &config(1), &crate::distributed::Solo).unwrap();
        let two = search_weight_decay(make, &data, &config(2), &crate::distributed::Solo).unwrap();
        assert_eq!(one, two);
    }
}
