//! Cost of reading one digit photo on one core: decoding and preprocessing, per photo kind.
//! `cargo run --release --example bench_photo -- [PHOTOS] [REPEATS] [DIR]` (default 60 photos, 20
//! repeats; with DIR, the photos are also saved there).
//!
//! The photos are the photo-like MNIST test digits of `tests/predict.rs` (320–600 px a side: grey
//! PNG, tinted PNG, tinted JPEG in turn), rendered in memory; MNIST comes from `NEURALNET_DATA_DIR`
//! or the cache. Prints the median over the repeats of the mean per photo.
#[path = "../tests/common/photos.rs"]
#[allow(dead_code)]
mod photos;

use neuralnet::data::photo;
use photos::{Kind, photo_bytes};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::path::Path;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(60, |s| s.parse().expect("PHOTOS: a count"));
    let repeats: usize = args.next().map_or(20, |s| s.parse().expect("REPEATS: a count"));
    let dir = std::env::var_os("NEURALNET_DATA_DIR")
        .map_or_else(neuralnet::data::mnist::default_cache_dir, std::path::PathBuf::from);
    let mnist = neuralnet::data::mnist::load_dir(&dir).expect("MNIST (neuralnet fetch, or NEURALNET_DATA_DIR)");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2024);
    let kinds = [(Kind::GreyPng, "grey PNG"), (Kind::TintedPng, "tinted PNG"), (Kind::TintedJpeg, "tinted JPEG")];
    let count = mnist.test_images.count;
    let files: Vec<(usize, Vec<u8>)> = (0..n)
        .map(|k| {
            let i = (k * 7919) % count;
            (k % 3, photo_bytes(&mnist.test_images.pixels[i * 784..(i + 1) * 784], &mut rng, kinds[k % 3].0))
        })
        .collect();
    if let Some(dir) = args.next() {
        std::fs::create_dir_all(&dir).unwrap();
        for (k, (kind, f)) in files.iter().enumerate() {
            let ext = if *kind == 2 { "jpg" } else { "png" };
            std::fs::write(Path::new(&dir).join(format!("photo-{k:03}.{ext}")), f).unwrap();
        }
    }
    let name = Path::new("photo");
    let mut pixels = 0usize;
    let mut bytes = 0usize;
    let mut work = 0usize;
    for (_, f) in &files {
        let (w, h) =
            image::ImageReader::new(std::io::Cursor::new(f)).with_guessed_format().unwrap().into_dimensions().unwrap();
        pixels += w as usize * h as usize;
        let g = photo::decode_grey_bytes(f, name).unwrap();
        work += g.width * g.height;
        bytes += f.len();
    }
    println!(
        "{n} photos, on average {:.0} kpixels ({:.0} after averaging down) and {:.0} kB each, {repeats} repeats, 1 thread",
        pixels as f64 / n as f64 / 1e3,
        work as f64 / n as f64 / 1e3,
        bytes as f64 / n as f64 / 1e3
    );
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut total = (0.0, 0.0);
    for (k, (_, label)) in kinds.iter().enumerate() {
        let mine: Vec<&Vec<u8>> = files.iter().filter(|(kind, _)| *kind == k).map(|(_, f)| f).collect();
        if mine.is_empty() {
            continue;
        }
        let (mut dec, mut pre) = (Vec::new(), Vec::new());
        for _ in 0..repeats {
            let (mut d, mut p) = (0.0, 0.0);
            for f in &mine {
                let t = Instant::now();
                let g = photo::decode_grey_bytes(f, name).unwrap();
                d += t.elapsed().as_secs_f64();
                let t = Instant::now();
                std::hint::black_box(photo::preprocess_grey(&g));
                p += t.elapsed().as_secs_f64();
            }
            dec.push(d / mine.len() as f64);
            pre.push(p / mine.len() as f64);
        }
        let (d, p) = (median(dec), median(pre));
        total.0 += d * mine.len() as f64;
        total.1 += p * mine.len() as f64;
        println!("{label:>12}: decode {:.3} ms + preprocess {:.3} ms = {:.3} ms", d * 1e3, p * 1e3, (d + p) * 1e3);
    }
    let (d, p) = (total.0 / n as f64, total.1 / n as f64);
    println!("{:>12}: decode {:.3} ms + preprocess {:.3} ms = {:.3} ms", "all", d * 1e3, p * 1e3, (d + p) * 1e3);
}
