# shellcheck shell=bash
# Work directory and teardown for the integration tests (sourced after
# tests/lib/hubsim.sh).
#   workdir_setup NAME
#       $tmp: a fresh directory; fail MSG: prints FAIL and exits 1. The EXIT
#       trap runs workdir_cleanup_extra (when the test defines it), stops
#       hubsim (hubsim_stop) and removes $tmp.

fail() { echo "FAIL: $*" >&2; exit 1; }

workdir_teardown() {
  local rc=$?
  set +e
  declare -F workdir_cleanup_extra >/dev/null && workdir_cleanup_extra
  hubsim_stop
  rm -rf "$tmp"
  exit $rc
}

workdir_setup() {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubfs-$1-XXXXXX")
  HUBSIM_PID=
  trap workdir_teardown EXIT
}
