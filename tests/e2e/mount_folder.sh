#!/usr/bin/env bash
# Folder read-ahead (hubfs mount --folder-readahead): `cp -r` of a folder of
# shards and small files from a cold mount is byte-exact, reads the next
# shards ahead (hubfs status) and fetches at most the folder's bytes times a
# small factor from hubsim; a reader that stops early (`head -c`) before
# becoming a copier starts no read-ahead of the next files; one that stops
# as it becomes one (a file before it read whole, then 4 MiB of it in order;
# the data origin slowed so that the next files' segments are still queued)
# has them cancelled, and they are not fetched; --folder-readahead off reads
# nothing ahead.
#   mount_folder.sh HUBFS HUBSIM
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup
e2e_start_hubsim
MIB=$((1 << 20))

S=$W/src
/usr/bin/python3 - "$S" <<'PY'
import os, random, sys
root = sys.argv[1]
open(f"{root}/.gitattributes", "w").write("*.bin filter=lfs diff=lfs merge=lfs -text\n")
r = random.Random(11)
for i in range(1, 5):
    open(f"{root}/shard-{i}.bin", "wb").write(r.randbytes(24 << 20))
open(f"{root}/config.json", "w").write('{"hidden": 64}\n')
open(f"{root}/tokenizer.json", "w").write('{"vocab": {}}\n' * 1000)
PY
commit=$("$HUBSIM" import --data "$W/data" org/folder "$S") || fail "import"
folder_bytes=$(du -sb --apparent-size --exclude=.gitattributes "$S" | cut -f1)
faults() { curl -sf -X POST --data "$1" "$HUBSIM_URL/admin/faults" >/dev/null || fail "faults"; }
n=0
mount_it() {
  n=$((n + 1))
  bounded 30 "$HUBFS" mount "org/folder@$commit" "$MNT" --cache-dir "$W/cache$n" "$@" ||
    fail "mount $*"
}
unmount_it() { bounded 30 "$HUBFS" unmount "$MNT" >/dev/null || fail "unmount"; }
# Status line "folder: N files read ahead of a copier (SIZE), M cancelled".
# Only this mount's block (the status lists every hubfs mount).
folder_status() {
  "$HUBFS" status --cache-dir "$W/cache$n" |
    awk -v m="$MNT" '/^[^ ]/ { mine = ($0 == m) } mine && /^ *folder:/ { sub(/^ *folder: */, ""); print }'
}
# Waits (up to 10 s) until hubsim's data counter has not moved for a second.
quiet_bytes() {
  local before after
  before=$(data_bytes)
  for _ in $(seq 1 10); do
    sleep 1
    after=$(data_bytes)
    [[ $after == "$before" ]] && break
    before=$after
  done
  echo "$after"
}
# Waits (up to 10 s) for the daemon's status record to show `want` (a glob);
# false (the status seen in STATUS_SEEN) when it does not.
status_matches() {
  local want=$1
  STATUS_SEEN=""
  for _ in $(seq 1 50); do
    STATUS_SEEN=$(folder_status)
    # shellcheck disable=SC2053
    [[ $STATUS_SEEN == $want ]] && return 0
    sleep 0.2
  done
  return 1
}
status_shows() {
  status_matches "$1" || fail "status: want '$1', got '$STATUS_SEEN'"
}

# --- cp -r: exact, read ahead, bounded
mount_it
reset_counters
bounded 120 cp -r "$MNT/." "$W/copy" || fail "cp -r"
diff -r -x .gitattributes "$S" "$W/copy" >/dev/null || fail "cp -r copy differs"
got=$(quiet_bytes)
(( got <= folder_bytes * 115 / 100 )) ||
  fail "cp -r fetched $got bytes for a folder of $folder_bytes"
status_shows "[1-9]* files read ahead of a copier*"
pass "cp -r: byte-exact, $got origin bytes for $folder_bytes; folder: $(folder_status)"
unmount_it

# --- head -c of the first shard: not a copier, nothing read ahead
mount_it
ls "$MNT" >/dev/null
reset_counters
head -c 1000 "$MNT/shard-1.bin" | cmp -s - <(head -c 1000 "$S/shard-1.bin") || fail "head -c bytes"
got=$(quiet_bytes)
(( got <= 4 * MIB )) || fail "head -c 1000 fetched $got bytes"
status_shows "0 files read ahead of a copier*"
pass "head -c 1000: $got origin bytes, nothing read ahead"
unmount_it

# --- a copier that stops early: the next files' queued segments are
# cancelled and never fetched. The data origin is slowed so that they are
# still queued when it stops (at most the segments already running and the
# reader's own read-ahead are fetched).
# A second attempt on a fresh mount when the first never became a copier:
# under a loaded machine the kernel's read-ahead pieces of shard-1 can reach
# the daemon out of order by more than the copier test's slack, and a
# reader that looks like it seeks never triggers (by design). The cancel
# must then be seen on the second attempt.
for attempt in 1 2; do
  mount_it
  ls "$MNT" >/dev/null
  reset_counters
  faults "latency=300ms,only=data"
  # A file before it read whole first (a copy in listing order), then shard-1
  # read up to where it becomes a copier (4 MiB in order), and no further.
  cat "$MNT/config.json" >/dev/null
  head -c $((4 * MIB)) "$MNT/shard-1.bin" | cmp -s - <(head -c $((4 * MIB)) "$S/shard-1.bin") ||
    fail "head -c 4M bytes"
  got=$(quiet_bytes)
  faults ""
  # (Its request, or the segments it had queued, whichever the cancel found.)
  want="* files read ahead of a copier*, [1-9]* cancelled"
  status_matches "$want" && break
  [[ $attempt == 1 && $STATUS_SEEN == "0 files read ahead of a copier"* ]] ||
    fail "status: want '$want', got '$STATUS_SEEN'"
  echo "head -c 4M: not a copier on attempt 1 ($STATUS_SEEN); again on a fresh mount"
  unmount_it
done
# Without the cancel: shard-1's read-ahead plus 2 x 24 MiB of the next two.
# With it: shard-1's read-ahead (24 MiB at most), the 2 speculative segments
# (8 MiB each) that may be running, and the chunks their ranges share.
(( got <= 44 * MIB )) || fail "a reader stopped after 4 MiB, $got bytes fetched"
pass "head -c 4M: stopped early, $got origin bytes; folder: $(folder_status)"
unmount_it

# --- off: nothing read ahead
mount_it --folder-readahead off
reset_counters
bounded 120 cp -r "$MNT/." "$W/copy-off" || fail "cp -r (off)"
diff -r -x .gitattributes "$S" "$W/copy-off" >/dev/null || fail "cp -r (off) copy differs"
got=$(quiet_bytes)
status_shows "0 files read ahead of a copier*"
pass "--folder-readahead off: byte-exact, nothing read ahead, $got origin bytes"
unmount_it
