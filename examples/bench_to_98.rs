//! Time to 98% MNIST test accuracy (part of `scripts/bench-vs-pytorch.sh`).
//!
//! Trains with the library on all 60,000 training images and evaluates the 10,000 test images
//! after each epoch with `neuralnet::metrics::evaluate` — the test set is handed to [`train`] as its
//! evaluation set, which runs `metrics::evaluate` after each epoch outside the epoch's timed
//! `seconds`. A [`Progress`] records each epoch and stops training once the target is reached.
//! Prints one JSON line: the first epoch at or above the target, and the cumulative training
//! seconds (evaluation excluded) up to it.
//!
//! Run: `cargo run --release --example bench_to_98 -- [--hidden 512] [--init he-uniform] [--optimizer adam] [--lr 1e-3]
//! [--momentum 0.9] [--schedule constant|cosine|step] [--batch-size 128] [--threads T] [--seed 1] [--max-epochs 20] [--target 0.98]`

use neuralnet::data::mnist;
use neuralnet::dataset::Normalization;
use neuralnet::optimizer::{Method, Schedule};
use neuralnet::{Activation, Architecture, Dataset, EpochReport, Init, Loss, Optimizer, Progress, TrainConfig, train};
use std::time::Instant;

/// Records each epoch; asks to stop once test accuracy reaches the target.
struct UntilTarget {
    target: f64,
    reports: Vec<EpochReport>,
    reached: bool,
}

impl Progress for UntilTarget {
    fn epoch(&mut self, r: &EpochReport) {
        eprintln!(
            "epoch {}: train loss {:.4}, test accuracy {:.2}%, {:.3} s",
            r.epoch,
            r.train_loss,
            r.val_accuracy.unwrap_or(0.0) * 100.0,
            r.seconds
        );
        self.reached |= r.val_accuracy.is_some_and(|a| a >= self.target);
        self.reports.push(r.clone());
    }
    fn should_stop(&mut self) -> bool {
        self.reached
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut hidden = vec![512usize];
    let mut init = Init::HeUniform;
    let (mut optimizer, mut lr, mut mu) = ("adam".to_string(), None, 0.9);
    let mut schedule = Schedule::Constant;
    let (mut batch_size, mut threads, mut seed, mut max_epochs, mut target) = (128usize, 1usize, 1u64, 20usize, 0.98);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
        match a.as_str() {
            "--hidden" => hidden = v.split(',').map(str::parse).collect::<Result<_, _>>()?,
            "--init" => init = Init::parse(&v)?,
            "--optimizer" => optimizer = v,
            "--lr" => lr = Some(v.parse()?),
            // A decaying schedule runs over --max-epochs (cosine reaches 0 at the last one).
            "--schedule" => schedule = Schedule::parse(&v)?,
            "--momentum" => mu = v.parse()?,
            "--batch-size" => batch_size = v.parse()?,
            "--threads" => threads = v.parse()?,
            "--seed" => seed = v.parse()?,
            "--max-epochs" => max_epochs = v.parse()?,
            "--target" => target = v.parse()?,
            _ => return Err(format!("unknown option {a}").into()),
        }
    }
    let method = Method::parse(&optimizer, mu)?;
    let lr = lr.unwrap_or(if matches!(method, Method::Adam { .. } | Method::AdamW { .. }) { 1e-3 } else { 0.1 });

    let idx = mnist::load_dir(&mnist::default_cache_dir())?;
    let px = idx.train_images.rows * idx.train_images.cols;
    let norm = Normalization::pixels();
    let train_set = Dataset::from_images(&idx.train_images.pixels, px, &idx.train_labels, idx.classes, &norm)?;
    let test = Dataset::from_images(&idx.test_images.pixels, px, &idx.test_labels, idx.classes, &norm)?;

    let sizes: Vec<usize> = std::iter::once(px).chain(hidden).chain(std::iter::once(idx.classes)).collect();
    let mut net = Architecture::mlp(&sizes, Activation::Relu, Activation::Softmax, Loss::CrossEntropy)
        .init(init)
        .build::<f32>(seed)?;
    let config = TrainConfig {
        epochs: max_epochs,
        batch_size,
        optimizer: Optimizer { method, lr, weight_decay: 0.0, schedule, warmup: 0.0 },
        dropout: 0.0,
        seed,
        threads,
        patience: None,
        augment: None,
    };
    let mut progress = UntilTarget { target, reports: Vec::new(), reached: false };
    let t0 = Instant::now();
    train(&mut net, &train_set, Some(&test), &config, &mut progress)?;
    let wall = t0.elapsed().as_secs_f64();

    let hit = progress.reports.iter().position(|r| r.val_accuracy.is_some_and(|a| a >= target));
    let upto = hit.map_or(progress.reports.len(), |i| i + 1);
    let seconds: f64 = progress.reports[..upto].iter().map(|r| r.seconds).sum();
    println!(
        "{}",
        serde_json::json!({
            "side": "neuralnet",
            "recipe": format!("{} {} lr {lr} {} over {max_epochs} epochs, batch {batch_size} init {}",
                sizes.iter().map(ToString::to_string).collect::<Vec<_>>().join("-"), method.name(),
                serde_json::to_value(schedule)?["kind"].as_str().unwrap_or("?"), init),
            "threads": threads,
            "target": target,
            "reached": hit.is_some(),
            "epoch": hit.map(|i| i + 1),
            "train_seconds": seconds,
            "epoch_seconds": progress.reports.iter().map(|r| r.seconds).collect::<Vec<_>>(),
            "test_accuracy": progress.reports.iter().map(|r| r.val_accuracy.unwrap_or(0.0)).collect::<Vec<_>>(),
            "wall_seconds_including_eval": wall,
        })
    );
    Ok(())
}
