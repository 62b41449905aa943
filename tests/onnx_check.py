#!/usr/bin/env python3
"""The ONNX export checked from outside, by ONNX's own checker, ONNX Runtime and the `onnx`
package's reference runtime (called by tests/onnx.rs; prints one JSON line of findings).

usage:
  onnx_check.py images MODEL.onnx PIXELS.f32 EXPECTED.f32 LABELS.u8|-
      PIXELS: raw little-endian float32 rows (the graph's `pixels`), EXPECTED: the library's
      probabilities for them, LABELS: the true classes (one byte each) or `-`.
  onnx_check.py table MODEL.onnx TEST.csv PREDICTIONS.csv
      TEST: a CSV as `predict --csv` reads it, PREDICTIONS: what `predict --csv` wrote for it.
"""

import csv
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx.reference import ReferenceEvaluator

MISSING = {"", "na", "n/a", "nan", "null"}


def checked(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    return model


def session(path):
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def non_tie_mismatches(labels, probs, want):
    """Rows whose label differs from the library's largest probability where that is not a tie."""
    top2 = np.sort(want, axis=1)[:, -2:] if want.shape[1] > 1 else np.zeros((len(want), 2))
    clear = (top2[:, 1] - top2[:, 0]) > 1e-6
    return int(((labels != want.argmax(axis=1)) & clear).sum())


def images(model_path, pixels, expected, labels):
    model = checked(model_path)
    want = np.fromfile(expected, dtype="<f4")
    x = np.fromfile(pixels, dtype="<f4")
    width = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    x = x.reshape(-1, width)
    want = want.reshape(len(x), -1)
    p, l = session(model_path).run(None, {"pixels": x})
    rp, rl = ReferenceEvaluator(model).run(None, {"pixels": x})
    out = {
        "rows": len(x),
        "max_abs_diff": float(np.abs(p - want).max()),
        "label_mismatches": non_tie_mismatches(l, p, want),
        "reference_max_abs_diff": float(np.abs(rp - want).max()),
        "reference_label_mismatches": non_tie_mismatches(rl, rp, want),
    }
    if labels != "-":
        y = np.fromfile(labels, dtype=np.uint8)
        out["accuracy"] = float((l == y).mean())
        out["reference_accuracy"] = float((rl == y).mean())
    print(json.dumps(out))


def table(model_path, test_csv, predictions_csv):
    model = checked(model_path)
    meta = {p.key: p.value for p in model.metadata_props}
    columns = json.loads(meta["columns"])
    with open(test_csv, newline="") as f:
        rows = [[c.strip() for c in r] for r in csv.reader(f)]
    header, data = rows[0], rows[1:]

    def number(v):
        return np.nan if v.lower() in MISSING or v == "?" else float(v)

    feed = {}
    numeric = [c["column"] for c in columns if c["input"] == "numeric"]
    if numeric:
        feed["numeric"] = np.array([[number(r[header.index(c)]) for c in numeric] for r in data], dtype=np.float64)
    for c in columns:
        if c["input"] != "numeric":
            feed[c["input"]] = np.array([[r[header.index(c["column"])]] for r in data], dtype=object)
    s = session(model_path)
    got = dict(zip([o.name for o in s.get_outputs()], s.run(None, feed)))
    with open(predictions_csv, newline="") as f:
        pred = list(csv.reader(f))[1:]
    out = {"rows": len(data), "inputs": sorted(feed)}
    if "value" in got:
        want = np.array([float(r[0]) for r in pred])
        v = got["value"][:, 0]
        out["max_rel_diff"] = float((np.abs(v - want) / np.maximum(np.abs(want), 1e-9)).max())
    else:
        want = np.array([[float(x) for x in r[1:]] for r in pred])
        # predict --csv prints probabilities to 6 decimals.
        out["max_abs_diff"] = float(np.abs(got["probabilities"] - want).max())
        labels = [str(x) for x in got["label"]]
        out["label_mismatches"] = int(sum(a != r[0] for a, r in zip(labels, pred)))
    print(json.dumps(out))


if __name__ == "__main__":
    {"images": images, "table": table}[sys.argv[1]](*sys.argv[2:])
