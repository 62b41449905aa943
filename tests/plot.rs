//! `neuralnet plot`: every picture written into a temporary directory, each PNG decoded and checked
//! to hold a real picture (not one colour), each SVG checked to hold drawing elements and text.

mod common;

use common::{neuralnet, write_tiny_dataset};
use predicates::prelude::*;
use std::path::Path;

/// A decodable PNG of a sensible size whose pixels are not all alike.
fn check_png(path: &Path) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8();
    let (w, h) = img.dimensions();
    assert!(w >= 400 && h >= 300, "{}: {w}×{h}", path.display());
    let lum: Vec<f64> = img.pixels().map(|p| p.0.iter().map(|&c| c as f64).sum::<f64>() / 3.0).collect();
    let mean = lum.iter().sum::<f64>() / lum.len() as f64;
    let var = lum.iter().map(|l| (l - mean) * (l - mean)).sum::<f64>() / lum.len() as f64;
    assert!(var > 50.0, "{}: nearly blank (luminance variance {var})", path.display());
    let dark = lum.iter().filter(|&&l| l < 100.0).count();
    assert!(dark > 500, "{}: almost no dark pixels (text, lines): {dark}", path.display());
}

/// An SVG document with shapes and text; returns its text content.
fn check_svg(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(s.starts_with("<svg") || s.starts_with("<?xml"), "{}", path.display());
    assert!(s.trim_end().ends_with("</svg>"), "{}", path.display());
    assert!(["<rect", "<path", "<polyline", "<circle", "<line"].iter().any(|e| s.contains(e)), "{}", path.display());
    assert!(s.matches("<text").count() >= 3, "{}: too little text", path.display());
    s
}

/// Runs `plot ARGS --out DIR` and checks that exactly `names` were written, as PNG and SVG.
fn plot(dir: &Path, args: &[&str], names: &[&str]) -> Vec<String> {
    let out = neuralnet().arg("plot").args(args).arg("--out").arg(dir).arg("--lang").arg("en").assert().success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let mut svgs = Vec::new();
    for name in names {
        let png = dir.join(format!("{name}.png"));
        let svg = dir.join(format!("{name}.svg"));
        assert!(stdout.contains(&png.display().to_string()), "{stdout}");
        check_png(&png);
        svgs.push(check_svg(&svg));
    }
    svgs
}

#[test]
fn activations_draws_the_articles_figure_and_every_activation() {
    let dir = tempfile::tempdir().unwrap();
    let svgs = plot(dir.path(), &["activations"], &["step-vs-sigmoid", "activations"]);
    assert!(svgs[0].contains("k = 100") && svgs[0].contains("step at 5"));
    for name in ["identity", "tanh", "ReLU", "leaky ReLU", "softmax", "sigmoid", "step"] {
        assert!(svgs[1].contains(name), "{name}");
    }
}

#[test]
fn network_draws_the_article_and_a_given_json_network() {
    let dir = tempfile::tempdir().unwrap();
    let svg = &plot(dir.path(), &["network"], &["network"])[0];
    // The article's values after the forward pass: a₂ = 0.7169, z₁ = [0.17, 0.39].
    assert!(svg.contains("0.7169") && svg.contains("z = 0.17") && svg.contains("z = 0.39"), "{svg}");
    let net = dir.path().join("net.json");
    std::fs::write(
        &net,
        r#"{"layers": [{"W": [[1.0, -1.0, 0.5], [0.2, 0.3, -0.4], [0.0, 1.0, 1.0]], "b": [0, 0.1, -0.2], "activation": "relu"},
                       {"W": [[0.5, -0.6, 0.7], [0.1, 0.2, 0.3]], "b": [0.3, 0], "activation": "softmax"}],
            "loss": "cross_entropy", "x": [[1, 2, 3]], "y": [[1, 0]]}"#,
    )
    .unwrap();
    let out = dir.path().join("custom");
    let svg = &plot(&out, &["network", "--net", net.to_str().unwrap()], &["network"])[0];
    assert!(svg.contains("3-3-2") && svg.contains("-0.6"), "{svg}");
    neuralnet()
        .args(["plot", "network", "--net"])
        .arg(dir.path().join("missing.json"))
        .arg("--out")
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(predicate::str::contains("missing.json"));
}

#[test]
fn boundary_shades_the_xor_plane_of_a_trained_2_2_1_network() {
    let dir = tempfile::tempdir().unwrap();
    let svg = &plot(dir.path(), &["boundary"], &["boundary"])[0];
    assert!(svg.contains("4/4"), "the trained network classifies the four XOR points");
}

#[test]
fn training_weights_and_confusion_from_a_tiny_model() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_dataset(dir.path(), false);
    let model = dir.path().join("tiny.safetensors");
    let metrics = dir.path().join("metrics.jsonl");
    neuralnet()
        .args(["train", "--data-dir"])
        .arg(dir.path())
        .args(["--hidden", "8", "--epochs", "3", "--val-size", "50", "--threads", "1", "--batch-size", "16"])
        .arg("--out")
        .arg(&model)
        .arg("--metrics")
        .arg(&metrics)
        .assert()
        .success();
    let out = dir.path().join("pictures");
    let svg = &plot(&out, &["training", metrics.to_str().unwrap()], &["training"])[0];
    assert!(svg.contains("validation") && svg.contains("layer 1"));
    let svg = &plot(&out, &["weights", model.to_str().unwrap(), "--count", "6"], &["weights"])[0];
    assert!(svg.contains("6 of its 8 neurons"), "{svg}");
    let data = dir.path().to_str().unwrap();
    let svg = &plot(&out, &["confusion", model.to_str().unwrap(), "--data-dir", data], &["confusion"])[0];
    assert!(svg.contains("60 images"), "{svg}");
    let svg = &plot(
        &out,
        &["augment", "--data-dir", data, "--count", "3", "--variants", "4", "--augment", "rotate=8,alpha=10"],
        &["augment"],
    )[0];
    assert!(svg.contains("epoch 4") && svg.contains("rotate ±8°") && svg.contains("α = 10"), "{svg}");

    // Chinese: the SVG speaks it, the PNG (embedded font without CJK glyphs) stays English.
    let zh = dir.path().join("zh");
    neuralnet()
        .args(["plot", "training"])
        .arg(&metrics)
        .arg("--out")
        .arg(&zh)
        .args(["--lang", "zh"])
        .assert()
        .success();
    check_png(&zh.join("training.png"));
    assert!(check_svg(&zh.join("training.svg")).contains("验证集"));

    // Clear refusals.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"epoch\": 1}\n").unwrap();
    neuralnet()
        .args(["plot", "training"])
        .arg(&bad)
        .arg("--out")
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicate::str::contains("line 1"));
    neuralnet()
        .args(["plot", "weights"])
        .arg(&model)
        .args(["--count", "0"])
        .arg("--out")
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicate::str::contains("count"));

    // A convolutional model: its first kernels; `plot weights` and `plot filters` each refuse the
    // other kind of model, saying which to use.
    let conv = dir.path().join("conv.safetensors");
    neuralnet()
        .args(["train", "--data-dir"])
        .arg(dir.path())
        .args(["--arch", "conv:6:3:same,pool:2,dense:3", "--epochs", "2", "--val-size", "50", "--threads", "1"])
        .arg("--out")
        .arg(&conv)
        .assert()
        .success();
    let svg = &plot(&out, &["filters", conv.to_str().unwrap()], &["filters"])[0];
    assert!(svg.contains("6 of its 6") && svg.contains("(3×3)"), "{svg}");
    // Feature maps need a model on 28×28 inputs (photos are read as MNIST's size): one built here.
    let arch = neuralnet::Architecture::parse_spec(
        "conv:4:3:same,pool:2,dense:10",
        neuralnet::conv::Maps::new(1, 28, 28),
        neuralnet::Activation::Relu,
        neuralnet::Activation::Softmax,
        neuralnet::Loss::CrossEntropy,
    )
    .unwrap();
    let m28 = dir.path().join("conv28.safetensors");
    let info = neuralnet::model_file::ModelInfo::images(28, 28, 10);
    neuralnet::model_file::save(&neuralnet::model_file::Model::new(arch.build(2).unwrap(), info), &m28).unwrap();
    let photo = dir.path().join("one.png");
    let px: Vec<u8> = (0..80 * 80)
        .map(|i| if (35..45).contains(&(i % 80)) && (10..70).contains(&(i / 80)) { 30 } else { 220 })
        .collect();
    image::save_buffer(&photo, &px, 80, 80, image::ExtendedColorType::L8).unwrap();
    let svgs = plot(
        &out,
        &["feature-maps", m28.to_str().unwrap(), "--image", photo.to_str().unwrap(), "--count", "3"],
        &["feature-maps-1", "feature-maps-2"],
    );
    assert!(svgs[0].contains("conv 3×3, relu") && svgs[0].contains("3 of its 4 maps (28×28)"), "{}", svgs[0]);
    assert!(svgs[1].contains("2×2 max pooling") && svgs[1].contains("(14×14)"), "{}", svgs[1]);
    neuralnet()
        .args(["plot", "feature-maps"])
        .arg(&conv)
        .arg("--image")
        .arg(&photo)
        .arg("--out")
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicate::str::contains("takes 100 inputs"));
    for (what, model, needle) in [("weights", &conv, "plot weights"), ("filters", &model, "plot weights")] {
        neuralnet()
            .args(["plot", what])
            .arg(model)
            .arg("--out")
            .arg(&out)
            .assert()
            .failure()
            .stderr(predicate::str::contains(needle));
    }
}
