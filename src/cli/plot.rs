//! `neuralnet plot`: pictures, each written as PNG and SVG into `--out DIR`. This file parses,
//! loads and trains; the drawing is `neuralnet::plot`.

use super::lang;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use neuralnet::explain::Problem;
use neuralnet::plot::Lang;
use neuralnet::{EpochReport, metrics, model_file};
use std::path::{Path, PathBuf};

/// Arguments of `plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    #[command(subcommand)]
    what: What,
    /// Directory the PNG and SVG files are written to (created if missing).
    #[arg(long, global = true, default_value = ".")]
    out: PathBuf,
    /// Language of titles and labels (default: from the locale). With zh only the SVG is in
    /// Chinese: the PNG stays English, as its embedded font has no Chinese glyphs.
    #[arg(long, global = true, value_parser = lang::parser())]
    lang: Option<Lang>,
}

#[derive(Subcommand, Debug)]
enum What {
    /// The article's figure (the step at 5 against sigmoids of steepness k = 1, 2, 5, 10, 100) and
    /// every activation with its derivative: step-vs-sigmoid.{png,svg}, activations.{png,svg}.
    Activations,
    /// A small network drawn as the article draws its 2-2-1, with every value after the forward
    /// pass of the first sample: network.{png,svg}.
    Network {
        /// The network as JSON, in `explain`'s format (default: the article's 2-2-1 example).
        #[arg(long)]
        net: Option<PathBuf>,
    },
    /// Loss, accuracy and per-layer gradient norms from `train --metrics FILE`: training.{png,svg}.
    Training {
        /// The metrics file (one JSON line per epoch).
        metrics: PathBuf,
    },
    /// Each first-layer neuron's weights as an image ("what the first layer learns"):
    /// weights.{png,svg}.
    Weights {
        /// The model file.
        model: PathBuf,
        /// How many neurons to draw (the first ones).
        #[arg(long, default_value_t = 64)]
        count: usize,
    },
    /// The first convolution's kernels of a convolutional model, each as a small image (the edges
    /// and strokes its first layer learns): filters.{png,svg}.
    Filters {
        /// The model file (trained with --arch).
        model: PathBuf,
        /// How many kernels to draw (the first ones).
        #[arg(long, default_value_t = 64)]
        count: usize,
    },
    /// What each layer of a convolutional model's convolutional part makes of one digit photo or
    /// scan (preprocessed as `predict` does), each channel's map as an image:
    /// feature-maps-1.{png,svg}, feature-maps-2.{png,svg}, … one per layer.
    FeatureMaps {
        /// The model file (trained with --arch).
        model: PathBuf,
        /// The digit image (PNG or JPEG).
        #[arg(long)]
        image: PathBuf,
        /// How many channels of each layer to draw (the first ones).
        #[arg(long, default_value_t = 16)]
        count: usize,
    },
    /// The confusion matrix of a model on the test set, as a heatmap: confusion.{png,svg}.
    Confusion {
        /// The model file.
        model: PathBuf,
        /// Directory holding the IDX files; default: MNIST from the cache.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Threads for the matrix products [default: all cores].
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Training images as `train --augment SPEC` distorts them, each beside a few of its
    /// distortions: augment.{png,svg}.
    Augment {
        /// The distortions, as for `train --augment`.
        #[arg(long, default_value = "affine,elastic")]
        augment: String,
        /// How many training images (the first ones; 1 to 100).
        #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u16).range(1..=100))]
        count: u16,
        /// Distortions drawn per image (at most 12).
        #[arg(long, default_value_t = 6)]
        variants: usize,
        /// Directory holding the IDX files; default: MNIST from the cache.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// The XOR decision boundary of a 2-2-1 network (tanh hidden layer, sigmoid output, binary
    /// cross-entropy), trained here with Adam (lr 0.05, 2000 epochs, batch 4, seed 1):
    /// boundary.{png,svg}.
    Boundary,
}

pub fn run(args: PlotArgs) -> Result<()> {
    let lang = args.lang.unwrap_or_else(lang::from_env);
    let out = args.out.as_path();
    let files = match args.what {
        What::Activations => neuralnet::plot::activations(out, lang)?,
        What::Network { net } => {
            let (problem, article) = Problem::load(net.as_deref())?;
            let trace = problem.trace()?;
            neuralnet::plot::network(&problem, &trace, article, out, lang)?
        }
        What::Training { metrics } => neuralnet::plot::training(&read_metrics(&metrics)?, out, lang)?,
        What::Weights { model, count } => {
            let m = model_file::load(&model)?;
            let Some(shape) = m.info.input_shape else {
                bail!(
                    "{} has no image shape (its inputs are not images), so its weights cannot be drawn as images",
                    model.display()
                );
            };
            if !m.network.features.is_empty() {
                bail!(
                    "{} starts with convolutional layers: its first layer's weights are small kernels, not one image per neuron; `plot weights` draws a fully connected first layer",
                    model.display()
                );
            }
            neuralnet::plot::weights(&m.network.layers[0], shape, count, out, lang)?
        }
        What::Filters { model, count } => {
            let m = model_file::load(&model)?;
            let Some(neuralnet::network::Feature::Conv(first)) = m.network.features.first() else {
                bail!(
                    "{} has no convolutional layer first (train one with --arch conv:…); for a dense first layer use `plot weights`",
                    model.display()
                );
            };
            neuralnet::plot::filters(first, count, out, lang)?
        }
        What::FeatureMaps { model, image, count } => {
            let m = model_file::load(&model)?;
            if m.network.features.is_empty() {
                bail!("{} has no convolutional layers (train one with --arch conv:…)", model.display());
            }
            let p = neuralnet::data::photo::load_and_preprocess(&image)?;
            if !p.ink {
                bail!("{}: no ink found; is there a digit in the image?", image.display());
            }
            if p.pixels.len() != m.network.inputs() {
                bail!(
                    "{} takes {} inputs, but a photo is read as {} pixels",
                    model.display(),
                    m.network.inputs(),
                    p.pixels.len()
                );
            }
            let x: Vec<f32> = p.pixels.iter().map(|&v| m.info.normalization.apply(f64::from(v)) as f32).collect();
            neuralnet::plot::feature_maps(&m.network, &x, count, out, lang)?
        }
        What::Confusion { model, data_dir, threads } => {
            let threads = super::common::set_threads(threads.unwrap_or(0));
            let m = model_file::load(&model)?;
            let test = super::data::test_set(&m, &model, data_dir.as_deref())?;
            let e = metrics::evaluate(&m.network, &test, 1000, threads)?;
            let Some(confusion) = e.confusion else {
                bail!("{} is not a classifier: there is no confusion matrix to draw", model.display());
            };
            neuralnet::plot::confusion(&confusion, m.info.classes.as_deref(), out, lang)?
        }
        What::Augment { augment, count, variants, data_dir } => {
            let (idx, dir) = super::data::load(data_dir.as_deref())?;
            let (rows, cols) = (idx.train_images.rows, idx.train_images.cols);
            if rows != cols {
                bail!("{}: the images are {rows}×{cols}; the figure draws square images", dir.display());
            }
            let Some(a) = neuralnet::data::augment::Augment::parse(&augment, cols, rows, 0.0)? else {
                bail!("--augment {augment}: nothing to draw (no distortion chosen)");
            };
            let n = usize::from(count).min(idx.train_images.count);
            let px = rows * cols;
            let images: Vec<f32> = idx.train_images.pixels[..n * px].iter().map(|&v| f32::from(v) / 255.0).collect();
            neuralnet::plot::augmented(&images, cols, &a, variants.min(12), out, lang)?
        }
        What::Boundary => {
            let net = neuralnet::xor::trained(1)?;
            let points = [([0.0, 0.0], 0.0), ([0.0, 1.0], 1.0), ([1.0, 0.0], 1.0), ([1.0, 1.0], 0.0)];
            neuralnet::plot::boundary(&net, &points, out, lang)?
        }
    };
    for f in files {
        println!("{}", f.display());
    }
    Ok(())
}

/// The metrics file `train --metrics` writes: one [`EpochReport`] per line.
fn read_metrics(path: &Path) -> Result<Vec<EpochReport>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut reports = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: EpochReport = serde_json::from_str(line).with_context(|| {
            format!("{} line {}: not a metrics line written by `neuralnet train --metrics`", path.display(), i + 1)
        })?;
        reports.push(r);
    }
    if reports.is_empty() {
        bail!("{} holds no epochs: write it with `neuralnet train --metrics FILE`", path.display());
    }
    Ok(reports)
}
