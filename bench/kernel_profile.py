#!/usr/bin/env python3
"""Where a training epoch's time goes, kernel by kernel, on both sides (called by
scripts/profile-kernels.sh with the benchmark virtual environment's python; issue 18).

Both sides train the same configuration on one thread under `perf record -k realtime` (sampling
the whole process at --freq Hz); each sample is kept when it falls inside an epoch after the
first (neuralnet: between the lines its CLI prints as epochs end; PyTorch: the wall-clock spans
bench/pytorch_mlp.py reports), and sorted into a category by its symbol and library. Samples
divided by the frequency and by the epochs give each category's seconds per epoch. For the
matrix products the FLOPs of an epoch are known, so their rate and share of the core's measured
FMA peak (bench_gemm) follow; neuralnet's sparse first layer is counted at the dense product's
FLOPs (what it replaces), so its rate is an effective one.

Prints a Markdown table on stdout; the raw counts go to OUT_DIR/profile-CONFIG.json.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from driver import CLI, CONFIG_NAME, DESCR  # noqa: E402  (the same command lines as the benchmark)

# First match wins; matched against "symbol (library)". Code generated at run time (oneDNN's JIT
# kernels) has no symbol: perf names it "[unknown] (/tmp/perf-PID.map)". The convolutional network's own kernels
# come first for "l" (CONV_CATEGORIES).
CATEGORIES = {
    "neuralnet": [
        (r"list_inputs", "sparse first layer: listing the inked inputs"),
        (r"sparse_dt_x|dt_tile", "sparse first layer ∂L/∂W = δᵀX"),
        (r"sparse_train|sparse_x_wt", "sparse first layer X·Wᵀ"),
        (r"gemm|faer|millikernel|equator|spindle", "GEMM"),
        (r"kernels::cpu::simd::|optimizer", "optimizer update"),
        (r"activation::|loss::|libm\.so|softmax", "activation, softmax, loss"),
        (r"count_not_equal", "ink count (sparse or dense)"),
        (r"memmove|memcpy|memset|rows_step|shuffle|batch", "batch assembly, copies"),
        (r"rayon|crossbeam|futex|sched_yield", "thread hand-offs"),
    ],
    "pytorch": [
        (r"gemm|mkl_blas|dnnl|\[JIT\]|perf-\d+\.map|jit_", "GEMM"),
        (r"index_kernel|index_select|gather|memmove|memcpy|copy_kernel|randperm", "batch assembly, copies"),
        (r"addcdiv|addcmul|lerp|[sS]qrt|adam|sgd|_foreach", "optimizer update"),
        (r"at::native|mkl_vml|libm\.so|sleef|Sleef", "element-wise (activation, softmax, loss, optimizer)"),
        (r"libpython|\.cpython-", "Python interpreter"),
        (r"c10::|at::|torch::|malloc|free|_int_|libstdc\+\+|libc\.so", "framework (dispatch, autograd, allocation)"),
    ],
}
CONV_CATEGORIES = {
    "neuralnet": [
        (r"conv::unfold", "convolution: patches unfolded"),
        (r"pool::", "max pooling"),
        (r"conv::|kernels::reductions::sum", "convolution: bias, f(z), ∂L/∂b, flipped kernels"),
    ],
    "pytorch": [
        (r"\[JIT\]|perf-\d+\.map|dnnl|mkldnn|ideep", "convolution (oneDNN)"),
        (r"max_pool", "max pooling"),
    ],
}
COMMON = [(r"\[kernel", "operating system (page faults, scheduling)")]


def category(side, config, where):
    for pattern, name in COMMON + (CONV_CATEGORIES[side] if config == "l" else []) + CATEGORIES[side]:
        if re.search(pattern, where):
            return name
    return "other"


def samples(data):
    """(time, 'symbol (library)') for each sample of a perf.data file."""
    out = subprocess.run(["perf", "script", "-i", data, "-F", "time,ip,sym,dso"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, check=True).stdout
    for line in out.splitlines():
        m = re.match(r"\s*([0-9.]+):\s+[0-9a-f]+\s+(.*)$", line)
        if m:
            yield float(m.group(1)), m.group(2)


def profile(side, config, data, spans, freq):
    """Seconds per epoch of each category over the epochs after the first, and the symbol of the
    GEMM category with the most samples."""
    spans = spans[1:]
    counts, total, gemm_symbols = {}, 0, {}
    for t, where in samples(data):
        if any(a <= t <= b for a, b in spans):
            c = category(side, config, where)
            counts[c] = counts.get(c, 0) + 1
            total += 1
            if c == "GEMM":
                sym = where.rsplit(" (", 1)[0]
                gemm_symbols[sym] = gemm_symbols.get(sym, 0) + 1
    epochs = len(spans)
    top = max(gemm_symbols, key=gemm_symbols.get) if gemm_symbols else None
    return ({c: n / freq / epochs for c, n in counts.items()}, total / freq / epochs,
            sum(b - a for a, b in spans) / epochs, top)


def vector_width(data, symbol):
    """Which registers `symbol`'s fused multiply-adds use (perf annotate): zmm is AVX-512, ymm AVX2."""
    out = subprocess.run(["perf", "annotate", "-i", data, "--stdio", "-s", symbol], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    fmas = [line for line in out.splitlines() if "vfmadd" in line]
    widths = [w for w, reg in (("zmm (512-bit)", "zmm"), ("ymm (256-bit)", "ymm"), ("xmm (128-bit)", "xmm"))
              if any(reg in f for f in fmas)]
    return f"{len(fmas)} FMA instructions, on {' and '.join(widths)} registers" if fmas else "unknown"


def perf_record(data, freq, cmd, **kw):
    return subprocess.Popen(["perf", "record", "-q", "-k", "realtime", "-F", str(freq), "-o", data, "--", *cmd], **kw)


def run_ours(args, data):
    cmd = [os.path.join(args.release_dir, "neuralnet"), "train", *CLI[args.config], "--epochs", str(args.epochs),
           "--val-size", "0", "--dropout", "0", "--schedule", "constant", "--threads", "1", "--seed", "1",
           "--out", os.path.join(args.out_dir, f"profile-{args.config}.safetensors")]
    p = perf_record(data, args.freq, cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    marks = []
    for line in p.stderr:
        if line.startswith("training ") or re.match(r"epoch \d+/\d+:", line):
            marks.append(time.time())
    if p.wait() != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed")
    return list(zip(marks, marks[1:])), " ".join(cmd)


def run_torch(args, data):
    cmd = [sys.executable, os.path.join(HERE, "pytorch_mlp.py"), "train", "--config", CONFIG_NAME.get(args.config, args.config), "--threads", "1",
           "--epochs", str(args.epochs)]
    p = perf_record(data, args.freq, cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out, _ = p.communicate()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed")
    return json.loads(out.strip().splitlines()[-1])["epoch_spans"], " ".join(cmd)


def flops(config, side, n=60000):
    """The FLOPs of an epoch's products (n samples), by category: each dense layer's forward,
    ∂L/∂W and, above the input, ∂L/∂x, each 2·n·inputs·outputs; each convolution's the same with
    2·n·O·C·k²·H·W. neuralnet's first dense layer of an MLP runs its forward and ∂L/∂W in the
    sparse kernels, counted at the dense products' FLOPs."""
    if config == "l":
        c1, c2 = 2 * 32 * 1 * 25 * 28 * 28, 2 * 64 * 32 * 25 * 14 * 14
        dense = 3 * 2 * (3136 * 1024 + 1024 * 10)
        conv = 2 * c1 + 3 * c2  # the first convolution's input needs no gradient
        if side == "neuralnet":
            return {"GEMM": n * (conv + dense)}
        return {"convolution (oneDNN)": n * conv, "GEMM": n * dense}
    sizes = [int(v) for v in CLI[config][1].split(",")]
    first = 2 * n * sizes[0] * sizes[1]
    rest = sum(3 * 2 * n * a * b for a, b in zip(sizes[1:], sizes[2:]))
    if side == "neuralnet":
        return {"GEMM": rest, "sparse first layer X·Wᵀ": first, "sparse first layer ∂L/∂W = δᵀX": first}
    return {"GEMM": 2 * first + rest}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--release-dir", default="target/release")
    ap.add_argument("--out-dir", default="target/bench")
    ap.add_argument("--config", default="a", choices=["a", "c", "l"])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--freq", type=int, default=1999)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)

    g = subprocess.run([os.path.join(args.release_dir, "examples", "bench_gemm"), "--threads", "1", "--reps", "3",
                        "--min-seconds", "0.05"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                       check=True)
    peak = json.loads(g.stdout.strip().splitlines()[-1])["measured_peak_1core_gflops"]

    result = {"config": args.config, "peak_gflops": peak, "freq": args.freq, "sides": {}}
    for side, run in (("neuralnet", run_ours), ("pytorch", run_torch)):
        data = os.path.join(args.out_dir, f"perf-{side}-{args.config}.data")
        spans, cmd = run(args, data)
        per, sampled, wall, top = profile(side, args.config, data, spans, args.freq)
        result["sides"][side] = {"command": cmd, "epoch_seconds": wall, "sampled_seconds": sampled, "categories": per,
                                 "top_gemm_symbol": top, "top_gemm_width": vector_width(data, top) if top else None}

    p = print
    p(f"### {DESCR[args.config]}: one thread, seconds per epoch by kernel (epochs 2–{args.epochs}; "
      f"FMA peak {peak:.0f} GFLOP/s)")
    p("")
    p("| kernel | neuralnet s | PyTorch s | neuralnet GFLOP/s (% of peak) | PyTorch GFLOP/s (% of peak) |")
    p("|---|---|---|---|---|")
    ours, theirs = result["sides"]["neuralnet"]["categories"], result["sides"]["pytorch"]["categories"]
    names = sorted(set(ours) | set(theirs), key=lambda c: -(ours.get(c, 0) + theirs.get(c, 0)))
    rate = {}
    for side, cats in (("neuralnet", ours), ("pytorch", theirs)):
        for c, f in flops(args.config, side).items():
            if cats.get(c):
                rate[side, c] = f / cats[c] / 1e9

    def fmt_rate(side, c):
        r = rate.get((side, c))
        return f"{r:.0f} ({100 * r / peak:.0f}%)" if r else ""

    for c in names:
        p(f"| {c} | {ours.get(c, 0):.3f} | {theirs.get(c, 0):.3f} | {fmt_rate('neuralnet', c)} | "
          f"{fmt_rate('pytorch', c)} |")
    so, st = result["sides"]["neuralnet"], result["sides"]["pytorch"]
    p(f"| **sampled total** (epoch wall time) | **{so['sampled_seconds']:.3f}** ({so['epoch_seconds']:.3f}) | "
      f"**{st['sampled_seconds']:.3f}** ({st['epoch_seconds']:.3f}) | | |")
    p("")
    for side, r in result["sides"].items():
        p(f"- {side}'s busiest GEMM kernel: `{r['top_gemm_symbol']}` ({r['top_gemm_width']})")
    p("")
    with open(os.path.join(args.out_dir, f"profile-{args.config}.json"), "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
