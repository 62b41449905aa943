#!/usr/bin/env bash
# Every speed check of issue 18 ("fast on every CPU") on the CPU this runs on, in one go, for a
# machine no session has measured yet (an Intel Xeon, say): the CPU, its measured FMA peak, the
# side-by-side ratios against PyTorch, where each side's epoch goes kernel by kernel, the first
# layer's listed products as a share of the peak, and the default command's epochs and subnormal
# count after 30 epochs. About 25 minutes on 2 cores; run it on a quiet machine.
#
# Output: target/bench/cpu-report/report.md (the parts' raw outputs beside it). Each part that
# cannot run here (no perf, no Python venv) says so in the report and the rest go on.
#
# Environment: as scripts/bench-vs-pytorch.sh (NEURALNET_BENCH_VENV, NEURALNET_DATA_DIR);
# CPU_REPORT_PARTS, a subset of "bench profile sparse default" (default: all four).
set -uo pipefail
cd "$(dirname "$0")/.."

OUT="${BENCH_OUT:-target/bench}/cpu-report"
mkdir -p "$OUT"
REPORT="$OUT/report.md"
PARTS="${CPU_REPORT_PARTS:-bench profile sparse default}"
has_part() { [[ " $PARTS " == *" $1 "* ]]; }

cargo build --release --examples >&2 && cargo build --release >&2 || exit 1
target/release/neuralnet fetch mnist >&2 || exit 1

{
  echo "# CPU report (issue 18), $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo
  echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores)"
  echo "- vector extensions: $(grep -o -w -E 'avx2|fma|avx512f|avx512vl|avx512bw|avx512_vnni|avx512_bf16|amx_tile|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "- caches: $(lscpu | sed -n 's/^L[123][di]* cache: *//p' | tr '\n' ';' | sed 's/;$//')"
  echo "- load before: $(uptime)"
  echo
} >"$REPORT"

# One part: a heading, then the command's output, or where its log is when it fails.
section() {
  local title=$1 name=$2
  shift 2
  printf '## %s\n\n' "$title" >>"$REPORT"
  if "$@" >"$OUT/$name.md" 2>"$OUT/$name.log"; then
    cat "$OUT/$name.md" >>"$REPORT"
  else
    echo "(did not run: see $OUT/$name.log)" >>"$REPORT"
  fi
  echo >>"$REPORT"
}

if has_part bench; then
  section "Against PyTorch (scripts/bench-vs-pytorch.sh, a, b, c, infer, to98, gemm)" bench \
    env BENCH_ONLY=a,b,c,infer,to98,gemm BENCH_OUT="$OUT/bench" scripts/bench-vs-pytorch.sh
fi

if has_part profile; then
  section "Kernel by kernel, one thread (scripts/profile-kernels.sh a c)" profile \
    env BENCH_OUT="$OUT/profile" scripts/profile-kernels.sh a c
fi

if has_part sparse; then
  echo "## The first layer's listed products, one thread (examples/bench_sparse)" >>"$REPORT"
  echo >>"$REPORT"
  echo '```' >>"$REPORT"
  target/release/examples/bench_sparse --threads 1 >>"$REPORT" 2>&1 || echo "(bench_sparse failed)" >>"$REPORT"
  echo '```' >>"$REPORT"
  echo >>"$REPORT"
fi

if has_part default; then
  echo "## The default command: 30 epochs, then the subnormal numbers in its checkpoint" >>"$REPORT"
  echo >>"$REPORT"
  model="$OUT/default.safetensors"
  rm -f "$model" "$model.ckpt"
  if target/release/neuralnet train --out "$model" >"$OUT/default.log" 2>&1; then
    # "epoch N/30: ... | 0.27 s, 221000 img/s"
    grep -E '^epoch [0-9]+/' "$OUT/default.log" | sed -E 's/^epoch ([0-9]+)\/.* \| ([0-9.]+) s, .*/\1 \2/' >"$OUT/default-epochs.txt"
    awk 'NR == 1 { first = $2 } { last = $2; sum += $2 } END {
      printf "- epochs: first %.2f s, last %.2f s (last/first %.2f: within 10%% is %s), all %.1f s\n",
        first, last, last / first, (last <= 1.1 * first ? "met" : "NOT met"), sum }' "$OUT/default-epochs.txt" >>"$REPORT"
    grep -E 'test accuracy|accuracy on' "$OUT/default.log" | tail -1 | sed 's/^/- /' >>"$REPORT"
    target/release/examples/subnormals "$model.ckpt" >"$OUT/subnormals.txt" 2>&1
    tail -1 "$OUT/subnormals.txt" | sed 's/^/- checkpoint (weights and optimizer state): /' >>"$REPORT"
  else
    echo "(training failed: see $OUT/default.log)" >>"$REPORT"
  fi
  echo >>"$REPORT"
fi

echo "- load after: $(uptime)" >>"$REPORT"
echo "report: $REPORT" >&2
cat "$REPORT"
