//! How to train ([`TrainConfig`]), and the checks before a run that the data fit the network and
//! the settings are usable ([`check_run`]).

use crate::data::augment::Augment;
use crate::dataset::Dataset;
use crate::error::{Error, Result, shape_error};
use crate::kernels::Float;
use crate::network::Network;
use crate::optimizer::Optimizer;
use serde::{Deserialize, Serialize};

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
        if let Some(a) = &self.augment {
            a.validate()?;
        }
        Ok(())
    }
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
