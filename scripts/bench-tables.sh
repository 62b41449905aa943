#!/usr/bin/env bash
# Tables of every shape (issue 23): read-and-encode time, whole `train --csv --epochs 1 --l2 0`
# time and peak memory for 10³…10⁶ rows × 22 columns and 30 rows × 10³…10⁵ columns.
# usage: scripts/bench-tables.sh [BINARY]   (default: builds and uses target/release/neuralnet)
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-}
if [ -z "$binary" ]; then
  cargo build --release --bin neuralnet >&2
  binary=target/release/neuralnet
fi
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores" >&2
python3 bench/tables.py "$(realpath "$binary")"
