//! `neuralnet predict MODEL IMAGE...`: read digits from photos or scans (PNG, JPEG).
//! `neuralnet predict MODEL --csv FILE [--out FILE]`: a model trained on a table, applied to each
//! row: a CSV of the predicted class and the class probabilities, or the predicted value.

use super::common::Format;
use anyhow::{Context, Result, bail};
use clap::Args;
use neuralnet::data::photo::{self, SIDE};
use neuralnet::data::table::{Table, Task};
use neuralnet::metrics::argmax;
use neuralnet::model_file::{self, Model};
use neuralnet::{Activation, Predictor};
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
    check_model(&model, &args.model)?;
    // Read every image first: one unreadable file stops the command, and every one is named.
    let mut inputs = Vec::with_capacity(args.images.len());
    let mut failures = Vec::new();
    for path in &args.images {
        match photo::load_and_preprocess(path) {
            Ok(p) => inputs.push(p),
            Err(e) => failures.push(e.to_string()),
        }
    }
    match failures.len() {
        0 => {}
        1 => bail!("{}", failures[0]),
        n => bail!("cannot read {n} of the {} images:\n  {}", args.images.len(), failures.join("\n  ")),
    }
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
    let softmax = model.network.layers.last().is_some_and(|l| l.activation == Activation::Softmax);
    let names = model.info.classes.clone().unwrap_or_default();
    let name = |c: usize| names.get(c).cloned().unwrap_or_else(|| c.to_string());

    let mut json = Vec::new();
    for ((path, p), row) in args.images.iter().zip(&inputs).zip(out.chunks(k)) {
        let probs = probabilities(row, softmax);
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

/// Predictions for every row of the table at `path`, as CSV on stdout or in `out`.
fn predict_csv(model: &Model, model_path: &Path, path: &Path, out: Option<&Path>) -> Result<()> {
    let Some(tab) = &model.info.tabular else {
        bail!("{} was not trained on a CSV table (it reads images): predict without --csv", model_path.display());
    };
    let table = Table::read(path)?;
    super::data::warn_unseen_categories(tab, &table, path);
    let x = tab.features(&table)?;
    let y = model.network.predict(&x, table.len())?;
    let k = model.network.outputs();
    let softmax = model.network.layers.last().is_some_and(|l| l.activation == Activation::Softmax);
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
                let probs = probabilities(row, softmax);
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

/// The model must read 28×28 images.
pub(super) fn check_model(model: &Model, path: &Path) -> Result<()> {
    if model.info.tabular.is_some() {
        bail!("{} was trained on a CSV table: predict with --csv FILE", path.display());
    }
    let shape_ok = model.info.input_shape.is_none_or(|s| s == (SIDE, SIDE));
    if model.network.inputs() != SIDE * SIDE || !shape_ok {
        bail!(
            "{} takes {} inputs{}, but photos are read as {SIDE}×{SIDE} = {} pixels (MNIST's size); use a model trained on MNIST-style images",
            path.display(),
            model.network.inputs(),
            model.info.input_shape.map(|(r, c)| format!(" ({r}×{c} images)")).unwrap_or_default(),
            SIDE * SIDE
        );
    }
    Ok(())
}

/// Softmax outputs as they are; other outputs made into a distribution (non-negative ones divided
/// by their sum, else a softmax).
pub(super) fn probabilities(row: &[f32], softmax: bool) -> Vec<f64> {
    let v: Vec<f64> = row.iter().map(|&x| f64::from(x)).collect();
    if softmax {
        return v;
    }
    let sum: f64 = v.iter().sum();
    if v.iter().all(|&x| x >= 0.0) && sum > 0.0 {
        return v.iter().map(|x| x / sum).collect();
    }
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = v.iter().map(|x| (x - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
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
