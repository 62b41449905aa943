#!/usr/bin/env bash
# `serve` under a long photo-upload load (issue 19): wrk POSTs one photo from 32 connections for
# MINUTES minutes; the server's resident memory is read every 30 s, and the requests/s and latency
# percentiles of each minute are printed. Needs wrk.
# usage: scripts/bench-serve-photos.sh MODEL PHOTO [MINUTES] [BINARY]
#   e.g. scripts/bench-serve-photos.sh model.safetensors digit.png 6
# (the photo-like test digits: `cargo run --release --example bench_photo -- 60 1 photos/`)
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1 photo=$2 minutes=${3:-6} binary=${4:-}
if [ -z "$binary" ]; then
  cargo build --release --bin neuralnet >&2
  binary=target/release/neuralnet
fi
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores"
echo "photo: $photo ($(stat -c %s "$photo") bytes), model: $model, $minutes minute(s), wrk -t2 -c32"
port=$((20000 + RANDOM % 20000))
"$binary" serve "$model" --port "$port" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$server/status"; }
echo "minute 0: resident $(rss) MB"
(
  for s in $(seq 30 30 $((minutes * 60))); do
    sleep 30
    echo "  at ${s} s: resident $(rss) MB"
  done
) &
sampler=$!
for m in $(seq "$minutes"); do
  PHOTO="$photo" wrk -t2 -c32 -d60s --latency -s bench/serve-photo.lua "http://127.0.0.1:$port/api/predict" \
    | awk -v m="$m" '/Requests\/sec/ {rps=$2} /^requests/ {line=$0} END {printf "minute %d: %s requests/s; %s\n", m, rps, line}'
done
wait $sampler
echo "peak resident $(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$server/status") MB"
