#!/usr/bin/env bash
# Lints the GitHub workflows: actionlint (syntax, expressions, and shellcheck on every `run:`
# script) and zizmor (security audits, offline). Fails on any finding of either.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in actionlint zizmor shellcheck; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: run tests/setup.sh" >&2; exit 2; }
done

status=0
echo "actionlint .github/workflows"
actionlint -no-color -shellcheck shellcheck .github/workflows/*.yml || status=1
echo "zizmor --offline .github/workflows"
# zizmor exits non-zero when it reports any finding at its default persona.
zizmor --offline --no-progress .github/workflows || status=1
exit "$status"
