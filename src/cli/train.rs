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
mod progress;
mod source;

pub use args::TrainArgs;
use progress::{CliProgress, install_interrupt_handler};
use source::{Data, csv_data, image_data, prepare_csv};

use anyhow::{Context, Result, bail};
use neuralnet::data::table::{Tabular, Task};
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

pub fn run(cli: TrainArgs) -> Result<()> {
    let (mut args, checkpoint) = args::resolve(cli)?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("model.safetensors"));
    let threads = super::common::set_threads(args.threads.unwrap_or(0));
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
        eprintln!("note: {why}");
    }
    let (layers, mut config) = settings(&args, &recipe, threads)?;
    for (what, path) in [("the model", &out), ("the checkpoint", &ckpt_path)] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            bail!("cannot save {what} to {}: directory {} does not exist", path.display(), dir.display());
        }
    }
    let data = match table {
        Some(p) => csv_data(p, args.hidden.as_deref().unwrap_or(&recipe.hidden)),
        None => image_data(&args, &recipe.hidden)?,
    };
    let arch = Architecture::mlp(&data.sizes, layers.activation, layers.output, layers.loss).init(layers.init);
    let (mut net, mut trainer, mut info) = prepare(&mut args, &data, &arch, &mut config, &recipe, checkpoint)?;
    let settings = serde_json::to_value(&args)?;
    announce(&net, &data, &config, arch.loss, threads);

    install_interrupt_handler();
    let mut progress = CliProgress::new(config.epochs, args.metrics.as_deref(), trainer.epoch() > 0)?;
    let val = (!data.val_set.is_empty()).then_some(&data.val_set);
    let t0 = std::time::Instant::now();
    let mut save_ckpt = |net: &Network<f32>, trainer: &Trainer<f32>| {
        model_file::save_checkpoint(&ckpt_path, &Model::new(net.clone(), info.clone()), &trainer.snapshot(), &settings)
    };
    let every = args.checkpoint_every.unwrap_or(1);
    let checkpoints = Checkpoints { every, save: &mut save_ckpt };
    let end =
        train::train_checkpointed(&mut net, &mut trainer, &data.train_set, val, &config, &mut progress, checkpoints);
    progress.finish();
    let end = match end {
        Ok(e) => e,
        Err(e @ neuralnet::Error::Diverged { .. }) if trainer.epoch() > 0 => {
            // The network holds the weights from the end of the last good epoch: keep them.
            model_file::save(&Model::new(net, info), &out)?;
            bail!("{e}; the last good model (end of epoch {}) was saved to {}", trainer.epoch(), out.display());
        }
        Err(e) => return Err(e.into()),
    };
    let train_seconds = t0.elapsed().as_secs_f64();
    match end {
        RunEnd::Interrupted => {
            let resume = format!("neuralnet train --resume {} --epochs {}", ckpt_path.display(), config.epochs);
            eprintln!("stopped after epoch {}; checkpoint saved to {}", trainer.epoch(), ckpt_path.display());
            eprintln!("resume with: {resume}");
            std::process::exit(130);
        }
        RunEnd::StoppedEarly => {
            let best = trainer.restore_best(&mut net);
            eprintln!(
                "early stopping: no better validation loss for {} epochs; keeping epoch {best}",
                config.patience.unwrap_or(0)
            );
        }
        RunEnd::Done => {}
    }
    info.test_accuracy = report(&net, &data, info.tabular.as_ref(), threads, train_seconds)?;
    model_file::save(&Model::new(net, info), &out)?;
    eprintln!("saved model to {}", out.display());
    Ok(())
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

/// Augmentation, the table's weight-decay search, the network (or the checkpoint's), its trainer
/// and the model's description with the resolved settings.
fn prepare(
    args: &mut TrainArgs,
    data: &Data,
    arch: &Architecture,
    config: &mut TrainConfig,
    recipe: &Recipe,
    checkpoint: Option<(PathBuf, Checkpoint)>,
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
    if recipe.search_weight_decay && args.l2.is_none() {
        let make = || arch.build::<f32>(config.seed);
        let search = train::search_weight_decay(make, &data.train_set, config)?;
        if !search.scores.is_empty() {
            eprintln!(
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
        eprintln!("resuming {} after epoch {} of {}", path.display(), trainer.epoch(), config.epochs);
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
fn announce(net: &Network<f32>, data: &Data, config: &TrainConfig, loss: Loss, threads: usize) {
    eprintln!(
        "training {} ({} parameters) on {} {} ({} held out for validation), {} epochs, batch {}, {} {} lr {}, {} thread(s)",
        data.sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-"),
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
        eprintln!("each training image distorted afresh every epoch: {a}");
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
) -> Result<Option<f64>> {
    if let Some(test) = &data.test {
        let acc = metrics::evaluate(net, test, 1000, threads)?.accuracy.unwrap_or(0.0);
        eprintln!("test accuracy: {:.2}% on {} images (training took {:.1} s)", acc * 100.0, test.len(), train_seconds);
        return Ok(Some(acc));
    }
    let what = match (tabular, data.val_set.is_empty()) {
        (Some(t), false) => match metrics::score(net, &data.val_set, |v| v * t.target_std + t.target_mean)? {
            Score::Accuracy(a) => format!("validation accuracy {:.2}%", a * 100.0),
            Score::Regression(m) => format!("validation R² {:.4}, RMSE {:.4}", m.r2, m.rmse),
        },
        _ => "no validation rows".to_string(),
    };
    eprintln!("{what} (training took {train_seconds:.1} s)");
    Ok(None)
}
