//! Inference speed of a saved model on the MNIST test set (part of `scripts/bench-vs-pytorch.sh`).
//!
//! Prints one JSON line: images/s for the 10,000 test images in batches of 1000 (median over
//! passes), and the median / p90 latency of single-image forward passes through a capacity-1
//! [`Workspace`] reused across calls. Inputs are preloaded and normalised before any timing.
//! Inference goes through a [`Predictor`] (the first layer from the inked pixels only), as
//! `eval`, `predict` and `serve` do, and which first-layer product it chose on this CPU for a batch
//! and for one image; `--dense` times the plain [`neuralnet::Network::forward`].
//!
//! Run: `cargo run --release --example bench_infer -- MODEL [--threads T] [--passes N] [--singles N] [--dense]`
//! (MNIST from `$NEURALNET_DATA_DIR`, else the cache).

use neuralnet::data::mnist;
use neuralnet::{Dataset, Predictor, Workspace, metrics, model_file};
use std::path::PathBuf;
use std::time::Instant;

struct Args {
    model: PathBuf,
    threads: usize,
    passes: usize,
    singles: usize,
    dense: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { model: PathBuf::new(), threads: 1, passes: 20, singles: 5000, dense: false };
    let mut it = std::env::args().skip(1);
    let mut model = None;
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Result<usize, String> {
            it.next().and_then(|v| v.parse().ok()).ok_or_else(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--threads" => args.threads = num("--threads")?.max(1),
            "--passes" => args.passes = num("--passes")?.max(1),
            "--singles" => args.singles = num("--singles")?.max(1),
            "--dense" => args.dense = true,
            _ if a.starts_with("--") => return Err(format!("unknown option {a}")),
            _ => model = Some(PathBuf::from(a)),
        }
    }
    args.model = model.ok_or("usage: bench_infer MODEL [--threads T] [--passes N] [--singles N] [--dense]")?;
    Ok(args)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let model = model_file::load(&args.model)?;
    let net = &model.network;
    let idx = mnist::load_dir(&mnist::default_cache_dir())?;
    let px = idx.test_images.rows * idx.test_images.cols;
    let test =
        Dataset::from_images(&idx.test_images.pixels, px, &idx.test_labels, idx.classes, &model.info.normalization)?;
    let n = test.len();
    let batch = 1000;
    let predictor = Predictor::new(net.clone(), model.info.normalization.apply(0.0) as f32);
    let forward = |x: &[f32], b: usize, ws: &mut Workspace<f32>| -> f32 {
        if args.dense { net.forward(x, b, ws)[0] } else { predictor.forward(x, b, ws)[0] }
    };

    // The same pool arrangement as training (`Trainer::install`): products split with rayon::join
    // inside a pool of `threads` threads, each warmed up first.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(args.threads).build()?;
    pool.broadcast(|_| neuralnet::kernels::warm_up_threads::<f32>());
    let (throughput, passes, lat) = pool.install(|| {
        // Throughput: whole passes over the test set in batches of 1000.
        let mut ws = Workspace::new(net, batch, args.threads);
        let mut sink = 0.0f32;
        let mut pass = |ws: &mut Workspace<f32>| {
            let t0 = Instant::now();
            for start in (0..n).step_by(batch) {
                let b = batch.min(n - start);
                sink += forward(&test.x[start * px..(start + b) * px], b, ws);
            }
            t0.elapsed().as_secs_f64()
        };
        for _ in 0..2 {
            pass(&mut ws);
        }
        let mut rates: Vec<f64> = (0..args.passes).map(|_| n as f64 / pass(&mut ws)).collect();
        rates.sort_by(f64::total_cmp);

        // Latency: one image at a time, a capacity-1 workspace reused across calls.
        let mut ws1 = Workspace::new(net, 1, args.threads);
        for i in 0..500 {
            sink += forward(&test.x[(i % n) * px..(i % n + 1) * px], 1, &mut ws1);
        }
        let mut lat: Vec<f64> = (0..args.singles)
            .map(|i| {
                let x = &test.x[(i % n) * px..(i % n + 1) * px];
                let t0 = Instant::now();
                let out = forward(x, 1, &mut ws1);
                let dt = t0.elapsed().as_secs_f64();
                sink += out;
                dt
            })
            .collect();
        lat.sort_by(f64::total_cmp);
        std::hint::black_box(sink);
        (percentile(&rates, 0.5), rates.len(), lat)
    });
    let accuracy = metrics::evaluate(net, &test, batch, 1)?.accuracy.unwrap_or(0.0);
    println!(
        "{}",
        serde_json::json!({
            "side": "neuralnet",
            "path": if !net.features.is_empty() { "convolutional (Network::forward)" } else if args.dense { "dense" } else { "sparse-input first layer" },
            "threads": args.threads,
            "first_layer_batch": if args.dense { "dense".to_string() } else { predictor.first_layer_product(batch, args.threads) },
            "first_layer_single": if args.dense { "dense".to_string() } else { predictor.first_layer_product(1, args.threads) },
            "sizes": net.sizes(),
            "batch": batch,
            "passes": passes,
            "images_per_sec": throughput,
            "single_calls": lat.len(),
            "latency_median_us": percentile(&lat, 0.5) * 1e6,
            "latency_p90_us": percentile(&lat, 0.9) * 1e6,
            "test_accuracy": accuracy,
        })
    );
    Ok(())
}
