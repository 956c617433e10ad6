#!/usr/bin/env bash
# hubfs mount fails before mounting, with a clear message, when the repo, the
# revision, the subfolder or the mountpoint is wrong; a subfolder and a
# commit-sha revision mount.
#   mount_errors.sh HUBFS HUBSIM
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup
e2e_start_hubsim

S=$W/src
mkdir -p "$S/sub"
printf 'a\n' >"$S/a.txt"
printf 'b\n' >"$S/sub/b.txt"
e2e_import datasets/org/data "$S"

expect_fail() {
  local pattern=$1
  shift
  if bounded 30 "$HUBFS" mount "$@" --cache-dir "$W/cache" --io-timeout 5 2>"$W/err"; then
    fail "mount $* succeeded"
  fi
  grep -qi -- "$pattern" "$W/err" || fail "mount $*: expected '$pattern', got: $(cat "$W/err")"
  is_mounted && fail "mount $* left a mount behind"
  true
}
expect_fail "not found" datasets/org/nope "$MNT"
expect_fail "not found" datasets/org/data@nobranch "$MNT"
expect_fail "folder not found" datasets/org/data/missing "$MNT"
expect_fail "No such file" datasets/org/data "$W/no-such-dir"
expect_fail "expected SOURCE" datasets/org/data
pass "errors reported before mounting"

sha=$(sed -n 's/.*"sha":"\([0-9a-f]\{40\}\)".*/\1/p' <<<"$(curl -s "$HUBSIM_URL/api/datasets/org/data/revision/main")")
[[ ${#sha} -eq 40 ]] || fail "no commit sha from hubsim"
bounded 30 "$HUBFS" mount "datasets/org/data@$sha/sub" "$MNT" --cache-dir "$W/cache" ||
  fail "mount of a commit sha subfolder"
[[ $(cat "$MNT/b.txt") == b ]] || fail "subfolder content"
[[ ! -e $MNT/a.txt ]] || fail "subfolder view shows the parent"
if bounded 30 "$HUBFS" mount datasets/org/data "$MNT" --cache-dir "$W/cache" 2>"$W/err"; then
  fail "a second mount on a busy mountpoint succeeded"
fi
grep -q "busy" "$W/err" || fail "busy mountpoint: $(cat "$W/err")"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
# Its daemon may still be ending: the SIGTERM below must find the next one.
for _ in $(seq 1 100); do [[ -z $(daemon_pid) ]] && break; sleep 0.1; done
[[ -z $(daemon_pid) ]] || fail "the daemon of the subfolder view still runs 10 s after unmount"
pass "commit-sha subfolder view"

# SIGTERM unmounts cleanly.
bounded 30 "$HUBFS" mount "datasets/org/data@$sha" "$MNT" --cache-dir "$W/cache" ||
  fail "mount for the SIGTERM case"
pid=$(daemon_pid)
[[ -n $pid ]] || fail "no daemon"
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "daemon still running after SIGTERM"
is_mounted && fail "still mounted after SIGTERM"
pass "SIGTERM unmounts"
