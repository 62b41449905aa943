//! Cost of data augmentation per image: `cargo run --release --example bench_augment -- affine,elastic 2`
//! (spec, threads). Prints microseconds per 28×28 image and seconds per 55,000-image epoch.
use neuralnet::data::augment::Augment;
fn main() {
    let spec = std::env::args().nth(1).unwrap_or_else(|| "affine,elastic".into());
    let threads: usize = std::env::args().nth(2).map_or(1, |s| s.parse().unwrap());
    let aug = Augment::parse(&spec, 28, 28, 0.0).unwrap().unwrap();
    let mut s = aug.scratch(128);
    let mut x = vec![0.5f32; 128 * 784];
    let ids: Vec<usize> = (0..128).collect();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let t = std::time::Instant::now();
    pool.install(|| {
        for e in 0..430 {
            aug.apply(&mut x, &ids, 1, e, &mut s, threads);
        }
    });
    let dt = t.elapsed().as_secs_f64();
    println!("{spec}: {:.2} us/image, {:.2} s per 55k", dt / (430.0 * 128.0) * 1e6, dt / (430.0 * 128.0) * 55000.0);
}
