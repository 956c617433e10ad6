#!/usr/bin/env bash
# With the server gone (hubsim killed), uncached data fails with EIO within
# about --io-timeout, nothing hangs, cached data still reads, and unmount
# works. Runs the mount in the foreground (-f) to also cover that mode.
#   mount_dead_server.sh HUBFS HUBSIM
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup
e2e_start_hubsim

S=$W/src
mkdir -p "$S/dir"
head -c 3000000 /dev/urandom >"$S/cold.bin"
head -c 2000000 /dev/urandom >"$S/warm.bin"
printf 'text\n' >"$S/dir/note.txt"
e2e_import org/model "$S"

"$HUBFS" mount org/model "$MNT" -f --cache-dir "$W/cache" --io-timeout 3 2>"$W/mount.err" &
FG_PID=$!
for _ in $(seq 1 100); do is_mounted && break; sleep 0.1; done
is_mounted || { cat "$W/mount.err" >&2; fail "foreground mount did not come up"; }

bounded 30 cmp "$S/warm.bin" "$MNT/warm.bin" || fail "warm.bin differs"
ls "$MNT" >/dev/null
kill "$HUBSIM_PID"
wait "$HUBSIM_PID" 2>/dev/null || true
HUBSIM_PID=""

start=$(date +%s%N)
if bounded 20 head -c 1000 "$MNT/cold.bin" >/dev/null 2>"$W/err"; then
  fail "read of uncached data succeeded with the server dead"
fi
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
grep -q "Input/output error" "$W/err" || fail "expected EIO: $(cat "$W/err")"
((elapsed_ms < 3000 + 2000)) || fail "EIO took ${elapsed_ms} ms (io-timeout 3 s)"
pass "EIO for uncached data after ${elapsed_ms} ms"

if bounded 20 ls "$MNT/dir" >/dev/null 2>"$W/err"; then
  fail "listing an unlisted directory succeeded with the server dead"
fi
grep -q "Input/output error" "$W/err" || fail "ls: expected EIO: $(cat "$W/err")"
pass "EIO for an uncached listing"

# What the page cache or the chunk cache holds still reads.
bounded 20 cmp "$S/warm.bin" "$MNT/warm.bin" || fail "cached file no longer reads"
pass "cached data still reads"

bounded 30 "$HUBFS" unmount "$MNT" || fail "hubfs unmount with a dead server"
is_mounted && fail "still mounted"
for _ in $(seq 1 50); do kill -0 "$FG_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$FG_PID" 2>/dev/null && fail "foreground mount still running after unmount"
wait "$FG_PID" || fail "foreground mount exited with an error"
FG_PID=""
pass "unmount with a dead server"
