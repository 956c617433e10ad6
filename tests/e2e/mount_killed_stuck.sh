#!/usr/bin/env bash
# A daemon killed (kill -9) while a thread of it waits in the kernel to
# invalidate an entry of a directory whose lookup it has not answered stays
# stuck, and so does its mount; `hubfs unmount` and the next `hubfs mount`
# onto the same mountpoint find it dead, abort its FUSE connection and free
# the mountpoint within a bound. A live daemon's mount (the same lookup
# unanswered, but the daemon running) is never aborted. A mount whose daemon
# is gone altogether (ENOTCONN) is replaced by the next `hubfs mount`.
#
# Deterministic: the daemon runs with the test hook HUBFS_TEST_STALL_LOOKUP,
# which leaves a lookup of that name unanswered and has the notifier thread
# invalidate the entry meanwhile (so it waits for the directory's lock).
#   mount_killed_stuck.sh HUBFS HUBSIM
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup
# Whatever happens, a mount left stuck is freed (its connection aborted)
# before the shared teardown unmounts, which would otherwise block on it.
abort_left() {
  local dev
  dev=$(awk -v m="$MNT" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo)
  [[ -n $dev ]] || return 0
  local conn=/sys/fs/fuse/connections/$(( ${dev%%:*} << 20 | ${dev##*:} ))
  [[ -e $conn/abort ]] && echo 1 >"$conn/abort"
  return 0
}
trap 'rc=$?; abort_left; (exit $rc); e2e_teardown' EXIT
e2e_start_hubsim

S=$W/src
mkdir -p "$S/d"
printf 'hello\n' >"$S/d/file.txt"
printf 'top\n' >"$S/top.txt"
e2e_import org/model "$S"

mount_dev() { awk -v m="$MNT" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo; }

# Mounts with the hook, sends the lookup that is never answered, and waits
# until a thread of the daemon is blocked in the kernel (state D).
stall() {
  HUBFS_TEST_STALL_LOOKUP=stall-here "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache" \
    || fail "mount with the test hook"
  ls "$MNT/d" >/dev/null || fail "ls of the mount"
  DAEMON=$(daemon_pid)
  [[ -n $DAEMON ]] || fail "no daemon found"
  stat "$MNT/d/stall-here" >/dev/null 2>&1 &
  LOOKER=$!
  local blocked=""
  for _ in $(seq 1 100); do
    for t in /proc/$DAEMON/task/*; do
      [[ $(awk '{ print $3 }' "$t/stat" 2>/dev/null) == D ]] && blocked=$t
    done
    [[ -n $blocked ]] && break
    sleep 0.1
  done
  [[ -n $blocked ]] || fail "no thread of the daemon blocked in the kernel (hook not working?)"
}

# kill -9, then checks that the daemon is stuck (a thread left after 2 s).
kill_stuck() {
  kill -9 "$DAEMON"
  sleep 2
  local left
  left=$(ls "/proc/$DAEMON/task" 2>/dev/null | wc -l)
  ((left >= 2)) || fail "the killed daemon ended by itself (the stuck state was not reproduced)"
  kill -0 "$LOOKER" 2>/dev/null || fail "the lookup ended before the recovery"
}

# Waits (bounded) for the stuck lookup and the daemon to end.
check_freed() {
  for _ in $(seq 1 50); do
    kill -0 "$LOOKER" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$LOOKER" 2>/dev/null && fail "the stuck lookup still waits"
  wait "$LOOKER" 2>/dev/null || true
  for _ in $(seq 1 50); do
    [[ -d /proc/$DAEMON/task ]] && [[ -n $(ls "/proc/$DAEMON/task" 2>/dev/null) ]] || break
    sleep 0.1
  done
  [[ -n $(ls "/proc/$DAEMON/task" 2>/dev/null) ]] && fail "the killed daemon has not ended"
  return 0
}

# 1. A live daemon with a lookup unanswered is not aborted by a second mount.
stall
dev=$(mount_dev)
if "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache" 2>"$W/busy.err"; then
  fail "a second mount onto a live mount succeeded"
fi
grep -q "busy" "$W/busy.err" || fail "expected 'busy': $(cat "$W/busy.err")"
grep -q "aborted" "$W/busy.err" && fail "a live daemon's connection was aborted"
[[ $(mount_dev) == "$dev" ]] || fail "the live mount is gone"
# (Not under d/: a new lookup there would queue behind the invalidation.)
[[ $(timeout 20 cat "$MNT/top.txt") == top ]] || fail "the live mount no longer reads"
pass "a live daemon's mount is left alone"

# 2. kill -9: stuck; hubfs unmount frees it within 10 s.
kill_stuck
start=$(date +%s%N)
timeout 30 "$HUBFS" unmount "$MNT" 2>"$W/unmount.err" || fail "hubfs unmount: $(cat "$W/unmount.err")"
ms=$((($(date +%s%N) - start) / 1000000))
grep -q "aborted its FUSE connection and unmounted it" "$W/unmount.err" \
  || fail "no recovery line: $(cat "$W/unmount.err")"
((ms < 10000)) || fail "hubfs unmount took ${ms} ms"
is_mounted && fail "still mounted after hubfs unmount"
check_freed
pass "hubfs unmount freed the stuck mount in ${ms} ms: $(cat "$W/unmount.err")"

# 3. The same, freed by the next hubfs mount onto the mountpoint.
stall
kill_stuck
start=$(date +%s%N)
timeout 60 "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache" 2>"$W/remount.err" \
  || fail "remount: $(cat "$W/remount.err")"
ms=$((($(date +%s%N) - start) / 1000000))
grep -q "aborted its FUSE connection and unmounted it" "$W/remount.err" \
  || fail "no recovery line: $(cat "$W/remount.err")"
check_freed
[[ $(timeout 20 cat "$MNT/d/file.txt") == hello ]] || fail "the new mount does not read"
pass "hubfs mount freed the stuck mount and mounted in ${ms} ms: $(cat "$W/remount.err")"
timeout 30 "$HUBFS" unmount "$MNT" || fail "unmount"

# 4. A daemon killed outright (no thread stuck): its mount answers ENOTCONN;
#    the next hubfs mount unmounts it and mounts.
"$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache" || fail "mount"
DAEMON=$(daemon_pid)
kill -9 "$DAEMON"
for _ in $(seq 1 50); do [[ -d /proc/$DAEMON ]] || break; sleep 0.1; done
[[ -d /proc/$DAEMON ]] && fail "the killed daemon did not end"
stat "$MNT" >/dev/null 2>&1 && fail "a dead mount answered stat"
timeout 60 "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache" 2>"$W/gone.err" \
  || fail "mount over a dead mount: $(cat "$W/gone.err")"
grep -q "whose daemon is gone; unmounted it" "$W/gone.err" || fail "no line: $(cat "$W/gone.err")"
[[ $(timeout 20 cat "$MNT/top.txt") == top ]] || fail "the new mount does not read"
(($(grep -cF " $MNT " /proc/self/mountinfo) == 1)) || fail "the dead mount is still stacked"
pass "hubfs mount replaced a dead mount: $(cat "$W/gone.err")"
timeout 30 "$HUBFS" unmount "$MNT" || fail "final unmount"
