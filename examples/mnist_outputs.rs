//! A model's output probabilities for the first N MNIST test images, as JSON (one list per image):
//! `cargo run --release --example mnist_outputs -- MODEL [N]` (default 1000). MNIST comes from
//! `NEURALNET_DATA_DIR` or the cache. Used by `bench/conv_torch_check.py` to compare with PyTorch.
fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: mnist_outputs MODEL [N]");
    let n: usize = args.next().map_or(1000, |s| s.parse().expect("N: a count"));
    let model = neuralnet::model_file::load(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
    let dir = std::env::var_os("NEURALNET_DATA_DIR")
        .map_or_else(neuralnet::data::mnist::default_cache_dir, std::path::PathBuf::from);
    let mnist = neuralnet::data::mnist::load_dir(&dir).expect("MNIST (neuralnet fetch, or NEURALNET_DATA_DIR)");
    let n = n.min(mnist.test_images.count);
    let norm = &model.info.normalization;
    let x: Vec<f32> = mnist.test_images.pixels[..n * 784].iter().map(|&p| norm.apply(f64::from(p)) as f32).collect();
    let out = model.network.predict(&x, n).unwrap_or_else(|e| panic!("{e}"));
    let k = model.network.outputs();
    let rows: Vec<&[f32]> = out.chunks(k).collect();
    println!("{}", serde_json::to_string(&rows).unwrap());
}
