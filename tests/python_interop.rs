//! Model files open in Python's `safetensors` package, with the PyTorch-style names and shapes.
//! Reported as ignored, with the reason, when Python or the package is missing (a failure under
//! `NEURALNET_REQUIRE_ALL=1`; `.ci/run` installs them).

mod common;

use common::prereq::{self, test_needing};
use neuralnet::model_file::{self, Model, ModelInfo};
use neuralnet::{Activation, Architecture, Init, Loss};
use std::process::Command;

fn main() {
    prereq::run(vec![test_needing(
        "python_safetensors_reads_our_model_files",
        common::python_safetensors,
        python_safetensors_reads_our_model_files,
    )]);
}

fn python_safetensors_reads_our_model_files((): ()) {
    let net = Architecture::mlp(&[6, 4, 3], Activation::Relu, Activation::Softmax, Loss::CrossEntropy)
        .init(Init::HeNormal)
        .build::<f32>(9)
        .unwrap();
    let info = ModelInfo {
        classes: Some(vec!["a".into(), "b".into(), "c".into()]),
        test_accuracy: Some(0.75),
        ..ModelInfo::images(2, 3, 3)
    };
    let model = Model::new(net, info);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model_file::save(&model, &path).unwrap();
    let script = r#"
import sys, json
from safetensors import safe_open
from safetensors.numpy import load_file
t = load_file(sys.argv[1])
with safe_open(sys.argv[1], framework="np") as f:
    meta = f.metadata()
print(json.dumps({
    "names": sorted(t),
    "shapes": {k: list(v.shape) for k, v in t.items()},
    "dtypes": sorted({str(v.dtype) for v in t.values()}),
    "w0": float(t["layers.0.weight"][1][2]),
    "b1": float(t["layers.1.bias"][2]),
    "format": meta["format"],
    "sizes": json.loads(meta["neuralnet"])["sizes"],
}))
"#;
    let out = Command::new("python3").arg("-c").arg(script).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["names"], serde_json::json!(["layers.0.bias", "layers.0.weight", "layers.1.bias", "layers.1.weight"]));
    assert_eq!(v["shapes"]["layers.0.weight"], serde_json::json!([4, 6]));
    assert_eq!(v["shapes"]["layers.1.bias"], serde_json::json!([3]));
    assert_eq!(v["dtypes"], serde_json::json!(["float32"]));
    assert_eq!(v["w0"].as_f64().unwrap() as f32, model.network.layers[0].weights[6 + 2]);
    assert_eq!(v["b1"].as_f64().unwrap() as f32, model.network.layers[1].bias[2]);
    assert_eq!(v["format"], "neuralnet");
    assert_eq!(v["sizes"], serde_json::json!([6, 4, 3]));
}
