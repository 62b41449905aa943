//! `neuralnet train`: the main job. With no arguments, trains the default digit reader on MNIST:
//! 784-1024-10 ReLU, softmax + cross-entropy, Adam (η = 1e-3, cosine decay over 30 epochs), batch
//! 128, dropout 0.3, 5,000 training images held out for validation. Nothing in it is digit-specific.
//!
//! With `--csv FILE --target COLUMN` it trains on a table instead (see [`neuralnet::data::table`]):
//! one hidden layer of 64 ReLU units, Adam (η = 1e-3, constant), batch 32, up to 1,000 epochs with
//! early stopping (patience 50) on a stratified 15% validation split, the best weights kept, and
//! the L2 weight decay chosen from 0, 0.001, 0.01, 0.03, 0.1 by 5-fold cross-validation on the
//! training rows (tables up to 20,000 rows; `--l2` skips the search).

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use neuralnet::data::table::{self, Column, Prepared, Table, Tabular, Task};
use neuralnet::dataset::Normalization;
use neuralnet::model_file::{self, Model, ModelInfo};
use neuralnet::optimizer::{Method, Schedule};
use neuralnet::train::{self, EpochOutcome, Trainer, check_run};
use neuralnet::{
    Activation, Dataset, EpochReport, Init, Loss, Network, Optimizer, Progress, Targets, TrainConfig, metrics,
};
use serde::{Deserialize, Serialize};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// CSV: fraction of the rows held out for validation, stratified by class [default: 0.15].
    #[arg(long, requires = "csv", conflicts_with = "val_size")]
    pub val_fraction: Option<f64>,
    /// Where to save the model [default: model.safetensors].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// All layer widths, input first, e.g. 784,128,10.
    #[arg(long, value_delimiter = ',', conflicts_with = "hidden")]
    pub layers: Option<Vec<usize>>,
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
    /// Write the checkpoint every N epochs (and after the last); 0 turns checkpoints off [default: 1].
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Continue the run saved in this checkpoint: its settings apply; --epochs (the total),
    /// --out, --checkpoint, --checkpoint-every, --metrics, --data-dir and --threads may be given.
    #[arg(long)]
    #[serde(skip)]
    pub resume: Option<PathBuf>,
    /// Read options from a TOML file (command-line flags win).
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
}

impl TrainArgs {
    /// Fills unset options from `file` (flags given on the command line win).
    fn merged_with(self, file: TrainArgs) -> TrainArgs {
        macro_rules! pick {
            ($($f:ident),*) => { TrainArgs { $($f: self.$f.or(file.$f),)* config: self.config, resume: self.resume } };
        }
        pick!(
            data_dir,
            csv,
            target,
            task,
            impute,
            val_fraction,
            out,
            layers,
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

/// The fully resolved settings, recorded in the model file.
#[derive(Debug, Serialize)]
struct Resolved {
    sizes: Vec<usize>,
    activation: Activation,
    output_activation: Activation,
    loss: Loss,
    init: Init,
    config: TrainConfig,
    val_size: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    csv: Option<PathBuf>,
}

/// Set by the first Ctrl-C: finish the batch, write a checkpoint, stop.
static STOP: AtomicBool = AtomicBool::new(false);

fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond interrupt: exiting now");
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: finishing the current batch, then writing a checkpoint (Ctrl-C again quits at once)");
    });
}

pub fn run(cli: TrainArgs) -> Result<()> {
    // On --resume the checkpoint's settings apply; only run-control flags come from the command line.
    let (mut args, checkpoint) = match &cli.resume {
        Some(path) => {
            let ck = model_file::load_checkpoint(path)?;
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
    };
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("model.safetensors"));
    let threads = super::common::set_threads(args.threads.unwrap_or(0));
    args.threads = Some(threads);
    let ckpt_path = args.checkpoint.clone().unwrap_or_else(|| {
        let mut p = out.clone().into_os_string();
        p.push(".ckpt");
        PathBuf::from(p)
    });
    let ckpt_every = args.checkpoint_every.unwrap_or(1);

    // A table is read first: its task chooses the output and loss. Images: settings first, so
    // that a typo fails before any data is read.
    let table = match &args.csv {
        Some(path) => Some(prepare_csv(&args, path)?),
        None => None,
    };
    let csv = table.is_some();
    let regress = table.as_ref().is_some_and(|p| p.tabular.task == Task::Regress);
    let activation = Activation::parse(args.activation.as_deref().unwrap_or("relu"))?;
    let output_activation =
        Activation::parse(args.output_activation.as_deref().unwrap_or(if regress { "identity" } else { "softmax" }))?;
    let loss = Loss::parse(args.loss.as_deref().unwrap_or(if regress { "half-mse" } else { "cross-entropy" }))?;
    loss.check_output(output_activation)?;
    let init = match &args.init {
        Some(s) => Init::parse(s)?,
        None => Init::default_for(activation),
    };
    let method = Method::parse(args.optimizer.as_deref().unwrap_or("adam"), args.momentum.unwrap_or(0.9))?;
    let default_lr = if matches!(method, Method::Adam { .. } | Method::AdamW { .. }) { 1e-3 } else { 0.1 };
    let mut schedule = Schedule::parse(args.schedule.as_deref().unwrap_or(if csv { "constant" } else { "cosine" }))?;
    if let Schedule::Step { every, gamma } = &mut schedule {
        *every = args.step_every.unwrap_or(*every);
        *gamma = args.step_gamma.unwrap_or(*gamma);
    }
    let mut config = TrainConfig {
        epochs: args.epochs.unwrap_or(if csv { 1000 } else { 30 }),
        batch_size: args.batch_size.unwrap_or(if csv { 32 } else { 128 }),
        optimizer: Optimizer {
            method,
            lr: args.lr.unwrap_or(default_lr),
            weight_decay: args.l2.unwrap_or(0.0),
            schedule,
            warmup: args.warmup.unwrap_or(0.0),
        },
        dropout: args.dropout.unwrap_or(if csv { 0.0 } else { 0.3 }),
        seed: args.seed.unwrap_or(1),
        threads,
        patience: args.patience.or(csv.then_some(50)),
        augment: None,
    };
    config.validate()?;
    for (what, path) in [("the model", &out), ("the checkpoint", &ckpt_path)] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            bail!("cannot save {what} to {}: directory {} does not exist", path.display(), dir.display());
        }
    }

    let data = match table {
        Some(p) => csv_data(p, args.hidden.as_deref()),
        None => image_data(&args)?,
    };
    let Data { train_set, val_set, test, sizes, norm, input_shape, classes, data_dir, tabular } = data;
    if let Some(spec) = &args.augment {
        let Some((rows, cols)) = input_shape else {
            bail!("--augment distorts images; a table cannot be augmented");
        };
        // The background: a blank (0) pixel after normalisation.
        let fill = (0.0 / norm.divide - norm.mean) / norm.std;
        config.augment = neuralnet::data::augment::Augment::parse(spec, cols, rows, fill)?;
    }
    if csv && args.l2.is_none() {
        let make = || Network::<f32>::new(&sizes, activation, output_activation, loss, init, config.seed);
        let l2 = choose_weight_decay(make, &train_set, &config)?;
        config.optimizer.weight_decay = l2;
        // Recorded, so that a resumed run keeps it rather than searching again.
        args.l2 = Some(l2);
    }
    let val_size = val_set.len();
    let mut net = Network::<f32>::new(&sizes, activation, output_activation, loss, init, config.seed)?;
    let mut trainer = Trainer::new(&net, train_set.len(), &config);
    if let Some((path, ck)) = checkpoint {
        if ck.model.network.sizes() != sizes {
            bail!(
                "{}: the checkpoint's network is {:?} but these settings and data give {:?}",
                path.display(),
                ck.model.network.sizes(),
                sizes
            );
        }
        net = ck.model.network;
        ck.state.restore(&mut trainer).with_context(|| format!("{}", path.display()))?;
        eprintln!("resuming {} after epoch {} of {}", path.display(), trainer.epoch, config.epochs);
    }
    check_run(&net, &train_set, (!val_set.is_empty()).then_some(&val_set), &config)?;

    let resolved = Resolved {
        sizes: sizes.clone(),
        activation,
        output_activation,
        loss,
        init,
        config: config.clone(),
        val_size,
        data_dir,
        csv: args.csv.clone(),
    };
    let mut info = ModelInfo {
        sizes: sizes.clone(),
        activations: vec![],
        loss,
        normalization: norm,
        input_shape,
        classes,
        training: serde_json::to_value(&resolved)?,
        test_accuracy: None,
        tabular,
    };
    let settings = serde_json::to_value(&args)?;

    eprintln!(
        "training {} ({} parameters) on {} {} ({} held out for validation), {} epochs, batch {}, {} {} lr {}, {} thread(s)",
        sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-"),
        net.parameter_count(),
        train_set.len(),
        if csv { "rows" } else { "images" },
        val_set.len(),
        config.epochs,
        config.batch_size,
        config.optimizer.method.name(),
        loss,
        config.optimizer.lr,
        threads
    );
    if let Some(a) = &config.augment {
        eprintln!("each training image distorted afresh every epoch: {a}");
    }
    install_interrupt_handler();
    let mut progress = CliProgress::new(config.epochs, args.metrics.as_deref(), trainer.epoch > 0)?;
    let val = (!val_set.is_empty()).then_some(&val_set);
    let t0 = std::time::Instant::now();
    let save_ckpt = |net: &Network<f32>, trainer: &Trainer<f32>, info: &ModelInfo| {
        model_file::save_checkpoint(&ckpt_path, &Model::new(net.clone(), info.clone()), trainer, &settings)
    };
    let end = trainer.install(|t| -> Result<End> {
        while t.epoch < config.epochs {
            match t.run_epoch(&mut net, &train_set, val, &config, &mut progress)? {
                EpochOutcome::Interrupted => {
                    save_ckpt(&net, t, &info)?;
                    return Ok(End::Interrupted);
                }
                EpochOutcome::Finished { stop, .. } => {
                    let last = t.epoch == config.epochs || stop;
                    if ckpt_every > 0 && (t.epoch.is_multiple_of(ckpt_every) || last) {
                        save_ckpt(&net, t, &info)?;
                    }
                    if stop {
                        return Ok(End::StoppedEarly);
                    }
                    if STOP.load(Ordering::SeqCst) && !last {
                        save_ckpt(&net, t, &info)?;
                        return Ok(End::Interrupted);
                    }
                }
            }
        }
        Ok(End::Done)
    });
    progress.finish();
    let end = match end {
        Ok(e) => e,
        Err(e) if trainer.epoch > 0 && matches!(e.downcast_ref(), Some(neuralnet::Error::Diverged { .. })) => {
            // The network holds the weights from the end of the last good epoch: keep them.
            model_file::save(&Model::new(net, info), &out)?;
            bail!("{e}; the last good model (end of epoch {}) was saved to {}", trainer.epoch, out.display());
        }
        Err(e) => return Err(e),
    };
    let train_seconds = t0.elapsed().as_secs_f64();
    if end == End::Interrupted {
        let resume = format!("neuralnet train --resume {} --epochs {}", ckpt_path.display(), config.epochs);
        eprintln!("stopped after epoch {}; checkpoint saved to {}", trainer.epoch, ckpt_path.display());
        eprintln!("resume with: {resume}");
        std::process::exit(130);
    }
    if end == End::StoppedEarly {
        let best = trainer.restore_best(&mut net);
        eprintln!(
            "early stopping: no better validation loss for {} epochs; keeping epoch {best}",
            config.patience.unwrap_or(0)
        );
    }

    match &test {
        Some(test) => {
            let eval = metrics::evaluate(&net, test, 1000, threads)?;
            let acc = eval.accuracy.unwrap_or(0.0);
            eprintln!(
                "test accuracy: {:.2}% on {} images (training took {:.1} s)",
                acc * 100.0,
                test.len(),
                train_seconds
            );
            info.test_accuracy = Some(acc);
        }
        None => {
            let what = match (&info.tabular, val_set.is_empty()) {
                (Some(t), false) => {
                    let out = net.predict(&val_set.x, val_set.len())?;
                    match &val_set.targets {
                        Targets::Classes { labels, .. } => {
                            let k = net.outputs();
                            let right =
                                out.chunks(k).zip(labels).filter(|(o, l)| metrics::argmax(o) == **l as usize).count();
                            format!("validation accuracy {:.2}%", right as f64 / labels.len() as f64 * 100.0)
                        }
                        Targets::Values { y, .. } => {
                            let p: Vec<f64> = out.iter().map(|&v| t.unscale_target(v)).collect();
                            let y: Vec<f64> = y.iter().map(|&v| t.unscale_target(v)).collect();
                            let m = metrics::regression_metrics(&p, &y);
                            format!("validation R² {:.4}, RMSE {:.4}", m.r2, m.rmse)
                        }
                    }
                }
                _ => "no validation rows".to_string(),
            };
            eprintln!("{what} (training took {train_seconds:.1} s)");
        }
    }
    model_file::save(&Model::new(net, info), &out)?;
    eprintln!("saved model to {}", out.display());
    Ok(())
}

/// Weight decays tried for a table when `--l2` is not given.
const L2_CANDIDATES: [f64; 5] = [0.0, 0.001, 0.01, 0.03, 0.1];
/// Folds of that search.
const L2_FOLDS: usize = 5;
/// Above this many training rows the search is skipped (it costs folds × candidates runs) and no
/// decay is used: large tables need less regularisation.
const L2_SEARCH_MAX_ROWS: usize = 20_000;

/// The `--l2` default for tables: small tables overfit easily and a held-out split of a few dozen
/// rows is too noisy to choose on, so each candidate is scored by k-fold cross-validation on the
/// training rows (mean best validation loss) and the lowest wins.
fn choose_weight_decay(
    make_net: impl Fn() -> neuralnet::Result<Network<f32>>,
    train_set: &Dataset<f32>,
    config: &TrainConfig,
) -> Result<f64> {
    if train_set.len() > L2_SEARCH_MAX_ROWS || train_set.len() < 2 * L2_FOLDS {
        return Ok(0.0);
    }
    let mut scores = Vec::with_capacity(L2_CANDIDATES.len());
    for l2 in L2_CANDIDATES {
        let mut c = config.clone();
        c.optimizer.weight_decay = l2;
        c.patience = Some(c.patience.unwrap_or(50));
        scores.push((l2, train::cross_validate(&make_net, train_set, L2_FOLDS, &c)?));
    }
    let (best, _) = scores.iter().copied().fold((0.0, f64::INFINITY), |b, s| if s.1 < b.1 { s } else { b });
    eprintln!(
        "weight decay (--l2) chosen by {L2_FOLDS}-fold cross-validation on the training rows: {best} (mean validation loss {})",
        scores.iter().map(|(l, s)| format!("{l}: {s:.4}")).collect::<Vec<_>>().join(", ")
    );
    Ok(best)
}

/// The data of a run, whichever its source.
struct Data {
    train_set: Dataset<f32>,
    val_set: Dataset<f32>,
    /// The test images (a CSV run has none: evaluate with `eval --csv`).
    test: Option<Dataset<f32>>,
    sizes: Vec<usize>,
    norm: Normalization,
    input_shape: Option<(usize, usize)>,
    classes: Option<Vec<String>>,
    data_dir: Option<PathBuf>,
    tabular: Option<Tabular>,
}

fn image_data(args: &TrainArgs) -> Result<Data> {
    let (idx, data_dir) = super::data::load(args.data_dir.as_deref())?;
    let pixels = idx.train_images.rows * idx.train_images.cols;
    let norm = Normalization::pixels();
    let full = Dataset::from_images(&idx.train_images.pixels, pixels, &idx.train_labels, idx.classes, &norm)?;
    let test = Dataset::from_images(&idx.test_images.pixels, pixels, &idx.test_labels, idx.classes, &norm)?;
    let val_size = args.val_size.unwrap_or(5000.min(full.len() / 10));
    if val_size >= full.len() {
        bail!("--val-size {val_size} leaves no training images (the training set has {})", full.len());
    }
    let (train_set, val_set) = full.split_off_end(val_size);

    let sizes = match (&args.layers, &args.hidden) {
        (Some(layers), _) => {
            if layers.first() != Some(&pixels) || layers.last() != Some(&idx.classes) {
                bail!(
                    "--layers {} does not fit the data: the first width must be {pixels} (pixels per image) and the last {} (classes); or use --hidden",
                    layers.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(","),
                    idx.classes
                );
            }
            layers.clone()
        }
        (None, hidden) => {
            let hidden = hidden.clone().unwrap_or_else(|| vec![1024]);
            std::iter::once(pixels).chain(hidden).chain(std::iter::once(idx.classes)).collect()
        }
    };
    Ok(Data {
        train_set,
        val_set,
        test: Some(test),
        sizes,
        norm,
        input_shape: Some((idx.train_images.rows, idx.train_images.cols)),
        classes: Some((0..idx.classes).map(|c| c.to_string()).collect()),
        data_dir: Some(data_dir),
        tabular: None,
    })
}

/// Reads the table, infers what it can and says so, splits and encodes it.
fn prepare_csv(args: &TrainArgs, path: &Path) -> Result<Prepared> {
    let target = args.target.clone().context("--csv needs --target COLUMN (the column to predict)")?;
    let task = args.task.as_deref().map(Task::parse).transpose()?;
    let table = Table::read(path)?;
    let val_fraction = match (args.val_fraction, args.val_size) {
        (Some(f), _) => f,
        (None, Some(n)) => n as f64 / table.len() as f64,
        (None, None) => 0.15,
    };
    let opts = table::Options {
        target,
        task,
        impute: args.impute.unwrap_or(false),
        val_fraction,
        seed: args.seed.unwrap_or(1),
    };
    let p = table::prepare(&table, &opts)?;
    let t = &p.tabular;
    let how = if p.task_inferred { "chosen from the target's values; --task to override" } else { "as asked" };
    let what = match t.task {
        Task::Classify => format!("{} classes: {}", t.classes.len(), t.classes.join(", ")),
        Task::Regress => format!("mean {:.4}, std {:.4}", t.target_mean, t.target_std),
    };
    eprintln!("{}: {} rows; target '{}': {} ({what}) — {how}", path.display(), table.len(), t.target, t.task.name());
    let categorical: Vec<&str> =
        t.columns.iter().filter(|c| matches!(c, Column::Categorical { .. })).map(|c| c.name()).collect();
    eprintln!(
        "{} feature columns ({} numeric, standardised; {} text, one-hot: {}) → {} inputs",
        t.columns.len(),
        t.columns.len() - categorical.len(),
        categorical.len(),
        if categorical.is_empty() { "none".to_string() } else { categorical.join(", ") },
        t.width()
    );
    Ok(p)
}

fn csv_data(p: Prepared, hidden: Option<&[usize]>) -> Data {
    let hidden: Vec<usize> = hidden.unwrap_or(&[64]).iter().copied().filter(|&h| h > 0).collect();
    let t = p.tabular;
    let sizes = std::iter::once(t.width()).chain(hidden).chain(std::iter::once(t.outputs())).collect();
    Data {
        train_set: p.train,
        val_set: p.val,
        test: None,
        sizes,
        norm: Normalization::default(),
        input_shape: None,
        classes: (t.task == Task::Classify).then(|| t.classes.clone()),
        data_dir: None,
        tabular: Some(t),
    }
}

/// How a training run ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Done,
    StoppedEarly,
    Interrupted,
}

/// A progress bar per epoch on a terminal, one plain line per epoch otherwise; metrics to a file.
struct CliProgress {
    bar: Option<ProgressBar>,
    epochs: usize,
    metrics: Option<std::fs::File>,
    /// Asked once: a system call per batch shows in runs with tiny batches.
    terminal: bool,
}

impl CliProgress {
    fn new(epochs: usize, metrics: Option<&Path>, append: bool) -> Result<Self> {
        let metrics = match metrics {
            Some(p) => {
                let file =
                    std::fs::OpenOptions::new().create(true).write(true).append(append).truncate(!append).open(p);
                Some(file.with_context(|| format!("cannot create metrics file {}", p.display()))?)
            }
            None => None,
        };
        Ok(Self { bar: None, epochs, metrics, terminal: std::io::stderr().is_terminal() })
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Progress for CliProgress {
    fn should_stop(&mut self) -> bool {
        STOP.load(Ordering::SeqCst)
    }

    fn batch(&mut self, epoch: usize, done: usize, total: usize, loss: f64) {
        if !self.terminal {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} {per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b
        });
        if done == 1 {
            bar.reset();
            bar.set_length(total as u64);
            bar.set_prefix(format!("epoch {epoch}/{}", self.epochs));
        }
        if done.is_multiple_of(20) || done == total {
            bar.set_message(format!("loss {loss:.4}"));
            bar.set_position(done as u64);
        }
    }

    fn epoch(&mut self, r: &EpochReport) {
        let mut line = format!("epoch {}/{}: train loss {:.4}", r.epoch, self.epochs, r.train_loss);
        if let Some(a) = r.train_accuracy {
            line += &format!(" acc {:.2}%", a * 100.0);
        }
        if let Some(l) = r.val_loss {
            line += &format!(" | val loss {l:.4}");
        }
        if let Some(a) = r.val_accuracy {
            line += &format!(" acc {:.2}%", a * 100.0);
        }
        line += &format!(" | lr {:.3e} | {:.2} s, {:.0} img/s", r.lr, r.seconds, r.samples_per_sec);
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
        if let Some(f) = &mut self.metrics
            && let Ok(json) = serde_json::to_string(r)
        {
            let _ = writeln!(f, "{json}");
            let _ = f.flush();
        }
    }
}
