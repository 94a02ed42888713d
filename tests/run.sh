#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, builds once, runs
# every check. This is the command the README gives and the one .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle="${CARGO_TARGET_DIR:-target}/debug/bundle"

step() { printf '\n==> %s\n' "$*"; }

step "installing test dependencies"
tests/setup.sh

step "formatting, lints and API docs"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "building the binary and every test target once"
cargo build --workspace --all-targets --locked
# The release binary alone, without the features the test crates switch on for the workspace
# build above (tokio's macros, say): a crate that relies on one of them builds there and not
# in `cargo install` or the cold-build benchmark.
cargo check --locked --bin bundle

step "unit, snapshot, CLI, registry and git tests"
INSTA_UPDATE=no cargo test --workspace --locked --no-fail-fast

step "the committed tree is what bundle.yaml generates"
"$bundle" gen --check

step "every overlay builds with plain kubectl kustomize and passes the validators"
tests/validate-overlays.sh --skips-from bundle.yaml
# The same for the tree of every test fixture; the fixtures exercise other settings (inline
# Secrets, digest-only pins, no lk-jwt, ...). A fixture exempt from some checkov checks says
# which, and why, in a `# validator-skip:` line of its own (see tests/validate-overlays.sh).
fixture_trees=$(mktemp -d)
trap 'rm -rf "$fixture_trees"' EXIT
for fixture in crates/bundle-gen/tests/fixtures/configs/*.yaml; do
  tree="$fixture_trees/$(basename "$fixture" .yaml)"
  echo "fixture $fixture"
  "$bundle" -q gen --config "$fixture" --out "$tree" >"$tree.log" 2>&1 || { cat "$tree.log"; exit 1; }
  tests/validate-overlays.sh --skips-from "$fixture" "$tree"
done

step "the validators reject a broken tree (so the checks above can fail)"
tests/validators-reject-broken-trees.sh

step "workflow lint (actionlint, zizmor)"
tests/lint-workflows.sh
tests/lint-workflows-rejects-bad-ones.sh

printf '\nall checks passed\n'
