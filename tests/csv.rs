//! Tabular training through the binary: `train --csv`, `eval --csv`, `predict --csv` on tables
//! written here (two spirals, a noisy smooth function), and the errors for bad tables.

mod common;

use common::neuralnet;
use predicates::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A small seeded generator (the tests need no statistical quality).
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Two interleaved spirals (1.5 turns each), with an extra column the model must ignore.
fn spirals(n: usize, seed: u64) -> String {
    let mut r = Lcg(seed);
    let mut s = String::from("id,x,y,arm\n");
    for i in 0..n {
        let arm = i % 2;
        let t = 0.1 + 0.9 * r.uniform();
        let angle = t * 3.0 * std::f64::consts::PI + arm as f64 * std::f64::consts::PI;
        let (x, y) = (t * angle.cos() + 0.02 * (r.uniform() - 0.5), t * angle.sin() + 0.02 * (r.uniform() - 0.5));
        let name = if arm == 0 { "left" } else { "right" };
        writeln!(s, "{i},{x:.5},{y:.5},{name}").unwrap();
    }
    s
}

/// y = sin(2a) + b²/2 + c (c a text column) + noise, columns in a shuffled order.
fn smooth(n: usize, seed: u64, header_order_b: bool) -> String {
    let mut r = Lcg(seed);
    let mut s = String::from(if header_order_b { "c,b,target,a\n" } else { "a,b,c,target\n" });
    for _ in 0..n {
        let a = 4.0 * r.uniform() - 2.0;
        let b = 4.0 * r.uniform() - 2.0;
        let (c, shift) = if r.uniform() < 0.5 { ("low", -0.5) } else { ("high", 0.5) };
        let y = (2.0 * a).sin() + 0.5 * b * b + shift + 0.1 * (r.uniform() - 0.5) * 2.0;
        if header_order_b {
            writeln!(s, "{c},{b:.5},{y:.5},{a:.5}").unwrap();
        } else {
            writeln!(s, "{a:.5},{b:.5},{c},{y:.5}").unwrap();
        }
    }
    s
}

fn eval_json(model: &Path, csv: &Path) -> serde_json::Value {
    let out = neuralnet()
        .args(["eval"])
        .arg(model)
        .arg("--csv")
        .arg(csv)
        .args(["--format", "json", "--threads", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn spirals_need_a_hidden_layer() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "train.csv", &spirals(800, 1));
    let test = write(dir.path(), "test.csv", &spirals(400, 2));
    let mlp = dir.path().join("mlp.safetensors");
    let logistic = dir.path().join("logistic.safetensors");
    // An `id` column would be a feature: drop it by training on a copy without it.
    let strip = |p: &Path| {
        let text = std::fs::read_to_string(p).unwrap();
        let body: String = text.lines().map(|l| l.split_once(',').unwrap().1.to_string() + "\n").collect();
        write(dir.path(), &format!("noid-{}", p.file_name().unwrap().to_string_lossy()), &body)
    };
    let train = strip(&train);
    neuralnet()
        .args(["train", "--csv"])
        .arg(&train)
        .args(["--target", "arm", "--hidden", "64,64", "--lr", "0.01", "--epochs", "300", "--threads", "1", "--out"])
        .arg(&mlp)
        .assert()
        .success()
        .stderr(
            predicate::str::contains("classify")
                .and(predicate::str::contains("chosen from the target"))
                .and(predicate::str::contains("chosen by 5-fold cross-validation")),
        );
    neuralnet()
        .args(["train", "--csv"])
        .arg(&train)
        .args(["--target", "arm", "--hidden", "0", "--lr", "0.01", "--epochs", "100", "--threads", "1", "--out"])
        .arg(&logistic)
        .assert()
        .success();
    // The test file keeps its `id` column and has the columns in another order: ignored, matched by name.
    let mlp_acc = eval_json(&mlp, &test)["accuracy"].as_f64().unwrap();
    let log_acc = eval_json(&logistic, &test)["accuracy"].as_f64().unwrap();
    eprintln!("spirals: MLP {mlp_acc:.4}, logistic regression {log_acc:.4}");
    assert!(mlp_acc >= 0.95, "MLP test accuracy {mlp_acc}");
    assert!(log_acc <= 0.65, "logistic regression test accuracy {log_acc}");

    // predict: class name and probabilities per row.
    let out = dir.path().join("pred.csv");
    neuralnet().args(["predict"]).arg(&mlp).arg("--csv").arg(&test).arg("--out").arg(&out).assert().success();
    let pred = std::fs::read_to_string(&out).unwrap();
    let mut lines = pred.lines();
    assert_eq!(lines.next(), Some("arm,p_left,p_right"));
    assert_eq!(lines.count(), 400);
    // Text output names the classes.
    neuralnet()
        .args(["eval"])
        .arg(&mlp)
        .arg("--csv")
        .arg(&test)
        .assert()
        .success()
        .stdout(predicate::str::contains("macro-F1").and(predicate::str::contains("right")));
}

#[test]
fn smooth_function_regression_in_original_units() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "train.csv", &smooth(600, 3, false));
    let test = write(dir.path(), "test.csv", &smooth(300, 4, true));
    let model = dir.path().join("reg.safetensors");
    neuralnet()
        .args(["train", "--csv"])
        .arg(&train)
        .args(["--target", "target", "--lr", "0.005", "--epochs", "300", "--threads", "1", "--out"])
        .arg(&model)
        .assert()
        .success()
        .stderr(predicate::str::contains("regress").and(predicate::str::contains("one-hot: c")));
    let v = eval_json(&model, &test);
    let r2 = v["r2"].as_f64().unwrap();
    eprintln!("smooth function: R² {r2:.4}, RMSE {}", v["rmse"]);
    assert!(r2 >= 0.9, "R² {r2}");
    assert!(v["mae"].as_f64().unwrap() > 0.0 && v.get("accuracy").is_none());
    // Predictions are in the target's units: close to the truth on average.
    let out = neuralnet().args(["predict"]).arg(&model).arg("--csv").arg(&test).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let preds: Vec<f64> = text.lines().skip(1).map(|l| l.parse().unwrap()).collect();
    let truth: Vec<f64> = std::fs::read_to_string(&test)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    let mae = preds.iter().zip(&truth).map(|(p, t)| (p - t).abs()).sum::<f64>() / truth.len() as f64;
    assert!((mae - v["mae"].as_f64().unwrap()).abs() < 1e-3, "{mae} vs {}", v["mae"]);
}

#[test]
fn targets_whose_squares_leave_f64_get_finite_metrics() {
    // y = x·1e200: its squares (1e400) are past f64, which once printed "R² NaN, RMSE inf".
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("x,y\n");
    for i in 1..=200 {
        writeln!(text, "{i},{i}e200").unwrap();
    }
    let csv = write(dir.path(), "big.csv", &text);
    let model = dir.path().join("big.safetensors");
    let out = train_y(&csv, &model, "200");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let line = stderr.lines().find(|l| l.contains("validation R²")).expect("a validation line");
    let printed = line.split("RMSE ").nth(1).and_then(|t| t.split_whitespace().next()).unwrap_or("");
    let value: f64 = printed.parse().unwrap_or(f64::NAN);
    assert!(!line.contains("NaN") && printed.contains('e') && value.is_finite() && value > 0.0, "{line}");
    let v = eval_json(&model, &csv);
    let (r2, rmse, mae) = (v["r2"].as_f64().unwrap(), v["rmse"].as_f64().unwrap(), v["mae"].as_f64().unwrap());
    assert!(r2 > 0.9 && r2 <= 1.0, "R² {r2}");
    assert!(rmse.is_finite() && rmse > 0.0 && rmse < 2e201 && mae <= rmse, "RMSE {rmse}, MAE {mae}");
}

#[test]
fn weight_decay_is_chosen_by_cross_validation_unless_given() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "train.csv", &smooth(80, 6, false));
    let model = dir.path().join("m.safetensors");
    let run = |extra: &[&str]| {
        let out = neuralnet()
            .args(["train", "--csv"])
            .arg(&train)
            .args(["--target", "target", "--hidden", "8", "--epochs", "40", "--threads", "1", "--out"])
            .arg(&model)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stderr).unwrap()
    };
    let searched = run(&[]);
    let line = searched.lines().find(|l| l.contains("chosen by 5-fold cross-validation")).expect(&searched);
    for candidate in ["0: ", "0.001: ", "0.01: ", "0.03: ", "0.1: "] {
        assert!(line.contains(candidate), "{line}");
    }
    // The choice is stored with the run's settings: the model's training record names it.
    let chosen: f64 = line.split(": ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let info = neuralnet().arg("info").arg(&model).args(["--format", "json"]).output().unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let stored = info["model"]["training"]["config"]["optimizer"]["weight_decay"].as_f64().unwrap();
    assert_eq!(stored, chosen, "{info}");
    // An explicit --l2 is used as given, without a search.
    assert!(!run(&["--l2", "0.05"]).contains("cross-validation"));
}

#[test]
fn checkpoint_of_a_csv_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "train.csv", &smooth(120, 5, false));
    let model = dir.path().join("m.safetensors");
    let common = ["--target", "target", "--hidden", "8", "--threads", "1", "--patience", "1000"];
    neuralnet()
        .args(["train", "--csv"])
        .arg(&train)
        .args(common)
        .args(["--epochs", "3", "--out"])
        .arg(&model)
        .assert()
        .success();
    let ckpt = dir.path().join("m.safetensors.ckpt");
    neuralnet()
        .args(["train", "--resume"])
        .arg(&ckpt)
        .args(["--epochs", "5"])
        .assert()
        .success()
        .stderr(predicate::str::contains("after epoch 3 of 5").and(predicate::str::contains("epoch 5/5")));
    assert!(eval_json(&model, &train)["r2"].is_number());
}

/// Runs `train --csv` on `text` and checks the error mentions every one of `needles`.
fn train_fails(text: &str, extra: &[&str], needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "t.csv", text);
    let out = neuralnet()
        .args(["train", "--csv"])
        .arg(&csv)
        .args(["--target", "y", "--epochs", "1", "--threads", "1", "--out"])
        .arg(dir.path().join("m.safetensors"))
        .args(extra)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for n in needles {
        assert!(err.contains(n), "error {err:?} lacks {n:?}");
    }
}

/// `train --csv` on `csv` to predict its column `y`, for `epochs` epochs on one thread, saving to
/// `model`.
fn train_y(csv: &Path, model: &Path, epochs: &str) -> std::process::Output {
    neuralnet()
        .args(["train", "--csv"])
        .arg(csv)
        .args(["--target", "y", "--epochs", epochs, "--threads", "1", "--out"])
        .arg(model)
        .output()
        .unwrap()
}

/// Tables of two and three rows train on every row, saying why there is no early stopping and no
/// weight-decay search; a table with only its target column is refused naming what is missing.
#[test]
fn tiny_tables_train_with_a_note_or_are_refused_clearly() {
    for text in ["x,y\n1,a\n2,b\n", "x,y\n1,a\n2,b\n3,a\n"] {
        let dir = tempfile::tempdir().unwrap();
        let csv = write(dir.path(), "t.csv", text);
        let model = dir.path().join("m.safetensors");
        let out = train_y(&csv, &model, "20");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        let rows = text.lines().count() - 1;
        for needle in
            [&format!("{rows} rows are too few"), "no early stopping", "every epoch runs", "no weight-decay search"]
        {
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        }
        assert!(!err.contains("--patience") && !err.contains("--val-size"), "{err}");
        assert!(model.exists());
        assert!(err.contains("epoch 20/20"), "{err}");
    }
    train_fails("y\na\nb\na\nb\n", &[], &["no feature column besides the target 'y'"]);
}

#[test]
fn errors_name_what_is_wrong() {
    train_fails("a,b\n1,2\n3,4\n", &[], &["no target column named 'y'", "a, b"]);
    train_fails("x,y\n1,0\n2,1\n3,oops\n", &["--task", "regress"], &["line 4", "column 'y'", "'oops' is not a number"]);
    train_fails("x,y\n1,0\n2,1\nthree,0\n4,1\n", &[], &["line 4", "column 'x'", "'three'"]);
    train_fails("", &[], &["empty"]);
    train_fails("x,y\n", &[], &["no data rows"]);
    train_fails("x,y\n1,0\n2,1,7\n", &[], &["line 3", "3 fields", "header has 2", "ragged"]);
    train_fails("x,y\n1,a\n2,a\n3,a\n", &[], &["only one class", "'a'"]);
    train_fails("x,y\n1,0\n,1\n2,0\n", &[], &["line 3", "column 'x'", "missing value", "--impute"]);
    train_fails("x,y\n1,0\n2,\n", &[], &["line 3", "target column 'y' has no value"]);
    train_fails("x,y\n1,0\n2,1\n", &["--task", "cluster"], &["unknown task"]);
    train_fails("x,y\n1,0\n2,1\n3,0\n4,1\n", &["--augment", "affine"], &["--augment", "a table cannot be augmented"]);
    train_fails("x,y\n1,0\n2,1\n3,0\n4,1\n", &["--val-size", "4"], &["--val-size 4 leaves no training rows", "has 4"]);
}

#[test]
fn imputation_and_missing_columns_at_prediction() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "t.csv", "x,c,y\n1,u,0\n,v,1\n3,,0\n4,u,1\n5,v,0\n6,u,1\n");
    let model = dir.path().join("m.safetensors");
    neuralnet()
        .args(["train", "--csv"])
        .arg(&train)
        .args(["--target", "y", "--impute", "--epochs", "2", "--threads", "1", "--val-fraction", "0.3", "--out"])
        .arg(&model)
        .assert()
        .success();
    let info = neuralnet().arg("info").arg(&model).output().unwrap();
    assert!(info.status.success());
    let lacking = write(dir.path(), "lacking.csv", "x,y\n1,0\n");
    neuralnet()
        .args(["predict"])
        .arg(&model)
        .arg("--csv")
        .arg(&lacking)
        .assert()
        .failure()
        .stderr(predicate::str::contains("no feature column named 'c'"));
    // A category the training rows never had is predicted, with a warning naming it.
    let unseen = write(dir.path(), "unseen.csv", "x,c,y\n1,u,0\n2,w,1\n3,w,0\n");
    neuralnet()
        .args(["predict"])
        .arg(&model)
        .arg("--csv")
        .arg(&unseen)
        .assert()
        .success()
        .stderr(predicate::str::contains("column 'c'").and(predicate::str::contains("2 row(s) (first 'w' on line 3)")));
    // Image commands refuse a table model with a pointer to --csv.
    neuralnet()
        .args(["eval"])
        .arg(&model)
        .args(["--data-dir", "/nonexistent"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--csv"));
    // --csv conflicts with the image options.
    neuralnet()
        .args(["train", "--csv"])
        .arg(&train)
        .args(["--target", "y", "--layers", "3,2"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("cannot be used with"));
}
