#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, builds once, runs
# every check. This is the command the README gives and the one .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "installing test dependencies"
tests/setup.sh

step "formatting, lints and API docs"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "building the binary and every test target once"
cargo build --workspace --all-targets --locked

step "unit, snapshot, CLI, registry and git tests"
INSTA_UPDATE=no cargo test --workspace --locked --no-fail-fast

step "the committed tree is what bundle.yaml generates"
target/debug/bundle gen --check

step "every overlay builds with plain kubectl kustomize and passes the validators"
tests/validate-overlays.sh
# The same for the trees of the test fixtures, which exercise other settings (inline Secrets,
# digest-only pins, no lk-jwt). Left out: bundle.yaml, a copy of the repository's own (checked
# just above), and dev-inline-secrets.yaml, which pins by tag only and so rightly fails checkov
# (CKV_K8S_43 image digest, CKV_K8S_15 pull policy).
fixtures=crates/bundle-gen/tests/fixtures/configs
fixture_trees=$(mktemp -d)
trap 'rm -rf "$fixture_trees"' EXIT
for fixture in site minimal digest-only no-lk-jwt; do
  target/debug/bundle -q gen --config "$fixtures/$fixture.yaml" --out "$fixture_trees/$fixture"
  tests/validate-overlays.sh "$fixture_trees/$fixture"
done

step "the validators reject a broken tree (so the checks above can fail)"
tests/validators-reject-broken-trees.sh

step "workflow lint (actionlint, zizmor)"
tests/lint-workflows.sh
tests/lint-workflows-rejects-bad-ones.sh

printf '\nall checks passed\n'
