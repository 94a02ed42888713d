# shellcheck shell=bash
# Sourced by the scripts that prove a checker can fail (tests/*-reject*.sh).
#
# expect_rejected CHECKER WHAT INPUT REASON
#   Runs CHECKER on INPUT, a copy broken on purpose (WHAT says how, for the messages), and
#   exits 1 unless CHECKER fails and its output contains the fixed string REASON. The output
#   goes to INPUT.log, next to the copy.
expect_rejected() {
  local checker=$1 what=$2 input=$3 reason=$4
  local me log="$input.log"
  me=$(basename "$0" .sh)
  if "$checker" "$input" >"$log" 2>&1; then
    cat "$log"
    echo "$me: $what was NOT rejected" >&2
    exit 1
  fi
  if ! grep -qF -- "$reason" "$log"; then
    cat "$log"
    echo "$me: $what failed, but not for the expected reason ($reason)" >&2
    exit 1
  fi
  echo "$me: $what rejected, as it must be"
}
