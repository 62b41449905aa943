#!/usr/bin/env bash
# Where a training epoch's time goes, kernel by kernel, neuralnet beside PyTorch on one thread:
# both sides train under `perf record`, and bench/kernel_profile.py sorts the samples of the
# epochs after the first by symbol (GEMM, the sparse first layer, the optimizer's update, …),
# giving seconds per epoch and, for the matrix products, GFLOP/s and the share of the core's
# measured FMA peak. Markdown tables on stdout, raw numbers in $OUT_DIR/profile-CONFIG.json.
# See BENCHMARKS.md, "Kernel by kernel" (issue 18).
#
# Usage: scripts/profile-kernels.sh [CONFIG ...]   (a, c, l; default a and c. l, the LeNet-like
#        convolutional network, takes about 40 s per epoch and side: PROFILE_EPOCHS=3 is enough)
# Environment: NEURALNET_BENCH_VENV, NEURALNET_DATA_DIR and BENCH_OUT as for
# scripts/bench-vs-pytorch.sh; PROFILE_EPOCHS (default 5; the first is left out).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v perf >/dev/null 2>&1; then
  echo "error: this needs Linux perf (Debian: apt-get install linux-perf)" >&2
  exit 1
fi
VENV="${NEURALNET_BENCH_VENV:-$HOME/.cache/neuralnet/bench-venv}"
OUT_DIR="${BENCH_OUT:-target/bench}"
mkdir -p "$OUT_DIR"
if ! "$VENV/bin/python" -c "import torch, numpy" >/dev/null 2>&1; then
  echo "installing torch and numpy into $VENV" >&2
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q torch numpy >&2
fi
cargo build --release --example bench_gemm >&2
cargo build --release >&2
target/release/neuralnet fetch mnist >&2

echo "machine: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores); torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)')"
echo
for config in "${@:-a c}"; do
  for c in $config; do
    "$VENV/bin/python" bench/kernel_profile.py --release-dir target/release --out-dir "$OUT_DIR" \
      --config "$c" --epochs "${PROFILE_EPOCHS:-5}"
  done
done
