#!/usr/bin/env bash
# Proves tests/lint-workflows.sh can fail: each linter must reject a copy of our workflows
# broken in a way it checks.
#   - actionlint: an expression naming a context that does not exist;
#   - zizmor: an action used by tag instead of by full commit SHA (unpinned-uses).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

expect_rejected() {
  local what=$1 dir=$2 reason=$3
  if tests/lint-workflows.sh "$dir" >"$work/$what.log" 2>&1; then
    cat "$work/$what.log"
    echo "lint-workflows-rejects-bad-ones: $what was NOT rejected" >&2
    exit 1
  fi
  if ! grep -q "$reason" "$work/$what.log"; then
    cat "$work/$what.log"
    echo "lint-workflows-rejects-bad-ones: $what failed, but not for $reason" >&2
    exit 1
  fi
  echo "lint-workflows-rejects-bad-ones: $what rejected, as it must be"
}

mkdir "$work/expression" "$work/unpinned"
cp .github/workflows/*.yml "$work/expression/"
cp .github/workflows/*.yml "$work/unpinned/"

sed -i "s/|| github.token }}/|| github.no_such_token }}/" "$work/expression/pin-refresh.yml"
grep -q no_such_token "$work/expression/pin-refresh.yml"
expect_rejected "an unknown context property" "$work/expression" "no_such_token"

sed -i 's|actions/checkout@[0-9a-f]\{40\}|actions/checkout@v4|' "$work/unpinned/ci.yml"
grep -q 'actions/checkout@v4' "$work/unpinned/ci.yml"
expect_rejected "an action pinned by tag" "$work/unpinned" "unpinned-uses"
