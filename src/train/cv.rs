//! The weight-decay search's measure: k-fold cross-validation of a training setting.

use super::config::TrainConfig;
use super::trainer::train;
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::kernels::Float;
use crate::network::Network;
use crate::split::folds;

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
    for f in 0..folds.len() {
        total += fold_score(&make_net, data, &folds, f, config)?;
    }
    Ok(total / folds.len() as f64)
}

/// The best validation loss on fold `f` of `folds` (rows of `data`) of a network made by
/// `make_net` and trained on the other folds with `config`; infinite if training diverges.
pub fn fold_score<T: Float>(
    make_net: impl Fn() -> Result<Network<T>>,
    data: &Dataset<T>,
    folds: &[Vec<usize>],
    f: usize,
    config: &TrainConfig,
) -> Result<f64> {
    let rest: Vec<usize> = folds.iter().enumerate().filter(|&(g, _)| g != f).flat_map(|(_, v)| v.clone()).collect();
    let (train_part, val_part) = (data.select(&rest), data.select(&folds[f]));
    let mut net = make_net()?;
    match train(&mut net, &train_part, Some(&val_part), config, &mut ()) {
        Ok(s) => Ok(s.epochs.iter().filter_map(|r| r.val_loss).fold(f64::INFINITY, f64::min)),
        Err(Error::Diverged { .. }) => Ok(f64::INFINITY),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::Architecture;

    #[test]
    fn cross_validation_scores_a_worse_setting_worse() {
        use crate::{Activation, Init, Loss};
        // y = 2x − 1 on 40 rows: a linear network fits it; a huge weight decay cannot.
        let x: Vec<f64> = (0..40).map(|i| i as f64 / 20.0 - 1.0).collect();
        let y: Vec<f64> = x.iter().map(|v| 2.0 * v - 1.0).collect();
        let data = Dataset::regression(x, 1, y, 1).unwrap();
        let make = || {
            Architecture::mlp(&[1, 1], Activation::Identity, Activation::Identity, Loss::HalfMse)
                .init(Init::GlorotUniform)
                .build(3)
        };
        let mut config = TrainConfig { epochs: 200, batch_size: 8, patience: Some(20), ..Default::default() };
        config.optimizer.lr = 0.05;
        let good = cross_validate(make, &data, 4, &config).unwrap();
        config.optimizer.weight_decay = 5.0;
        let bad = cross_validate(make, &data, 4, &config).unwrap();
        assert!(good < 1e-3 && bad > 10.0 * good, "{good} vs {bad}");
    }
}
