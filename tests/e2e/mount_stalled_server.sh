#!/usr/bin/env bash
# A server that accepts connections but never answers (hubsim stopped with
# SIGSTOP): a read of uncached data fails with EIO within about
# --io-timeout, and hubfs unmount succeeds while a reader is still blocked;
# the reader then gets its error and the daemon exits.
#   mount_stalled_server.sh HUBFS HUBSIM
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup
e2e_start_hubsim

S=$W/src
mkdir -p "$S"
head -c 3000000 /dev/urandom >"$S/a.bin"
head -c 3000000 /dev/urandom >"$S/b.bin"
e2e_import org/model "$S"

bounded 30 "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache" --io-timeout 3 ||
  fail "mount failed"
ls "$MNT" >/dev/null
pid=$(daemon_pid)
kill -STOP "$HUBSIM_PID"

start=$(date +%s%N)
if bounded 30 head -c 1000 "$MNT/a.bin" >/dev/null 2>"$W/err"; then
  kill -CONT "$HUBSIM_PID"
  fail "read succeeded with the server stalled"
fi
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
grep -q "Input/output error" "$W/err" || fail "expected EIO: $(cat "$W/err")"
((elapsed_ms < 3000 + 2000)) || fail "EIO took ${elapsed_ms} ms (io-timeout 3 s)"
pass "EIO with a stalled server after ${elapsed_ms} ms"

# A reader blocked in the daemon does not stop unmount.
head -c 1000 "$MNT/b.bin" >/dev/null 2>"$W/reader.err" &
reader=$!
sleep 0.5
bounded 20 "$HUBFS" unmount "$MNT" || fail "hubfs unmount with a blocked reader"
is_mounted && fail "still mounted"
bounded 20 wait "$reader" && fail "the blocked reader got data from a stalled server"
pass "unmount with a blocked reader; the reader got an error"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "daemon still running"
kill -CONT "$HUBSIM_PID"
pass "daemon exited"
