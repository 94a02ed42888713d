#!/usr/bin/env bash
# Proves tests/validate-overlays.sh can fail: each validator must reject a copy of the
# committed tree broken in a way only that validator sees, and a config's validator-skip lines
# can neither name an unknown validator nor skip a check the tree passes.
#   - kubernetes-validate --strict: an unknown field (`replicaz`) in a Deployment spec, and a
#     kind it has no schema for (which it would pass unchecked);
#   - checkov: a pod that mounts the service-account token (CKV_K8S_38);
#   - a skip line naming a validator that does not exist;
#   - a skip of a checkov check every overlay passes (CKV_K8S_38 again), which would hide a
#     regression.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=tests/lib/expect-rejected.sh
source tests/lib/expect-rejected.sh

copy() { mkdir -p "$work/$1" && cp -R base overlays bundle.yaml "$work/$1/"; }
# The committed tree and a copy of bundle.yaml whose first line is the skip line $2.
copy_with_skip() { copy "$1" && sed -i "1i $2" "$work/$1/bundle.yaml"; }
validate_with_skips() { tests/validate-overlays.sh --skips-from "$1/bundle.yaml" "$1"; }

copy schema
sed -i 's/^  replicas: 1$/  replicaz: 1/' "$work/schema/base/lk-jwt-service-deployment.yaml"
expect_rejected tests/validate-overlays.sh "an unknown field" "$work/schema" "'replicaz' was unexpected"

copy unknown-kind
sed -i 's/^kind: Ingress$/kind: Ingres/' "$work/unknown-kind/base/matrix-ingress.yaml"
expect_rejected tests/validate-overlays.sh "a kind kubernetes-validate has no schema for" \
  "$work/unknown-kind" "Couldn't find schema for kind Ingres"

copy security
sed -i 's/automountServiceAccountToken: false/automountServiceAccountToken: true/' \
  "$work/security/base/lk-jwt-service-deployment.yaml"
expect_rejected tests/validate-overlays.sh "a mounted service-account token" "$work/security" "CKV_K8S_38"

copy_with_skip unknown-validator "# validator-skip: kubeval Deployment -- no such validator"
expect_rejected validate_with_skips "a skip naming an unknown validator" "$work/unknown-validator" \
  "unknown validator \`kubeval\`"

copy_with_skip unneeded-skip "# validator-skip: checkov CKV_K8S_38 -- the tree passes it"
expect_rejected validate_with_skips "a skip of a check every overlay passes" "$work/unneeded-skip" \
  "skips CKV_K8S_38, but every overlay passes"
