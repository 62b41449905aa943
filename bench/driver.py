#!/usr/bin/env python3
"""Runs neuralnet and PyTorch alternately and prints the comparison table (called by
scripts/bench-vs-pytorch.sh, with the benchmark virtual environment's python).

neuralnet's training is timed through the real CLI command (`neuralnet train ...`): per-epoch wall
seconds from its --metrics JSON lines (training only), per-epoch CPU seconds from the process's
threads' on-CPU time (/proc/PID/task/*/schedstat, ns) read as each epoch line appears on stderr,
and the whole command's wall and CPU time (getrusage of children). PyTorch's side reports
perf_counter / process_time per epoch from inside bench/pytorch_mlp.py.

Before every run the driver waits (up to --quiet-wait s) until the machine's other processes use
less than a quarter of a core; during every run it measures the CPU time used by everything else
(/proc/stat minus the run's own) and re-runs (up to twice) when that exceeds 10% of the run's wall
time (and 0.25 s). Both numbers are kept in the JSON results.
"""

import argparse
import glob
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TICK = os.sysconf("SC_CLK_TCK")

CLI = {
    "a": ["--layers", "784,128,10", "--activation", "relu", "--output-activation", "softmax",
          "--loss", "cross-entropy", "--optimizer", "adam", "--lr", "0.001", "--batch-size", "128",
          "--init", "pytorch"],
    "b": ["--layers", "784,30,10", "--activation", "sigmoid", "--output-activation", "sigmoid",
          "--loss", "half-mse", "--optimizer", "sgd", "--lr", "3.0", "--batch-size", "10",
          "--init", "standard-normal"],
    "c": ["--layers", "784,800,10", "--activation", "relu", "--output-activation", "softmax",
          "--loss", "cross-entropy", "--optimizer", "momentum", "--momentum", "0.9", "--lr", "0.05",
          "--batch-size", "128", "--init", "pytorch"],
    "l": ["--arch", "conv:32:5:same,pool:2,conv:64:5:same,pool:2,dense:1024,dense:10", "--activation", "relu",
          "--output-activation", "softmax", "--loss", "cross-entropy", "--optimizer", "adam", "--lr", "0.001",
          "--batch-size", "128", "--init", "pytorch"],
}
DESCR = {
    "a": "(a) 784-128-10 ReLU, CE, Adam 1e-3, batch 128",
    "b": "(b) 784-30-10 sigmoid, half-MSE, SGD 3.0, batch 10",
    "c": "(c) 784-800-10 ReLU, CE, SGD mom 0.9 lr 0.05, batch 128",
    "l": "(l) LeNet-like conv 32@5×5, pool, conv 64@5×5, pool, 1024, 10, CE, Adam 1e-3, batch 128",
}
CONFIG_NAME = {"l": "lenet"}  # pytorch_mlp.py's name of a config
TARGET = {"a": 0.33, "b": 0.10, "c": 0.5, "l": 1.3}
# Inference targets per model: throughput ratio at least, single-image latency ratio at most.
INFER_TARGET = {"a": (3.0, 0.2), "c": (3.0, 0.2), "l": (0.8, 1.0)}
CONFIGS = "abcl"


IGNORE_NICED = False  # --ignore-niced: count only CPU time of processes at nice ≤ 0 as foreign load


def system_busy_s(niced_only=False):
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    if niced_only:
        return v[1] / TICK
    idle = v[3] + (v[4] if len(v) > 4 else 0) + (v[1] if IGNORE_NICED else 0)
    return (sum(v[:8]) - idle) / TICK


def children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def wait_quiet(max_wait, log):
    """Waits until other processes use < 0.25 core (sampled over 0.5 s); returns the last busy level."""
    t_end = time.time() + max_wait
    while True:
        b0 = system_busy_s()
        time.sleep(0.5)
        busy = (system_busy_s() - b0) / 0.5
        if busy < 0.25 or time.time() > t_end:
            if busy >= 0.25:
                log(f"  (machine still busy: {busy:.2f} cores used by others; going ahead)")
            return busy
        log(f"  waiting: other processes use {busy:.2f} cores")
        time.sleep(3)


def task_cpu_ns(pid):
    total = 0
    for p in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(p) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def measured(run, args, log):
    """Runs `run()` (returns a dict) with quiet-waiting and a foreign-load check; retries noisy runs."""
    best = None
    for attempt in range(3):
        pre_busy = wait_quiet(args.quiet_wait, log)
        b0, n0, c0, t0 = system_busy_s(), system_busy_s(True), children_cpu_s(), time.perf_counter()
        r = run()
        wall = time.perf_counter() - t0
        own = children_cpu_s() - c0
        foreign = max(0.0, (system_busy_s() - b0) - own)
        r.update(cmd_wall=wall, cmd_cpu=own, foreign_cpu=foreign, busy_before=pre_busy, attempt=attempt + 1,
                 niced_cpu=system_busy_s(True) - n0,
                 noisy=foreign > max(0.10 * wall, 0.25))
        if best is None or foreign / wall < best["foreign_cpu"] / best["cmd_wall"]:
            best = r
        if not r["noisy"]:
            return r
        log(f"  noisy run (other processes used {foreign:.2f} CPU-s in {wall:.2f} s); running it again")
    log("  keeping the least noisy of 3 attempts")
    return best


def run_ours_train(binary, cfg, threads, epochs, seed, workdir):
    metrics = os.path.join(workdir, f"metrics-{cfg}-{threads}-{seed}.jsonl")
    model = os.path.join(workdir, f"model-{cfg}-{threads}-{seed}.safetensors")
    cmd = [binary, "train", *CLI[cfg], "--epochs", str(epochs), "--val-size", "0", "--dropout", "0",
           "--schedule", "constant", "--threads", str(threads), "--seed", str(seed),
           "--metrics", metrics, "--out", model]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    marks, acc, lines = [], None, []
    for line in p.stderr:
        lines.append(line.rstrip())
        if line.startswith("training ") or re.match(r"epoch \d+/\d+:", line):
            marks.append(task_cpu_ns(p.pid))
        m = re.search(r"test accuracy: ([0-9.]+)%", line)
        if m:
            acc = float(m.group(1)) / 100
    if p.wait() != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n" + "\n".join(lines[-5:]))
    with open(metrics) as f:
        reports = [json.loads(x) for x in f if x.strip()]
    cpu = [(b - a) / 1e9 for a, b in zip(marks, marks[1:])]
    return dict(side="neuralnet", config=cfg, threads=threads, command=" ".join(cmd),
                epoch_wall=[r["seconds"] for r in reports], epoch_cpu=cpu, test_accuracy=acc, model=model)


def run_json(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["command"] = " ".join(cmd)
    return r


def torch_cmd(mode, threads, *extra):
    return [sys.executable, os.path.join(HERE, "pytorch_mlp.py"), mode, "--threads", str(threads), *extra]


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--release-dir", default="target/release")
    ap.add_argument("--out-dir", default="target/bench")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--epochs", default="a=3,b=2,c=3,l=1")
    ap.add_argument("--only", default="a,b,c,l,infer,to98,gemm,convlayers")
    ap.add_argument("--ours-to98", default="--hidden 384 --optimizer adam --lr 0.002 --schedule cosine --max-epochs 5 --batch-size 128",
                    help="neuralnet's time-to-98%% recipe (bench_to_98 options)")
    ap.add_argument("--quiet-wait", type=float, default=180)
    ap.add_argument("--ignore-niced", action="store_true",
                    help="do not count CPU time of niced (background) processes as foreign load")
    args = ap.parse_args()
    global IGNORE_NICED
    IGNORE_NICED = args.ignore_niced
    threads = [int(t) for t in args.threads.split(",")]
    epochs = dict(kv.split("=") for kv in args.epochs.split(","))
    only = set(args.only.split(","))
    os.makedirs(args.out_dir, exist_ok=True)
    binary = os.path.join(args.release_dir, "neuralnet")
    examples = os.path.join(args.release_dir, "examples")
    results = {"train": [], "infer": [], "to98": [], "gemm": None, "convlayers": None}
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731

    def pair(ours, theirs, rep, t):
        # Alternate which side goes first, so drifting background load hits both alike.
        order = [ours, theirs] if (rep + t) % 2 == 0 else [theirs, ours]
        return [f() for f in order]

    # Training configs (a), (b), (c).
    models = {}
    for cfg in [c for c in CONFIGS if c in only]:
        e = int(epochs[cfg])
        for rep in range(args.reps):
            for t in threads:
                seed = rep + 1
                log(f"{cfg}: rep {rep + 1}/{args.reps}, {t} thread(s)")
                for r in pair(
                    lambda: measured(lambda: run_ours_train(binary, cfg, t, e, seed, args.out_dir), args, log),
                    lambda: measured(lambda: run_json(torch_cmd("train", t, "--config", CONFIG_NAME.get(cfg, cfg),
                                                                "--epochs", str(e),
                                                                "--seed", str(seed))), args, log),
                    rep, t):
                    r.update(config=cfg, threads=t, rep=rep)
                    results["train"].append(r)
                    if r["side"] == "neuralnet":
                        models.setdefault(cfg, r["model"])

    # Inference on the trained (a) and (c) models: the same weights on both sides.
    if "infer" in only:
        for cfg, model in sorted(models.items()):
            if cfg == "b":
                continue
            # The convolutional model costs ~100× an MLP per image: fewer whole passes.
            passes = ["--passes", "3", "--singles", "2000"] if cfg == "l" else []
            for rep in range(args.reps):
                for t in threads:
                    log(f"inference {cfg}: rep {rep + 1}/{args.reps}, {t} thread(s)")
                    for r in pair(
                        lambda: measured(lambda: run_json([os.path.join(examples, "bench_infer"), model,
                                                           "--threads", str(t), *passes]), args, log),
                        lambda: measured(lambda: run_json(torch_cmd("infer", t, "--model", model, *passes)), args,
                                         log),
                        rep, t):
                        r.update(config=cfg, threads=t, rep=rep)
                        results["infer"].append(r)

    # Time to 98% test accuracy.
    if "to98" in only:
        for rep in range(args.reps):
            for t in threads:
                seed = rep + 1
                log(f"time to 98%: rep {rep + 1}/{args.reps}, {t} thread(s)")
                for r in pair(
                    lambda: measured(lambda: run_json([os.path.join(examples, "bench_to_98"), *args.ours_to98.split(),
                                                       "--threads", str(t), "--seed", str(seed)]), args, log),
                    lambda: measured(lambda: run_json(torch_cmd("to98", t, "--seed", str(seed))), args, log),
                    rep, t):
                    r.update(threads=t, rep=rep)
                    results["to98"].append(r)

    if "gemm" in only:
        log("GEMM efficiency")
        results["gemm"] = measured(lambda: run_json([os.path.join(examples, "bench_gemm"), "--threads", "1,2"]),
                                   args, log)

    if "convlayers" in only:
        log("each convolution alone, one thread")
        results["convlayers"] = {
            "neuralnet": measured(lambda: run_json([os.path.join(examples, "bench_conv")]), args, log),
            "pytorch": measured(lambda: run_json(torch_cmd("convlayers", 1)), args, log),
        }

    results["settings"] = vars(args)
    with open(os.path.join(args.out_dir, f"results-{args.threads.replace(',', '_')}.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(report(results, threads))


def report(res, threads):
    out = []
    p = out.append

    def noisy(rs):
        n = sum(1 for r in rs if r.get("noisy"))
        return f" ({n} noisy)" if n else ""

    def sel(kind, side, **kw):
        return [r for r in res[kind] if r["side"] == side and all(r.get(k) == v for k, v in kw.items())]

    if res["train"]:
        p("### Training: medians over all epochs of all runs (seconds per epoch); test accuracy after the last epoch")
        p("")
        p("| config | thr | neuralnet wall | neuralnet CPU | PyTorch wall | PyTorch CPU | ratio wall (target) "
          "| ratio CPU | acc neuralnet | acc PyTorch | Δ acc (pt) | runs |")
        p("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for cfg in CONFIGS:
            for t in threads:
                o, q = sel("train", "neuralnet", config=cfg, threads=t), sel("train", "pytorch", config=cfg, threads=t)
                if not o or not q:
                    continue
                ow, oc = med([x for r in o for x in r["epoch_wall"]]), med([x for r in o for x in r["epoch_cpu"]])
                qw, qc = med([x for r in q for x in r["epoch_wall"]]), med([x for r in q for x in r["epoch_cpu"]])
                oa, qa = med([r["test_accuracy"] for r in o]), med([r["test_accuracy"] for r in q])
                ok = "✓" if ow / qw <= TARGET[cfg] else "✗"
                p(f"| {DESCR[cfg]} | {t} | {ow:.3f} | {oc:.3f} | {qw:.3f} | {qc:.3f} | **{ow / qw:.3f}** "
                  f"(≤ {TARGET[cfg]}) {ok} | {oc / qc:.3f} | {oa * 100:.2f}% | {qa * 100:.2f}% | "
                  f"{(oa - qa) * 100:+.2f} | {len(o)}+{len(q)}{noisy(o + q)} |")
        p("")
        p("Whole `neuralnet train` command (data load, training, test evaluation, save), median per run: "
          + "; ".join(
              f"{cfg}/{t} thr {med([r['cmd_wall'] for r in sel('train', 'neuralnet', config=cfg, threads=t)]):.2f} s "
              f"wall, {med([r['cmd_cpu'] for r in sel('train', 'neuralnet', config=cfg, threads=t)]):.2f} s CPU"
              for cfg in CONFIGS for t in threads if sel("train", "neuralnet", config=cfg, threads=t)))
        p("")
    if res["infer"]:
        p("### Inference on the 10,000 test images (same weights on both sides; medians over runs)")
        p("")
        p("| model | thr | neuralnet img/s | PyTorch img/s | throughput ratio (target) | neuralnet latency "
          "median / p90 (µs) | PyTorch latency median / p90 (µs) | latency ratio (target) |")
        p("|---|---|---|---|---|---|---|---|")
        for cfg in "acl":
            for t in threads:
                o, q = sel("infer", "neuralnet", config=cfg, threads=t), sel("infer", "pytorch", config=cfg, threads=t)
                if not o or not q:
                    continue
                oi, qi = med([r["images_per_sec"] for r in o]), med([r["images_per_sec"] for r in q])
                om, o9 = med([r["latency_median_us"] for r in o]), med([r["latency_p90_us"] for r in o])
                qm, q9 = med([r["latency_median_us"] for r in q]), med([r["latency_p90_us"] for r in q])
                tt, tl = INFER_TARGET[cfg]
                name = "LeNet-like" if cfg == "l" else "-".join(map(str, o[0]["sizes"]))
                p(f"| {name} | {t} | {oi:,.0f} | {qi:,.0f} | **{oi / qi:.2f}** (≥ {tt}) "
                  f"{'✓' if oi / qi >= tt else '✗'} | {om:.1f} / {o9:.1f} | {qm:.1f} / {q9:.1f} | "
                  f"**{om / qm:.3f}** (≤ {tl}) {'✓' if om / qm <= tl else '✗'} |")
        p("")
    if res["to98"]:
        p("### Time to 98% test accuracy (training seconds, evaluation excluded; medians over runs)")
        p("")
        p("| thr | neuralnet recipe | epochs | seconds | PyTorch recipe | epochs | seconds | ratio (≤ 0.33) |")
        p("|---|---|---|---|---|---|---|---|")
        for t in threads:
            o, q = sel("to98", "neuralnet", threads=t), sel("to98", "pytorch", threads=t)
            if not o or not q:
                continue
            os_, qs = med([r["train_seconds"] for r in o if r["reached"]]), med(
                [r["train_seconds"] for r in q if r["reached"]])
            oe = "/".join(str(r["epoch"]) for r in o)
            qe = "/".join(str(r["epoch"]) for r in q)
            p(f"| {t} | {o[0]['recipe']} | {oe} | {os_:.2f} | {q[0]['recipe']} | {qe} | {qs:.2f} | "
              f"**{os_ / qs:.3f}** {'✓' if os_ / qs <= 0.33 else '✗'} |")
        p("")
    g = res.get("gemm")
    if g:
        # The shares are of this machine's FMA peak as bench_gemm measured it in the same run (one
        # core; all cores at once), not of any other machine's: CPUs differ by 2x here.
        p1 = g["measured_peak_1core_gflops"] or float("nan")
        pa = g["measured_peak_all_cores_gflops"] or float("nan")
        p(f"### GEMM (`kernels::matmul` as the layer calls it), GFLOP/s and % of this CPU's FMA peak, measured "
          f"in the same run (1 thr: one core's {p1:.0f}; 2 thr: both cores' {pa:.0f})")
        p("")
        p(f"| shape (m×n×k) | 1 thr GFLOP/s | % of {p1:.0f} | 2 thr GFLOP/s | % of {pa:.0f} |")
        p("|---|---|---|---|---|")
        by = {}
        for r in g["rows"]:
            by.setdefault((r["shape"], r["m"], r["n"], r["k"]), {})[r["threads"]] = r["gflops"]
        for (name, m, n, k), v in by.items():
            one, two = v.get(1), v.get(2)
            cells = [f"{one:.1f} | {one / p1 * 100:.0f}%" if one else "– | –",
                     f"{two:.1f} | {two / pa * 100:.0f}%" if two else "– | –"]
            p(f"| {name} ({m}×{n}×{k}) | {cells[0]} | {cells[1]} |")
        p("")
    cl = res.get("convlayers")
    if cl:
        peak = cl["neuralnet"].get("measured_peak_1core_gflops") or float("nan")
        theirs = {(r["layer"], r["pass_"]): r for r in cl["pytorch"]["rows"]}
        p(f"### Each convolution of the LeNet-like net alone, one thread, 64 samples (GFLOP/s and share of the "
          f"measured FMA peak, {peak:.0f} GFLOP/s)")
        p("")
        p("| layer | pass | GEMM shape per sample (m×n×k) | neuralnet ms | GFLOP/s | % of peak | PyTorch ms | "
          "GFLOP/s | % of peak |")
        p("|---|---|---|---|---|---|---|---|---|")
        for r in cl["neuralnet"]["rows"]:
            q = theirs.get((r["layer"], r["pass"]), {})
            p(f"| {r['layer']} | {r['pass']} | {r['m']}×{r['n']}×{r['k']} | {r['ms']:.2f} | {r['gflops']:.1f} | "
              f"{r['gflops'] / peak * 100:.0f}% | {q.get('ms', float('nan')):.2f} | "
              f"{q.get('gflops', float('nan')):.1f} | {q.get('gflops', float('nan')) / peak * 100:.0f}% |")
        p("")
    return "\n".join(out)


if __name__ == "__main__":
    main()
