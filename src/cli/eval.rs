//! `neuralnet eval MODEL`: accuracy, per-class precision and recall, confusion matrix.
//! `neuralnet eval MODEL --csv FILE`: for a model trained on a table, accuracy, macro-F1 and the
//! confusion matrix (classification) or RMSE, MAE and R² in the target's units (regression).

use super::common::Format;
use anyhow::{Result, bail};
use clap::Args;
use neuralnet::data::table::{self, Table, Task};
use neuralnet::model_file::Model;
use neuralnet::{metrics, model_file};
use std::path::Path;
use std::path::PathBuf;

/// Arguments of `eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The model file.
    model: PathBuf,
    /// Directory holding the IDX files; default: MNIST from the cache.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A CSV table with the model's feature columns and its target column (any order).
    #[arg(long, conflicts_with = "data_dir")]
    csv: Option<PathBuf>,
    /// Output format (json: one object on stdout).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Threads for the matrix products [default: all cores].
    #[arg(long)]
    threads: Option<usize>,
}

pub fn run(args: EvalArgs) -> Result<()> {
    let threads = super::common::set_threads(args.threads.unwrap_or(0));
    let model = model_file::load(&args.model)?;
    if let Some(csv) = &args.csv {
        return eval_csv(&model, &args.model, csv, args.format, threads);
    }
    model.require_images(&args.model, "evaluate it")?;
    let test = super::data::test_set(&model, &args.model, args.data_dir.as_deref())?;
    let e = metrics::evaluate(&model.network, &test, 1000, threads)?;
    let confusion = e.confusion.clone().unwrap_or_default();
    let pr = metrics::precision_recall(&confusion);
    let accuracy = e.accuracy.unwrap_or(0.0);
    if args.format == Format::Json {
        let v = serde_json::json!({
            "accuracy": accuracy,
            "loss": e.loss,
            "test_size": test.len(),
            "confusion": confusion,
            "per_class": pr.iter().enumerate().map(|(c, (p, r))| serde_json::json!({"class": c, "precision": p, "recall": r})).collect::<Vec<_>>(),
        });
        println!("{v}");
        return Ok(());
    }
    println!(
        "test accuracy: {:.2}% ({} of {} images), loss {:.4}",
        accuracy * 100.0,
        (accuracy * test.len() as f64).round(),
        test.len(),
        e.loss
    );
    println!();
    println!("class  precision  recall");
    for (c, (p, r)) in pr.iter().enumerate() {
        println!("{c:>5}  {:>8.2}%  {:>6.2}%", p * 100.0, r * 100.0);
    }
    println!();
    println!("confusion matrix (rows = true class, columns = predicted):");
    print!("      ");
    for c in 0..confusion.len() {
        print!("{c:>6}");
    }
    println!();
    for (t, row) in confusion.iter().enumerate() {
        print!("{t:>5} ");
        for v in row {
            print!("{v:>6}");
        }
        println!();
    }
    Ok(())
}

fn eval_csv(model: &Model, model_path: &Path, path: &Path, format: Format, threads: usize) -> Result<()> {
    let tab = model.require_table(model_path, "evaluate it")?;
    let table = Table::read(path)?;
    super::data::warn_unseen_categories(tab, &table, path);
    let data = tab.dataset(&table)?;
    if data.features != model.network.inputs() || tab.outputs() != model.network.outputs() {
        bail!("{}: its network does not match its own column description (damaged file?)", model_path.display());
    }
    match tab.task {
        Task::Classify => {
            let e = metrics::evaluate(&model.network, &data, 1000, threads)?;
            let confusion = e.confusion.unwrap_or_default();
            let accuracy = e.accuracy.unwrap_or(0.0);
            let f1 = metrics::macro_f1(&confusion);
            if format == Format::Json {
                let v = serde_json::json!({
                    "accuracy": accuracy,
                    "macro_f1": f1,
                    "loss": e.loss,
                    "test_size": data.len(),
                    "classes": tab.classes,
                    "confusion": confusion,
                });
                println!("{v}");
                return Ok(());
            }
            println!(
                "accuracy: {:.2}% ({} of {} rows), macro-F1 {:.4}, loss {:.4}",
                accuracy * 100.0,
                (accuracy * data.len() as f64).round(),
                data.len(),
                f1,
                e.loss
            );
            println!();
            println!("confusion matrix (rows = true class, columns = predicted):");
            let w = tab.classes.iter().map(|c| c.chars().count()).max().unwrap_or(1).max(6);
            print!("{:w$} ", "");
            for c in &tab.classes {
                print!(" {c:>w$}");
            }
            println!();
            for (name, row) in tab.classes.iter().zip(&confusion) {
                print!("{name:>w$} ");
                for v in row {
                    print!(" {v:>w$}");
                }
                println!();
            }
        }
        Task::Regress => {
            let out = model.network.predict(&data.inputs(), data.len())?;
            let predicted: Vec<f64> = out.iter().map(|&v| tab.unscale_target(v)).collect();
            let truth = match tab.targets(&table)? {
                table::Targets::Values(y) => y,
                table::Targets::Classes(_) => bail!("{}: a regression model with class targets", model_path.display()),
            };
            let m = metrics::regression_metrics(&predicted, &truth);
            if format == Format::Json {
                let v = serde_json::json!({"rmse": m.rmse, "mae": m.mae, "r2": m.r2, "test_size": data.len()});
                println!("{v}");
                return Ok(());
            }
            println!(
                "{} rows, target '{}': RMSE {}, MAE {}, R² {:.4}",
                data.len(),
                tab.target,
                super::common::metric(m.rmse, 6),
                super::common::metric(m.mae, 6),
                m.r2
            );
        }
    }
    Ok(())
}
