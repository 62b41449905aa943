#!/usr/bin/env bash
# neuralnet's `train --csv` defaults against scikit-learn's MLPClassifier / MLPRegressor on the
# small tables scikit-learn bundles (iris, wine, breast cancer, diabetes, digits): a fixed 75/25 split
# (seed 0), test accuracy / R², neuralnet's time at 1 and 2 threads, scikit-learn's single fit and the
# same weight-decay search (GridSearchCV, 5 folds). See BENCHMARKS.md.
#
# Environment:
#   NEURALNET_SKLEARN_VENV  virtual environment with scikit-learn, outside the repository
#                           (default ~/.cache/neuralnet/sklearn-venv; created on first use with pip)
#   BENCH_OUT               output directory for the CSV files and models (default target/bench-sklearn)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${NEURALNET_SKLEARN_VENV:-$HOME/.cache/neuralnet/sklearn-venv}"
OUT_DIR="${BENCH_OUT:-target/bench-sklearn}"
mkdir -p "$OUT_DIR"

if ! "$VENV/bin/python" -c "import sklearn, numpy" >/dev/null 2>&1; then
  echo "installing scikit-learn into $VENV" >&2
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet scikit-learn
fi

cargo build --release >&2
BIN="${CARGO_TARGET_DIR:-target}/release/neuralnet"
"$VENV/bin/python" -c "import sklearn, platform; print(f'scikit-learn {sklearn.__version__}, Python {platform.python_version()}')"
# One thread on both sides (neuralnet --threads 1; numpy/BLAS likewise).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
"$VENV/bin/python" bench/sklearn_tables.py --neuralnet "$BIN" --out "$OUT_DIR" "$@"
