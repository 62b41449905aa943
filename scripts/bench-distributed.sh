#!/usr/bin/env bash
# Training over MPI processes on this machine: epoch times of (a) 784-128-10 and (c) 784-800-10 at
# 1 process × 1 thread, 1 × 2 and 2 processes × 1 thread, and the gradient sum per step against a
# bare MPI_Allreduce of the same size (BENCHMARKS.md, "Training on several processes").
#
# usage: scripts/bench-distributed.sh [MNIST_DIR] [--epochs N] [--reps N] [--configs a,c]
# Needs Open MPI (Debian: libopenmpi-dev openmpi-bin libclang-dev); builds with --features distributed.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-${NEURALNET_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/neuralnet/mnist}}
shift || true
cargo build --release --features distributed --bin neuralnet --example allreduce >&2
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores; $(mpirun --version | head -1)" >&2
python3 bench/distributed.py --binary target/release/neuralnet --example target/release/examples/allreduce \
  --data-dir "$data" "$@"
