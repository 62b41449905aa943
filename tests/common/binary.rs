//! The built binary, run as a user would, and model files to give it.

use neuralnet::model_file::{self, Model, ModelInfo};
use neuralnet::{Activation, Architecture, Init, Loss, Network};
use std::path::{Path, PathBuf};

/// The `neuralnet` binary Cargo built for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_neuralnet"))
}

/// `neuralnet` as an `assert_cmd` command (add the subcommand and its arguments).
pub fn neuralnet() -> assert_cmd::Command {
    assert_cmd::Command::new(bin())
}

/// `neuralnet eval MODEL --data-dir DIR --format json`, which must succeed; its JSON.
pub fn eval_json(model: &Path, data_dir: &Path) -> serde_json::Value {
    let out = neuralnet().arg("eval").arg(model).arg("--data-dir").arg(data_dir).args(["--format", "json"]).output();
    let out = out.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout holds only JSON")
}

/// A 784-`hidden`-10 digit model with random weights, saved as `dir/random.safetensors`: enough to
/// exercise a command's plumbing.
pub fn random_model(dir: &Path, hidden: usize) -> PathBuf {
    let net = Architecture::mlp(&[784, hidden, 10], Activation::Relu, Activation::Softmax, Loss::CrossEntropy)
        .init(Init::HeUniform)
        .build::<f32>(3)
        .unwrap();
    let info = ModelInfo::images(28, 28, 10);
    let path = dir.join("random.safetensors");
    model_file::save(&Model::new(net, info), &path).unwrap();
    path
}
