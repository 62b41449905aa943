//! Model files open in Python's `safetensors` package, with the PyTorch-style names and shapes, and
//! a convolutional model's forward pass computed independently in NumPy from the file alone equals
//! ours.
//! Reported as ignored, with the reason, when Python or the package is missing (a failure under
//! `NEURALNET_REQUIRE_ALL=1`; `.ci/run` installs them).

mod common;

use common::prereq::{self, test_needing};
use neuralnet::model_file::{self, Model, ModelInfo};
use neuralnet::{Activation, Architecture, Init, Loss};
use std::process::Command;

fn main() {
    prereq::run(vec![
        test_needing(
            "python_safetensors_reads_our_model_files",
            common::python_safetensors,
            python_safetensors_reads_our_model_files,
        ),
        test_needing(
            "numpy_computes_a_convolutional_model_s_outputs_from_its_file",
            common::python_safetensors,
            numpy_computes_a_convolutional_model_s_outputs_from_its_file,
        ),
    ]);
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

/// The forward pass written from the model file's description alone: `input_maps`, `features`
/// (`conv:C:K:valid|same:ACTIVATION`, `pool:2`), then the dense layers, in NumPy's loops.
const NUMPY_FORWARD: &str = r#"
import sys, json
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file
t = load_file(sys.argv[1])
with safe_open(sys.argv[1], framework="np") as f:
    desc = json.loads(f.metadata()["neuralnet"])
x = np.array(json.load(open(sys.argv[2])), dtype=np.float64)
def act(name, z):
    if name == "relu": return np.maximum(z, 0)
    if name == "tanh": return np.tanh(z)
    if name == "sigmoid": return 1 / (1 + np.exp(-z))
    if name == "identity": return z
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True)); return e / e.sum(axis=1, keepdims=True)
    raise ValueError(name)
c, h, w = desc["input_maps"]
a = x.reshape(len(x), c, h, w)
for k, spec in enumerate(desc["features"]):
    parts = spec.split(":")
    if parts[0] == "pool":
        n, ch, hh, ww = a.shape
        a = a[:, :, :hh // 2 * 2, :ww // 2 * 2].reshape(n, ch, hh // 2, 2, ww // 2, 2).max(axis=(3, 5))
        continue
    W = t[f"features.{k}.weight"].astype(np.float64); b = t[f"features.{k}.bias"].astype(np.float64)
    kk = int(parts[2]); pad = (kk - 1) // 2 if parts[3] == "same" else 0
    n, ch, hh, ww = a.shape
    p = np.zeros((n, ch, hh + 2 * pad, ww + 2 * pad)); p[:, :, pad:pad + hh, pad:pad + ww] = a
    oh, ow = hh + 2 * pad - kk + 1, ww + 2 * pad - kk + 1
    z = np.zeros((n, W.shape[0], oh, ow))
    for o in range(W.shape[0]):
        for i in range(oh):
            for j in range(ow):
                z[:, o, i, j] = (p[:, :, i:i + kk, j:j + kk] * W[o]).sum(axis=(1, 2, 3)) + b[o]
    a = act(":".join(parts[4:]), z)
a = a.reshape(len(a), -1)
for i, f in enumerate(desc["activations"]):
    a = act(f, a @ t[f"layers.{i}.weight"].astype(np.float64).T + t[f"layers.{i}.bias"])
print(json.dumps(a.tolist()))
"#;

fn numpy_computes_a_convolutional_model_s_outputs_from_its_file((): ()) {
    let arch = Architecture::parse_spec(
        "conv:3:3:same:tanh,pool:2,conv:4:2:relu,dense:6:tanh,dense:3",
        neuralnet::conv::Maps::new(2, 9, 8),
        Activation::Relu,
        Activation::Softmax,
        Loss::CrossEntropy,
    )
    .unwrap();
    let net = arch.build::<f32>(4).unwrap();
    let model = Model::new(net, ModelInfo::images(9, 8, 3));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conv.safetensors");
    model_file::save(&model, &path).unwrap();
    let rows = 3;
    let x: Vec<f32> = (0..rows * 144).map(|i| ((i * 7919) % 251) as f32 / 125.0 - 1.0).collect();
    let ours = model.network.predict(&x, rows).unwrap();
    let inputs: Vec<Vec<f32>> = x.chunks(144).map(<[f32]>::to_vec).collect();
    let input_path = dir.path().join("x.json");
    std::fs::write(&input_path, serde_json::to_string(&inputs).unwrap()).unwrap();
    let out = Command::new("python3").arg("-c").arg(NUMPY_FORWARD).arg(&path).arg(&input_path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs: Vec<Vec<f64>> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(theirs.len(), rows);
    for (r, row) in theirs.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let o = f64::from(ours[r * 3 + j]);
            assert!((o - v).abs() < 1e-5, "row {r} output {j}: ours {o}, NumPy's {v}");
        }
    }
}
