//! `neuralnet predict MODEL IMAGE...`: read digits from photos or scans (PNG, JPEG).
//! `neuralnet predict MODEL --csv FILE [--out FILE]`: a model trained on a table, applied to each
//! row: a CSV of the predicted class and the class probabilities, or the predicted value.

use super::common::Format;
use anyhow::{Context, Result, bail};
use clap::Args;
use neuralnet::Predictor;
use neuralnet::data::photo::{self, SIDE};
use neuralnet::data::table::{Table, Task};
use neuralnet::metrics::argmax;
use neuralnet::model_file::{self, Model};
use neuralnet::predictor::probabilities;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    /// The model file (trained on 28×28 MNIST-style images).
    model: PathBuf,
    /// One or more PNG or JPEG images, each of a single digit.
    #[arg(required_unless_present = "csv", conflicts_with = "csv")]
    images: Vec<PathBuf>,
    /// A CSV table with the model's feature columns (any order; other columns are ignored).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// With --csv: write the predictions here instead of to stdout.
    #[arg(long, requires = "csv", value_name = "FILE")]
    out: Option<PathBuf>,
    /// Output format (json: an array with one object per image).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// How many of the most likely classes to print.
    #[arg(long, default_value_t = 3)]
    top: usize,
    /// Call the network unsure when its top probability is below this.
    #[arg(long, default_value_t = 0.6)]
    unsure_below: f64,
    /// Write the 28×28 image the network saw to this PNG file (with several images: FILE-1.png, …).
    #[arg(long, value_name = "FILE")]
    show_input: Option<PathBuf>,
}

pub fn run(args: PredictArgs) -> Result<()> {
    let model = model_file::load(&args.model)?;
    if let Some(csv) = &args.csv {
        return predict_csv(&model, &args.model, csv, args.out.as_deref());
    }
    model.require_photos(&args.model, "predict", SIDE)?;
    let inputs = read_images(&args.images)?;
    if let Some(out) = &args.show_input {
        for (i, p) in inputs.iter().enumerate() {
            let file = if inputs.len() == 1 { out.clone() } else { numbered(out, i + 1) };
            write_png(&file, &p.pixels)?;
        }
    }
    let norm = &model.info.normalization;
    let x: Vec<f32> = inputs.iter().flat_map(|p| p.pixels.iter().map(|&v| norm.apply(f64::from(v)) as f32)).collect();
    let out = Predictor::new(model.network.clone(), norm.apply(0.0) as f32).predict(&x, inputs.len())?;
    let k = model.network.outputs();
    let names = model.info.classes.clone().unwrap_or_default();
    let name = |c: usize| names.get(c).cloned().unwrap_or_else(|| c.to_string());

    let mut json = Vec::new();
    for ((path, p), row) in args.images.iter().zip(&inputs).zip(out.chunks(k)) {
        let probs = probabilities(&model.network, row);
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        let best = order[0];
        let unsure = probs[best] < args.unsure_below;
        if args.format == Format::Json {
            json.push(serde_json::json!({
                "file": path.display().to_string(),
                "prediction": best,
                "probabilities": probs,
                "ink": p.ink,
                "unsure": unsure || !p.ink,
                "inverted": p.inverted,
            }));
            continue;
        }
        let top: Vec<String> =
            order.iter().take(args.top.max(1)).map(|&c| format!("{} {:.1}%", name(c), probs[c] * 100.0)).collect();
        let note = if !p.ink {
            " — no ink found (blank or too faint): the prediction means nothing".to_string()
        } else if unsure {
            format!(" — unsure (top probability below {:.0}%)", args.unsure_below * 100.0)
        } else {
            String::new()
        };
        println!("{}: {} ({}){note}", path.display(), name(best), top.join(", "));
    }
    if args.format == Format::Json {
        println!("{}", serde_json::Value::Array(json));
    }
    Ok(())
}

/// Reads and preprocesses every image first: one unreadable file stops the command, and every
/// one is named.
fn read_images(paths: &[PathBuf]) -> Result<Vec<photo::Preprocessed>> {
    let mut inputs = Vec::with_capacity(paths.len());
    let mut failures = Vec::new();
    for path in paths {
        match photo::load_and_preprocess(path) {
            Ok(p) => inputs.push(p),
            Err(e) => failures.push(e.to_string()),
        }
    }
    match failures.len() {
        0 => Ok(inputs),
        1 => bail!("{}", failures[0]),
        n => bail!("cannot read {n} of the {} images:\n  {}", paths.len(), failures.join("\n  ")),
    }
}

/// Predictions for every row of the table at `path`, as CSV on stdout or in `out`.
fn predict_csv(model: &Model, model_path: &Path, path: &Path, out: Option<&Path>) -> Result<()> {
    let tab = model.require_table(model_path, "predict")?;
    let table = Table::read(path)?;
    super::data::warn_unseen_categories(tab, &table, path);
    let x = tab.features(&table)?;
    let y = model.network.predict(&x, table.len())?;
    let k = model.network.outputs();
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let header: Vec<String> = match tab.task {
        Task::Classify => {
            std::iter::once(tab.target.clone()).chain(tab.classes.iter().map(|c| format!("p_{c}"))).collect()
        }
        Task::Regress => vec![tab.target.clone()],
    };
    w.write_record(&header)?;
    for row in y.chunks(k) {
        let record: Vec<String> = match tab.task {
            Task::Classify => {
                let probs = probabilities(&model.network, row);
                std::iter::once(tab.classes[argmax(row)].clone())
                    .chain(probs.iter().map(|p| format!("{p:.6}")))
                    .collect()
            }
            Task::Regress => vec![format!("{}", tab.unscale_target(row[0]))],
        };
        w.write_record(&record)?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("cannot write the predictions: {e}"))?;
    match out {
        Some(o) => {
            model_file::write_atomic(o, &bytes).with_context(|| format!("cannot write {}", o.display()))?;
            eprintln!("wrote {} predictions to {}", table.len(), o.display());
        }
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(())
}

/// `dir/name.png` → `dir/name-3.png`.
fn numbered(path: &Path, i: usize) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{i}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{i}"),
    };
    path.with_file_name(name)
}

fn write_png(path: &Path, pixels: &[u8]) -> Result<()> {
    use ::image::ImageEncoder;
    let mut bytes = Vec::new();
    ::image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(pixels, SIDE as u32, SIDE as u32, ::image::ExtendedColorType::L8)
        .with_context(|| format!("cannot encode {}", path.display()))?;
    model_file::write_atomic(path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
