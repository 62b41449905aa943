//! `neuralnet export`: models as ONNX graphs, checked from outside by ONNX's checker, ONNX Runtime
//! and the `onnx` package's reference runtime (a second, independent implementation), against the
//! library's own predictions.
//!
//! The checks run in Python (`tests/onnx_check.py`: `pip install onnxruntime onnx numpy`); without
//! it they are reported as ignored with the reason (a failure under `NEURALNET_REQUIRE_ALL=1`). The
//! MNIST one also needs `NEURALNET_TEST_MNIST=1` (it trains the default network for one epoch).

mod common;

use common::prereq::{self, test, test_needing};
use common::{neuralnet, random_model};
use neuralnet::data::table::Column;
use neuralnet::model_file::{self, Model, ModelInfo};
use neuralnet::predictor::{Predictor, probabilities};
use neuralnet::{Activation, Architecture, Dataset, Init, Loss, Network, Workspace};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    prereq::run(vec![
        test("export_writes_what_info_describes", export_writes_what_info_describes),
        test("a_file_that_is_not_a_model_is_refused_and_nothing_is_written", not_a_model_is_refused),
        test_needing("every_activation_as_hidden_and_output_layer", python_onnx, every_activation),
        test_needing("table_classifier_and_regressor_with_text_columns_and_impute", python_onnx, tables),
        test_needing("a_convolutional_network_in_onnx_runtime_and_the_reference_runtime", python_onnx, convolutional),
        test_needing("the_default_mnist_model_in_onnx_runtime_and_the_reference_runtime", mnist_and_python, mnist),
    ]);
}

/// Python with ONNX Runtime, `onnx` and numpy.
fn python_onnx() -> Result<(), String> {
    let ok = |args: &[&str]| Command::new("python3").args(args).output().is_ok_and(|o| o.status.success());
    if !ok(&["--version"]) {
        return Err("python3 not found".into());
    }
    if !ok(&["-c", "import onnxruntime, onnx, onnx.reference, numpy"]) {
        return Err("python3 cannot import onnxruntime, onnx and numpy: pip install onnxruntime onnx numpy".into());
    }
    Ok(())
}

fn mnist_and_python() -> Result<PathBuf, String> {
    python_onnx()?;
    common::mnist()
}

/// Runs tests/onnx_check.py and returns its findings.
fn check(args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/onnx_check.py");
    let o = Command::new("python3").arg(script).args(args).output().unwrap();
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "onnx_check.py {args:?} failed:\n{err}");
    serde_json::from_str(out.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"))
}

fn f64_of(v: &serde_json::Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

fn write_f32(path: &Path, v: &[f32]) {
    std::fs::write(path, v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
}

fn export(model: &Path) -> PathBuf {
    let out = model.with_extension("onnx");
    neuralnet().arg("export").arg(model).arg("--out").arg(&out).assert().success();
    out
}

fn export_writes_what_info_describes() {
    let d = tempfile::tempdir().unwrap();
    let model = random_model(d.path(), 16);
    let o = neuralnet().arg("export").arg(&model).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{e}");
    assert!(e.contains("inputs pixels float32 [batch, 784]") && e.contains("label int64 [batch]"), "{e}");
    let bytes = std::fs::read(model.with_extension("onnx")).unwrap();
    assert!(bytes.len() > 784 * 16 * 4, "the weights are in the file");
    let info = neuralnet().arg("info").arg(&model).output().unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(text.contains("exportable:     ONNX"), "{text}");
}

fn not_a_model_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("bad.safetensors");
    std::fs::write(&bad, b"not a model at all").unwrap();
    let o = neuralnet().arg("export").arg(&bad).output().unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("bad.safetensors"), "names the file: {e}");
    let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 1, "nothing written beside it: {left:?}");
    // An existing export is not touched when a later one fails.
    let onnx = d.path().join("bad.onnx");
    std::fs::write(&onnx, b"previous").unwrap();
    assert!(!neuralnet().arg("export").arg(&bad).output().unwrap().status.success());
    assert_eq!(std::fs::read(&onnx).unwrap(), b"previous");
}

/// For each activation, a network with it on both hidden layers and the output, on inputs whose
/// step layers stay away from their threshold: ONNX Runtime's probabilities against the library's.
fn every_activation(_: ()) {
    let d = tempfile::tempdir().unwrap();
    let all = [
        Activation::Step { threshold: 0.1 },
        Activation::Sigmoid { k: 2.5, c: 0.3 },
        Activation::Sigmoid { k: 1.0, c: 0.0 },
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu { alpha: 0.05 },
        Activation::Identity,
        Activation::Softmax,
    ];
    for (i, f) in all.into_iter().enumerate() {
        let loss = if f == Activation::Softmax { Loss::CrossEntropy } else { Loss::HalfMse };
        let arch = Architecture::new(12).dense(9, f).dense(7, f).dense(4, f).loss(loss).init(Init::GlorotUniform);
        let net: Network<f32> = arch.build(i as u64 + 1).unwrap();
        let rows = 200;
        let pixels: Vec<f32> = (0..rows * 12).map(|j| ((j * 97 + i * 13) % 256) as f32).collect();
        let x: Vec<f32> = pixels.iter().map(|p| p / 255.0).collect();
        let mut ws = Workspace::new(&net, rows, 1);
        let out = net.forward(&x, rows, &mut ws).to_vec();
        // Rows where a step layer's z is within 1e-3 of its threshold could go either way.
        let keep: Vec<usize> = (0..rows)
            .filter(|&r| {
                net.layers.iter().enumerate().all(|(l, layer)| match layer.activation {
                    Activation::Step { threshold } => ws.z(l)[r * layer.outputs..(r + 1) * layer.outputs]
                        .iter()
                        .all(|z| (z - threshold as f32).abs() > 1e-3),
                    _ => true,
                })
            })
            .collect();
        assert!(keep.len() > rows / 2, "{f}: too few rows away from the threshold");
        let kept_pixels: Vec<f32> = keep.iter().flat_map(|&r| pixels[r * 12..(r + 1) * 12].to_vec()).collect();
        let want: Vec<f32> =
            keep.iter().flat_map(|&r| probabilities(&net, &out[r * 4..(r + 1) * 4])).map(|p| p as f32).collect();
        let model = d.path().join(format!("act{i}.safetensors"));
        model_file::save(&Model::new(net, ModelInfo::images(3, 4, 4)), &model).unwrap();
        let onnx = export(&model);
        let (px, ex) = (d.path().join(format!("x{i}.f32")), d.path().join(format!("p{i}.f32")));
        write_f32(&px, &kept_pixels);
        write_f32(&ex, &want);
        let r = check(&["images", onnx.to_str().unwrap(), px.to_str().unwrap(), ex.to_str().unwrap(), "-"]);
        eprintln!("{f}: {r}");
        assert!(f64_of(&r, "max_abs_diff") <= 1e-5, "{f}: {r}");
        assert!(f64_of(&r, "reference_max_abs_diff") <= 1e-5, "{f}: {r}");
        assert_eq!(f64_of(&r, "label_mismatches"), 0.0, "{f}: {r}");
    }
}

/// A convolutional network on 1×12×10 images (not square, both paddings, pooling with an odd size
/// floored, several activations): ONNX Runtime's and the reference runtime's probabilities against
/// the library's.
fn convolutional(_: ()) {
    let d = tempfile::tempdir().unwrap();
    let arch = Architecture::parse_spec(
        "conv:3:3:same:tanh,pool:2,conv:4:3:valid:relu,pool:2,dense:6:sigmoid,dense:4",
        neuralnet::conv::Maps::new(1, 12, 10),
        Activation::Relu,
        Activation::Softmax,
        Loss::CrossEntropy,
    )
    .unwrap();
    let mut net: Network<f32> = arch.build(5).unwrap();
    for (t, tensor) in net.tensors_mut().enumerate() {
        tensor.iter_mut().enumerate().for_each(|(i, v)| *v = (((i * 37 + t * 11) % 19) as f32 - 9.0) / 12.0);
    }
    let rows = 64;
    let pixels: Vec<f32> = (0..rows * 120).map(|j| ((j * 53 + j / 7) % 256) as f32).collect();
    let x: Vec<f32> = pixels.iter().map(|p| p / 255.0).collect();
    let mut ws = Workspace::new(&net, rows, 1);
    let out = net.forward(&x, rows, &mut ws).to_vec();
    let want: Vec<f32> = out.chunks(4).flat_map(|o| probabilities(&net, o)).map(|p| p as f32).collect();
    let model = d.path().join("conv.safetensors");
    model_file::save(&Model::new(net, ModelInfo::images(12, 10, 4)), &model).unwrap();
    let onnx = export(&model);
    let (px, ex) = (d.path().join("x.f32"), d.path().join("p.f32"));
    write_f32(&px, &pixels);
    write_f32(&ex, &want);
    let r = check(&["images", onnx.to_str().unwrap(), px.to_str().unwrap(), ex.to_str().unwrap(), "-"]);
    eprintln!("convolutional: {r}");
    assert!(f64_of(&r, "max_abs_diff") <= 1e-5, "{r}");
    assert!(f64_of(&r, "reference_max_abs_diff") <= 1e-5, "{r}");
    assert_eq!(f64_of(&r, "label_mismatches"), 0.0, "{r}");
}

/// Rows of a table with two numeric and two text columns, some cells missing, and an identifier
/// column (left out in training).
fn table_csv(rows: usize, seed: usize, regress: bool) -> String {
    let mut s = String::from("order_no,x1, colour ,x2,size (cm),target\n");
    for i in 0..rows {
        let j = i * 7 + seed;
        let x1 = ((j * 37) % 101) as f64 / 10.0 - 5.0;
        let x2 = ((j * 53) % 89) as f64 / 20.0;
        let colour = ["red", "green", "blue", "Red"][j % 4];
        let size = ["S", "M", "L"][(j / 3) % 3];
        let target = if regress {
            format!("{:.4}", 2.0 * x1 - x2 + if colour == "blue" { 3.0 } else { 0.0 })
        } else {
            (if x1 + if size == "L" { 2.0 } else { 0.0 } > 0.0 { "yes" } else { "no" }).to_string()
        };
        // Missing cells in every spelling the library reads as missing.
        let miss = ["", "NA", "n/a", "NaN", "null", "?"][j % 6];
        let x1 = if j.is_multiple_of(11) { miss.to_string() } else { x1.to_string() };
        let colour = if j.is_multiple_of(13) { miss } else { colour };
        let size = if j.is_multiple_of(17) { " ? " } else { size };
        s += &format!("A{j:06},{x1}, {colour} ,{x2},{size},{target}\n");
    }
    s
}

fn tables(_: ()) {
    let d = tempfile::tempdir().unwrap();
    for regress in [false, true] {
        let (train, test) = (d.path().join("train.csv"), d.path().join("test.csv"));
        std::fs::write(&train, table_csv(300, 0, regress)).unwrap();
        // The test rows add an unseen category.
        std::fs::write(&test, table_csv(80, 5, regress).replace("green", "purple")).unwrap();
        let model = d.path().join(if regress { "reg.safetensors" } else { "cls.safetensors" });
        let p = |x: &Path| x.to_str().unwrap().to_string();
        neuralnet()
            // Colour capped to its two most frequent values, the rest (and the unseen) "other".
            .args(["train", "--csv", &p(&train), "--target", "target", "--impute", "--l2", "0", "--epochs", "40"])
            .args(["--max-categories", "2"])
            .args(["--out", &p(&model)])
            .assert()
            .success();
        let tab = model_file::load(&model).unwrap().info.tabular.unwrap();
        assert_eq!(tab.dropped, ["order_no"], "the identifier is left out");
        let capped = |c: &Column| matches!(c, Column::Categorical { name, other: true, .. } if name == "colour");
        assert!(tab.columns.iter().any(capped), "colour is capped: {:?}", tab.columns);
        let preds = d.path().join("preds.csv");
        neuralnet().args(["predict", &p(&model), "--csv", &p(&test), "--out", &p(&preds)]).assert().success();
        let onnx = export(&model);
        let r = check(&["table", &p(&onnx), &p(&test), &p(&preds)]);
        eprintln!("{}: {r}", if regress { "regressor" } else { "classifier" });
        assert_eq!(r["inputs"], serde_json::json!(["numeric", "text_colour", "text_size__cm_"]), "{r}");
        if regress {
            assert!(f64_of(&r, "max_rel_diff") <= 1e-4, "{r}");
        } else {
            assert!(f64_of(&r, "max_abs_diff") <= 1e-5, "{r}");
            assert_eq!(f64_of(&r, "label_mismatches"), 0.0, "{r}");
        }
    }
}

fn mnist(dir: PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let model = d.path().join("default.safetensors");
    let dd = dir.to_str().unwrap();
    // The default network (784-1024-10, dropout 0.3, Adam), one epoch.
    neuralnet().args(["train", "--data-dir", dd, "--epochs", "1", "--out", model.to_str().unwrap()]).assert().success();
    let m = model_file::load(&model).unwrap();
    let idx = neuralnet::data::mnist::load_dir(&dir).unwrap();
    let images = &idx.test_images;
    let test = Dataset::from_images(&images.pixels, 784, &idx.test_labels, 10, &m.info.normalization).unwrap();
    // The library's fast inference path, as `serve` and `predict` use it.
    let predictor = Predictor::guess_background(m.network.clone(), &test.x);
    let out = predictor.predict(&test.x, test.len()).unwrap();
    let want: Vec<f32> = out.chunks(10).flat_map(|row| probabilities(&m.network, row)).map(|p| p as f32).collect();
    let eval = neuralnet::metrics::evaluate(&m.network, &test, 1000, 2).unwrap().accuracy.unwrap();
    let (px, ex, lb) = (d.path().join("x.f32"), d.path().join("p.f32"), d.path().join("y.u8"));
    write_f32(&px, &images.pixels.iter().map(|&p| f32::from(p)).collect::<Vec<_>>());
    write_f32(&ex, &want);
    std::fs::write(&lb, &idx.test_labels).unwrap();
    let onnx = export(&model);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let r = check(&["images", &s(&onnx), &s(&px), &s(&ex), &s(&lb)]);
    eprintln!("MNIST: {r}; eval's accuracy {eval}");
    assert_eq!(f64_of(&r, "rows"), 10_000.0);
    assert!(f64_of(&r, "max_abs_diff") <= 1e-5, "{r}");
    assert!(f64_of(&r, "reference_max_abs_diff") <= 1e-5, "{r}");
    assert_eq!(f64_of(&r, "accuracy"), eval, "ONNX Runtime's accuracy is eval's: {r}");
    assert_eq!(f64_of(&r, "reference_accuracy"), eval, "{r}");
}
