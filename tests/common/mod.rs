//! Helpers shared by the integration tests: the binary and model files to give it
//! ([`binary`]), what the optional tests need and how they report its absence ([`prereq`]), random
//! networks, a loss-only forward pass and a tiny IDX data set (here).
// Each test file uses only some of these, so unused items and re-exports are expected.
#![allow(dead_code, unused_imports)]

pub mod binary;
pub mod bomb;
pub mod http;
pub mod photos;
pub mod prereq;

pub use binary::*;
pub use bomb::png_bomb;
pub use prereq::{browser, mnist, predict_model, python_safetensors};

use neuralnet::data::idx::{IdxImages, write_images, write_labels};
use neuralnet::rng::Rng;
use neuralnet::{Activation, Init, Loss, Network, Workspace};
use rand::Rng as _;
use std::path::Path;

/// Whether `a` is within `tol` of `b`: relative to |b| above 1, absolute below.
pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

/// Every activation the library has, with non-default parameters where it takes them.
pub fn all_activations() -> Vec<Activation> {
    ["identity", "step:0.3", "sigmoid", "sigmoid:2,0.5", "tanh", "relu", "leaky_relu:0.1", "softmax"]
        .iter()
        .map(|s| Activation::parse(s).unwrap())
        .collect()
}

/// Every (output activation, loss) pair the library accepts.
pub fn accepted_pairs() -> Vec<(Activation, Loss)> {
    let mut v = Vec::new();
    for out in all_activations() {
        for loss in [Loss::HalfMse, Loss::CrossEntropy, Loss::BinaryCrossEntropy] {
            if loss.check_output(out).is_ok() {
                v.push((out, loss));
            }
        }
    }
    v
}

/// A random network of `depth` layers with random widths 1–5 (the output at least 2 for softmax).
pub fn random_net(rng: &mut Rng, depth: usize, hidden: Activation, out: Activation, loss: Loss) -> Network<f64> {
    let mut sizes = vec![rng.random_range(1..=5)];
    for _ in 0..depth {
        sizes.push(rng.random_range(2..=5));
    }
    let mut acts = vec![hidden; depth - 1];
    acts.push(out);
    Network::with_activations(&sizes, &acts, loss, Init::StandardNormal, rng).unwrap()
}

/// Random inputs and targets suited to the loss (probability rows for cross-entropy, [0,1] otherwise).
pub fn random_batch(rng: &mut Rng, net: &Network<f64>, batch: usize) -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = (0..batch * net.inputs()).map(|_| rng.random_range(-1.5..1.5)).collect();
    let k = net.outputs();
    let mut y: Vec<f64> = (0..batch * k).map(|_| rng.random_range(0.0..1.0)).collect();
    if net.loss == Loss::CrossEntropy {
        for row in y.chunks_mut(k) {
            let s: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= s);
        }
    }
    (x, y)
}

/// The batch-mean loss of `net` on (x, y), by the fast path's forward pass.
pub fn batch_loss(net: &Network<f64>, x: &[f64], y: &[f64], batch: usize) -> f64 {
    let mut ws = Workspace::new(net, batch, 1);
    net.forward(x, batch, &mut ws);
    let last = net.layers.len() - 1;
    net.loss.value(net.layers[last].activation, ws.z(last), ws.a(last), y, net.outputs())
}

/// Whether any pre-activation sits within `eps` of a kink (ReLU/leaky at 0, step at its threshold).
pub fn near_kink(net: &Network<f64>, x: &[f64], batch: usize, eps: f64) -> bool {
    let mut ws = Workspace::new(net, batch, 1);
    net.forward(x, batch, &mut ws);
    net.layers.iter().enumerate().any(|(l, layer)| {
        let kink = match layer.activation {
            Activation::Relu | Activation::LeakyRelu { .. } => 0.0,
            Activation::Step { threshold } => threshold,
            _ => return false,
        };
        ws.z(l).iter().any(|z| (z - kink).abs() < eps)
    })
}

/// 10×10 images in 3 classes: class c has a bright 3×3 block in band c, plus deterministic noise;
/// 300 training and 60 test images.
pub fn write_tiny_dataset(dir: &Path, gzip: bool) {
    write_tiny_dataset_of(dir, 300, gzip);
}

/// [`write_tiny_dataset`] with `train` training images.
pub fn write_tiny_dataset_of(dir: &Path, train: usize, gzip: bool) {
    let make = |n: usize, seed: usize| {
        let mut pixels = vec![0u8; n * 100];
        let mut labels = vec![0u8; n];
        for i in 0..n {
            let c = (i * 7 + seed) % 3;
            labels[i] = c as u8;
            for p in 0..100 {
                pixels[i * 100 + p] = ((i * 31 + p * 17 + seed) % 40) as u8;
            }
            for r in 0..3 {
                for col in 0..3 {
                    pixels[i * 100 + (3 * c + r) * 10 + 3 + col + (i % 3)] = 250;
                }
            }
        }
        (IdxImages { count: n, rows: 10, cols: 10, pixels }, labels)
    };
    let (tr, trl) = make(train, 0);
    let (te, tel) = make(60, 1);
    write_images(&dir.join("train-images-idx3-ubyte"), &tr).unwrap();
    write_labels(&dir.join("train-labels-idx1-ubyte"), &trl).unwrap();
    write_images(&dir.join("t10k-images-idx3-ubyte"), &te).unwrap();
    write_labels(&dir.join("t10k-labels-idx1-ubyte"), &tel).unwrap();
    if gzip {
        use std::io::Write;
        let p = dir.join("train-images-idx3-ubyte");
        let raw = std::fs::read(&p).unwrap();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&raw).unwrap();
        std::fs::write(dir.join("train-images-idx3-ubyte.gz"), enc.finish().unwrap()).unwrap();
        std::fs::remove_file(p).unwrap();
    }
}
