#!/usr/bin/env python3
"""A first side-by-side look at the LeNet-like convolutional network (issue 21): PyTorch eager on
the CPU against `neuralnet train --arch` on the same images, batch 128, Adam 1e-3, float32, the
same thread count, one epoch over the first ROWS training images (no validation, no test), the two
sides alternated REPS times. Prints each side's median seconds per epoch and the ratio.

  python bench/pytorch_conv.py NEURALNET_BINARY MNIST_DIR [--rows 10000] [--threads 1,2] [--reps 3]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ARCH = "conv:32:5:same,pool:2,conv:64:5:same,pool:2,dense:1024,dense:10"


def torch_epoch(mnist, rows, threads):
    code = f"""
import time, numpy as np, torch
torch.set_num_threads({threads}); torch.set_num_interop_threads({threads}); torch.manual_seed(1)
raw = np.fromfile("{mnist}/train-images-idx3-ubyte", dtype=np.uint8, offset=16)[: {rows} * 784]
lab = np.fromfile("{mnist}/train-labels-idx1-ubyte", dtype=np.uint8, offset=8)[: {rows}]
x = torch.from_numpy(raw.astype(np.float32).reshape(-1, 1, 28, 28) / 255.0)
y = torch.from_numpy(lab.astype(np.int64))
nn = torch.nn
net = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5, padding=2),
                    nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 1024), nn.ReLU(), nn.Dropout(0.3),
                    nn.Linear(1024, 10))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
t = time.perf_counter()
perm = torch.randperm(x.shape[0])
for i in range(0, x.shape[0], 128):
    idx = perm[i:i + 128]
    opt.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
    opt.step()
print(time.perf_counter() - t)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def ours_epoch(binary, mnist, rows, threads, tmp):
    out = subprocess.run(
        [binary, "train", "--data-dir", mnist, "--arch", ARCH, "--epochs", "1", "--threads", str(threads),
         "--val-size", str(60000 - rows), "--checkpoint-every", "0", "--out", os.path.join(tmp, "m.safetensors")],
        capture_output=True, text=True, check=True)
    m = re.search(r"epoch 1/1:.*\| ([0-9.]+) s,", out.stderr)
    return float(m.group(1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("mnist")
    p.add_argument("--rows", type=int, default=10000)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--reps", type=int, default=3)
    a = p.parse_args()
    import torch
    print(f"torch {torch.__version__}; {a.rows} images, batch 128, Adam 1e-3, {ARCH}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for threads in [int(t) for t in a.threads.split(",")]:
            ours, theirs = [], []
            for _ in range(a.reps):
                ours.append(ours_epoch(a.binary, a.mnist, a.rows, threads, tmp))
                theirs.append(torch_epoch(a.mnist, a.rows, threads))
            o, t = statistics.median(ours), statistics.median(theirs)
            results[threads] = dict(ours=ours, pytorch=theirs, ratio=o / t)
            print(f"{threads} thread(s): neuralnet {o:.2f} s, PyTorch {t:.2f} s per epoch of {a.rows} images; "
                  f"ratio {o / t:.2f} (runs: {', '.join(f'{v:.2f}' for v in ours)} / {', '.join(f'{v:.2f}' for v in theirs)})")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
