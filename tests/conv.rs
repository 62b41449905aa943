//! Convolutional networks through the binary: `train --arch` on tiny 10×10 images, then `eval`,
//! `info`, `predict`-free checks of the model file, and the clear refusals.

mod common;

use common::{eval_json, neuralnet, write_tiny_dataset};
use predicates::prelude::*;
use std::path::Path;

fn train(dir: &Path, model: &Path, arch: &str, threads: &str) -> assert_cmd::assert::Assert {
    neuralnet()
        .args(["train", "--data-dir"])
        .arg(dir)
        .args(["--arch", arch, "--epochs", "6", "--batch-size", "16", "--val-size", "50", "--lr", "0.01"])
        .args(["--threads", threads])
        .arg("--out")
        .arg(model)
        .assert()
}

#[test]
fn a_convolutional_network_trains_evaluates_and_describes_itself() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_dataset(dir.path(), false);
    let arch = "conv:4:3:same,pool:2,conv:6:3,dense:12,dense:3";
    let one = dir.path().join("one.safetensors");
    train(dir.path(), &one, arch, "1")
        .success()
        .stderr(predicate::str::contains("1×10×10 → conv:4:3:same,pool:2,conv:6:3:valid,dense:12,dense:3"))
        .stderr(predicate::str::contains("test accuracy"));
    let v = eval_json(&one, dir.path());
    let acc = v["accuracy"].as_f64().unwrap();
    assert!(acc > 0.9, "accuracy {acc}");
    neuralnet()
        .arg("info")
        .arg(&one)
        .assert()
        .success()
        .stdout(predicate::str::contains("format version: 2"))
        .stdout(predicate::str::contains("layer 1: conv: W 4×1×3×3, b 4, same padding, activation relu → 4×10×10"))
        .stdout(predicate::str::contains("layer 2: pool: 2×2 max → 4×5×5"))
        .stdout(predicate::str::contains("layer 4: W 12×54, b 12, activation relu"))
        .stdout(predicate::str::contains(
            "exportable:     ONNX (neuralnet export): inputs pixels float32 [batch, 100]",
        ));
    // Two threads take the same steps.
    let two = dir.path().join("two.safetensors");
    train(dir.path(), &two, arch, "2").success();
    let (a, b) = (neuralnet::model_file::load(&one).unwrap(), neuralnet::model_file::load(&two).unwrap());
    assert_eq!(a.network, b.network);
    // The export writes the convolutions too (checked in ONNX Runtime by tests/onnx.rs).
    let onnx = dir.path().join("m.onnx");
    neuralnet().arg("export").arg(&one).arg("--out").arg(&onnx).assert().success();
    assert!(std::fs::metadata(&onnx).unwrap().len() > 0);
}

#[test]
fn bad_arch_specs_get_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_dataset(dir.path(), false);
    let model = dir.path().join("m.safetensors");
    for (arch, needle) in [
        ("conv:4:4:same,dense:3", "odd kernel"),
        ("conv:4:3,pool:2,dense:5", "the data has 3 classes"),
        ("conv:4:11,dense:3", "does not fit"),
        ("dense:8,conv:4:3,dense:3", "comes after a dense layer"),
        ("conv:4:3", "at least one dense layer"),
    ] {
        let out = train(dir.path(), &model, arch, "1").failure().get_output().clone();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{arch}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{arch}: {err}");
        assert!(!model.exists());
    }
    neuralnet()
        .args(["train", "--arch", "conv:4:3,dense:3", "--hidden", "8"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("cannot be used with"));
}
