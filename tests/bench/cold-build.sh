#!/usr/bin/env bash
# Benchmark: a cold `cargo build --release --locked --bin bundle`, first of
# REF and then of the work tree as it is (uncommitted changes included), each in a fresh target
# directory, in one run on the same machine; prints the wall time and the CPU time (user + sys
# of cargo and every compiler it ran) of both, and their ratios. The CPU time is the figure to
# compare on a shared machine: it hardly depends on what else runs.
# Target: the work tree's build takes at most 60% of REF's.
#
#   tests/bench/cold-build.sh [REF]    (default: the merge-base of HEAD and main)
#
# Crate sources are downloaded for both before timing (`cargo fetch`), so neither side pays
# for the network; a compiler wrapper (sccache) is turned off. The target directories go under
# $TMPDIR (about 1 GiB each) and are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
ref=${1:-$(git merge-base HEAD main)}
commit=$(git rev-parse --verify "$ref^{commit}")
label="${1:-merge-base with main} (${commit:0:12})"

work=$(mktemp -d "${TMPDIR:-/tmp}/cold-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/ref"
git archive "$commit" | tar -x -C "$work/ref"

cargo fetch --locked --manifest-path "$work/ref/Cargo.toml" >/dev/null
cargo fetch --locked >/dev/null

# cold_build NAME DIR: builds DIR's bundle binary in the fresh target directory $work/NAME-target
# and records its wall[NAME] and cpu[NAME] seconds and units[NAME], the crates it compiled.
declare -A wall cpu units
cold_build() {
  local name=$1 dir=$2 timing real user sys
  local TIMEFORMAT='%R %U %S'
  echo "building $name ($dir) ..." >&2
  timing=$( { time (cd "$dir" && env -u RUSTC_WRAPPER -u CARGO_BUILD_RUSTC_WRAPPER \
    CARGO_TARGET_DIR="$work/$name-target" \
    cargo build --release --locked --bin bundle >"$work/$name.log" 2>&1) ; } 2>&1 ) || {
    cat "$work/$name.log" >&2
    exit 1
  }
  read -r real user sys <<<"$timing"
  wall[$name]=$real
  cpu[$name]=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.1f", u + s}')
  units[$name]=$(grep -c '^ *Compiling ' "$work/$name.log")
  echo "built $name: wall ${wall[$name]} s, cpu ${cpu[$name]} s" >&2
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores" >&2
cold_build ref "$work/ref"
cold_build tree "$PWD"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
wall_ratio=$(ratio "${wall[tree]}" "${wall[ref]}")
cpu_ratio=$(ratio "${cpu[tree]}" "${cpu[ref]}")
verdict() { awk -v r="$1" 'BEGIN {print (r <= 0.6) ? "met" : "MISSED"}'; }
echo "cold cargo build --release --locked --bin bundle ($(nproc) cores):"
printf '  %-36s wall %7.1f s   cpu %7.1f s   %3d crates compiled\n' \
  "$label" "${wall[ref]}" "${cpu[ref]}" "${units[ref]}" \
  "work tree" "${wall[tree]}" "${cpu[tree]}" "${units[tree]}"
echo "  work tree / ${1:-merge-base}: wall $wall_ratio ($(verdict "$wall_ratio")), cpu $cpu_ratio ($(verdict "$cpu_ratio")) (target: at most 0.60)"
