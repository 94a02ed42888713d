#!/usr/bin/env bash
# Proves tests/validate-overlays.sh can fail: each validator must reject a copy of the
# committed tree broken in a way only that validator sees.
#   - kubernetes-validate --strict: an unknown field (`replicaz`) in a Deployment spec;
#   - checkov: a pod that mounts the service-account token (CKV_K8S_38).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=tests/lib/expect-rejected.sh
source tests/lib/expect-rejected.sh

copy() { mkdir -p "$work/$1" && cp -R base overlays "$work/$1/"; }

copy schema
sed -i 's/^  replicas: 1$/  replicaz: 1/' "$work/schema/base/lk-jwt-service-deployment.yaml"
expect_rejected tests/validate-overlays.sh "an unknown field" "$work/schema" "'replicaz' was unexpected"

copy security
sed -i 's/automountServiceAccountToken: false/automountServiceAccountToken: true/' \
  "$work/security/base/lk-jwt-service-deployment.yaml"
expect_rejected tests/validate-overlays.sh "a mounted service-account token" "$work/security" "CKV_K8S_38"
