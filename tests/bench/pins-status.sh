#!/usr/bin/env bash
# Benchmark: in one run against the local test registry, `bundle pins status`
# and the same selection done with `skopeo list-tags` + `skopeo inspect`; prints wall time and
# the requests each made, as counted by the registry-fixture front (not by the tools).
# skopeo's wall time includes the python3 calls that pick tags out of its JSON (tens of ms
# each); the request counts are the figures to compare.
#
#   tests/bench/pins-status.sh            # pins already newest: the "nothing new" case
#   BENCH_PINS=current tests/bench/pins-status.sh   # older pins: every image has an update
#   LK_JWT_ROUTE=attestation tests/bench/pins-status.sh
#   LK_JWT_HISTORY=rerun|branch-build tests/bench/pins-status.sh   # lk-jwt after a re-run of
#       an older main build, or after a branch push of the newest main commit
#   BENCH_MIN_AGE=3d tests/bench/pins-status.sh   # every policy with that policy.minAge
#   BENCH_PROFILE=debug tests/bench/pins-status.sh   # bundle's debug build: same requests,
#       slower wall time (for comparing request counts without a release build)
#
# Needs docker-registry, skopeo and python3 (tests/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."

pins=${BENCH_PINS:-newest}
min_age=${BENCH_MIN_AGE:-}
profile=${BENCH_PROFILE:-release}
route=${LK_JWT_ROUTE:-label}
history=${LK_JWT_HISTORY:-plain}
target_dir=${CARGO_TARGET_DIR:-target}

# bundle in release, as users run it and as skopeo (a release Go binary) runs: a debug build
# would inflate its wall time. The registry fixture serves both sides alike.
if [ "$profile" = release ]; then cargo build -q --release -p bundle; else cargo build -q -p bundle; fi
cargo build -q -p registry-fixture --example serve-scenarios

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$target_dir/debug/examples/serve-scenarios" --lk-jwt-route "$route" --lk-jwt-history "$history" >"$work/serve.json" 2>"$work/serve.log" &
server=$!
for _ in $(seq 600); do
  [ -s "$work/serve.json" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
[ -s "$work/serve.json" ] || { echo "serve-scenarios did not start" >&2; exit 1; }

field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for key in sys.argv[2].split("."): d=d[key]
print(d)' "$work/serve.json" "$1"; }
endpoint=$(field endpoint)
host=$(field host)
admin=$(field admin)
echo "registry-fixture at $endpoint (started in $(field startMs) ms; fills in ms: tuwunel $(field fillMs.tuwunel), livekit $(field fillMs.livekit), lk-jwt $(field fillMs.lkJwt); lk-jwt route: $route, history: $history; pins: $pins; minAge: ${min_age:-none}; bundle: $profile)"
min_age_line=""
[ -z "$min_age" ] || min_age_line="      minAge: $min_age"

# A copy of the example bundle.yaml whose images point at the scenario repositories.
config="$work/bundle.yaml"
sed '/^images:/,$d' bundle.yaml >"$config"
cat >>"$config" <<EOF
images:
  homeserver:
    registry: ghcr.io
    repository: $(field scenarios.tuwunel.repository)
    tag: $(field "scenarios.tuwunel.$pins.tag")
    digest: "$(field "scenarios.tuwunel.$pins.digest")"
    policy:
      kind: bare-multiarch
$min_age_line
  livekit:
    registry: docker.io
    repository: $(field scenarios.livekit.repository)
    tag: $(field "scenarios.livekit.$pins.tag")
    digest: "$(field "scenarios.livekit.$pins.digest")"
    policy:
      kind: semver
      range: "^1"
$min_age_line
  lkJwt:
    registry: ghcr.io
    repository: $(field scenarios.lkJwt.repository)
    tag: $(field "scenarios.lkJwt.$pins.tag")
    digest: "$(field "scenarios.lkJwt.$pins.digest")"
    policy:
      kind: commit
$min_age_line
EOF

now_ms() { date +%s%3N; }
admin_call() { python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(urllib.request.Request(sys.argv[1], method=sys.argv[2])).read().decode())' "$@"; }
reset_counts() { admin_call "$admin/reset" POST >/dev/null; }
save_counts() { admin_call "$admin/counts" GET >"$1"; }

# --- bundle pins status ---------------------------------------------------------------------
reset_counts
start=$(now_ms)
"$target_dir/$profile/bundle" pins status --json --config "$config" \
  --registry-endpoint "ghcr.io=$endpoint" --registry-endpoint "docker.io=$endpoint" >"$work/bundle.json"
bundle_ms=$(($(now_ms) - start))
save_counts "$work/bundle-counts.json"

# --- skopeo: the same three selections ------------------------------------------------------
# Each skopeo run is one process with its own ping and token; count them in a file, since
# most run inside $(...) subshells.
sk() { echo "$1" >>"$work/skopeo-runs"; skopeo "$1" --tls-verify=false --no-creds "${@:2}"; }
raw_digest() { sk inspect --raw "docker://$host/$1" >"$work/raw"; echo "sha256:$(sha256sum "$work/raw" | cut -d' ' -f1)"; }
# A baseline image per architecture: no variant, or amd64 v1 / arm64 v8 (not amd64 v3 alone).
multiarch() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))
base={"amd64":"v1","arm64":"v8"}
p={(q.get("os"),q.get("architecture")) for q in (e.get("platform",{}) for e in m.get("manifests",[]))
   if q.get("variant") in (None, base.get(q.get("architecture")))}
sys.exit(0 if {("linux","amd64"),("linux","arm64")} <= p else 1)' "$work/raw"; }
tags_of() { sk list-tags "docker://$host/$1" | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["Tags"]))'; }

reset_counts
start=$(now_ms)
# Tuwunel: newest bare vX.Y.Z[.W] whose index holds linux/amd64 and linux/arm64.
repo=$(field scenarios.tuwunel.repository)
tuwunel=""
for tag in $(tags_of "$repo" | grep -E '^v[0-9]+\.[0-9]+\.[0-9]+(\.[0-9]+)?$' | sort -V -r); do
  digest=$(raw_digest "$repo:$tag")
  if multiarch; then tuwunel="$tag@$digest"; break; fi
done
# LiveKit: newest stable vX.Y.Z within ^1.
repo=$(field scenarios.livekit.repository)
tag=$(tags_of "$repo" | grep -E '^v1\.[0-9]+\.[0-9]+$' | sort -V | tail -n 1)
livekit="$tag@$(raw_digest "$repo:$tag")"
# lk-jwt: newest latest-ci_<time> -> its digest -> revision label -> sha-<7> must match.
repo=$(field scenarios.lkJwt.repository)
latest_ci=$(tags_of "$repo" | grep -E '^latest-ci_[0-9]+$' | sort -t_ -k2 -n | tail -n 1)
build=$(raw_digest "$repo:$latest_ci")
# --no-tags: without it, inspect lists every tag again to fill in RepoTags.
revision=$(sk inspect --no-tags "docker://$host/$repo:$latest_ci" |
  python3 -c 'import json,sys; print((json.load(sys.stdin).get("Labels") or {}).get("org.opencontainers.image.revision",""))')
lk_jwt="(no revision label)"
if [ -n "$revision" ]; then
  tag="sha-${revision:0:7}"
  [ "$(raw_digest "$repo:$tag")" = "$build" ] && lk_jwt="$tag@$build"
fi
skopeo_ms=$(($(now_ms) - start))
save_counts "$work/skopeo-counts.json"
skopeo_runs=$(wc -l <"$work/skopeo-runs")

# --- report ---------------------------------------------------------------------------------
python3 - "$work" "$bundle_ms" "$skopeo_ms" "$skopeo_runs" "$tuwunel" "$livekit" "$lk_jwt" <<'EOF'
import json, sys
work, bundle_ms, skopeo_ms, runs, *skopeo_pins = sys.argv[1:]
bundle = json.load(open(f"{work}/bundle.json"))
rows = [("bundle pins status", bundle_ms, json.load(open(f"{work}/bundle-counts.json"))),
        (f"skopeo ({runs} runs)", skopeo_ms, json.load(open(f"{work}/skopeo-counts.json")))]
kinds = ["total", "token", "tagList", "manifestHead", "manifestGet", "blob", "challenge", "other"]
print(f"{'':22}{'wall ms':>8}" + "".join(f"{k:>13}" for k in kinds))
for name, ms, counts in rows:
    print(f"{name:22}{ms:>8}" + "".join(f"{counts['total'][k]:>13}" for k in kinds))
print("\nper repository (total / token / tag pages / manifest HEAD / manifest GET / blob / 401 challenge):")
for name, _, counts in rows:
    for repo, c in counts["repositories"].items():
        print(f"  {name:22}{repo:30}{c['total']:>4} {c['token']:>3} {c['tagList']:>3} "
              f"{c['manifestHead']:>3} {c['manifestGet']:>3} {c['blob']:>3} {c['challenge']:>3}")
print(f"\nbundle's own count of its requests: { {host: c['total'] for host, c in bundle['requests'].items()} }")
chosen = [f"{i['latest']['tag']}@{i['latest']['digest']}" if i.get('latest') else None
          for i in bundle["images"]]
print("\nnewest pins:")
for image, mine, theirs in zip(bundle["images"], chosen, skopeo_pins):
    agree = "same" if mine == theirs else "DIFFERENT"
    print(f"  {image['name']:11} status={image['status']:8} route={image.get('route')}\n"
          f"    bundle: {mine}\n    skopeo: {theirs}  ({agree})")
EOF
