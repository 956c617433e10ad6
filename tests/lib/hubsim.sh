# shellcheck shell=bash
# Starting hubsim for the shell tests and benchmarks (sourced, not run).
#   hubsim_start DATA_DIR LOG [SERVE ARGS...]
#       runs `$HUBSIM serve --data DATA_DIR --listen 127.0.0.1:0 ARGS...` in the
#       background of the calling shell (so it can `wait` for it), stdout and
#       stderr to LOG, and returns once it listens: HUBSIM_PID and HUBSIM_URL
#       (the Hub endpoint) are set. Returns non-zero, with the log on stderr,
#       if it exits first or never reports its port (10 s).
#   hubsim_stop
#       kills and reaps it (if running) and clears HUBSIM_PID.
# The caller sets HUBSIM (the binary) and stops hubsim in its EXIT trap.

hubsim_start() {
  local data=$1 log=$2 _
  shift 2
  "$HUBSIM" serve --data "$data" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  HUBSIM_PID=$!
  HUBSIM_URL=
  for _ in $(seq 1 200); do
    grep -q '^hubsim listening on ' "$log" 2>/dev/null && break
    if ! kill -0 "$HUBSIM_PID" 2>/dev/null; then
      echo "hubsim exited: $(cat "$log")" >&2
      HUBSIM_PID=
      return 1
    fi
    sleep 0.05
  done
  HUBSIM_URL=$(sed -n 's/^hubsim listening on \(http[^ ]*\).*/\1/p' "$log" | head -1)
  if [[ -z $HUBSIM_URL ]]; then
    echo "hubsim did not report its port: $(cat "$log")" >&2
    return 1
  fi
}

hubsim_stop() {
  if [[ -n ${HUBSIM_PID:-} ]]; then
    kill "$HUBSIM_PID" 2>/dev/null
    wait "$HUBSIM_PID" 2>/dev/null
  fi
  HUBSIM_PID=
  return 0
}
