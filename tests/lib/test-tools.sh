# shellcheck shell=bash
# Sourced by the test scripts that run the Python validators and linters: tests/setup.sh
# installs them into this virtual environment (never into the system Python), and its bin/
# goes first on PATH.
test_venv="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/target/test-venv"
export PATH="$test_venv/bin:$PATH"
