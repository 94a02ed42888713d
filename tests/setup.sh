#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian 12 or Ubuntu 24.04 machine that
# has a Rust toolchain and kubectl. Idempotent, and quick when everything is there already.
#   - Debian packages, with apt-get (through sudo when not run as root);
#   - the Python validators and linters of tests/requirements.txt, into a virtual environment
#     under target/ (tests/lib/test-tools.sh), never into the system Python: Debian and Ubuntu
#     refuse a pip install there (PEP 668, "externally-managed-environment").
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/lib/test-tools.sh
source tests/lib/test-tools.sh

apt_packages=(
  # Lints the `run:` scripts of the GitHub workflows (through actionlint).
  shellcheck
  # CNCF distribution 2.8 for the real-registry tests (crates/registry-fixture), and skopeo
  # for the pins-status benchmark (tests/bench/pins-status.sh).
  docker-registry
  skopeo
  # The interpreter of the virtual environment below (a minimal image may lack it).
  python3
  # The tests make real repositories and `bundle pins refresh` runs the git command line.
  git
  # A real TURN server (turnserver, run in the foreground with a TLS listener on 127.0.0.1)
  # for the `bundle doctor` TURN checks (crates/doctor, test_fixture::Coturn).
  coturn
  # A real Redis (redis-server, run in the foreground on 127.0.0.1 by the test that starts it)
  # and redis-cli, for the test that the rendered Redis URL and password authenticate
  # (crates/bundle-gen/tests/it/redis_wiring.rs).
  redis-server
)

# apt_install PACKAGE...: installs those of the packages that are not installed yet.
apt_install() {
  local missing=() package sudo_cmd=()
  for package in "$@"; do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
  ((${#missing[@]})) || return 0
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

apt_install "${apt_packages[@]}"

# Debian's coturn package enables and starts coturn.service, a TURN server on every interface;
# the tests start their own on 127.0.0.1, so the system one is stopped and disabled. Only where
# systemd runs: without it (a container) the package's init script leaves coturn off unless
# /etc/default/coturn enables it, and systemctl cannot stop anything.
if [ -d /run/systemd/system ] && systemctl is-enabled --quiet coturn 2>/dev/null; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" systemctl disable --now coturn
fi

# Debian's redis-server package likewise enables and starts redis-server.service on
# 127.0.0.1:6379; the test runs its own on a free port, so the system one is stopped and
# disabled. Without systemd, the package's init script may have started it (unless a
# policy-rc.d forbade that, as in Docker images): stop it and keep it from starting at boot.
if [ -d /run/systemd/system ]; then
  if systemctl is-enabled --quiet redis-server 2>/dev/null; then
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" systemctl disable --now redis-server
  fi
elif [ -x /etc/init.d/redis-server ] && /etc/init.d/redis-server status >/dev/null 2>&1; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" /etc/init.d/redis-server stop
  "${sudo_cmd[@]}" update-rc.d redis-server disable
fi

# The virtual environment is up to date when its interpreter runs and it was made from the
# requirements as they are now; otherwise it is made afresh.
requirements=tests/requirements.txt
installed="$test_venv/installed-requirements.txt"
if "$test_venv/bin/python" -c '' 2>/dev/null && cmp -s "$requirements" "$installed"; then
  exit 0
fi
rm -rf "$test_venv"
# Debian and Ubuntu ship venv's pip bootstrap (ensurepip) in a package of its own.
if ! python3 -m venv "$test_venv" 2>/dev/null; then
  rm -rf "$test_venv"
  apt_install python3-venv
  python3 -m venv "$test_venv"
fi
"$test_venv/bin/python" -m pip install --quiet --disable-pip-version-check --requirement "$requirements"
cp "$requirements" "$installed"
