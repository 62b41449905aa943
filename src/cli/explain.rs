//! `neuralnet explain`: every number of one forward and backward pass, in the article's notation,
//! with the article's own printed values checked beside the true ones.

mod conv;
mod formula;
mod renderer;
mod step;

use super::lang;
use anyhow::Result;
use clap::{Args, ValueEnum};
use formula::DIGITS;
use neuralnet::article;
use neuralnet::explain::{self, Problem};
use neuralnet::plot::Lang;
use renderer::Renderer;
use std::path::{Path, PathBuf};

/// Output format of `explain`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    /// Plain text, step by step.
    #[default]
    Text,
    /// Markdown with LaTeX formulas, ready to paste into notes.
    Markdown,
    /// One JSON object: "loss", "layers" (and "article" for the article's example).
    Json,
}

/// Arguments of `explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// A small network as JSON (default: the article's 2-2-1 example).
    #[arg(long)]
    net: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: ExplainFormat,
    /// Repeat the gradient-descent step this many times and show the loss falling (1 to 100000).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    steps: u32,
    /// Language of the explanations (default: from the locale).
    #[arg(long, value_parser = lang::parser())]
    lang: Option<Lang>,
    /// A trained model to explain on one image (with --image or --mnist-index).
    #[arg(long, conflicts_with = "net")]
    model: Option<PathBuf>,
    /// A photo or scan of one digit (PNG/JPEG), preprocessed as `predict` does.
    #[arg(long, requires = "model", conflicts_with = "mnist_index")]
    image: Option<PathBuf>,
    /// Explain the model on test image N of the IDX data (MNIST from the cache, or --data-dir).
    #[arg(long, requires = "model")]
    mnist_index: Option<usize>,
    /// Directory with the IDX files for --mnist-index.
    #[arg(long, requires = "mnist_index")]
    data_dir: Option<PathBuf>,
    /// The true label, for the gradients (default: the predicted class, or the data's label).
    #[arg(long, requires = "model")]
    label: Option<usize>,
}

/// The most work (steps × samples × parameters, about the multiply-adds) `explain` takes: about
/// a minute on these machines, since every number of every step is recorded.
const MAX_WORK: u128 = 1_000_000_000;

pub fn run(args: ExplainArgs) -> Result<()> {
    let lang = args.lang.unwrap_or_else(lang::from_env);
    if let Some(path) = &args.model {
        return explain_model(path, &args, lang);
    }
    let (problem, is_article) = Problem::load(args.net.as_deref())?;
    // Each step records every number of every sample: bound the whole run's work.
    let work = u128::from(args.steps) * (problem.x.len() as u128) * (problem.network.parameter_count() as u128 + 1);
    if work > MAX_WORK {
        anyhow::bail!(
            "--steps {} on {} samples of a network with {} parameters is about {work} multiply-adds, \
             more than the {MAX_WORK} `explain` takes: use fewer steps or samples",
            args.steps,
            problem.x.len(),
            problem.network.parameter_count()
        );
    }
    let trace = problem.trace()?;
    let checks = if is_article { article::check(&article::printed_values())? } else { Vec::new() };
    let mut losses = vec![trace.loss];
    let mut later = problem.clone();
    later.apply(&trace);
    // Stepping stops where the loss is no longer a number: the steps have diverged.
    while losses.len() < args.steps as usize && losses.last().is_some_and(|l| l.is_finite()) {
        let t = later.trace()?;
        losses.push(t.loss);
        later.apply(&t);
    }
    let diverged = losses.iter().position(|l| !l.is_finite()).map(|i| i + 1);
    match args.format {
        ExplainFormat::Json => {
            let mut v = explain::to_json(&problem.network, &trace);
            if args.steps > 1 {
                v["loss_per_step"] = serde_json::json!(losses);
            }
            if let Some(step) = diverged {
                v["diverged_at_step"] = serde_json::json!(step);
            }
            if is_article {
                v["article"] = serde_json::to_value(&checks)?;
            }
            println!("{v}");
        }
        format => {
            let md = format == ExplainFormat::Markdown;
            let mut r =
                Renderer { out: String::new(), lang, md, checks: checks.iter().map(|c| (c.id.clone(), c)).collect() };
            r.render(&problem, &trace, is_article);
            if losses.len() > 1 {
                r.heading(lang.pick("The loss over repeated steps", "重复梯度下降，损失逐步下降"));
                for (i, l) in losses.iter().enumerate() {
                    r.line(&format!("{} {}: L = {}", lang.pick("step", "第"), i + 1, DIGITS.num(*l)));
                }
            }
            if let Some(step) = diverged {
                r.line(&format!(
                    "{} {step}{}",
                    lang.pick("The loss is no longer a finite number at step", "损失在第"),
                    lang.pick(
                        ": gradient descent has diverged (try a smaller lr, or smaller weights and inputs).",
                        " 步不再是有限数：梯度下降已发散（请减小学习率，或减小权重和输入）。"
                    )
                ));
            }
            if is_article {
                r.article_notes();
            }
            print!("{}", r.out);
        }
    }
    Ok(())
}

/// `--model MODEL` with `--image FILE` or `--mnist-index N`: the chain for a trained model on one
/// image.
fn explain_model(path: &Path, args: &ExplainArgs, lang: Lang) -> Result<()> {
    let model = neuralnet::model_file::load(path)?;
    if let Some(image) = &args.image {
        let p = neuralnet::data::photo::load_and_preprocess(image)?;
        if !p.ink {
            anyhow::bail!("{}: no ink found; is there a digit in the image?", image.display());
        }
        return super::explain_model::explain(&model, &p.pixels, args.label, lang);
    }
    let Some(index) = args.mnist_index else {
        anyhow::bail!("--model needs an input: --image FILE or --mnist-index N");
    };
    let (idx, dir) = super::data::load(args.data_dir.as_deref())?;
    let images = &idx.test_images;
    if index >= images.count {
        anyhow::bail!("--mnist-index {index} is out of range: {} has {} test images", dir.display(), images.count);
    }
    let n = images.rows * images.cols;
    let label = args.label.or(Some(idx.test_labels[index] as usize));
    super::explain_model::explain(&model, &images.pixels[index * n..(index + 1) * n], label, lang)
}
