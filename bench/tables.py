#!/usr/bin/env python3
"""Tables of every shape through `neuralnet train --csv … --epochs 1 --l2 0`: tall (10³…10⁶ rows ×
20 numeric columns and one text column) and wide (30 rows × 10³…10⁵ numeric columns). For each:
the CSV's size, the time to read and encode it (the command's own figure), the whole command's
time and its peak resident memory (wait4's rusage of the child). Called by scripts/bench-tables.sh.
"""

import os
import random
import re
import subprocess
import sys
import tempfile
import time


def tall(path, rows):
    rnd = random.Random(rows)
    cities = ["paris", "berlin", "rome", "madrid", "lisbon", "vienna", "prague", "oslo"]
    with open(path, "w") as f:
        f.write(",".join(f"x{j}" for j in range(20)) + ",city,label\n")
        for _ in range(rows):
            v = [rnd.gauss(0, 1) for _ in range(20)]
            f.write(",".join(f"{x:.4f}" for x in v) + f",{rnd.choice(cities)},{int(v[0] + v[1] > 0)}\n")


def wide(path, cols, rows=30):
    rnd = random.Random(cols)
    with open(path, "w") as f:
        f.write(",".join(f"c{j}" for j in range(cols)) + ",label\n")
        for i in range(rows):
            f.write(",".join(f"{rnd.random():.3f}" for _ in range(cols)) + f",{i % 2}\n")


def run(binary, csv):
    """(read-and-encode seconds, whole command's seconds, its peak resident MB)."""
    with tempfile.TemporaryFile(mode="w+") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen([binary, "train", "--csv", csv, "--target", "label", "--epochs", "1", "--l2", "0",
                              "--threads", "2", "--out", csv + ".safetensors", "--checkpoint-every", "0"],
                             stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read()
    if p.returncode != 0:
        sys.exit(text)
    read = re.search(r"read and encoded in ([0-9.]+) s", text)
    return float(read.group(1)) if read else float("nan"), wall, usage.ru_maxrss / 1024


def main():
    binary = sys.argv[1]
    print("| shape | CSV | read and encode | whole command (1 epoch) | peak memory | peak ÷ CSV |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        cases = [("tall", n) for n in (1_000, 10_000, 100_000, 1_000_000)] + \
                [("wide", k) for k in (1_000, 10_000, 100_000)]
        for kind, n in cases:
            path = os.path.join(d, f"{kind}{n}.csv")
            (tall if kind == "tall" else wide)(path, n)
            mb = os.path.getsize(path) / 1e6
            read, wall, peak = run(binary, path)
            shape = f"{n:,} rows × 22 columns" if kind == "tall" else f"30 rows × {n + 1:,} columns"
            print(f"| {shape} | {mb:.1f} MB | {read:.2f} s | {wall:.2f} s | {peak:.0f} MB | {peak / mb:.1f} |",
                  flush=True)
            os.remove(path)


if __name__ == "__main__":
    main()
