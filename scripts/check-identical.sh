#!/usr/bin/env bash
# A refactor's proof of no change: the same training commands run by two builds of the tool must
# write byte-identical model files and checkpoints, and each build must load the other's files.
#
# usage: [ALLOW_META=key.path,…] scripts/check-identical.sh OLD_BINARY NEW_BINARY [MNIST_DIR]
#   ALLOW_META: metadata entries a deliberate change may alter (e.g. neuralnet.training.init); the
#   tensors must always be identical
#   (build OLD from the parent commit, e.g. `git worktree add /tmp/old HEAD~1 && cargo build
#   --release --manifest-path /tmp/old/Cargo.toml`; MNIST_DIR defaults to the tool's cache)
set -euo pipefail
old=$(realpath "$1")
new=$(realpath "$2")
mnist=$(realpath "${3:-${NEURALNET_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/neuralnet/mnist}}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0

# A table with numeric and text columns and a text target, the same on every machine.
awk 'BEGIN {
  print "x1,x2,colour,size,label"; s = 7
  for (i = 0; i < 600; i++) {
    s = (s * 1103515245 + 12345) % 2147483648; a = s / 2147483648
    s = (s * 1103515245 + 12345) % 2147483648; b = s / 2147483648
    c = (i % 3 == 0) ? "red" : ((i % 3 == 1) ? "green" : "blue")
    label = (a + b > 1.0) ? "yes" : "no"
    printf "%.4f,%.4f,%s,%d,%s\n", a * 10, b * 4 - 2, c, i % 5, label
  }
}' >"$work/table.csv"

# Two safetensors files hold the same tensors, bit for bit, and the same metadata but the measured
# times (the metadata's key order is not fixed, so the files' bytes are not compared).
same_file() {
  python3 "$(dirname "$0")/same-model.py" "$1" "$2"
}

run() { # name, then the train arguments
  local name=$1
  shift
  for side in old new; do
    local bin=$old
    [ "$side" = new ] && bin=$new
    mkdir -p "$work/$side"
    (cd "$work/$side" && "$bin" train "$@" --out "$name.safetensors" >"$name.log" 2>&1) ||
      { echo "FAIL $name: $side build failed:"; tail -3 "$work/$side/$name.log"; fail=1; return; }
  done
  for ext in safetensors safetensors.ckpt; do
    if why=$(same_file "$work/old/$name.$ext" "$work/new/$name.$ext"); then
      echo "same  $name.$ext (tensors bit for bit; metadata but times${why:+; $why})"
    else
      echo "DIFF  $name.$ext: $why"
      fail=1
    fi
  done
}

for t in 1 2; do
  run "default-t$t" --data-dir "$mnist" --epochs 1 --threads "$t" --seed 3
  run "nielsen-t$t" --data-dir "$mnist" --layers 784,30,10 --activation sigmoid --output-activation sigmoid \
    --loss half-mse --optimizer sgd --lr 3.0 --batch-size 10 --init standard-normal --epochs 1 --dropout 0 \
    --schedule constant --threads "$t"
  run "csv-t$t" --csv "$work/table.csv" --target label --epochs 20 --threads "$t"
done
run "augment-t2" --data-dir "$mnist" --layers 784,64,10 --augment affine,elastic --epochs 1 --threads 2

# Files written by one build are read by the other: eval, and a resumed checkpoint.
for pair in "old new" "new old"; do
  set -- $pair
  w=$1 r=$2
  wb=$old rb=$new
  [ "$w" = new ] && wb=$new rb=$old
  mkdir -p "$work/resumed-by-$r"
  "$rb" eval "$work/$w/default-t2.safetensors" --data-dir "$mnist" >"$work/eval-$r.txt" 2>&1 ||
    { echo "FAIL $r cannot evaluate $w's model"; fail=1; }
  "$rb" eval "$work/$w/csv-t2.safetensors" --csv "$work/table.csv" >"$work/evalcsv-$r.txt" 2>&1 ||
    { echo "FAIL $r cannot evaluate $w's table model"; fail=1; }
  "$rb" train --resume "$work/$w/nielsen-t2.safetensors.ckpt" --epochs 2 --data-dir "$mnist" \
    --out "$work/resumed-by-$r/m.safetensors" >"$work/resume-$r.log" 2>&1 ||
    { echo "FAIL $r cannot resume $w's checkpoint"; tail -3 "$work/resume-$r.log"; fail=1; }
done
for f in eval evalcsv; do
  if cmp -s "$work/$f-old.txt" "$work/$f-new.txt"; then echo "same  $f output across builds"; else
    echo "DIFF  $f output"; diff "$work/$f-old.txt" "$work/$f-new.txt" | head -5; fail=1; fi
done
if why=$(same_file "$work/resumed-by-old/m.safetensors" "$work/resumed-by-new/m.safetensors"); then
  echo "same  checkpoint resumed across builds${why:+ ($why)}"
else
  echo "DIFF  checkpoint resumed across builds: $why"
  fail=1
fi
[ "$fail" = 0 ] && echo "all identical" || { echo "differences found"; exit 1; }
