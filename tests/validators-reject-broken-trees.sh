#!/usr/bin/env bash
# Proves tests/validate-overlays.sh can fail: each validator must reject a copy of the
# committed tree broken in a way only that validator sees.
#   - kubernetes-validate --strict: an unknown field (`replicaz`) in a Deployment spec;
#   - checkov: a pod that mounts the service-account token (CKV_K8S_38).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

expect_rejected() {
  local what=$1 tree=$2
  if tests/validate-overlays.sh "$tree" >"$work/$what.log" 2>&1; then
    cat "$work/$what.log"
    echo "validators-reject-broken-trees: $what was NOT rejected" >&2
    exit 1
  fi
  if ! grep -q "$3" "$work/$what.log"; then
    cat "$work/$what.log"
    echo "validators-reject-broken-trees: $what failed, but not for the expected reason ($3)" >&2
    exit 1
  fi
  echo "validators-reject-broken-trees: $what rejected, as it must be"
}

copy() { mkdir -p "$work/$1" && cp -R base overlays "$work/$1/"; }

copy schema
sed -i 's/^  replicas: 1$/  replicaz: 1/' "$work/schema/base/lk-jwt-service-deployment.yaml"
expect_rejected "an unknown field" "$work/schema" "fails kubernetes-validate --strict"

copy security
sed -i 's/automountServiceAccountToken: false/automountServiceAccountToken: true/' \
  "$work/security/base/lk-jwt-service-deployment.yaml"
expect_rejected "a mounted service-account token" "$work/security" "CKV_K8S_38"
