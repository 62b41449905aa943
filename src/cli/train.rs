//! `neuralnet train`: the main job. With no arguments, trains the default digit reader on MNIST:
//! 784-1024-10 ReLU, softmax + cross-entropy, Adam (η = 1e-3, cosine decay over 30 epochs), batch
//! 128, dropout 0.3, 5,000 training images held out for validation. Nothing in it is digit-specific.
//!
//! With `--csv FILE --target COLUMN` it trains on a table instead (see [`neuralnet::data::table`]):
//! one hidden layer of 64 ReLU units, Adam (η = 1e-3, constant), batch 32, up to 1,000 epochs with
//! early stopping (patience 50) on a stratified 15% validation split, the best weights kept, and
//! the L2 weight decay chosen from 0, 0.001, 0.01, 0.03, 0.1 by 5-fold cross-validation on the
//! training rows (tables up to 20,000 rows; `--l2` skips the search).

mod args;
mod processes;
mod progress;
mod source;

pub use args::TrainArgs;
use processes::Processes;
use progress::{CliProgress, install_interrupt_handler};
use source::{Data, csv_data, image_data, prepare_csv};

use super::common::{say, set_quiet};
use anyhow::{Context, Result, bail};
use neuralnet::conv::Maps;
use neuralnet::data::table::{Tabular, Task};
use neuralnet::distributed::{self, Collective, Digest};
use neuralnet::metrics::Score;
use neuralnet::model_file::{self, Checkpoint, Model, ModelInfo};
use neuralnet::optimizer::{Method, Schedule};
use neuralnet::train::{self, Checkpoints, DataKind, Recipe, RunEnd, Trainer, check_run};
use neuralnet::{Activation, Architecture, Init, Loss, Network, Optimizer, TrainConfig, metrics};
use serde::Serialize;
use std::path::PathBuf;

/// The fully resolved settings, recorded in the model file.
#[derive(Debug, Serialize)]
struct Resolved {
    #[serde(flatten)]
    architecture: Architecture,
    config: TrainConfig,
    val_size: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    csv: Option<PathBuf>,
}

/// Without `--checkpoint-every`, a checkpoint after every epoch but no sooner than this many
/// seconds after the previous one (and always after the first and the last).
const CHECKPOINT_SECONDS: f64 = 30.0;

/// Seconds one exchange between processes may wait before the job is stopped (`--comm-timeout`).
const COMM_TIMEOUT: f64 = 60.0;

pub fn run(cli: TrainArgs) -> Result<()> {
    let procs = Processes::join(cli.comm_timeout.unwrap_or(COMM_TIMEOUT))?;
    let rank = procs.rank();
    set_quiet(rank > 0);
    let result = train_as(cli, &procs);
    if let (Err(e), true) = (&result, procs.size() > 1) {
        // Every process meets a disagreement or a divergence alike: process 0 says it. Then the
        // job ends here, without waiting for the others (who may be waiting for this one).
        let shared = e
            .downcast_ref::<neuralnet::Error>()
            .is_some_and(|e| matches!(e, neuralnet::Error::Distributed(_) | neuralnet::Error::Diverged { .. }));
        match rank {
            0 => eprintln!("error: {e:#}"),
            _ if !shared => eprintln!("error: process {rank}: {e:#}"),
            _ => {}
        }
        std::process::exit(1);
    }
    result
}

/// Trains as one of the processes `procs` (one alone, or all of a distributed run: each reads
/// the same data, process 0 alone prints and writes files).
fn train_as(cli: TrainArgs, procs: &Processes) -> Result<()> {
    let comm = &*procs.comm;
    let (mut args, checkpoint) = args::resolve(cli, comm)?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("model.safetensors"));
    let threads = super::common::set_threads(args.threads.unwrap_or_else(|| procs.default_threads()));
    args.threads = Some(threads);
    let ckpt_path = args.checkpoint.clone().unwrap_or_else(|| {
        let mut p = out.clone().into_os_string();
        p.push(".ckpt");
        PathBuf::from(p)
    });

    // A table is read first: its task chooses the output and loss. Images: settings first, so
    // that a typo fails before any data is read.
    let table = args.csv.as_ref().map(|path| prepare_csv(&args, path)).transpose()?;
    let kind = match &table {
        Some(p) => DataKind::Table { regress: p.tabular.task == Task::Regress },
        None => DataKind::Images,
    };
    let mut recipe = Recipe::for_data(kind);
    if let Some(p) = &table
        && let Some(why) = recipe.fit_to_validation_rows(p.train.len(), p.val.len())
    {
        say!("note: {why}");
    }
    let (layers, mut config) = settings(&args, &recipe, threads)?;
    for (what, path) in [("the model", &out), ("the checkpoint", &ckpt_path)] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
            && rank_writes(comm)
        {
            bail!("cannot save {what} to {}: directory {} does not exist", path.display(), dir.display());
        }
        if path.is_dir() && rank_writes(comm) {
            bail!("cannot save {what} to {}: it is a directory; give a file name", path.display());
        }
    }
    let data = match table {
        Some(p) => csv_data(p, args.hidden.as_deref().unwrap_or(&recipe.hidden)),
        None => image_data(&args, &recipe.hidden)?,
    };
    let arch = match &args.arch {
        Some(spec) => conv_architecture(spec, &args, &data, &layers)?,
        None => Architecture::mlp(&data.sizes, layers.activation, layers.output, layers.loss).init(layers.init),
    };
    agree(comm, &args, &arch, &config, &data)?;
    let (mut net, mut trainer, mut info) = prepare(&mut args, &data, &arch, &mut config, &recipe, checkpoint, comm)?;
    distributed::broadcast_network(comm, &mut net);
    trainer.distribute(&net, procs.comm.clone());
    let settings = serde_json::to_value(&args)?;
    announce(&net, &data, &config, arch.loss, threads, comm.size());

    install_interrupt_handler();
    let metrics_log = args.metrics.as_deref().filter(|_| rank_writes(comm));
    let mut progress = CliProgress::new(config.epochs, metrics_log, trainer.epoch() > 0)?;
    let val = (!data.val_set.is_empty()).then_some(&data.val_set);
    let t0 = std::time::Instant::now();
    let mut save_ckpt = |net: &Network<f32>, trainer: &Trainer<f32>| match rank_writes(comm) {
        true => model_file::save_checkpoint(
            &ckpt_path,
            &Model::new(net.clone(), info.clone()),
            &trainer.snapshot(),
            &settings,
        ),
        false => Ok(()),
    };
    // By default every epoch, but at most every CHECKPOINT_SECONDS; as asked when asked.
    let every = args.checkpoint_every.unwrap_or(1);
    let min_seconds = if args.checkpoint_every.is_some() { 0.0 } else { CHECKPOINT_SECONDS };
    let checkpoints = Checkpoints { every, min_seconds, save: &mut save_ckpt };
    let end =
        train::train_checkpointed(&mut net, &mut trainer, &data.train_set, val, &config, &mut progress, checkpoints);
    progress.finish();
    let end = match end {
        Ok(e) => e,
        Err(e @ neuralnet::Error::Diverged { .. }) if trainer.epoch() > 0 => {
            // The network holds the weights from the end of the last good epoch: keep them.
            if rank_writes(comm) {
                model_file::save(&Model::new(net, info), &out)?;
            }
            wait_for_process_zero(comm);
            bail!("{e}; the last good model (end of epoch {}) was saved to {}", trainer.epoch(), out.display());
        }
        Err(e) => return Err(e.into()),
    };
    let train_seconds = t0.elapsed().as_secs_f64();
    match end {
        RunEnd::Interrupted => {
            let mut resume = format!("neuralnet train --resume {} --epochs {}", ckpt_path.display(), config.epochs);
            if comm.size() > 1 {
                resume = format!("mpirun -np {} {resume} (with any number of processes)", comm.size());
            }
            say!("stopped after epoch {}; checkpoint saved to {}", trainer.epoch(), ckpt_path.display());
            say!("resume with: {resume}");
            wait_for_process_zero(comm);
            std::process::exit(130);
        }
        RunEnd::StoppedEarly => {
            let best = trainer.restore_best(&mut net);
            say!(
                "early stopping: no better validation loss for {} epochs; keeping epoch {best}",
                config.patience.unwrap_or(0)
            );
        }
        RunEnd::Done => {}
    }
    info.test_accuracy = report(&net, &data, info.tabular.as_ref(), threads, train_seconds, comm)?;
    if rank_writes(comm) {
        model_file::save(&Model::new(net, info), &out)?;
        say!("saved model to {}", out.display());
    }
    Ok(())
}

/// Before a run over several processes ends early: the others wait until process 0 has written
/// its files and said what to do, as a launcher stops the whole job once one process exits with
/// an error.
fn wait_for_process_zero(comm: &dyn Collective) {
    comm.broadcast(&mut [0], "the end of the run");
}

/// Whether this process writes the run's files: the only one, or process 0 of several.
fn rank_writes(comm: &dyn Collective) -> bool {
    comm.rank() == 0
}

/// Stops, in every process with one line, when some process was started with other settings or
/// sees other data than process 0 (nothing to check when alone).
fn agree(
    comm: &dyn Collective,
    args: &TrainArgs,
    arch: &Architecture,
    config: &TrainConfig,
    data: &Data,
) -> Result<()> {
    if comm.size() == 1 {
        return Ok(());
    }
    // What may differ between processes: where files are, and the threads of each machine.
    let mut same = args.clone();
    (same.data_dir, same.csv, same.out, same.metrics, same.checkpoint, same.checkpoint_every) =
        (None, None, None, None, None, None);
    (same.threads, same.resume, same.config, same.comm_timeout) = (None, None, None, None);
    let config = TrainConfig { threads: 0, ..config.clone() };
    let settings = serde_json::to_vec(&(same, arch, config))?;
    let version = concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION"));
    let digest = |d: Digest| d.finish();
    let mut items = vec![
        ("program version", digest(Digest::default().bytes(version.as_bytes()))),
        ("settings", digest(Digest::default().bytes(&settings))),
        ("training data", digest(Digest::default().dataset(&data.train_set))),
        ("validation data", digest(Digest::default().dataset(&data.val_set))),
    ];
    if let Some(test) = &data.test {
        items.push(("test data", digest(Digest::default().dataset(test))));
    }
    Ok(distributed::agree(comm, &items)?)
}

/// The network's activations, loss and initialisation as the flags and the recipe give them.
struct Layers {
    activation: Activation,
    output: Activation,
    loss: Loss,
    init: Init,
}

/// The recipe's defaults overridden by the flags given.
fn settings(args: &TrainArgs, recipe: &Recipe, threads: usize) -> Result<(Layers, TrainConfig)> {
    let activation = args.activation.as_deref().map(Activation::parse).transpose()?.unwrap_or(recipe.activation);
    let output =
        args.output_activation.as_deref().map(Activation::parse).transpose()?.unwrap_or(recipe.output_activation);
    let loss = args.loss.as_deref().map(Loss::parse).transpose()?.unwrap_or(recipe.loss);
    loss.check_output(output)?;
    let init = match &args.init {
        Some(s) => Init::parse(s)?,
        None => Init::default_for(activation),
    };
    let method = match &args.optimizer {
        Some(name) => Method::parse(name, args.momentum.unwrap_or(0.9))?,
        None => recipe.method,
    };
    let mut schedule = args.schedule.as_deref().map(Schedule::parse).transpose()?.unwrap_or(recipe.schedule);
    if let Schedule::Step { every, gamma } = &mut schedule {
        *every = args.step_every.unwrap_or(*every);
        *gamma = args.step_gamma.unwrap_or(*gamma);
    }
    let mut config = recipe.config(args.seed.unwrap_or(1), threads);
    config.epochs = args.epochs.unwrap_or(config.epochs);
    config.batch_size = args.batch_size.unwrap_or(config.batch_size);
    config.optimizer = Optimizer {
        method,
        lr: args.lr.unwrap_or(Recipe::default_lr(method)),
        weight_decay: args.l2.unwrap_or(0.0),
        schedule,
        warmup: args.warmup.unwrap_or(0.0),
    };
    config.dropout = args.dropout.unwrap_or(config.dropout);
    config.patience = args.patience.or(config.patience);
    config.validate()?;
    Ok((Layers { activation, output, loss, init }, config))
}

/// Refuses, naming the sizes, a run that would not fit in the memory this machine has available
/// (where the system says: Linux's `MemAvailable`), instead of an allocation that fails and
/// aborts part-way. A rough sum, in f32: the parameters about six times over (weights, gradients,
/// the last good copy, two optimizer moments, a split batch's second gradient), and each row of a
/// batch's values (input and every layer's output) about eight times over (z, a, δ, dropout's mask
/// and output, patches, …).
fn check_memory(arch: &Architecture, config: &TrainConfig, rows: usize) -> Result<()> {
    let size = arch.check_size()?;
    let Some(available) = available_memory() else { return Ok(()) };
    let batch = config.batch_size.clamp(1, rows.max(1)) as u128;
    let need = 4 * (6 * size.parameters + 8 * batch * size.values_per_sample);
    if need > available as u128 {
        let gib = |b: u128| b as f64 / (1u64 << 30) as f64;
        bail!(
            "this network needs about {:.1} GiB to train ({} parameters; {} values per sample in batches of {batch}), \
             more than the {:.1} GiB this machine has available: use fewer or narrower layers, or a smaller \
             --batch-size",
            gib(need),
            size.parameters,
            size.values_per_sample,
            gib(available as u128)
        );
    }
    Ok(())
}

/// The memory the system says is available to a new allocation, in bytes (Linux only).
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Augmentation, the table's weight-decay search, the network (or the checkpoint's), its trainer
/// and the model's description with the resolved settings.
fn prepare(
    args: &mut TrainArgs,
    data: &Data,
    arch: &Architecture,
    config: &mut TrainConfig,
    recipe: &Recipe,
    checkpoint: Option<(PathBuf, Checkpoint)>,
    comm: &dyn Collective,
) -> Result<(Network<f32>, Trainer<f32>, ModelInfo)> {
    if let Some(spec) = &args.augment {
        let Some((rows, cols)) = data.input_shape else {
            bail!("--augment distorts images; a table cannot be augmented");
        };
        // The background: a blank (0) pixel after normalisation.
        let norm = &data.norm;
        let fill = (0.0 / norm.divide - norm.mean) / norm.std;
        config.augment = neuralnet::data::augment::Augment::parse(spec, cols, rows, fill)?;
    }
    check_memory(arch, config, data.train_set.len())?;
    if recipe.search_weight_decay && args.l2.is_none() {
        let make = || arch.build::<f32>(config.seed);
        let search = train::search_weight_decay(make, &data.train_set, config, comm)?;
        if !search.scores.is_empty() {
            say!(
                "weight decay (--l2) chosen by {}-fold cross-validation on the training rows: {} (mean validation loss {})",
                train::recipe::L2_FOLDS,
                search.best,
                search.scores.iter().map(|(l, s)| format!("{l}: {s:.4}")).collect::<Vec<_>>().join(", ")
            );
        }
        config.optimizer.weight_decay = search.best;
        // Recorded, so that a resumed run keeps it rather than searching again.
        args.l2 = Some(search.best);
    }
    let mut net = arch.build::<f32>(config.seed)?;
    let mut trainer = Trainer::new(&net, data.train_set.len(), config);
    if let Some((path, ck)) = checkpoint {
        if ck.model.network.sizes() != data.sizes {
            bail!(
                "{}: the checkpoint's network is {:?} but these settings and data give {:?}",
                path.display(),
                ck.model.network.sizes(),
                data.sizes
            );
        }
        net = ck.model.network;
        trainer.restore(ck.state).with_context(|| format!("{}", path.display()))?;
        say!("resuming {} after epoch {} of {}", path.display(), trainer.epoch(), config.epochs);
    }
    check_run(&net, &data.train_set, (!data.val_set.is_empty()).then_some(&data.val_set), config)?;
    let resolved = Resolved {
        architecture: arch.clone(),
        config: config.clone(),
        val_size: data.val_set.len(),
        data_dir: data.data_dir.clone(),
        csv: args.csv.clone(),
    };
    let info = ModelInfo {
        architecture: arch.clone(),
        normalization: data.norm.clone(),
        input_shape: data.input_shape,
        classes: data.classes.clone(),
        training: serde_json::to_value(&resolved)?,
        test_accuracy: None,
        tabular: data.tabular.clone(),
    };
    Ok((net, trainer, info))
}

/// One line saying what is about to be trained, and how.
fn announce(net: &Network<f32>, data: &Data, config: &TrainConfig, loss: Loss, threads: usize, processes: usize) {
    let processes = match processes {
        1 => String::new(),
        n => format!(" in each of {n} processes (each takes its share of every batch; gradients summed across them)"),
    };
    say!(
        "training {} ({} parameters) on {} {} ({} held out for validation), {} epochs, batch {}, {} {} lr {}, {} thread(s){processes}",
        Architecture::of(net).describe(),
        net.parameter_count(),
        data.train_set.len(),
        if data.tabular.is_some() { "rows" } else { "images" },
        data.val_set.len(),
        config.epochs,
        config.batch_size,
        config.optimizer.method.name(),
        loss,
        config.optimizer.lr,
        threads
    );
    if let Some(a) = &config.augment {
        say!("each training image distorted afresh every epoch: {a}");
    }
}

/// The test accuracy (images), or the validation score in the target's units (tables); returns
/// the test accuracy to record.
fn report(
    net: &Network<f32>,
    data: &Data,
    tabular: Option<&Tabular>,
    threads: usize,
    train_seconds: f64,
    comm: &dyn Collective,
) -> Result<Option<f64>> {
    if let Some(test) = &data.test {
        let acc = metrics::evaluate_across(net, test, 1000, threads, comm)?.accuracy.unwrap_or(0.0);
        say!("test accuracy: {:.2}% on {} images (training took {:.1} s)", acc * 100.0, test.len(), train_seconds);
        return Ok(Some(acc));
    }
    let what = match (tabular, data.val_set.is_empty()) {
        (Some(t), false) => match metrics::score(net, &data.val_set, |v| v * t.target_std + t.target_mean)? {
            Score::Accuracy(a) => format!("validation accuracy {:.2}%", a * 100.0),
            Score::Regression(m) => format!("validation R² {:.4}, RMSE {}", m.r2, super::common::metric(m.rmse, 4)),
        },
        _ => "no validation rows".to_string(),
    };
    say!("{what} (training took {train_seconds:.1} s)");
    Ok(None)
}

/// The network `--arch` describes, on the data's images (one channel).
fn conv_architecture(spec: &str, args: &TrainArgs, data: &Data, layers: &Layers) -> Result<Architecture> {
    if args.layers.is_some() || args.hidden.is_some() {
        bail!("--arch describes every layer: drop --layers and --hidden (given here or in the --config file)");
    }
    let Some((rows, cols)) = data.input_shape else {
        bail!(
            "--arch needs images (a convolution works on maps of rows × columns); a table's columns have no such shape"
        );
    };
    let arch = Architecture::parse_spec(spec, Maps::new(1, rows, cols), layers.activation, layers.output, layers.loss)?
        .init(layers.init);
    let classes = data.sizes.last().copied().unwrap_or(0);
    let last = arch.sizes().last().copied().unwrap_or(0);
    if last != classes {
        bail!(
            "--arch '{spec}': the last dense layer has {last} outputs but the data has {classes} classes (end with dense:{classes})"
        );
    }
    Ok(arch)
}
