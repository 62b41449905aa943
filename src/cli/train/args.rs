//! `train`'s options: from flags, from a `--config` TOML file, or from a checkpoint's settings.

use anyhow::{Context, Result};
use clap::Args;
use neuralnet::distributed::{self, Collective};
use neuralnet::model_file::{self, Checkpoint};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Every training option; each may also come from `--config FILE` (TOML, same names with `_`).
#[derive(Args, Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct TrainArgs {
    /// Directory holding the four IDX files (NAME or NAME.gz); default: MNIST from the cache.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Train on a CSV table (header row required) instead of images; needs --target.
    #[arg(long, conflicts_with_all = ["data_dir", "layers"], requires = "target")]
    pub csv: Option<PathBuf>,
    /// The CSV column to predict.
    #[arg(long, requires = "csv")]
    pub target: Option<String>,
    /// classify or regress [default: classify when the target is text or has ≤ 20 distinct integers].
    #[arg(long, requires = "csv")]
    pub task: Option<String>,
    /// CSV: fill missing feature values (training mean; most frequent category) instead of refusing them.
    #[arg(long, requires = "csv", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub impute: Option<bool>,
    /// CSV: leave out these columns (comma-separated).
    #[arg(long, requires = "csv", value_delimiter = ',')]
    pub drop: Option<Vec<String>>,
    /// CSV: keep these columns even if they look like identifiers (a different value in nearly
    /// every row, or a name such as `id`, `user_id`, `order_no`), which are left out by default.
    #[arg(long, requires = "csv", value_delimiter = ',')]
    pub keep: Option<Vec<String>>,
    /// CSV: one-hot at most this many categories per text column, the most frequent; the rest
    /// share one "other" input [default: 100].
    #[arg(long, requires = "csv")]
    pub max_categories: Option<usize>,
    /// CSV: fraction of the rows held out for validation, stratified by class [default: 0.15].
    #[arg(long, requires = "csv", conflicts_with = "val_size")]
    pub val_fraction: Option<f64>,
    /// Where to save the model [default: model.safetensors].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// All layer widths, input first, e.g. 784,128,10.
    #[arg(long, value_delimiter = ',', conflicts_with = "hidden")]
    pub layers: Option<Vec<usize>>,
    /// A convolutional network, its layers comma-separated, e.g.
    /// conv:32:5:same,pool:2,conv:64:5:same,pool:2,dense:1024,dense:10 — conv:CHANNELS:K[:valid|same]
    /// (stride 1, valid by default; same needs an odd K), pool:2 (2×2 max pooling), dense:WIDTH;
    /// convolutions and pooling first, the last dense width the number of classes. Each layer
    /// takes the --activation (the last dense one --output-activation) unless it names its own
    /// (conv:32:5:same:tanh, dense:10:softmax). The input shape comes from the data.
    #[arg(long, conflicts_with_all = ["layers", "hidden", "csv"])]
    pub arch: Option<String>,
    /// Hidden layer widths, e.g. 256 or 256,128; input and output widths come from the data
    /// [default: 1024; 64 with --csv, where 0 means no hidden layer].
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Hidden activation (relu, tanh, sigmoid[:k[,c]], leaky_relu[:α], identity, step[:t], softmax).
    #[arg(long)]
    pub activation: Option<String>,
    /// Output activation [default: softmax].
    #[arg(long)]
    pub output_activation: Option<String>,
    /// Loss: cross-entropy, half-mse or binary-cross-entropy [default: cross-entropy].
    #[arg(long)]
    pub loss: Option<String>,
    /// Optimizer: sgd, momentum, nesterov, adam or adamw [default: adam].
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Learning rate η [default: 0.001 for adam/adamw, 0.1 otherwise].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Momentum μ for momentum and nesterov [default: 0.9].
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Learning-rate schedule: constant, step or cosine [default: cosine].
    /// (The default recipe; pass `constant` for a fixed rate.)
    #[arg(long)]
    pub schedule: Option<String>,
    /// Epochs between decays of the step schedule [default: 10].
    #[arg(long)]
    pub step_every: Option<usize>,
    /// Factor of each step-schedule decay [default: 0.1].
    #[arg(long)]
    pub step_gamma: Option<f64>,
    /// Linear warm-up of the learning rate over this many epochs [default: 0].
    #[arg(long)]
    pub warmup: Option<f64>,
    /// Weight initialisation [default: he-uniform for ReLU-like, glorot-uniform otherwise].
    #[arg(long)]
    pub init: Option<String>,
    /// Rows per mini-batch [default: 128].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Total number of epochs [default: 30].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// L2 weight decay λ on weights [default: 0; with --csv chosen by 5-fold cross-validation].
    #[arg(long)]
    pub l2: Option<f64>,
    /// Dropout probability on hidden layers [default: 0.3].
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Distort each training image afresh every epoch: `affine`, `elastic` or `affine,elastic`,
    /// with optional settings `rotate=10,scale=0.1,shear=0.1,shift=2` (degrees, fraction, fraction,
    /// pixels) and `alpha=34,sigma=4` (elastic strength and smoothness, pixels) [default: none].
    #[arg(long)]
    pub augment: Option<String>,
    /// Seed for initialisation, shuffling and dropout [default: 1].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Threads for the matrix products [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Training images held out from the end of the training set for validation; 0 for none
    /// [default: 5000, or a tenth of the training set if smaller].
    #[arg(long)]
    pub val_size: Option<usize>,
    /// Stop after this many epochs without a better validation loss, keeping the best weights.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Write one JSON line of metrics per epoch to this file.
    #[arg(long)]
    pub metrics: Option<PathBuf>,
    /// Checkpoint file [default: the --out path with .ckpt appended].
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Write the checkpoint every N epochs (and after the last); 0 turns checkpoints off
    /// [default: every epoch, but at most every 30 s, and after the first and the last].
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Continue the run saved in this checkpoint: its settings apply; --epochs (the total),
    /// --out, --checkpoint, --checkpoint-every, --metrics, --data-dir and --threads may be given.
    #[arg(long)]
    #[serde(skip)]
    pub resume: Option<PathBuf>,
    /// Under an MPI launcher: stop the job when one exchange between processes has waited this
    /// many seconds (a process has died or stopped) [default: 60].
    #[arg(long)]
    #[serde(skip)]
    pub comm_timeout: Option<f64>,
    /// Read options from a TOML file (command-line flags win).
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
}

impl TrainArgs {
    /// Fills unset options from `file` (flags given on the command line win).
    pub(super) fn merged_with(self, file: TrainArgs) -> TrainArgs {
        macro_rules! pick {
            ($($f:ident),*) => { TrainArgs { $($f: self.$f.or(file.$f),)* config: self.config, resume: self.resume, comm_timeout: self.comm_timeout } };
        }
        pick!(
            data_dir,
            csv,
            target,
            task,
            impute,
            drop,
            keep,
            max_categories,
            val_fraction,
            out,
            layers,
            arch,
            hidden,
            activation,
            output_activation,
            loss,
            optimizer,
            lr,
            momentum,
            schedule,
            step_every,
            step_gamma,
            warmup,
            init,
            batch_size,
            epochs,
            l2,
            dropout,
            augment,
            seed,
            threads,
            val_size,
            patience,
            metrics,
            checkpoint,
            checkpoint_every
        )
    }
}

/// The options of a run: on `--resume` the checkpoint's stored settings, with only the run-control
/// flags taken from the command line (and the checkpoint, to restore); else the flags over
/// `--config`'s file.
///
/// In a run over several processes the first reads the checkpoint and sends it to the others: it
/// need only be on its machine.
pub(super) fn resolve(cli: TrainArgs, comm: &dyn Collective) -> Result<(TrainArgs, Option<(PathBuf, Checkpoint)>)> {
    Ok(match &cli.resume {
        Some(path) => {
            let ck = if comm.size() == 1 {
                model_file::load_checkpoint(path)?
            } else {
                let mine = match comm.rank() {
                    0 => std::fs::read(path).with_context(|| format!("cannot read checkpoint {}", path.display()))?,
                    _ => Vec::new(),
                };
                let bytes = distributed::broadcast_bytes(comm, mine, "sending the checkpoint");
                model_file::checkpoint_from_bytes(path, &bytes)?
            };
            let mut stored: TrainArgs = serde_json::from_value(ck.settings.clone())
                .with_context(|| format!("{}: the run's settings cannot be read", path.display()))?;
            stored.epochs = cli.epochs.or(stored.epochs);
            stored.out = cli.out.clone().or(stored.out);
            stored.checkpoint = cli.checkpoint.clone().or(stored.checkpoint);
            stored.checkpoint_every = cli.checkpoint_every.or(stored.checkpoint_every);
            stored.metrics = cli.metrics.clone().or(stored.metrics);
            stored.data_dir = cli.data_dir.clone().or(stored.data_dir);
            stored.csv = cli.csv.clone().or(stored.csv);
            stored.threads = cli.threads.or(stored.threads);
            stored.comm_timeout = cli.comm_timeout;
            (stored, Some((path.clone(), ck)))
        }
        None => match &cli.config {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))?;
                let file: TrainArgs = toml::from_str(&text)
                    .with_context(|| format!("{}: not a valid training config", path.display()))?;
                (cli.clone().merged_with(file), None)
            }
            None => (cli, None),
        },
    })
}
