//! `neuralnet eval MODEL`: accuracy, per-class precision and recall, confusion matrix.

use super::Format;
use anyhow::Result;
use clap::Args;
use neuralnet::{metrics, model_file};
use std::path::PathBuf;

/// Arguments of `eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The model file.
    model: PathBuf,
    /// Directory holding the IDX files; default: MNIST from the cache.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Output format (json: one object on stdout).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Threads for the matrix products [default: all cores].
    #[arg(long)]
    threads: Option<usize>,
}

pub fn run(args: EvalArgs) -> Result<()> {
    let threads = super::set_threads(args.threads.unwrap_or(0));
    let model = model_file::load(&args.model)?;
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
