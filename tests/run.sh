#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, builds once, runs
# every check. This is the command the README gives and the one .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "installing test dependencies"
tests/setup.sh

step "formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "building the binary and every test target once"
cargo build --workspace --all-targets --locked

step "unit, snapshot, CLI, registry and git tests"
INSTA_UPDATE=no cargo test --workspace --locked --no-fail-fast

step "the committed tree is what bundle.yaml generates"
target/debug/bundle gen --check

step "every overlay builds with plain kubectl kustomize and passes the validators"
tests/validate-overlays.sh

step "workflow lint (actionlint, zizmor)"
tests/lint-workflows.sh

printf '\nall checks passed\n'
