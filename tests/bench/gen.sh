#!/usr/bin/env bash
# Benchmark: in one run, the `bundle gen` binary (release build) generating
# every overlay of bundle.yaml, into an empty directory and over an up-to-date tree, next to
# one `kubectl kustomize overlays/bundled`; prints the medians and the ratios.
# Target: generating takes under a tenth of one kustomize build. Both sides pay their own
# process start-up.
#
#   tests/bench/gen.sh [RUNS]      (default 20 runs of each)
#
# The in-process figures (in memory, empty directory, up-to-date tree) come from
# `cargo bench -p bundle-gen --bench gen`.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-20}
target_dir=${CARGO_TARGET_DIR:-target}

cargo build -q --release -p bundle
bundle="$target_dir/release/bundle"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now_ns() { date +%s%N; }
# With an even number of runs, the mean of the two middle values.
median_ms() { sort -n | awk '{a[NR]=$1} END {printf "%.3f", (a[int((NR+1)/2)] + a[int(NR/2)+1]) / 2e6}'; }

for i in $(seq "$runs"); do
  start=$(now_ns)
  "$bundle" -q gen --config bundle.yaml --out "$work/gen-$i"
  echo $(( $(now_ns) - start ))
done >"$work/gen.ns"

for i in $(seq "$runs"); do
  start=$(now_ns)
  "$bundle" -q gen --config bundle.yaml --out "$work/gen-1"
  echo $(( $(now_ns) - start ))
done >"$work/regen.ns"

for i in $(seq "$runs"); do
  start=$(now_ns)
  kubectl kustomize "$work/gen-1/overlays/bundled" >/dev/null
  echo $(( $(now_ns) - start ))
done >"$work/kustomize.ns"

kustomize=$(median_ms <"$work/kustomize.ns")
files=$(find "$work/gen-1" -type f | wc -l)
echo "kubectl kustomize overlays/bundled: $kustomize ms (median of $runs)"
report() {
  local what=$1 ms=$2 ratio verdict
  ratio=$(awk -v g="$ms" -v k="$kustomize" 'BEGIN {printf "%.4f", g / k}')
  verdict=$(awk -v r="$ratio" 'BEGIN {print (r < 0.1) ? "met" : "MISSED"}')
  echo "bundle gen (release binary, $files files, every overlay, $what): $ms ms (median of $runs), ratio $ratio (target < 0.1: $verdict)"
}
report "empty directory" "$(median_ms <"$work/gen.ns")"
report "up-to-date tree" "$(median_ms <"$work/regen.ns")"
