//! `neuralnet predict` and the photo preprocessing: synthetic pictures always; MNIST test digits
//! re-rendered as photos when MNIST is available.
//!
//! * `NEURALNET_TEST_MNIST=1`: trains a small model (half a minute) and reads 100 photo-like MNIST
//!   test digits through the binary, against their true labels.
//! * `NEURALNET_PREDICT_MODEL=path/to/model.safetensors`: the acceptance run, 200 photo-like digits
//!   with that model (the default recipe's should read ≥ 95% of them):
//!   `NEURALNET_PREDICT_MODEL=model.safetensors cargo test --release --test predict -- --nocapture photo`.
//!
//! Without them those two tests are reported as ignored with the reason; under
//! `NEURALNET_REQUIRE_ALL=1` (`.ci/run`) the MNIST one fails instead, the trained-model one stays
//! ignored (only a user provides that model).

mod common;

use common::photos::{Kind, render_photo};
use common::prereq::{self, test, test_needing, test_optional};
use common::{neuralnet, random_model};
use image::{ImageEncoder, codecs::png::PngEncoder};
use neuralnet::data::DataError;
use neuralnet::data::photo::{self, BOX, SIDE};
use neuralnet::model_file;
use predicates::prelude::*;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::path::{Path, PathBuf};

fn main() {
    prereq::run(vec![
        test("predict_prints_classes_json_and_the_input_it_saw", predict_prints_classes_json_and_the_input_it_saw),
        test("blank_paper_is_reported_as_no_ink", blank_paper_is_reported_as_no_ink),
        test("huge_images_are_refused_from_the_header", huge_images_are_refused_from_the_header),
        test("a_large_real_photo_is_reduced_not_refused", a_large_real_photo_is_reduced_not_refused),
        test("files_that_are_not_images_give_clear_errors", files_that_are_not_images_give_clear_errors),
        test("exif_orientation_is_applied", exif_orientation_is_applied),
        test(
            "decompression_bombs_are_refused_and_near_limit_images_stay_bounded",
            decompression_bombs_are_refused_and_near_limit_images_stay_bounded,
        ),
        test_needing("photo_like_mnist_digits_small_model", common::mnist, photo_like_mnist_digits_small_model),
        test_optional("photo_like_mnist_digits_acceptance", common::predict_model, photo_like_mnist_digits_acceptance),
    ]);
}

/// Runs `neuralnet ARGS…` and returns (exit code, stderr, the process's peak resident memory in
/// bytes, where the platform reports it).
// On Linux the child is reaped by `wait4` (which also reports its peak), not `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, Option<u64>) {
    let mut child = std::process::Command::new(common::bin())
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).unwrap();
        s
    });
    #[cfg(target_os = "linux")]
    let (code, peak) = {
        // wait4 reports this child's own peak (ru_maxrss, KiB on Linux).
        let mut status = 0;
        // SAFETY: a zeroed rusage is a valid value for wait4 to overwrite.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `child` is our unwaited child; both pointers are to live locals.
        let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
        assert_eq!(pid, child.id() as libc::pid_t);
        let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        (code, Some(usage.ru_maxrss as u64 * 1024))
    };
    #[cfg(not(target_os = "linux"))]
    let (code, peak) = (child.wait().unwrap().code(), None);
    (code, reader.join().unwrap(), peak)
}

/// The `serve` issue's bomb on the command line: a 394 kB PNG of 7,000 × 7,000 16-bit RGBA
/// pixels (392 MB decoded) is refused from its header with the limit named; an image just under
/// the limit (130 MB decoded) is read within the stated cost of one image (~200 MB).
fn decompression_bombs_are_refused_and_near_limit_images_stay_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), 16);
    let bomb = dir.path().join("bomb.png");
    std::fs::write(&bomb, common::png_bomb(7000, 7000, 4, 16, 0xff)).unwrap();
    let (code, err, peak) = run_measured(&["predict".as_ref(), model.as_os_str(), bomb.as_os_str()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("bomb.png") && err.contains("7000×7000") && err.contains("16-bit RGBA") && err.contains("128 MiB"),
        "{err}"
    );
    if let Some(peak) = peak {
        assert!(peak < 64 << 20, "refusing the bomb took {} MB", peak >> 20);
    }
    assert!(matches!(photo::decode(&bomb), Err(DataError::ImageTooCostly { bytes: 392_000_000, .. })));

    let near = dir.path().join("near.png");
    std::fs::write(&near, common::png_bomb(5700, 5700, 4, 8, 0xff)).unwrap();
    let (code, err, peak) = run_measured(&["predict".as_ref(), model.as_os_str(), near.as_os_str()]);
    assert_eq!(code, Some(0), "{err}");
    if let Some(peak) = peak {
        eprintln!("predict on a 130 MB (decoded) image: peak {} MB", peak >> 20);
        let stated = photo::MAX_DECODED_BYTES + photo::MAX_DECODED_BYTES / 2 + (40 << 20);
        assert!(peak < stated, "reading one image took {} MB", peak >> 20);
    }
}

fn save_grey_png(path: &Path, w: u32, h: u32, pixels: &[u8]) {
    let f = std::fs::File::create(path).unwrap();
    PngEncoder::new(f).write_image(pixels, w, h, image::ExtendedColorType::L8).unwrap();
}

/// A thick bar ("1") of `ink` on noisy `paper`, off-centre.
fn bar_page(w: usize, h: usize, paper: f64, ink: f64, seed: u64) -> Vec<u8> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let noise = Normal::new(0.0, 6.0).unwrap();
    (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            let on = x * 10 >= w * 6 && x * 10 < w * 7 && y * 10 >= h && y * 10 < h * 8;
            ((if on { ink } else { paper }) + noise.sample(&mut rng)).clamp(0.0, 255.0) as u8
        })
        .collect()
}

fn predict_prints_classes_json_and_the_input_it_saw() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), 32);
    let a = dir.path().join("dark-on-grey.png");
    let b = dir.path().join("light-on-dark.png");
    save_grey_png(&a, 240, 200, &bar_page(240, 200, 215.0, 40.0, 1));
    save_grey_png(&b, 180, 260, &bar_page(180, 260, 30.0, 220.0, 2));

    let out = neuralnet().arg("predict").arg(&model).arg(&a).arg(&b).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 2);
    for (item, file) in items.iter().zip([&a, &b]) {
        assert_eq!(item["file"], file.display().to_string());
        let probs: Vec<f64> = item["probabilities"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).collect();
        assert_eq!(probs.len(), 10);
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-4);
        let best = item["prediction"].as_u64().unwrap() as usize;
        assert!(probs.iter().all(|&p| p <= probs[best]));
        assert_eq!(item["ink"], true);
    }
    assert_eq!(items[0]["inverted"], true);
    assert_eq!(items[1]["inverted"], false);

    // Text: one line per image, naming it, with the top classes.
    let shown = dir.path().join("seen.png");
    neuralnet()
        .arg("predict")
        .arg(&model)
        .arg(&a)
        .arg("--show-input")
        .arg(&shown)
        .assert()
        .success()
        .stdout(predicate::str::contains(a.display().to_string()).and(predicate::str::contains("%")));
    let seen = image::open(&shown).unwrap().to_luma8();
    assert_eq!(seen.dimensions(), (28, 28));
    assert_eq!(seen.into_raw(), photo::load_and_preprocess(&a).unwrap().pixels);
}

fn blank_paper_is_reported_as_no_ink() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), 32);
    let blank = dir.path().join("blank.png");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let noise: Vec<u8> = (0..300 * 200).map(|_| rng.random_range(215..=235)).collect();
    save_grey_png(&blank, 300, 200, &noise);
    neuralnet().arg("predict").arg(&model).arg(&blank).assert().success().stdout(predicate::str::contains("no ink"));
    let p = photo::load_and_preprocess(&blank).unwrap();
    assert!(!p.ink);
    assert!(p.pixels.iter().all(|&v| v == 0));
}

/// A PNG whose header claims `w`×`h` pixels, with a tiny (and wrong) IDAT: costs nothing to make.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey, deflate, adaptive filter, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn huge_images_are_refused_from_the_header() {
    let dir = tempfile::tempdir().unwrap();
    for (w, h) in [(20_000, 20_000), (10_000, 9_000)] {
        let path = dir.path().join(format!("huge-{w}.png"));
        std::fs::write(&path, png_claiming(w, h)).unwrap();
        let started = std::time::Instant::now();
        match photo::decode(&path) {
            Err(DataError::ImageTooLarge { path: p, width, height, .. }) => {
                assert_eq!((p, width, height), (path.clone(), w, h));
            }
            other => panic!("expected ImageTooLarge, got {other:?}"),
        }
        assert!(started.elapsed().as_secs_f64() < 1.0);
    }
    let model = random_model(dir.path(), 32);
    let path = dir.path().join("huge-20000.png");
    neuralnet()
        .arg("predict")
        .arg(&model)
        .arg(&path)
        .assert()
        .failure()
        .stderr(predicate::str::contains(path.display().to_string()).and(predicate::str::contains("20000×20000")));
}

fn a_large_real_photo_is_reduced_not_refused() {
    // 4000×3000 solid paper with a bar: compresses to little, decodes to 12 MB, reduced to 250 wide.
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (4000usize, 3000usize);
    let pixels: Vec<u8> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            if (2500..2700).contains(&x) && (500..2500).contains(&y) { 30 } else { 220 }
        })
        .collect();
    let path = dir.path().join("large.png");
    save_grey_png(&path, w as u32, h as u32, &pixels);
    let p = photo::load_and_preprocess(&path).unwrap();
    assert!(p.ink && p.inverted);
    let rows = (0..SIDE).filter(|r| p.pixels[r * SIDE..(r + 1) * SIDE].iter().any(|&v| v > 0)).count();
    assert_eq!(rows, BOX);
}

fn files_that_are_not_images_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.png");
    std::fs::write(&text, "hello, this is text\n").unwrap();
    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, "").unwrap();
    let gif = dir.path().join("anim.gif");
    std::fs::write(&gif, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap();
    let good = dir.path().join("good.png");
    save_grey_png(&good, 120, 100, &bar_page(120, 100, 210.0, 30.0, 4));
    let mut truncated_bytes = std::fs::read(&good).unwrap();
    truncated_bytes.truncate(truncated_bytes.len() / 2);
    let truncated = dir.path().join("truncated.png");
    std::fs::write(&truncated, truncated_bytes).unwrap();
    let missing = dir.path().join("missing.png");

    assert!(matches!(photo::decode(&text), Err(DataError::NotAnImage { .. })));
    let e = photo::decode(&empty).unwrap_err();
    assert!(matches!(e, DataError::NotAnImage { .. }) && e.to_string().contains("empty"), "{e}");
    assert!(matches!(photo::decode(&gif), Err(DataError::ImageUnsupported { .. })));
    assert!(matches!(photo::decode(&truncated), Err(DataError::ImageDecode { .. } | DataError::Io { .. })));
    assert!(matches!(photo::decode(&missing), Err(DataError::Io { .. })));
    for bad in [&text, &empty, &gif, &truncated, &missing] {
        let e = photo::decode(bad).unwrap_err().to_string();
        assert!(e.contains(&bad.display().to_string()), "{e}");
    }

    let model = random_model(dir.path(), 32);
    neuralnet().arg("predict").arg(&model).arg(&good).arg(&text).assert().failure().stderr(
        predicate::str::contains(text.display().to_string()).and(predicate::str::contains("not a PNG or JPEG")),
    );
    let out = neuralnet().arg("predict").arg(&model).args([&good, &truncated, &missing]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 of the 3") && stderr.contains("truncated.png") && stderr.contains("missing.png"),
        "{stderr}"
    );
    assert!(!stderr.contains("good.png"), "{stderr}");
}

/// A minimal EXIF block (little-endian TIFF) holding only an orientation.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut e = b"II\x2a\x00\x08\x00\x00\x00".to_vec();
    e.extend_from_slice(&1u16.to_le_bytes()); // one entry
    e.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    e.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&value.to_le_bytes());
    e.extend_from_slice(&[0, 0]);
    e.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    e
}

fn exif_orientation_is_applied() {
    // An "L" stored sideways with EXIF orientation 6 (rotate 90° clockwise to display) must read as
    // the same "L" stored upright.
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (200usize, 300usize);
    let upright: Vec<u8> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            let stem = (60..90).contains(&x) && (40..260).contains(&y);
            let foot = (60..160).contains(&x) && (230..260).contains(&y);
            if stem || foot { 20 } else { 225 }
        })
        .collect();
    // Stored: the upright image rotated 90° counter-clockwise (h wide, w tall).
    let mut stored = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            stored[(w - 1 - x) * h + y] = upright[y * w + x];
        }
    }
    let a = dir.path().join("upright.png");
    save_grey_png(&a, w as u32, h as u32, &upright);
    let b = dir.path().join("sideways.png");
    let mut enc = PngEncoder::new(std::fs::File::create(&b).unwrap());
    enc.set_exif_metadata(exif_orientation(6)).unwrap();
    enc.write_image(&stored, h as u32, w as u32, image::ExtendedColorType::L8).unwrap();
    let pa = photo::load_and_preprocess(&a).unwrap();
    let pb = photo::load_and_preprocess(&b).unwrap();
    assert!(pa.ink);
    assert_eq!(pa.pixels, pb.pixels);
}

// ---------------------------------------------------------------------------------------------
// MNIST test digits re-rendered as photos.

/// Renders `n` photo-like test digits (spread over the test set), runs `predict` on them with
/// `model`, and returns how many it read as their true label.
fn photo_accuracy(model: &Path, n: usize) -> usize {
    let mnist = neuralnet::data::mnist::load_dir(&neuralnet::data::mnist::default_cache_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2024);
    let count = mnist.test_images.count;
    let mut files = Vec::new();
    let mut labels = Vec::new();
    for k in 0..n {
        let i = (k * 7919) % count;
        let digit = &mnist.test_images.pixels[i * 784..(i + 1) * 784];
        let kind = [Kind::GreyPng, Kind::TintedPng, Kind::TintedJpeg][k % 3];
        let ext = if let Kind::TintedJpeg = kind { "jpg" } else { "png" };
        let path = dir.path().join(format!("digit-{k:03}-{i}.{ext}"));
        render_photo(digit, &mut rng, kind, &path);
        files.push(path);
        labels.push(u64::from(mnist.test_labels[i]));
    }
    let out = neuralnet().arg("predict").arg(model).args(&files).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), n);
    let mut correct = 0;
    for (item, &label) in items.iter().zip(&labels) {
        if item["prediction"].as_u64() == Some(label) {
            correct += 1;
        } else {
            eprintln!("misread: {} as {} (true {label})", item["file"], item["prediction"]);
        }
    }
    correct
}

fn photo_like_mnist_digits_small_model(cache: PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("small.safetensors");
    neuralnet()
        .args(["train", "--hidden", "256", "--epochs", "5", "--threads", "2"])
        .arg("--out")
        .arg(&model)
        .assert()
        .success();
    let correct = photo_accuracy(&model, 100);
    eprintln!("photo-like MNIST digits, small model: {correct} of 100 read correctly");
    assert!(correct >= 90, "{correct} of 100");

    // The pipeline on MNIST's own digits changes little: accuracy within a point of the raw input's.
    let mnist = neuralnet::data::mnist::load_dir(&cache).unwrap();
    let model = model_file::load(&model).unwrap();
    let n = 2000;
    let (mut raw, mut pre) = (Vec::new(), Vec::new());
    for d in mnist.test_images.pixels.chunks(784).take(n) {
        raw.extend(d.iter().map(|&v| f32::from(v) / 255.0));
        let grey = photo::GreyImage { width: 28, height: 28, pixels: d.iter().map(|&v| f32::from(v)).collect() };
        pre.extend(photo::preprocess_grey(&grey).pixels.iter().map(|&v| f32::from(v) / 255.0));
    }
    let correct = |x: &[f32]| {
        let out = model.network.predict(x, n).unwrap();
        out.chunks(10)
            .zip(&mnist.test_labels)
            .filter(|(row, l)| (0..10).max_by(|&a, &b| row[a].total_cmp(&row[b])) == Some(usize::from(**l)))
            .count()
    };
    let (r, p) = (correct(&raw), correct(&pre));
    eprintln!("first {n} MNIST test digits: {r} correct as they are, {p} after the photo preprocessing");
    assert!(p + n / 100 >= r, "{p} after preprocessing vs {r} raw");
}

fn photo_like_mnist_digits_acceptance(model: PathBuf) {
    let correct = photo_accuracy(&model, 200);
    eprintln!("photo-like MNIST digits: {correct} of 200 read correctly ({:.1}%)", correct as f64 / 2.0);
    assert!(correct >= 190, "{correct} of 200 (need 95%)");
}
