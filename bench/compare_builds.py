#!/usr/bin/env python3
"""Two builds of neuralnet side by side, alternated: did a change (a refactor, say) move the speed?

Runs the training configurations of bench/driver.py ((a), (b), (c)) through each build's CLI at 1
and 2 threads, alternating the builds run by run, and prints the median epoch time of each (epochs
after the first) and their ratio new ÷ old. With --infer, also each build's bench_infer example on
the (a) model the old build trained. Standard library only (no PyTorch).

usage: bench/compare_builds.py OLD_RELEASE_DIR NEW_RELEASE_DIR [--reps 3] [--epochs 3] [--infer]
  (a release dir holds `neuralnet` and, for --infer, `examples/bench_infer`)
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import driver  # noqa: E402  (the configurations and the CLI runner)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--configs", default="a,b,c")
    ap.add_argument("--infer", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="compare-builds-")
    sides = {"old": args.old, "new": args.new}
    print(f"| setting | old s/epoch | new s/epoch | new ÷ old |")
    print(f"|---|---|---|---|")
    models = {}
    for cfg in args.configs.split(","):
        for t in [int(x) for x in args.threads.split(",")]:
            times = {"old": [], "new": []}
            for rep in range(args.reps):
                order = ["old", "new"] if rep % 2 == 0 else ["new", "old"]
                for side in order:
                    d = os.path.join(work, side)
                    os.makedirs(d, exist_ok=True)
                    r = driver.run_ours_train(os.path.join(sides[side], "neuralnet"), cfg, t, args.epochs, 1, d)
                    times[side].extend(r["epoch_wall"][1:])
                    models[(side, cfg)] = r["model"]
            o, n = statistics.median(times["old"]), statistics.median(times["new"])
            print(f"| ({cfg}) {t} thread(s) | {o:.4f} | {n:.4f} | {n / o:.3f} |", flush=True)
    if args.infer and ("old", "a") in models:
        model = models[("old", "a")]
        for t in [int(x) for x in args.threads.split(",")]:
            ips = {"old": [], "new": []}
            lat = {"old": [], "new": []}
            for rep in range(args.reps):
                for side in (["old", "new"] if rep % 2 == 0 else ["new", "old"]):
                    ex = os.path.join(sides[side], "examples", "bench_infer")
                    r = driver.run_json([ex, model, "--threads", str(t)])
                    ips[side].append(r.get("images_per_sec") or r.get("throughput"))
                    lat[side].append(r.get("latency_median_us") or r.get("single_median_us"))
            o, n = statistics.median(ips["old"]), statistics.median(ips["new"])
            print(f"| inference (a) {t} thread(s), images/s | {o:.0f} | {n:.0f} | {n / o:.3f} |")
            if all(lat["old"]) and all(lat["new"]):
                o, n = statistics.median(lat["old"]), statistics.median(lat["new"])
                print(f"| single-image latency (a) {t} thread(s), µs | {o:.2f} | {n:.2f} | {n / o:.3f} |")


if __name__ == "__main__":
    main()
