#!/usr/bin/env bash
# Starts hubsim on free ports with a fresh data dir, runs a command with
#   HUBSIM_URL (Hub endpoint), HUBSIM_DATA, HUBSIM_PID
# in its environment, then stops that hubsim (by its pid only).
#   tests/conformance/with_hubsim.sh HUBSIM_BIN [hubsim serve args...] -- COMMAND...
set -euo pipefail
bin=$1
shift
args=()
while [[ $# -gt 0 && $1 != "--" ]]; do
  args+=("$1")
  shift
done
shift || true
data=$(mktemp -d "${TMPDIR:-/tmp}/hubsim-data.XXXXXX")
out=$data.out
"$bin" serve --data "$data" --listen 127.0.0.1:0 "${args[@]}" >"$out" 2>"$data.err" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$data" "$out" "$data.err"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  if grep -q '^hubsim listening on ' "$out" 2>/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    cat "$data.err" >&2
    echo "hubsim exited early" >&2
    exit 1
  fi
  sleep 0.05
done
url=$(sed -n 's/^hubsim listening on //p' "$out" | head -1)
[[ -n $url ]] || { echo "hubsim did not report its port" >&2; exit 1; }
HUBSIM_URL=$url HUBSIM_DATA=$data HUBSIM_PID=$pid HUBSIM_BIN=$bin "$@"
