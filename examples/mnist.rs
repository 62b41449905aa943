//! Train a digit reader on MNIST with the library directly (the CLI's `train` does the same and more).
//!
//! Run: `cargo run --release --example mnist` (fetches MNIST into the cache on first use).

use neuralnet::data::mnist;
use neuralnet::dataset::Normalization;
use neuralnet::{
    Activation, Architecture, Dataset, EpochReport, Init, Loss, Optimizer, Progress, TrainConfig, metrics, train,
};

struct Print;
impl Progress for Print {
    fn epoch(&mut self, r: &EpochReport) {
        println!(
            "epoch {}: loss {:.4}, validation accuracy {:.2}%",
            r.epoch,
            r.train_loss,
            r.val_accuracy.unwrap_or(0.0) * 100.0
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = mnist::default_cache_dir();
    if !mnist::is_cached(&dir) {
        std::fs::create_dir_all(&dir)?;
        mnist::fetch(&dir, &mut |line| eprintln!("{line}"))?;
    }
    let idx = mnist::load_dir(&dir)?;
    let px = idx.train_images.rows * idx.train_images.cols;
    let norm = Normalization::pixels();
    let (train_set, val) =
        Dataset::from_images(&idx.train_images.pixels, px, &idx.train_labels, 10, &norm)?.split_off_end(5000);
    let test = Dataset::from_images(&idx.test_images.pixels, px, &idx.test_labels, 10, &norm)?;

    let mut net = Architecture::mlp(&[px, 128, 10], Activation::Relu, Activation::Softmax, Loss::CrossEntropy)
        .init(Init::HeUniform)
        .build::<f32>(1)?;
    let config = TrainConfig {
        epochs: 5,
        batch_size: 128,
        optimizer: Optimizer::adam(1e-3),
        threads: 2,
        ..TrainConfig::default()
    };
    train(&mut net, &train_set, Some(&val), &config, &mut Print)?;
    println!("test accuracy: {:.2}%", metrics::accuracy(&net, &test)? * 100.0);
    Ok(())
}
