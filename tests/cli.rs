//! The binary run as a user would: train, eval and info on tiny IDX files written here, and the
//! clear one-line errors for bad input.

mod common;

use common::{eval_json, neuralnet, write_tiny_dataset};
use predicates::prelude::*;

#[test]
fn train_eval_info_on_tiny_images_with_three_classes() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_dataset(dir.path(), true);
    let model = dir.path().join("tiny.safetensors");
    let metrics = dir.path().join("metrics.jsonl");
    neuralnet()
        .args(["train", "--data-dir"])
        .arg(dir.path())
        .args([
            "--hidden",
            "16",
            "--epochs",
            "8",
            "--batch-size",
            "16",
            "--val-size",
            "50",
            "--threads",
            "1",
            "--lr",
            "0.01",
        ])
        .arg("--out")
        .arg(&model)
        .arg("--metrics")
        .arg(&metrics)
        .assert()
        .success()
        .stderr(predicate::str::contains("test accuracy"))
        .stderr(predicate::str::contains("epoch 8/8"));
    let lines = std::fs::read_to_string(&metrics).unwrap();
    assert_eq!(lines.lines().count(), 8);
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    for key in ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "grad_norms", "seconds"] {
        assert!(first.get(key).is_some(), "metrics line lacks {key}: {first}");
    }

    let v = eval_json(&model, dir.path());
    let acc = v["accuracy"].as_f64().unwrap();
    assert!(acc > 0.9, "accuracy {acc}");
    assert_eq!(v["confusion"].as_array().unwrap().len(), 3);

    neuralnet()
        .arg("info")
        .arg(&model)
        .assert()
        .success()
        .stdout(predicate::str::contains("100-16-3"))
        .stdout(predicate::str::contains("10×10"));
}

#[test]
fn augmented_training_learns_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_dataset(dir.path(), false);
    let model = dir.path().join("aug.safetensors");
    let train = |extra: &[&str]| {
        neuralnet()
            .args(["train", "--data-dir"])
            .arg(dir.path())
            .args(["--hidden", "16", "--epochs", "8", "--batch-size", "16", "--val-size", "50", "--threads", "2"])
            .args(["--lr", "0.01", "--out"])
            .arg(&model)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = train(&["--augment", "rotate=5,shift=1,alpha=8,sigma=3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = neuralnet().arg("eval").arg(&model).arg("--data-dir").arg(dir.path()).args(["--format", "json"]).output();
    let v: serde_json::Value = serde_json::from_slice(&out.unwrap().stdout).unwrap();
    assert!(v["accuracy"].as_f64().unwrap() > 0.8, "{v}");
    let info = neuralnet().arg("info").arg(&model).args(["--format", "json"]).output().unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let aug = &info["model"]["training"]["config"]["augment"];
    assert_eq!(aug["affine"]["rotate"], 5.0, "{aug}");
    assert_eq!(aug["elastic"]["sigma"], 3.0, "{aug}");
    assert_eq!((aug["width"].as_u64(), aug["height"].as_u64()), (Some(10), Some(10)));
    // Bad specifications are one clear line naming the part at fault.
    let out = train(&["--augment", "affine,twist"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown part 'twist'"));
}

#[test]
fn config_file_supplies_options_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_dataset(dir.path(), false);
    let cfg = dir.path().join("train.toml");
    std::fs::write(&cfg, "hidden = [8]\nepochs = 2\nval_size = 0\noptimizer = \"sgd\"\nlr = 0.5\n").unwrap();
    let model = dir.path().join("m.safetensors");
    neuralnet()
        .args(["train", "--data-dir"])
        .arg(dir.path())
        .arg("--config")
        .arg(&cfg)
        .args(["--epochs", "1", "--threads", "1"])
        .arg("--out")
        .arg(&model)
        .assert()
        .success()
        .stderr(predicate::str::contains("100-8-3"))
        .stderr(predicate::str::contains("1 epochs"))
        .stderr(predicate::str::contains("sgd"));
    std::fs::write(&cfg, "hiden = [8]\n").unwrap();
    neuralnet()
        .args(["train", "--data-dir"])
        .arg(dir.path())
        .arg("--config")
        .arg(&cfg)
        .assert()
        .failure()
        .stderr(predicate::str::contains("hiden"));
}

/// One line, starting "error:", naming the problem; never a panic.
fn assert_clean_error(out: &std::process::Output, needles: &[&str]) {
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error:"), "{err}");
    assert!(!err.contains("panicked") && !err.contains("internal error"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected '{n}' in: {err}");
    }
}

#[test]
fn bad_input_gives_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_dataset(dir.path(), false);
    let d = dir.path();

    let out = neuralnet().args(["train", "--activation", "swish", "--data-dir"]).arg(d).output().unwrap();
    assert_clean_error(&out, &["unknown activation 'swish'"]);

    let out = neuralnet()
        .args(["train", "--loss", "cross_entropy", "--output-activation", "relu", "--data-dir"])
        .arg(d)
        .output()
        .unwrap();
    assert_clean_error(&out, &["softmax"]);

    let out = neuralnet().args(["train", "--layers", "784,30,10", "--data-dir"]).arg(d).output().unwrap();
    assert_clean_error(&out, &["--layers", "100", "3"]);

    let bad_model = d.join("bad.safetensors");
    std::fs::write(&bad_model, b"not a model at all").unwrap();
    let out = neuralnet().arg("eval").arg(&bad_model).arg("--data-dir").arg(d).output().unwrap();
    assert_clean_error(&out, &["bad.safetensors", "not a valid safetensors"]);

    let out = neuralnet().arg("info").arg(d.join("missing.safetensors")).output().unwrap();
    assert_clean_error(&out, &["missing.safetensors"]);

    // A truncated label file.
    let labels = d.join("train-labels-idx1-ubyte");
    let bytes = std::fs::read(&labels).unwrap();
    std::fs::write(&labels, &bytes[..bytes.len() - 5]).unwrap();
    let out = neuralnet().args(["train", "--data-dir"]).arg(d).output().unwrap();
    assert_clean_error(&out, &["train-labels-idx1-ubyte"]);
}

#[test]
fn sizes_past_any_machine_give_an_error_not_an_abort() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_dataset(dir.path(), false);
    let d = dir.path();
    let train = |args: &[&str]| {
        neuralnet()
            .args(["train", "--epochs", "1", "--checkpoint-every", "0", "--data-dir"])
            .arg(d)
            .arg("--out")
            .arg(d.join("m.safetensors"))
            .args(args)
            .output()
            .unwrap()
    };
    // A width, a kernel count or an output past any machine's memory: refused before allocating.
    assert_clean_error(&train(&["--layers", "100,1000000000000,3"]), &["dense layer 1", "values per sample"]);
    assert_clean_error(&train(&["--layers", "100,50000000,3"]), &["dense layer 1", "parameters"]);
    assert_clean_error(&train(&["--arch", "conv:1000000000000:5,dense:3"]), &["feature layer 1", "parameters"]);
    assert_clean_error(&train(&["--arch", "conv:1000000:5:same,dense:3"]), &["feature layer 1", "values per sample"]);
    assert_clean_error(&train(&["--augment", "elastic,sigma=1e9"]), &["sigma", "10 px"]);
    // Under the limits, but past this machine's memory (4.16·10⁹ parameters: about 250 GiB to train).
    if std::path::Path::new("/proc/meminfo").exists() {
        assert_clean_error(&train(&["--layers", "100,40000000,3"]), &["GiB", "available", "4160000003 parameters"]);
    }
    // A batch larger than the data set is the whole data set.
    let out = train(&["--hidden", "8", "--batch-size", "18446744073709551615"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A model streamed from a device is read up to a bound, not until memory runs out.
    if std::path::Path::new("/dev/zero").exists() {
        assert_clean_error(
            &neuralnet().args(["info", "/dev/zero"]).output().unwrap(),
            &["/dev/zero", "not a regular file"],
        );
    }
    // A picture of a bounded number of images.
    let out = neuralnet().args(["plot", "augment", "--count", "60000"]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("1..=100"));
    // `explain` keeps every step's loss: a bounded number of them.
    let out = neuralnet().args(["explain", "--steps", "18446744073709551615"]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--steps"));
}

#[test]
fn output_that_cannot_be_written_is_said_once_and_plainly() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_dataset(dir.path(), false);
    let d = dir.path();
    let train = |args: &[&str]| {
        neuralnet()
            .args(["train", "--hidden", "8", "--epochs", "2", "--checkpoint-every", "0", "--data-dir"])
            .arg(d)
            .args(args)
            .output()
            .unwrap()
    };
    // A directory as the model or checkpoint path: said before training, not after.
    assert_clean_error(&train(&["--out", d.to_str().unwrap()]), &["cannot save the model", "is a directory"]);
    let out = train(&["--out", d.join("m.safetensors").to_str().unwrap(), "--checkpoint", d.to_str().unwrap()]);
    assert_clean_error(&out, &["cannot save the checkpoint", "is a directory"]);
    // An I/O error's cause is said once (it is both its message and its source).
    let out = neuralnet().args(["info"]).arg(d).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.matches("os error").count() == 1, "{err}");
    // A metrics log that cannot be written: training goes on, and says so once.
    if std::path::Path::new("/dev/full").exists() {
        let out = train(&["--out", d.join("m.safetensors").to_str().unwrap(), "--metrics", "/dev/full"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert_eq!(err.matches("cannot write the metrics file /dev/full").count(), 1, "{err}");
    }
}
