#!/usr/bin/env bash
# Proves tests/lint-workflows.sh can fail: each linter must reject a copy of our workflows
# broken in a way it checks.
#   - actionlint: an expression naming a context that does not exist;
#   - zizmor: an action used by tag instead of by full commit SHA (unpinned-uses).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=tests/lib/expect-rejected.sh
source tests/lib/expect-rejected.sh

mkdir "$work/expression" "$work/unpinned"
cp .github/workflows/*.yml "$work/expression/"
cp .github/workflows/*.yml "$work/unpinned/"

sed -i "s/|| github.token }}/|| github.no_such_token }}/" "$work/expression/pin-refresh.yml"
grep -q no_such_token "$work/expression/pin-refresh.yml"
expect_rejected tests/lint-workflows.sh "an unknown context property" "$work/expression" \
  'property "no_such_token" is not defined'

sed -i 's|actions/checkout@[0-9a-f]\{40\}|actions/checkout@v4|' "$work/unpinned/ci.yml"
grep -q 'actions/checkout@v4' "$work/unpinned/ci.yml"
expect_rejected tests/lint-workflows.sh "an action pinned by tag" "$work/unpinned" "unpinned-uses"
