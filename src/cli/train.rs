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
use progress::{CliProgress, End, install_interrupt_handler, stop_requested};
use source::{Data, csv_data, image_data, prepare_csv};

use anyhow::{Context, Result, bail};
use neuralnet::data::table::Task;
use neuralnet::model_file::{self, Model, ModelInfo};
use neuralnet::optimizer::{Method, Schedule};
use neuralnet::train::{self, DataKind, EpochOutcome, Recipe, Trainer, check_run};
use neuralnet::{Activation, Architecture, Init, Loss, Network, Optimizer, Targets, TrainConfig, metrics};
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
    let kind = match &table {
        Some(p) => DataKind::Table { regress: p.tabular.task == Task::Regress },
        None => DataKind::Images,
    };
    // The library's defaults for this kind of data; each flag given overrides its setting.
    let recipe = Recipe::for_data(kind);
    let activation = args.activation.as_deref().map(Activation::parse).transpose()?.unwrap_or(recipe.activation);
    let output_activation =
        args.output_activation.as_deref().map(Activation::parse).transpose()?.unwrap_or(recipe.output_activation);
    let loss = args.loss.as_deref().map(Loss::parse).transpose()?.unwrap_or(recipe.loss);
    loss.check_output(output_activation)?;
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
    let Data { train_set, val_set, test, sizes, norm, input_shape, classes, data_dir, tabular } = data;
    let architecture = Architecture::mlp(&sizes, activation, output_activation, loss).init(init);
    if let Some(spec) = &args.augment {
        let Some((rows, cols)) = input_shape else {
            bail!("--augment distorts images; a table cannot be augmented");
        };
        // The background: a blank (0) pixel after normalisation.
        let fill = (0.0 / norm.divide - norm.mean) / norm.std;
        config.augment = neuralnet::data::augment::Augment::parse(spec, cols, rows, fill)?;
    }
    if recipe.search_weight_decay && args.l2.is_none() {
        let make = || architecture.build::<f32>(config.seed);
        let search = train::search_weight_decay(make, &train_set, &config)?;
        if !search.scores.is_empty() {
            eprintln!(
                "weight decay (--l2) chosen by {}-fold cross-validation on the training rows: {} (mean validation loss {})",
                train::recipe::L2_FOLDS,
                search.best,
                search.scores.iter().map(|(l, s)| format!("{l}: {s:.4}")).collect::<Vec<_>>().join(", ")
            );
        }
        let l2 = search.best;
        config.optimizer.weight_decay = l2;
        // Recorded, so that a resumed run keeps it rather than searching again.
        args.l2 = Some(l2);
    }
    let val_size = val_set.len();
    let mut net = architecture.build::<f32>(config.seed)?;
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
        trainer.restore(ck.state).with_context(|| format!("{}", path.display()))?;
        eprintln!("resuming {} after epoch {} of {}", path.display(), trainer.epoch(), config.epochs);
    }
    check_run(&net, &train_set, (!val_set.is_empty()).then_some(&val_set), &config)?;

    let resolved = Resolved {
        architecture: architecture.clone(),
        config: config.clone(),
        val_size,
        data_dir,
        csv: args.csv.clone(),
    };
    let mut info = ModelInfo {
        architecture,
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
    let mut progress = CliProgress::new(config.epochs, args.metrics.as_deref(), trainer.epoch() > 0)?;
    let val = (!val_set.is_empty()).then_some(&val_set);
    let t0 = std::time::Instant::now();
    let save_ckpt = |net: &Network<f32>, trainer: &Trainer<f32>, info: &ModelInfo| {
        model_file::save_checkpoint(&ckpt_path, &Model::new(net.clone(), info.clone()), &trainer.snapshot(), &settings)
    };
    let end = trainer.install(|t| -> Result<End> {
        while t.epoch() < config.epochs {
            match t.run_epoch(&mut net, &train_set, val, &config, &mut progress)? {
                EpochOutcome::Interrupted => {
                    save_ckpt(&net, t, &info)?;
                    return Ok(End::Interrupted);
                }
                EpochOutcome::Finished { stop, .. } => {
                    let last = t.epoch() == config.epochs || stop;
                    if ckpt_every > 0 && (t.epoch().is_multiple_of(ckpt_every) || last) {
                        save_ckpt(&net, t, &info)?;
                    }
                    if stop {
                        return Ok(End::StoppedEarly);
                    }
                    if stop_requested() && !last {
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
        Err(e) if trainer.epoch() > 0 && matches!(e.downcast_ref(), Some(neuralnet::Error::Diverged { .. })) => {
            // The network holds the weights from the end of the last good epoch: keep them.
            model_file::save(&Model::new(net, info), &out)?;
            bail!("{e}; the last good model (end of epoch {}) was saved to {}", trainer.epoch(), out.display());
        }
        Err(e) => return Err(e),
    };
    let train_seconds = t0.elapsed().as_secs_f64();
    if end == End::Interrupted {
        let resume = format!("neuralnet train --resume {} --epochs {}", ckpt_path.display(), config.epochs);
        eprintln!("stopped after epoch {}; checkpoint saved to {}", trainer.epoch(), ckpt_path.display());
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
