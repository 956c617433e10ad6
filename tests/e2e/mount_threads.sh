#!/usr/bin/env bash
# 16 threads reading one file of BIG_MB MiB through the mount, each mode on a
# fresh mount and cache so all of them start cold (threads_check.py):
# pread over disjoint regions, pread over overlapping regions (some read
# backwards), and one shared mmap faulted from 16 threads. Every region's
# sha256 equals the source's.
#   mount_threads.sh HUBFS HUBSIM          env: BIG_MB (80)
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
BIG_MB=${BIG_MB:-80}
e2e_setup
e2e_start_hubsim
t0=$SECONDS

S=$W/src
# Not a multiple of the page size, so the last region ends mid-page.
head -c $((BIG_MB * 1048576 + 12345)) /dev/urandom >"$S/weights.bin"
e2e_import org/model "$S"

for mode in disjoint overlap mmap; do
  bounded 30 "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache-$mode" --io-timeout 10 ||
    fail "mount ($mode)"
  bounded 90 /usr/bin/python3 "$here/threads_check.py" "$S/weights.bin" "$MNT/weights.bin" "$mode" ||
    fail "16 threads, $mode"
  bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount ($mode)"
  is_mounted && fail "still mounted after unmount ($mode)"
  pass "16 threads, $mode"
done
pass "done in $((SECONDS - t0)) s"
