# Shared setup for the mount e2e tests; sourced with HUBFS and HUBSIM set.
#   e2e_setup            fresh work dir ($W), mountpoint ($MNT)
#   e2e_start_hubsim     hubsim on free ports over $W/data ($HUBSIM_URL, $HUBSIM_PID;
#                        its output in $W/hubsim.log)
#   e2e_import REPO DIR  hubsim import
#   bounded SECS CMD...  runs CMD; past SECS the mount daemon is killed (which
#                        aborts the FUSE connection and frees a blocked CMD)
#   data_bytes, data_requests   hubsim's data-plane bytes / requests since
#                        reset_counters (or its start)
# The EXIT trap always unmounts (graceful, then forced), ends the daemon and
# hubsim by pid, and removes the work dir only once nothing is mounted in it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/hubsim.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok ($(date +%T.%N | cut -c1-12)): $*"; }

e2e_setup() {
  W=$(mktemp -d "${TMPDIR:-/tmp}/hubfs-e2e.XXXXXX")
  MNT=$W/mnt
  mkdir -p "$MNT" "$W/src"
  HUBSIM_PID=""
  FG_PID=""
  trap e2e_teardown EXIT
}

# The pid of the hubfs process serving $MNT (daemon or -f), or nothing.
daemon_pid() {
  local p
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- " mount " &&
       tr '\0' '\n' 2>/dev/null <"$p/cmdline" | grep -qxF -- "$MNT"; then
      basename "$p"
      return 0
    fi
  done
  return 0
}

is_mounted() { grep -qF " $MNT " /proc/self/mountinfo; }

# Sum of one field ("bytes", "requests") over hubsim's data-plane counters.
data_counter() {
  curl -sf "$HUBSIM_URL/admin/counters" | /usr/bin/python3 -c '
import json, sys
print(sum(v[sys.argv[1]] for v in json.load(sys.stdin).get("data", {}).values()))' "$1"
}
data_bytes() { data_counter bytes; }
data_requests() { data_counter requests; }
reset_counters() {
  curl -sf -X DELETE "$HUBSIM_URL/admin/counters" >/dev/null || fail "counters reset"
}

e2e_teardown() {
  local rc=$?
  set +e
  if is_mounted; then
    fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null || umount -l "$MNT"
  fi
  local pid
  pid=$(daemon_pid)
  if [[ -n $pid ]]; then
    sleep 0.5
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  fi
  [[ -n $FG_PID ]] && { kill "$FG_PID" 2>/dev/null; wait "$FG_PID" 2>/dev/null; }
  # A stopped hubsim (SIGSTOP) would not act on SIGTERM until continued.
  [[ -n $HUBSIM_PID ]] && { kill -CONT "$HUBSIM_PID" 2>/dev/null; kill "$HUBSIM_PID" 2>/dev/null; wait "$HUBSIM_PID" 2>/dev/null; }
  if is_mounted; then
    echo "teardown: $MNT still mounted; leaving $W in place" >&2
  else
    rm -rf "$W"
  fi
  exit $rc
}

# e2e_start_hubsim [SERVE ARGS...] — extra arguments (e.g. --user NAME:TOKEN) go to `hubsim serve`.
e2e_start_hubsim() {
  hubsim_start "$W/data" "$W/hubsim.log" "$@" || fail "hubsim did not start"
  export HF_ENDPOINT=$HUBSIM_URL
  export HF_TOKEN_PATH=$W/no-token
  unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_HUB_OFFLINE
}

e2e_import() { "$HUBSIM" import --data "$W/data" "$1" "$2" >/dev/null; }

bounded() {
  local secs=$1
  shift
  "$@" &
  local cmd=$!
  local waited=0
  while kill -0 "$cmd" 2>/dev/null; do
    if ((waited >= secs * 10)); then
      local pid
      pid=$(daemon_pid)
      [[ -n $pid ]] && kill -9 "$pid"
      wait "$cmd" 2>/dev/null
      fail "'$*' did not finish within ${secs}s (daemon killed)"
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  wait "$cmd"
}
