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
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

TABLES = {
    "iris": (datasets.load_iris, "classify"),
    "wine": (datasets.load_wine, "classify"),
    "breast_cancer": (datasets.load_breast_cancer, "classify"),
    "diabetes": (datasets.load_diabetes, "regress"),
    "digits": (datasets.load_digits, "classify"),
}
# neuralnet's weight-decay candidates, searched the same way on scikit-learn's side (alpha is its
# L2 penalty), with 5 folds and the refit.
DECAYS = [0.0, 0.001, 0.01, 0.03, 0.1]
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
    ap.add_argument("--threads", default="1,2", help="neuralnet's thread counts, each timed")
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

        # neuralnet, defaults only, at each thread count; the score is the first run's. (The search
        # chooses the same for any thread count, its runs being one thread each; the final fit on
        # two threads splits each batch, which changes its sums' rounding.)
        nn_times = []
        for threads in args.threads.split(","):
            model = out / f"{name}-{threads}.safetensors"
            t0 = time.perf_counter()
            subprocess.run([args.neuralnet, "train", "--csv", str(tr), "--target", "target", "--task", task,
                            "--threads", threads, "--out", str(model)], check=True,
                           stdout=subprocess.DEVNULL, stderr=open(out / f"{name}-{threads}-train.log", "w"))
            nn_times.append(time.perf_counter() - t0)
            res = json.loads(subprocess.run([args.neuralnet, "eval", str(model), "--csv", str(te), "--format", "json"],
                                            check=True, capture_output=True, text=True).stdout)
            score = res["accuracy"] if task == "classify" else res["r2"]
            if len(nn_times) == 1:
                nn_score = score
            elif abs(score - nn_score) > 1e-3:
                print(f"note: {name}: {threads} threads scored {score:.4f}, 1 thread {nn_score:.4f}")

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
        key = "mlpclassifier__alpha" if task == "classify" else "regressor__mlpregressor__alpha"
        search = GridSearchCV(sk, {key: DECAYS}, cv=5)
        t0 = time.perf_counter()
        search.fit(xtr, ytr)
        search_time = time.perf_counter() - t0
        rows.append((name, task, len(xtr), len(xte), nn_score, nn_times, sk_score, sk_time, base_score, search_time))

    metric = {"classify": "accuracy", "regress": "R²"}
    threads = args.threads.split(",")
    print("| table | rows (train/test) | metric | neuralnet | scikit-learn MLP | linear baseline | "
          + " | ".join(f"neuralnet train s, {t} thread(s)" for t in threads)
          + " | scikit-learn fit s | scikit-learn same search s |")
    print("|---|---|---|---|---|---|" + "---|" * len(threads) + "---|---|")
    for name, task, ntr, nte, nn, nts, sk, st, base, sst in rows:
        times = " | ".join(f"{t:.2f}" for t in nts)
        print(f"| {name} | {ntr}/{nte} | {metric[task]} | {nn:.4f} | {sk:.4f} | {base:.4f} | {times} | {st:.2f} | {sst:.2f} |")
    (out / "results.json").write_text(json.dumps(rows))


if __name__ == "__main__":
    main()
