#!/usr/bin/env python3
"""Epoch times of training over MPI processes against one process, and the gradient sum against a
bare MPI_Allreduce of the same size (called by scripts/bench-distributed.sh).

For each network ((a) 784-128-10 Adam, (c) 784-800-10 momentum; bench/driver.py's settings) and
each layout, processes × threads = 1×1, 1×2, 2×1, the real `neuralnet train` runs on all 60,000
MNIST images (--val-size 0) for --epochs epochs, the layouts alternated, --reps times each. One
process runs plainly, several under `mpirun` (its default binding: a core each) on loopback. Reported: the median over
runs of each run's median epoch after the first (from the --metrics log), the median seconds per
step spent in the gradient sum (comm_seconds / steps), and the bare all-reduce of the same number
of floats (examples/allreduce.rs, each call started together after a barrier).
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driver import CLI, DESCR  # noqa: E402

ROWS = 60000
BATCH = 128
# Parameters of each network, plus the 5 numbers the step's sum carries besides the gradients.
FLOATS = {"a": 784 * 128 + 128 + 128 * 10 + 10 + 5, "c": 784 * 800 + 800 + 800 * 10 + 10 + 5}
LAYOUTS = [(1, 1), (1, 2), (2, 1)]
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_btl_tcp_if_include": "lo", "OMPI_MCA_oob_tcp_if_include": "lo"}


def mpirun(np_, extra=()):
    # Open MPI's default binding (one core per process when there are at most two).
    return ["mpirun", "-np", str(np_), *extra]


def train(binary, data, cfg, procs, threads, epochs, work):
    metrics = os.path.join(work, f"m-{cfg}-{procs}x{threads}.jsonl")
    if os.path.exists(metrics):
        os.remove(metrics)
    cmd = [binary, "train", *CLI[cfg], "--data-dir", data, "--epochs", str(epochs), "--val-size", "0",
           "--dropout", "0", "--schedule", "constant", "--threads", str(threads), "--metrics", metrics,
           "--checkpoint-every", "0", "--out", os.path.join(work, "model.safetensors")]
    if procs > 1:
        cmd = mpirun(procs) + cmd
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, **MPI_ENV})
    lines = [json.loads(l) for l in open(metrics)]
    steps = math.ceil(ROWS / BATCH)
    later = lines[1:] or lines
    return {"epoch_s": statistics.median(r["seconds"] for r in later),
            "sum_ms_per_step": (statistics.median(r["comm_seconds"] for r in later) / steps * 1e3
                                if "comm_seconds" in later[0] else None)}


def bare(example, floats, procs=2, reps=400, extra=(), evict_mb=0):
    out = subprocess.run(mpirun(procs, extra) + [example, str(floats), str(reps), str(evict_mb)], check=True,
                         capture_output=True, text=True, env={**os.environ, **MPI_ENV}).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--example", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--configs", default="a,c")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for cfg in args.configs.split(","):
            runs = {l: [] for l in LAYOUTS}
            hot, cold = [], []
            for rep in range(args.reps):
                for l in (LAYOUTS if rep % 2 == 0 else LAYOUTS[::-1]):
                    r = train(args.binary, args.data_dir, cfg, *l, args.epochs, work)
                    runs[l].append(r)
                    print(f"  {cfg} {l[0]}×{l[1]} run {rep + 1}: {r}", file=sys.stderr)
                # The bare all-reduce in the same minutes: buffers in cache, and after 16 MB of
                # other writes (about a training step's working set for (c)).
                hot.append(bare(args.example, FLOATS[cfg]))
                cold.append(bare(args.example, FLOATS[cfg], evict_mb=16))
                print(f"  {cfg} bare: {hot[-1]['median_us']} µs, after 16 MB: {cold[-1]['median_us']} µs", file=sys.stderr)
            tcp = bare(args.example, FLOATS[cfg], extra=("--mca", "btl", "tcp,self"))
            results[cfg] = {"layouts": {f"{p}x{t}": rs for (p, t), rs in runs.items()},
                            "bare_shm": hot, "bare_shm_evicted": cold, "bare_tcp": tcp}
    print("| network | 1 process × 1 thread | 1 × 2 | 2 processes × 1 | gradient sum per step (2 × 1) "
          "| bare MPI_Allreduce of the same size: in cache; after 16 MB of other writes; over TCP |")
    print("|---|---|---|---|---|---|")
    for cfg, r in results.items():
        med = {k: statistics.median(x["epoch_s"] for x in v) for k, v in r["layouts"].items()}
        ssum = statistics.median(x["sum_ms_per_step"] for x in r["layouts"]["2x1"])
        hot = statistics.median(x["median_us"] for x in r["bare_shm"]) / 1e3
        cold = statistics.median(x["median_us"] for x in r["bare_shm_evicted"]) / 1e3
        print(f"| {DESCR[cfg]} | {med['1x1']:.3f} s | {med['1x2']:.3f} s | {med['2x1']:.3f} s "
              f"| {ssum:.3f} ms | {hot:.3f} ms ({ssum / hot:.2f}×); {cold:.3f} ms ({ssum / cold:.2f}×); "
              f"{r['bare_tcp']['median_us'] / 1e3:.3f} ms ({r['bare_tcp']['bytes'] / 1e6:.2f} MB) |")
    if args.json:
        json.dump(results, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
