#!/usr/bin/env bash
# The chunk cache's bound in a mount and its scan resistance:
#   - HUBFS_CACHE_SIZE and --cache-size that are not sizes are refused
#   - with HUBFS_CACHE_SIZE=48M, a 160 MiB file streams with exact bytes,
#     fetched about once (at most 1.3 x; 1.8 x when memory dropped the
#     chunks the full cache refused before their read), while the cache file
#     stays within 2 x 48 MiB + 32 MiB (sampled) and the stored total within
#     48 MiB (`hubfs cache ls`)
#   - an 8 MiB working set read twice, 11 s apart (promote_after is 10 s),
#     survives that scan: read again after a remount, it makes no data
#     request, while the scan's first chunks were evicted (refetched)
#   mount_cache_size.sh HUBFS HUBSIM
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup
e2e_start_hubsim
MIB=$((1 << 20))
LIMIT_MIB=48

S=$W/src
/usr/bin/python3 - "$S" <<'PY'
import os, random, sys
root = sys.argv[1]
open(f"{root}/.gitattributes", "w").write("*.bin filter=lfs diff=lfs merge=lfs -text\n")
for name, mib, seed in (("ws.bin", 8, 1), ("big.bin", 160, 2)):
    r = random.Random(seed)
    with open(f"{root}/{name}", "wb") as f:
        for _ in range(mib):
            f.write(r.randbytes(1 << 20))
PY
commit=$("$HUBSIM" import --data "$W/data" org/scan "$S") || fail "import"
want_ws=$(sha256sum <"$S/ws.bin" | cut -d' ' -f1)
want_big=$(sha256sum <"$S/big.bin" | cut -d' ' -f1)
mount_it() {
  bounded 30 "$HUBFS" mount "org/scan@$commit" "$MNT" --cache-dir "$W/cache" \
    --cache-size ${LIMIT_MIB}M --memory-limit 16M || fail "mount"
}
unmount_it() { bounded 30 "$HUBFS" unmount "$MNT" >/dev/null || fail "unmount"; }

# --- bad sizes
if out=$(HUBFS_CACHE_SIZE=lots bounded 30 "$HUBFS" mount "org/scan@$commit" "$MNT" \
           --cache-dir "$W/cache" 2>&1); then
  fail "a mount with HUBFS_CACHE_SIZE=lots started"
fi
grep -q "HUBFS_CACHE_SIZE" <<<"$out" || fail "HUBFS_CACHE_SIZE=lots: $out"
is_mounted && fail "mounted anyway"
if out=$(bounded 30 "$HUBFS" mount "org/scan@$commit" "$MNT" --cache-size 0 2>&1); then
  fail "--cache-size 0 accepted"
fi
grep -q -- "--cache-size" <<<"$out" || fail "--cache-size 0: $out"
pass "bad cache sizes refused: $out"

# --- the working set, used twice with promote_after (10 s) in between
mount_it
[[ $(sha256sum <"$MNT/ws.bin" | cut -d' ' -f1) == "$want_ws" ]] || fail "ws.bin differs"
unmount_it
sleep 11
mount_it
reset_counters
[[ $(sha256sum <"$MNT/ws.bin" | cut -d' ' -f1) == "$want_ws" ]] || fail "ws.bin differs (2)"
n=$(data_requests)
[[ $n -eq 0 ]] || fail "second read of the working set made $n data requests"
unmount_it
pass "working set read twice, the second time from the cache"

# --- one scan of a file over three times the cache (the bound from the
# environment this time)
HUBFS_CACHE_SIZE=${LIMIT_MIB}M bounded 30 "$HUBFS" mount "org/scan@$commit" "$MNT" \
  --cache-dir "$W/cache" --memory-limit 16M || fail "mount with HUBFS_CACHE_SIZE"
reset_counters
peak=0
sha256sum <"$MNT/big.bin" >"$W/big.sha" &
reader=$!
while kill -0 "$reader" 2>/dev/null; do
  # The store's disk use: data.mdb and the pack files' allocated blocks.
  s=$(du -s --block-size=1 "$W/cache/chunks" 2>/dev/null | cut -f1)
  s=${s:-0}
  ((s > peak)) && peak=$s
  sleep 0.1
done
wait "$reader" || fail "reading big.bin failed"
[[ $(cut -d' ' -f1 "$W/big.sha") == "$want_big" ]] || fail "big.bin differs"
# Read-ahead's chunks that the full cache refused stay in memory until the
# reader comes for them: the scan fetches its file about once.
fetched=$(data_bytes)
((fetched <= 160 * MIB * 13 / 10)) || fail "the scan fetched $((fetched / MIB)) MiB for 160 MiB"
unmount_it
((peak <= (2 * LIMIT_MIB + 32) * MIB)) || fail "cache files reached $peak bytes"
total=$("$HUBFS" cache ls --cache-dir "$W/cache" | awk '$1 == "total" {print $3}')
[[ -n $total ]] || fail "no total from hubfs cache ls"
((total <= LIMIT_MIB * MIB)) || fail "cache holds $total bytes over the ${LIMIT_MIB}M limit"
pass "160 MiB through a ${LIMIT_MIB}M cache: $((fetched / MIB)) MiB fetched, bytes exact, cache files peak $((peak / MIB)) MiB, stored $((total / MIB)) MiB"

# --- after the scan: the working set is still cached, the scan's head is not
mount_it
reset_counters
[[ $(sha256sum <"$MNT/ws.bin" | cut -d' ' -f1) == "$want_ws" ]] || fail "ws.bin differs (3)"
n=$(data_requests)
[[ $n -eq 0 ]] || fail "the scan evicted the working set: $n data requests"
head -c $((4 * MIB)) "$MNT/big.bin" | cmp - <(head -c $((4 * MIB)) "$S/big.bin") ||
  fail "big.bin head differs"
n=$(data_requests)
[[ $n -gt 0 ]] || fail "the scan's first chunks are still cached: the cache is not bounded"
unmount_it
pass "after the scan the working set made no data request; the scan's head was refetched ($n requests)"
