#!/usr/bin/env python3
"""PyTorch reference side of scripts/bench-vs-pytorch.sh: the same networks (the MLPs and the
LeNet-like convolutional network, config `lenet`) in a plain eager loop.

IDX files read with numpy and preloaded as float32 tensors (pixels / 255, as neuralnet does); per
epoch a torch.randperm and index slicing; torch.set_num_threads(T) and set_num_interop_threads(T);
no DataLoader, no torch.compile. Initialisation is PyTorch's default except config b (N(0, 1)).
Each mode prints one JSON line on stdout.

  pytorch_mlp.py train --config a|b|c --threads T --epochs E [--seed S]
  pytorch_mlp.py infer --model MODEL.safetensors --threads T      (weights of a neuralnet model)
  pytorch_mlp.py to98 --threads T [--hidden 512] [--max-epochs 20] [--seed S]
  pytorch_mlp.py convlayers --threads 1       (each convolution of `lenet` alone: fwd, dW, dX)
"""

import argparse
import gzip
import json
import os
import statistics
import struct
import sys
import time

import numpy as np


def data_dir():
    d = os.environ.get("NEURALNET_DATA_DIR")
    if d:
        return d
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = xdg if xdg and os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "neuralnet", "mnist")


def read_idx(name):
    path = os.path.join(data_dir(), name)
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        with gzip.open(path + ".gz", "rb") as f:
            raw = f.read()
    else:
        with open(path, "rb") as f:
            raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(torch):
    def images(name):
        x = read_idx(name)
        return torch.from_numpy(x.reshape(x.shape[0], -1).astype(np.float32) / np.float32(255.0))

    def labels(name):
        return torch.from_numpy(read_idx(name).astype(np.int64))

    return (
        images("train-images-idx3-ubyte"),
        labels("train-labels-idx1-ubyte"),
        images("t10k-images-idx3-ubyte"),
        labels("t10k-labels-idx1-ubyte"),
    )


# (a), (b), (c) of the benchmark.
CONFIGS = {
    "a": dict(sizes=[784, 128, 10], act="relu", out="softmax", loss="ce", opt="adam", lr=1e-3, batch=128),
    "b": dict(sizes=[784, 30, 10], act="sigmoid", out="sigmoid", loss="half_mse", opt="sgd", lr=3.0, batch=10,
              init="normal"),
    "c": dict(sizes=[784, 800, 10], act="relu", out="softmax", loss="ce", opt="momentum", lr=0.05, batch=128),
    # conv:32:5:same,pool:2,conv:64:5:same,pool:2,dense:1024,dense:10 (issue 21).
    "lenet": dict(sizes="lenet", act="relu", out="softmax", loss="ce", opt="adam", lr=1e-3, batch=128),
}


def lenet(torch):
    """The LeNet-like network on flat 784-pixel rows (viewed as 1×28×28), logits out."""
    nn = torch.nn
    return nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(3136, 1024), nn.ReLU(), nn.Linear(1024, 10))


def build(torch, sizes, act, out, init=None):
    nn = torch.nn
    if sizes == "lenet":
        return lenet(torch)
    layers = []
    for i in range(len(sizes) - 1):
        lin = nn.Linear(sizes[i], sizes[i + 1])
        if init == "normal":
            nn.init.normal_(lin.weight, 0.0, 1.0)
            nn.init.normal_(lin.bias, 0.0, 1.0)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(nn.ReLU() if act == "relu" else nn.Sigmoid())
    # The output activation of a softmax/cross-entropy net lives in the loss (logits out).
    if out == "sigmoid":
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def accuracy(torch, model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], 1000):
            correct += (model(x[i : i + 1000]).argmax(1) == y[i : i + 1000]).sum().item()
    model.train()
    return correct / x.shape[0]


def make_step(torch, model, cfg):
    F = torch.nn.functional
    params = model.parameters()
    if cfg["opt"] == "adam":
        opt = torch.optim.Adam(params, lr=cfg["lr"])
    elif cfg["opt"] == "momentum":
        opt = torch.optim.SGD(params, lr=cfg["lr"], momentum=0.9)
    else:
        opt = torch.optim.SGD(params, lr=cfg["lr"])
    if cfg["loss"] == "ce":
        def loss_fn(out, y, y1h):
            return F.cross_entropy(out, y)
    else:
        def loss_fn(out, y, y1h):
            return 0.5 * ((out - y1h) ** 2).sum(1).mean()

    def step(xb, yb, y1hb):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb, y1hb)
        loss.backward()
        opt.step()

    return step


def run_epoch(torch, step, x, y, y1h, batch, gen):
    n = x.shape[0]
    perm = torch.randperm(n, generator=gen)
    for i in range(0, n, batch):
        idx = perm[i : i + batch]
        step(x[idx], y[idx], y1h[idx] if y1h is not None else None)


def mode_train(torch, args):
    cfg = CONFIGS[args.config]
    torch.manual_seed(args.seed)
    xtr, ytr, xte, yte = load_mnist(torch)
    y1h = torch.nn.functional.one_hot(ytr, 10).float() if cfg["loss"] == "half_mse" else None
    model = build(torch, cfg["sizes"], cfg["act"], cfg["out"], cfg.get("init"))
    step = make_step(torch, model, cfg)
    gen = torch.Generator().manual_seed(args.seed)
    wall, cpu, spans = [], [], []
    for _ in range(args.epochs):
        t0, c0, u0 = time.perf_counter(), time.process_time(), time.time()
        run_epoch(torch, step, xtr, ytr, y1h, cfg["batch"], gen)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        spans.append([u0, time.time()])  # wall-clock start and end, for bench/kernel_profile.py's windows
    return dict(config=args.config, epoch_wall=wall, epoch_cpu=cpu, epoch_spans=spans,
                test_accuracy=accuracy(torch, model, xte, yte))


def load_safetensors(path):
    """The tensors of a safetensors file as numpy arrays (the format is 8 bytes + JSON + raw data)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", t["dtype"]
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(raw, dtype=np.float32, count=(b - a) // 4, offset=8 + n + a).reshape(t["shape"])
    meta = json.loads(header["__metadata__"]["neuralnet"])
    return out, meta


def mode_infer(torch, args):
    tensors, meta = load_safetensors(args.model)
    sizes = meta["sizes"]
    if meta.get("features"):
        # The LeNet-like model: its convolutions are features.0 and features.2, its dense layers
        # layers.0 and layers.1 (modules 1, 4, 8, 10 here, after the Unflatten).
        model = lenet(torch)
        names = {1: "features.0", 4: "features.2", 8: "layers.0", 10: "layers.1"}
        sizes = ["x".join(map(str, meta["input_maps"])), *meta["features"], *sizes[1:]]
    else:
        model = build(torch, sizes, "relu", "softmax")
        names = {2 * i: f"layers.{i}" for i in range(len(sizes) - 1)}
    with torch.no_grad():
        for m, name in names.items():
            model[m].weight.copy_(torch.from_numpy(tensors[f"{name}.weight"].copy()))
            model[m].bias.copy_(torch.from_numpy(tensors[f"{name}.bias"].copy()))
    # neuralnet's forward ends in the softmax; so does this one.
    model = torch.nn.Sequential(*model, torch.nn.Softmax(dim=1)).eval()
    _, _, xte, yte = load_mnist(torch)
    n = xte.shape[0]
    with torch.inference_mode():
        def one_pass():
            t0 = time.perf_counter()
            for i in range(0, n, 1000):
                model(xte[i : i + 1000])
            return time.perf_counter() - t0

        for _ in range(2):
            one_pass()
        rates = sorted(n / one_pass() for _ in range(args.passes))
        singles = [xte[i : i + 1] for i in range(n)]
        for i in range(500):
            model(singles[i % n])
        lat = []
        for i in range(args.singles):
            x = singles[i % n]
            t0 = time.perf_counter_ns()
            model(x)
            lat.append((time.perf_counter_ns() - t0) / 1e3)
        lat.sort()
        acc = (torch.cat([model(xte[i : i + 1000]) for i in range(0, n, 1000)]).argmax(1) == yte).float().mean().item()
    return dict(sizes=sizes, batch=1000, passes=len(rates), images_per_sec=statistics.median(rates),
                single_calls=len(lat), latency_median_us=lat[round((len(lat) - 1) * 0.5)],
                latency_p90_us=lat[round((len(lat) - 1) * 0.9)], test_accuracy=acc)


def mode_to98(torch, args):
    cfg = dict(sizes=[784, args.hidden, 10], act="relu", out="softmax", loss="ce", opt="adam", lr=1e-3, batch=128)
    torch.manual_seed(args.seed)
    xtr, ytr, xte, yte = load_mnist(torch)
    model = build(torch, cfg["sizes"], "relu", "softmax")
    step = make_step(torch, model, cfg)
    gen = torch.Generator().manual_seed(args.seed)
    seconds, accs, hit = [], [], None
    for epoch in range(1, args.max_epochs + 1):
        t0 = time.perf_counter()
        run_epoch(torch, step, xtr, ytr, None, cfg["batch"], gen)
        seconds.append(time.perf_counter() - t0)
        accs.append(accuracy(torch, model, xte, yte))  # not timed
        print(f"epoch {epoch}: test accuracy {accs[-1] * 100:.2f}%, {seconds[-1]:.3f} s", file=sys.stderr)
        if accs[-1] >= args.target:
            hit = epoch
            break
    return dict(recipe=f"784-{args.hidden}-10 adam lr 0.001 batch 128", target=args.target, reached=hit is not None,
                epoch=hit, train_seconds=sum(seconds), epoch_seconds=seconds, test_accuracy=accs)


def mode_convlayers(torch, args):
    """Each convolution of `lenet` alone on 64 samples (one training thread's half batch): forward,
    ∂L/∂W and ∂L/∂x through the same aten convolution kernels training uses."""
    import torch.nn.functional as F
    rows = []
    for name, (c, h, o) in {"conv1": (1, 28, 32), "conv2": (32, 14, 64)}.items():
        x = torch.randn(64, c, h, h)
        w = torch.randn(o, c, 5, 5) * 0.1
        b = torch.zeros(o)
        g = torch.randn(64, o, h, h)
        flop = 2.0 * o * c * 25 * h * h * 64
        passes = {
            "fwd": lambda: F.relu(F.conv2d(x, w, b, padding=2)),
            "dW": lambda: torch.ops.aten.convolution_backward(g, x, w, [o], [1, 1], [2, 2], [1, 1], False, [0, 0], 1,
                                                              [False, True, True]),
            "dX": lambda: torch.ops.aten.convolution_backward(g, x, w, [o], [1, 1], [2, 2], [1, 1], False, [0, 0], 1,
                                                              [True, False, False]),
        }
        with torch.no_grad():
            for pass_, f in passes.items():
                f()
                t0, calls = time.perf_counter(), 0
                while time.perf_counter() - t0 < 0.15:
                    f()
                    calls += 1
                per = max(1, int(calls * 0.3 / (time.perf_counter() - t0)))
                runs = []
                for _ in range(7):
                    t = time.perf_counter()
                    for _ in range(per):
                        f()
                    runs.append((time.perf_counter() - t) / per)
                secs = statistics.median(runs)
                rows.append(dict(layer=name, pass_=pass_, ms=secs * 1e3, gflops=flop / secs / 1e9))
                print(f"{name} {pass_}: {secs * 1e3:.3f} ms, {flop / secs / 1e9:.1f} GFLOP/s", file=sys.stderr)
    return dict(rows=rows)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["train", "infer", "to98", "convlayers"])
    p.add_argument("--config", choices=sorted(CONFIGS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--model")
    p.add_argument("--passes", type=int, default=20)
    p.add_argument("--singles", type=int, default=5000)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--max-epochs", type=int, default=20)
    p.add_argument("--target", type=float, default=0.98)
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    result = {"train": mode_train, "infer": mode_infer, "to98": mode_to98, "convlayers": mode_convlayers}[args.mode](torch, args)
    result.update(side="pytorch", threads=torch.get_num_threads(), torch=torch.__version__)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
