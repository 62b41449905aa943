#!/usr/bin/env bash
# Side-by-side speed benchmark: neuralnet (the real CLI and library examples) against a plain eager
# PyTorch loop (bench/pytorch_mlp.py) on MNIST, alternating the two sides, 1 and 2 threads.
# Results: a table on stdout, raw numbers in $OUT_DIR/results.json. See BENCHMARKS.md.
#
# Environment:
#   NEURALNET_BENCH_VENV  virtual environment with torch + numpy, outside the repository
#                         (default ~/.cache/neuralnet/bench-venv; created on first use)
#   NEURALNET_DATA_DIR    MNIST IDX files (default ~/.cache/neuralnet/mnist, fetched if missing)
#   BENCH_OUT             output directory (default target/bench)
#   BENCH_REPS            repetitions per side and setting (default 3)
#   BENCH_THREADS         thread counts (default 1,2)
#   BENCH_ONLY            subset of a,b,c,l,infer,to98,gemm,convlayers (default all; l: the LeNet-like
#                         convolutional network, convlayers: its convolutions alone)
# Extra arguments go to bench/driver.py (e.g. --ours-to98 "--hidden 256 ...").
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${NEURALNET_BENCH_VENV:-$HOME/.cache/neuralnet/bench-venv}"
OUT_DIR="${BENCH_OUT:-target/bench}"
mkdir -p "$OUT_DIR"

# 1. PyTorch: slow to install, so start it first, in the background, while we build.
install_pid=""
if ! "$VENV/bin/python" -c "import torch, numpy" >/dev/null 2>&1; then
  echo "installing torch and numpy into $VENV (in the background; log: $OUT_DIR/venv-install.log)" >&2
  mkdir -p "$(dirname "$VENV")"
  (python3 -m venv "$VENV" && "$VENV/bin/pip" install torch numpy) >"$OUT_DIR/venv-install.log" 2>&1 &
  install_pid=$!
fi

# 2. neuralnet: the release binary and the timing examples.
cargo build --release --examples >&2
cargo build --release >&2

# 3. MNIST in the cache (a no-op when it is there).
target/release/neuralnet fetch mnist >&2

if [[ -n "$install_pid" ]]; then
  echo "waiting for the PyTorch install to finish..." >&2
  if ! wait "$install_pid"; then
    echo "error: installing torch failed; see $OUT_DIR/venv-install.log" >&2
    exit 1
  fi
fi

# 4. The runs, alternating sides, and the table.
{
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores)"
  echo "versions: $(rustc --version); torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)'); $("$VENV/bin/python" --version)"
  echo "load before: $(uptime)"
} | tee "$OUT_DIR/environment.txt" >&2
"$VENV/bin/python" bench/driver.py --release-dir target/release --out-dir "$OUT_DIR" \
  --reps "${BENCH_REPS:-3}" --threads "${BENCH_THREADS:-1,2}" --only "${BENCH_ONLY:-a,b,c,l,infer,to98,gemm,convlayers}" "$@" \
  | tee "$OUT_DIR/table.md"
echo "load after: $(uptime)" | tee -a "$OUT_DIR/environment.txt" >&2
