//! `neuralnet explain` as a user runs it: the article's example (true values, flagged slips), and
//! random networks checked against the fast path and finite differences.

mod common;

use common::*;
use neuralnet::rng::rng;
use neuralnet::{Architecture, Gradients, Workspace};
use rand::Rng as _;
use serde_json::{Value, json};

fn explain(args: &[&str]) -> std::process::Output {
    neuralnet().arg("explain").args(args).output().unwrap()
}

#[test]
fn article_example_json_has_the_true_values() {
    let out = explain(&["--format", "json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = |p: &Value| p.as_f64().unwrap();
    assert!(close(f(&v["loss"]), 0.04008243439950183, 1e-12));
    let l1 = &v["layers"][0];
    let l2 = &v["layers"][1];
    assert!(close(f(&l1["z"][0][1]), 0.39, 1e-12));
    assert!(close(f(&l2["delta"][0][0]), -0.05746746786772299, 1e-12));
    assert!(close(f(&l1["delta"][0][0]), -0.007131782143378306, 1e-12));
    assert!(close(f(&l1["delta"][0][1]), -0.008300473773525954, 1e-12));
    assert!(close(f(&l2["dL_dW"][0][0]), -0.031170236232969134, 1e-12));
    assert!(close(f(&l2["dL_dW"][0][1]), -0.03426685686191729, 1e-12));
    assert!(close(f(&l2["updated_W"][0][0]), 0.5031170236232969, 1e-12));
    assert!(close(f(&l2["updated_W"][0][1]), 0.6034266856861917, 1e-12));
    assert!(close(f(&l2["updated_b"][0]), 0.30574674678677227, 1e-12));
    assert!(v["article"].as_array().is_some_and(|a| !a.is_empty()));
}

#[test]
fn text_flags_exactly_the_wrong_article_values() {
    // Independently: the truth from the formulas, the article's numbers as printed.
    let s = |z: f64| 1.0 / (1.0 + (-z).exp());
    let z1 = [0.17, 0.39];
    let a1 = [s(z1[0]), s(z1[1])];
    let z2 = 0.5 * a1[0] + 0.6 * a1[1] + 0.3;
    let a2 = s(z2);
    let d2 = (a2 - 1.0) * a2 * (1.0 - a2);
    let sp1 = [a1[0] * (1.0 - a1[0]), a1[1] * (1.0 - a1[1])];
    let d1 = [0.5 * d2 * sp1[0], 0.6 * d2 * sp1[1]];
    let x = [0.5, 0.1];
    let truth_and_printed: Vec<(f64, f64, i32)> = vec![
        (z1[0], 0.17, 2),
        (z1[1], 0.35, 2),
        (a1[0], 0.542, 3),
        (a1[1], 0.586, 3),
        (z2, 0.9226, 4),
        (a2, 0.715, 3),
        (0.5 * (a2 - 1.0).powi(2), 0.0406, 4),
        (a2 - 1.0, -0.285, 3),
        (a2 * (1.0 - a2), 0.203, 3),
        (d2, -0.0579, 4),
        (0.5 * d2, -0.02895, 5),
        (0.6 * d2, -0.03474, 5),
        (sp1[0], 0.248, 3),
        (sp1[1], 0.242, 3),
        (d1[0], -0.00718, 5),
        (d1[1], -0.00841, 5),
        (d2 * a1[0], -0.0314, 4),
        (d2 * a1[1], -0.0339, 4),
        (d2, -0.0579, 4),
        (d1[0] * x[0], -0.00359, 5),
        (d1[0] * x[1], -0.000718, 6),
        (d1[1] * x[0], -0.004205, 6),
        (d1[1] * x[1], -0.000841, 6),
        (d1[0], -0.00718, 5),
        (d1[1], -0.00841, 5),
        (0.5 - 0.1 * d2 * a1[0], 0.50314, 5),
        (0.6 - 0.1 * d2 * a1[1], 0.60339, 5),
        (0.3 - 0.1 * d2, 0.30579, 5),
        (0.1 - 0.1 * d1[0] * x[0], 0.100359, 6),
        (0.2 - 0.1 * d1[0] * x[1], 0.2000718, 7),
        (0.3 - 0.1 * d1[1] * x[0], 0.3004205, 7),
        (0.4 - 0.1 * d1[1] * x[1], 0.4000841, 7),
        (0.1 - 0.1 * d1[0], 0.100718, 6),
        (0.2 - 0.1 * d1[1], 0.200841, 6),
    ];
    let expected_flags = truth_and_printed.iter().filter(|(t, p, d)| (t - p).abs() > 10f64.powi(-d)).count();
    let out = explain(&["--lang", "en"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches('✗').count(), expected_flags, "{text}");
    assert!(text.contains("0.35 ✗") && text.contains("[0.17, 0.39]"));
    assert!(text.contains("a new slip here"));
    // z₁[0] and a₁[0] are right as printed.
    assert!(text.contains("[0.17, 0.35 ✗]") && text.contains("[0.542, 0.586 ✗]"));
    assert!(text.contains("⊙") && text.contains("1×2") && text.contains("∂a₁₂/∂z₁₂"));

    let zh = String::from_utf8(explain(&["--lang", "zh"]).stdout).unwrap();
    assert!(zh.contains("前向传播") && zh.contains("反向传播"));
    let md = String::from_utf8(explain(&["--format", "markdown"]).stdout).unwrap();
    assert!(md.contains("$$") && md.contains("\\delta_{1}"), "{md}");
}

#[test]
fn steps_show_the_loss_falling() {
    let out = explain(&["--format", "json", "--steps", "5"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let l: Vec<f64> = v["loss_per_step"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert_eq!(l.len(), 5);
    assert!(l.windows(2).all(|w| w[1] < w[0]), "{l:?}");
}

#[test]
fn steps_that_diverge_stop_and_say_so_and_the_work_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net.json");
    // z = x₁ + x₂ with η = 2 on half the squared error: each step multiplies the error by −3.
    let problem = json!({"layers": [{"W": [[1, 1]], "b": [0], "activation": "identity"}], "loss": "half_mse",
        "x": [[1, 1]], "y": [[1]], "lr": 2});
    std::fs::write(&net, problem.to_string()).unwrap();
    let path = net.to_str().unwrap();
    let out = explain(&["--net", path, "--format", "json", "--steps", "1000"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = v["diverged_at_step"].as_u64().unwrap() as usize;
    let l = v["loss_per_step"].as_array().unwrap();
    assert!(steps > 100 && steps < 1000 && l.len() == steps && l[steps - 1].is_null(), "{steps} {}", l.len());
    let out = explain(&["--net", path, "--steps", "1000", "--lang", "en"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("no longer a finite number at step {steps}")), "{text}");
    // 100 000 steps on 20 000 samples: refused before the first.
    let many = json!({"layers": [{"W": [[1, 1]], "b": [0], "activation": "identity"}], "loss": "half_mse",
        "x": vec![[0.5, 0.5]; 20_000], "y": vec![[1.0]; 20_000], "lr": 0.1});
    std::fs::write(&net, many.to_string()).unwrap();
    let out = explain(&["--net", path, "--steps", "100000"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("multiply-adds") && err.contains("20000 samples"), "{err}");
}

/// Random networks (depth 1–4, every activation and loss, 1–8 rows): explain's JSON equals the fast
/// path (≤ 1e-9) and finite differences (≤ 1e-6).
#[test]
fn random_networks_match_fast_path_and_finite_differences() {
    let mut rng = rng(99);
    let dir = tempfile::tempdir().unwrap();
    let mut cases = 0;
    for (out_act, loss) in accepted_pairs() {
        for hidden in all_activations() {
            let depth = rng.random_range(1..=4);
            let batch = rng.random_range(1..=8);
            let (net, x, y) = loop {
                let net = random_net(&mut rng, depth, hidden, out_act, loss);
                let (x, y) = random_batch(&mut rng, &net, batch);
                if !near_kink(&net, &x, batch, 1e-3) {
                    break (net, x, y);
                }
            };
            let spec = json!({
                "layers": net.layers.iter().map(|l| json!({
                    "W": l.weights.chunks(l.inputs).collect::<Vec<_>>(),
                    "b": l.bias,
                    "activation": l.activation.to_string(),
                })).collect::<Vec<_>>(),
                "loss": loss.to_string(),
                "x": x.chunks(net.inputs()).collect::<Vec<_>>(),
                "y": y.chunks(net.outputs()).collect::<Vec<_>>(),
                "lr": 0.1,
            });
            let path = dir.path().join("net.json");
            std::fs::write(&path, spec.to_string()).unwrap();
            let out = explain(&["--format", "json", "--net", path.to_str().unwrap()]);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();

            let mut ws = Workspace::new(&net, batch, 1);
            let mut grads = Gradients::zeros(&net);
            let loss_value = net.loss_and_gradients(&x, &y, batch, &mut ws, &mut grads, None);
            assert!(close(v["loss"].as_f64().unwrap(), loss_value, 1e-9));
            for l in 0..net.layers.len() {
                let got: Vec<f64> = v["layers"][l]["dL_dW"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
                    .collect();
                for (i, (g, f)) in got.iter().zip(&grads.weights[l]).enumerate() {
                    assert!(close(*g, *f, 1e-9), "{hidden}/{out_act}/{loss} layer {l} W[{i}]: {g} vs {f}");
                    // Finite difference on the same weight.
                    let h = 1e-6;
                    let (mut p, mut m) = (net.clone(), net.clone());
                    p.layers[l].weights[i] += h;
                    m.layers[l].weights[i] -= h;
                    let num = (batch_loss(&p, &x, &y, batch) - batch_loss(&m, &x, &y, batch)) / (2.0 * h);
                    assert!(close(*g, num, 1e-6), "{hidden}/{out_act}/{loss} layer {l} W[{i}]: {g} vs numeric {num}");
                }
                let a: Vec<f64> = v["layers"][l]["a"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
                    .collect();
                for (g, f) in a.iter().zip(ws.a(l)) {
                    assert!(close(*g, *f, 1e-9));
                }
            }
            cases += 1;
        }
    }
    assert!(cases >= 80);
}

#[test]
fn bad_net_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.json");
    std::fs::write(&p, r#"{"layers": [{"W": [[1, 2], [3]], "b": [0, 0], "activation": "relu"}], "loss": "half_mse", "x": [[1, 2]], "y": [[1, 0]]}"#).unwrap();
    let out = explain(&["--net", p.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error:") && err.contains("bad.json") && err.contains("row 1 of W"), "{err}");
}

#[test]
fn neuron_shows_the_festival_decision() {
    let out = neuralnet().args(["neuron", "--lang", "en"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("  x = [").count(), 8, "{text}");
    assert!(text.contains("x = [1, 0, 0]: z = 6·1 + 2·0 + 2·0 + 1 = 7, a = step:5(7) = 1  → go"), "{text}");
    assert!(text.contains("x = [0, 1, 1]: z = 6·0 + 2·1 + 2·1 + 1 = 5, a = step:5(5) = 0  → stay home"), "{text}");
    assert!(text.contains("hyperplane") && text.contains("weighted vote"));
    let out = neuralnet().args(["neuron", "--input", "1,0", "--weights", "6,2,2"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--input has 2 values but there are 3 weights"));
    // Products past the largest float: said, not just printed as inf.
    let args = ["neuron", "--lang", "en", "--weights", "1e308,1e308", "--input", "1e308,1e308"];
    let out = neuralnet().args(args).output().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("the products overflowed"));
    let out = neuralnet().args(["neuron", "--lang", "en"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("overflowed"));
}

#[test]
fn explain_a_trained_model_on_one_image() {
    use neuralnet::model_file::{self, Model, ModelInfo};
    use neuralnet::{Activation, Init, Loss};
    let dir = tempfile::tempdir().unwrap();
    let net = Architecture::mlp(&[784, 16, 10], Activation::Relu, Activation::Softmax, Loss::CrossEntropy)
        .init(Init::HeUniform)
        .build::<f32>(3)
        .unwrap();
    let info = ModelInfo::images(28, 28, 10);
    let model = dir.path().join("m.safetensors");
    model_file::save(&Model::new(net, info), &model).unwrap();

    // A dark vertical stroke on grey paper: a "1".
    let mut img = image::GrayImage::from_pixel(120, 160, image::Luma([215u8]));
    for y in 30..130 {
        for x in 55..67 {
            img.put_pixel(x, y, image::Luma([30u8]));
        }
    }
    let png = dir.path().join("one.png");
    img.save(&png).unwrap();
    let out = neuralnet()
        .args(["explain", "--lang", "en", "--model"])
        .arg(&model)
        .arg("--image")
        .arg(&png)
        .args(["--label", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("The input the network sees") && text.contains('█'), "{text}");
    assert!(text.contains("layer 1: z1 = W1a0 + b1 (W 16×784)") && text.contains("neurons active"), "{text}");
    assert!(text.contains("prediction:") && text.contains("Backpropagation for the label 1"), "{text}");
    assert!(text.contains("‖∂L/∂W1‖"), "{text}");

    let blank = dir.path().join("blank.png");
    image::GrayImage::from_pixel(50, 50, image::Luma([230u8])).save(&blank).unwrap();
    let out = neuralnet().args(["explain", "--model"]).arg(&model).arg("--image").arg(&blank).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no ink"));
}

/// The nested JSON form of a convolution's `W` (out × in × k × k).
fn kernels_json(c: &neuralnet::conv::Conv2d<f64>) -> Value {
    let kk = c.kernel * c.kernel;
    json!(
        c.weights
            .chunks(c.input.channels * kk)
            .map(|o| o.chunks(kk).map(|q| q.chunks(c.kernel).collect::<Vec<_>>()).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    )
}

/// Convolutional networks (both paddings, 1–3 channels, pooling, every loss, 1–3 rows): explain's
/// JSON equals the fast path (≤ 1e-9) and finite differences (≤ 1e-6) for every convolution's ∂L/∂W.
#[test]
fn convolutional_networks_match_fast_path_and_finite_differences() {
    use neuralnet::network::Feature;
    use neuralnet::{Activation, Loss};
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("conv:1:2:valid:tanh,pool:2", (1, 5, 5), Activation::SIGMOID, Loss::HalfMse, 1),
        (
            "conv:2:3:same:tanh,pool:2,conv:3:2:valid:sigmoid,dense:4:tanh",
            (1, 6, 6),
            Activation::Softmax,
            Loss::CrossEntropy,
            3,
        ),
        ("conv:3:3:valid:sigmoid,conv:2:3:same:tanh", (2, 5, 4), Activation::SIGMOID, Loss::BinaryCrossEntropy, 2),
    ];
    let mut rng = rng(7);
    for (case, (spec, (c, h, w), out_act, loss, batch)) in cases.into_iter().enumerate() {
        let maps = neuralnet::conv::Maps::new(c, h, w);
        let arch = Architecture::parse_spec(&format!("{spec},dense:2"), maps, Activation::Tanh, out_act, loss).unwrap();
        let mut net = arch.build::<f64>(case as u64 + 1).unwrap();
        for t in net.tensors_mut() {
            t.iter_mut().for_each(|v| *v = rng.random_range(-0.8..0.8));
        }
        let (x, y) = random_batch(&mut rng, &net, batch);
        let mut layers: Vec<Value> = net
            .features
            .iter()
            .map(|f| match f {
                Feature::Conv(c) => json!({
                    "type": "conv", "W": kernels_json(c), "b": c.bias, "activation": c.activation.to_string(),
                    "padding": if c.pad() == 0 && c.kernel > 1 { "valid" } else { "same" },
                }),
                Feature::Pool(_) => json!({"type": "pool"}),
            })
            .collect();
        layers.extend(net.layers.iter().map(|l| {
            json!({"W": l.weights.chunks(l.inputs).collect::<Vec<_>>(), "b": l.bias, "activation": l.activation.to_string()})
        }));
        let spec = json!({
            "input": [c, h, w], "layers": layers, "loss": loss.to_string(),
            "x": x.chunks(net.inputs()).collect::<Vec<_>>(), "y": y.chunks(net.outputs()).collect::<Vec<_>>(),
        });
        let path = dir.path().join("conv.json");
        std::fs::write(&path, spec.to_string()).unwrap();
        let out = explain(&["--format", "json", "--net", path.to_str().unwrap()]);
        assert!(out.status.success(), "{spec}: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        // The text form runs too, and names the pooling routing.
        let text = explain(&["--net", path.to_str().unwrap(), "--lang", "en"]);
        assert!(text.status.success());

        let mut ws = Workspace::new(&net, batch, 1);
        let mut grads = Gradients::zeros(&net);
        let loss_value = net.loss_and_gradients(&x, &y, batch, &mut ws, &mut grads, None);
        assert!(close(v["loss"].as_f64().unwrap(), loss_value, 1e-9), "{spec}");
        let flat = |v: &Value| -> Vec<f64> {
            fn go(v: &Value, out: &mut Vec<f64>) {
                match v {
                    Value::Array(a) => a.iter().for_each(|x| go(x, out)),
                    x => out.push(x.as_f64().unwrap()),
                }
            }
            let mut out = Vec::new();
            go(v, &mut out);
            out
        };
        let mut conv = 0;
        for (k, f) in net.features.iter().enumerate() {
            let entry = &v["layers"][k];
            let Feature::Conv(_) = f else {
                assert_eq!(entry["type"], "pool");
                continue;
            };
            assert_eq!(entry["type"], "conv");
            let got = flat(&entry["dL_dW"]);
            assert_eq!(got.len(), grads.conv_weights[conv].len());
            for (i, (g, fast)) in got.iter().zip(&grads.conv_weights[conv]).enumerate() {
                assert!(close(*g, *fast, 1e-9), "{spec} layer {} W[{i}]: {g} vs {fast}", k + 1);
                let hstep = 1e-6;
                let (mut p, mut m) = (net.clone(), net.clone());
                let bump = |n: &mut neuralnet::Network<f64>, d: f64| {
                    if let Feature::Conv(c) = &mut n.features[k] {
                        c.weights[i] += d;
                    }
                };
                bump(&mut p, hstep);
                bump(&mut m, -hstep);
                let num = (batch_loss(&p, &x, &y, batch) - batch_loss(&m, &x, &y, batch)) / (2.0 * hstep);
                assert!(close(*g, num, 1e-6), "{spec} layer {} W[{i}]: {g} vs numeric {num}", k + 1);
            }
            for (g, fast) in flat(&entry["dL_db"]).iter().zip(&grads.conv_bias[conv]) {
                assert!(close(*g, *fast, 1e-9), "{spec} layer {} b: {g} vs {fast}", k + 1);
            }
            conv += 1;
        }
        for l in 0..net.layers.len() {
            let entry = &v["layers"][net.features.len() + l];
            assert_eq!(entry["type"], "dense");
            for (g, fast) in flat(&entry["dL_dW"]).iter().zip(&grads.weights[l]) {
                assert!(close(*g, *fast, 1e-9), "{spec} dense layer {l}: {g} vs {fast}");
            }
        }
    }
}

#[test]
fn convolutional_net_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.json");
    let dense = r#"{"W": [[1, 1, 1, 1]], "b": [0], "activation": "sigmoid"}"#;
    let conv = r#"{"type": "conv", "W": [[[[1, 0], [0, 1]]]], "b": [0], "activation": "relu"}"#;
    let x = "[[1, 2, 3, 4, 5, 6, 7, 8, 9]]";
    for (net, wanted) in [
        (format!(r#""layers": [{conv}, {dense}]"#), "needs the input's shape"),
        (format!(r#""input": [1, 3, 3], "layers": [{dense}, {conv}]"#), "convolution and pooling layers come first"),
        (format!(r#""input": [2, 3, 3], "layers": [{conv}, {dense}]"#), "one per input channel"),
        (
            format!(
                r#""input": [1, 3, 3], "layers": [{{"type": "conv", "W": [[[[1, 0], [0]]]], "b": [0], "activation": "relu"}}, {dense}]"#
            ),
            "W[0][0]",
        ),
        (format!(r#""input": [1, 3, 3], "layers": [{{"type": "pool", "size": 3}}, {dense}]"#), "only 2×2 pooling"),
        (format!(r#""input": [1, 3, 3], "layers": [{{"type": "lstm"}}, {dense}]"#), "unknown \"type\""),
        (format!(r#""input": [1, 100000, 100000], "layers": [{conv}, {dense}]"#), "at most 1000000 values"),
        (
            format!(r#""input": [1, 3, 3], "layers": [{conv}, {{"W": [[1, 1]], "b": [0], "activation": "sigmoid"}}]"#),
            "4 inputs",
        ),
        (
            format!(
                r#""input": [1, 3, 3], "layers": [{{"type": "conv", "W": [[[[1, 0], [0, 1]]]], "b": [0], "activation": "relu", "padding": "same"}}, {dense}]"#
            ),
            "odd kernel",
        ),
    ] {
        std::fs::write(&p, format!(r#"{{{net}, "loss": "half_mse", "x": {x}, "y": [[1]]}}"#)).unwrap();
        let out = explain(&["--net", p.to_str().unwrap()]);
        assert!(!out.status.success(), "{net}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error:") && err.contains("bad.json") && err.contains(wanted), "{net}: {err}");
    }
    // A row of x that is not the input's size names the shape.
    std::fs::write(
        &p,
        format!(
            r#"{{"input": [1, 3, 3], "layers": [{conv}, {dense}], "loss": "half_mse", "x": [[1, 2]], "y": [[1]]}}"#
        ),
    )
    .unwrap();
    let err = String::from_utf8_lossy(&explain(&["--net", p.to_str().unwrap()]).stderr).to_string();
    assert!(err.contains("row 1 of \"x\"") && err.contains("1×3×3"), "{err}");
}
