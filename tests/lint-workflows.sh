#!/usr/bin/env bash
# Lints the GitHub workflows: actionlint (syntax, expressions, and shellcheck on every `run:`
# script) and zizmor (security audits, offline). Fails on any finding of either.
#
# Usage: tests/lint-workflows.sh [DIR]    (default: .github/workflows)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/lib/test-tools.sh
source tests/lib/test-tools.sh
workflows=${1:-.github/workflows}

for tool in actionlint zizmor shellcheck; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: run tests/setup.sh" >&2; exit 2; }
done

status=0
echo "actionlint $workflows"
actionlint -no-color -shellcheck shellcheck "$workflows"/*.yml || status=1
echo "zizmor --offline $workflows"
# zizmor exits non-zero when it reports any finding at its default persona.
zizmor --offline --no-progress "$workflows"/*.yml || status=1
exit "$status"
