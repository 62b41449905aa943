"""Side-by-side on scikit-learn's bundled tables: neuralnet's `train --csv` defaults against
MLPClassifier / MLPRegressor with the same hidden sizes, standardised features (and, for
regression, a standardised target), run to convergence, on the same fixed 75/25 split (seed 0).

Usage: python bench/sklearn_tables.py --neuralnet target/release/neuralnet --out DIR
Prints a Markdown table: test accuracy (classification) or R² (regression), and training seconds.
"""

import argparse
import json
import subprocess
import time
from pathlib import Path

import numpy as np
from sklearn import datasets
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

TABLES = {
    "iris": (datasets.load_iris, "classify"),
    "wine": (datasets.load_wine, "classify"),
    "breast_cancer": (datasets.load_breast_cancer, "classify"),
    "diabetes": (datasets.load_diabetes, "regress"),
}
HIDDEN = (64,)  # neuralnet's default for --csv


def write_csv(path, names, x, y):
    with open(path, "w") as f:
        f.write(",".join(names + ["target"]) + "\n")
        for row, t in zip(x, y):
            f.write(",".join(repr(float(v)) for v in row) + "," + (str(int(t)) if float(t).is_integer() else repr(float(t))) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--neuralnet", required=True)
    ap.add_argument("--out", default="target/bench-sklearn")
    ap.add_argument("--threads", default="1")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, (load, task) in TABLES.items():
        d = load()
        names = [str(n).replace(" ", "_") for n in d.feature_names]
        strat = d.target if task == "classify" else None
        xtr, xte, ytr, yte = train_test_split(d.data, d.target, test_size=0.25, random_state=0, stratify=strat)
        tr, te = out / f"{name}-train.csv", out / f"{name}-test.csv"
        write_csv(tr, names, xtr, ytr)
        write_csv(te, names, xte, yte)

        # neuralnet, defaults only.
        model = out / f"{name}.safetensors"
        t0 = time.perf_counter()
        subprocess.run([args.neuralnet, "train", "--csv", str(tr), "--target", "target", "--task", task,
                        "--threads", args.threads, "--out", str(model)], check=True,
                       stdout=subprocess.DEVNULL, stderr=open(out / f"{name}-train.log", "w"))
        nn_time = time.perf_counter() - t0
        res = json.loads(subprocess.run([args.neuralnet, "eval", str(model), "--csv", str(te), "--format", "json"],
                                        check=True, capture_output=True, text=True).stdout)
        nn_score = res["accuracy"] if task == "classify" else res["r2"]

        # scikit-learn: same hidden sizes, standardised, to convergence (max_iter large, default tol).
        if task == "classify":
            sk = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=HIDDEN, max_iter=5000, random_state=0))
            base = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        else:
            sk = TransformedTargetRegressor(
                regressor=make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=HIDDEN, max_iter=5000, random_state=0)),
                transformer=StandardScaler())
            base = make_pipeline(StandardScaler(), LinearRegression())
        t0 = time.perf_counter()
        sk.fit(xtr, ytr)
        sk_time = time.perf_counter() - t0
        sk_score = sk.score(xte, yte)
        base_score = base.fit(xtr, ytr).score(xte, yte)
        rows.append((name, task, len(xtr), len(xte), nn_score, nn_time, sk_score, sk_time, base_score))

    metric = {"classify": "accuracy", "regress": "R²"}
    print("| table | rows (train/test) | metric | neuralnet | scikit-learn MLP | linear baseline | neuralnet train s | scikit-learn train s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, task, ntr, nte, nn, nt, sk, st, base in rows:
        print(f"| {name} | {ntr}/{nte} | {metric[task]} | {nn:.4f} | {sk:.4f} | {base:.4f} | {nt:.2f} | {st:.2f} |")
    (out / "results.json").write_text(json.dumps(rows))


if __name__ == "__main__":
    main()
