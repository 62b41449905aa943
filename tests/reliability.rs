//! Never lose a trained model: kills at random moments, checkpoints that resume bit-identically
//! (also after Ctrl-C mid-epoch), and divergence that keeps the last good model.

mod common;

use assert_cmd::Command;
use common::{bin, write_tiny_dataset};
use neuralnet::model_file;
use rand::Rng as _;
use std::path::Path;
use std::time::Duration;

fn train_args(data: &Path) -> Vec<String> {
    train_args_with(data, "8", &[])
}

/// `extra` (e.g. `--augment …`) goes before `--data-dir`.
fn train_args_with(data: &Path, batch: &str, extra: &[&str]) -> Vec<String> {
    // A constant rate: a cosine schedule's shape depends on --epochs, so a shorter first run would
    // legitimately follow a different schedule.
    ["train", "--hidden", "12", "--batch-size", batch, "--val-size", "40", "--dropout", "0.2", "--schedule", "constant"]
        .iter()
        .chain(extra)
        .chain(&["--data-dir"])
        .map(|s| s.to_string())
        .chain([data.display().to_string()])
        .collect()
}

fn weights_bits(path: &Path) -> Vec<u32> {
    let m = model_file::load(path).unwrap();
    m.network.layers.iter().flat_map(|l| l.weights.iter().chain(&l.bias).map(|w| w.to_bits())).collect()
}

#[test]
fn resume_after_an_epoch_is_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_tiny_dataset(d, false);
    let full = d.join("full.safetensors");
    let part = d.join("part.safetensors");
    Command::new(bin())
        .args(train_args(d))
        .args(["--threads", "2", "--epochs", "3", "--out"])
        .arg(&full)
        .assert()
        .success();
    Command::new(bin())
        .args(train_args(d))
        .args(["--threads", "2", "--epochs", "1", "--out"])
        .arg(&part)
        .assert()
        .success();
    let ckpt = d.join("part.safetensors.ckpt");
    assert!(ckpt.exists(), "default checkpoint path is --out + .ckpt");
    Command::new(bin())
        .args(["train", "--resume"])
        .arg(&ckpt)
        .args(["--epochs", "3"])
        .assert()
        .success()
        .stderr(predicates::str::contains("resuming"));
    assert!(weights_bits(&full) == weights_bits(&part), "resumed weights differ from the uninterrupted run");
}

#[test]
fn ctrl_c_writes_a_checkpoint_and_the_resumed_run_is_bit_identical() {
    ctrl_c_then_resume(&train_args);
}

/// The same with augmented images and batches large enough to be split between the two threads:
/// both are seeded per batch, so a run stopped mid-epoch continues exactly.
#[test]
fn an_augmented_split_batch_run_resumes_bit_identically() {
    ctrl_c_then_resume(&|d: &Path| train_args_with(d, "32", &["--augment", "rotate=5,shift=1,alpha=8,sigma=2"]));
}

fn ctrl_c_then_resume(train_args: &dyn Fn(&Path) -> Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_tiny_dataset(d, false);
    let full = d.join("full.safetensors");
    let part = d.join("part.safetensors");
    let epochs = "400";
    let metrics = d.join("metrics.jsonl");
    Command::new(bin())
        .args(train_args(d))
        .args(["--threads", "2", "--epochs", epochs, "--out"])
        .arg(&full)
        .assert()
        .success();
    let child = std::process::Command::new(bin())
        .args(train_args(d))
        .args(["--threads", "2", "--epochs", epochs, "--checkpoint-every", "0", "--out"])
        .arg(&part)
        .arg("--metrics")
        .arg(&metrics)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once a few epochs are done, somewhere inside a later one.
    let t0 = std::time::Instant::now();
    while std::fs::read_to_string(&metrics).map_or(0, |m| m.lines().count()) < 3 {
        assert!(t0.elapsed() < Duration::from_secs(60), "training never got going");
        std::thread::sleep(Duration::from_millis(2));
    }
    let killed = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("resume with: neuralnet train --resume"), "{err}");
    Command::new(bin()).args(["train", "--resume"]).arg(d.join("part.safetensors.ckpt")).assert().success();
    assert!(
        weights_bits(&full) == weights_bits(&part),
        "weights after Ctrl-C and resume differ from the uninterrupted run"
    );
}

#[test]
fn killed_at_random_moments_the_files_on_disk_always_load() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_tiny_dataset(d, false);
    let out = d.join("m.safetensors");
    let ckpt = d.join("m.safetensors.ckpt");
    let mut rng = neuralnet::rng::rng(5);
    let mut loaded = 0;
    for i in 0..50 {
        // Short runs end (and save) inside the window; long ones are killed while checkpointing.
        let epochs = if i % 2 == 0 { rng.random_range(1..6) } else { 500 };
        let mut child = std::process::Command::new(bin())
            .args(train_args(d))
            .args(["--threads", "1", "--epochs", &epochs.to_string(), "--out"])
            .arg(&out)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(5..250)));
        let _ = child.kill();
        let _ = child.wait();
        if out.exists() {
            model_file::load(&out).unwrap_or_else(|e| panic!("kill {i}: model does not load: {e}"));
            loaded += 1;
        }
        if ckpt.exists() {
            model_file::load_checkpoint(&ckpt).unwrap_or_else(|e| panic!("kill {i}: checkpoint does not load: {e}"));
            loaded += 1;
        }
        let strays: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        // A killed save may leave its temporary file behind, but never under the real name.
        for s in strays {
            let _ = std::fs::remove_file(s.path());
        }
    }
    assert!(loaded > 10, "only {loaded} files were there to check");
}

#[test]
fn divergence_stops_with_epoch_batch_and_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_tiny_dataset(d, false);
    let out = Command::new(bin())
        .args(train_args(d))
        .args(["--optimizer", "sgd", "--lr", "1e30", "--loss", "half-mse", "--epochs", "3", "--out"])
        .arg(d.join("m.safetensors"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("diverged at epoch 1, batch") && err.contains("learning rate"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
