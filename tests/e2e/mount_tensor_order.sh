#!/usr/bin/env bash
# Model loading in parameter order through the mount (tensor_load.py, over
# mmap with /usr/bin/python3 and numpy), on a ~106 MiB safetensors model
# whose tensors lie in the file in name order:
#   - every tensor, in a shuffled parameter order, equals the same bytes of
#     the original file (byte-exact), from a cold mount; the loader reads
#     whole tensors out of file order, so the file is swept (the rest read
#     ahead in file order) and the swept bytes stored into the page cache
#     (hubfs status), where the loader's faults find them
#   - a tensor-parallel loader (rank 1 of 4: a quarter of the rows of each
#     tensor) on a fresh cold mount, mapped with MADV_RANDOM so that the
#     kernel adds no read-around of its own, fetches at most 1.1 x the bytes
#     it needs + 1.25 MiB per tensor (read-ahead past a slice's end, chunk
#     rounding) from the origin (hubsim's data-byte counters), and asks a
#     bounded number of reconstruction plans per tensor, not one per page
#     (reads inside chunks already fetched are placed locally; a cold read
#     fetches a window)
#   - the same slice load on a new mount over that cache asks the Hub for
#     nothing: no plan, no data (the anchors of the plans are cached with
#     the file's terms); neither slice load gets a sweep
#   - a loader that stops part way after its file's sweep began: the file's
#     release stops the sweep (hubfs status), and the origin serves little
#     more than the loader read, not the rest of the file; started again,
#     the loader gets the sweep again
#   mount_tensor_order.sh HUBFS HUBSIM
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup
e2e_start_hubsim
t0=$SECONDS
# This mount's "tensors:" status line (the status lists every hubfs mount),
# waiting up to 10 s for it to match the glob $2; STATUS_SEEN holds it.
tensor_status_matches() {
  local cache=$1 want=$2
  for _ in $(seq 1 50); do
    STATUS_SEEN=$("$HUBFS" status --cache-dir "$cache" |
      awk -v m="$MNT" '/^[^ ]/ { mine = ($0 == m) } mine && /^ *tensors:/ { sub(/^ *tensors: */, ""); print }')
    # shellcheck disable=SC2053
    [[ $STATUS_SEEN == $want ]] && return 0
    sleep 0.2
  done
  return 1
}

S=$W/src
/usr/bin/python3 "$here/tensor_load.py" write "$S" 1 2048 1024 || fail "writing the model"
e2e_import org/model "$S"

bounded 30 "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache" --io-timeout 10 || fail "mount failed"
out=$(bounded 60 /usr/bin/python3 "$here/tensor_load.py" load "$MNT/model.safetensors" --seed 7 \
        --against "$S/model.safetensors") || fail "out-of-order load through the mount"
echo "full load: $out"
pass "every tensor, in shuffled parameter order over mmap, equals the original"
tensor_status_matches "$W/cache" "1 files swept *" ||
  fail "the full load got no sweep: '$STATUS_SEEN'"
[[ $STATUS_SEEN != *"0 B of it into the page cache"* ]] ||
  fail "nothing swept went into the page cache: '$STATUS_SEEN'"
pass "the file was swept for the full load, into the page cache: $STATUS_SEEN"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"

# A fresh cache: nothing of the file is held anywhere on this side.
bounded 30 "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache2" --io-timeout 10 ||
  fail "second mount failed"
curl -sf -X DELETE "$HUBSIM_URL/admin/counters" >/dev/null || fail "counters reset"
out=$(bounded 60 /usr/bin/python3 "$here/tensor_load.py" load "$MNT/model.safetensors" --seed 7 \
        --slice 1/4 --random 1 --against "$S/model.safetensors") || fail "slice load through the mount"
curl -sf "$HUBSIM_URL/admin/counters" >"$W/counters.json" || fail "counters"
/usr/bin/python3 - "$W/counters.json" "$out" <<'PY' || fail "the slice load fetched too much: $(cat "$W/counters.json")"
import json, sys
c = json.load(open(sys.argv[1]))
r = json.loads(sys.argv[2])
needed, tensors = r["bytes_needed"], r["tensors"]
fetched = sum(v["bytes"] for v in c.get("data", {}).values())
bound = 1.1 * needed + tensors * 1.25 * (1 << 20)
print(f"slice load: needed {needed} B of {tensors} tensors, fetched {fetched} B "
      f"({fetched / needed:.2f}x; bound {int(bound)} B = {bound / needed:.2f}x)")
sys.exit(0 if needed <= fetched <= bound else 1)
PY
pass "a tensor-parallel slice load fetches within the selective-read bound"
# Plans: a few per tensor (its first cold read, read-ahead segments, plan
# windows of 256 KiB), never one per 4 KiB page (~6800 pages here).
too_many="the slice load asked too many plans"
/usr/bin/python3 - "$W/counters.json" "$out" <<'PY' || fail "$too_many: $(cat "$W/counters.json")"
import json, sys
c = json.load(open(sys.argv[1]))
r = json.loads(sys.argv[2])
needed, tensors = r["bytes_needed"], r["tensors"]
plans = c.get("cas", {}).get("reconstruction", {}).get("requests", 0)
pages = needed // 4096
bound = 1 + 8 * tensors + needed // (256 << 10)
print(f"slice load: {plans} plans for {tensors} tensors, {pages} pages (bound {bound})")
sys.exit(0 if 0 < plans <= bound else 1)
PY
pass "a tensor-parallel slice load asks a bounded number of plans per tensor"
tensor_status_matches "$W/cache2" "0 files swept *" ||
  fail "the slice load got a sweep: '$STATUS_SEEN'"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"

# The same load again on a new mount over that cache: everything it reads
# is cached and placed; the Hub is asked for nothing.
bounded 30 "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache2" --io-timeout 10 ||
  fail "third mount failed"
curl -sf -X DELETE "$HUBSIM_URL/admin/counters" >/dev/null || fail "counters reset"
out=$(bounded 60 /usr/bin/python3 "$here/tensor_load.py" load "$MNT/model.safetensors" --seed 7 \
        --slice 1/4 --random 1 --against "$S/model.safetensors") || fail "warm slice load"
curl -sf "$HUBSIM_URL/admin/counters" >"$W/counters2.json" || fail "counters"
asked="the warm slice load asked the Hub"
/usr/bin/python3 - "$W/counters2.json" <<'PY' || fail "$asked: $(cat "$W/counters2.json")"
import json, sys
c = json.load(open(sys.argv[1]))
plans = c.get("cas", {}).get("reconstruction", {}).get("requests", 0)
data = sum(v["requests"] for v in c.get("data", {}).values())
print(f"warm slice load: {plans} plans, {data} data requests")
sys.exit(0 if plans == 0 and data == 0 else 1)
PY
pass "the same slice load over the cache asks the Hub for no plan and no data"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
# A loader that stops part way (--stop 5: four whole tensors of 8-22 MiB, so
# the sweep has begun, and a norm) on a fresh cache, the data origin slowed:
# its file's release stops the sweep, so the rest of the file (60 MiB) is not
# fetched. 32M of memory: a sweep queues 16 MiB at most at once.
bounded 30 "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache3" --io-timeout 10 \
  --memory-limit 32M || fail "fourth mount failed"
curl -sf -X DELETE "$HUBSIM_URL/admin/counters" >/dev/null || fail "counters reset"
curl -sf -X POST --data "latency=300ms,only=data" "$HUBSIM_URL/admin/faults" >/dev/null ||
  fail "faults"
out=$(bounded 90 /usr/bin/python3 "$here/tensor_load.py" load "$MNT/model.safetensors" --seed 7 \
        --stop 5) || fail "partial load through the mount"
echo "partial load: $out"
tensor_status_matches "$W/cache3" "1 files swept *, 1 stopped when their file was closed" ||
  fail "the partial load's sweep was not stopped: '$STATUS_SEEN'"
# Nothing runs any more: what was fetched stays as it is.
sleep 1
curl -sf "$HUBSIM_URL/admin/counters" >"$W/counters3.json" || fail "counters"
sleep 1
curl -sf "$HUBSIM_URL/admin/counters" >"$W/counters4.json" || fail "counters"
curl -sf -X POST --data "" "$HUBSIM_URL/admin/faults" >/dev/null || fail "faults off"
/usr/bin/python3 - "$W/counters3.json" "$W/counters4.json" "$out" "$(stat -c %s "$S/model.safetensors")" <<'PY' ||
import json, sys
fetched = [sum(v["bytes"] for v in json.load(open(p)).get("data", {}).values()) for p in sys.argv[1:3]]
needed, size = json.loads(sys.argv[3])["bytes_needed"], int(sys.argv[4])
bound = needed + 36 * (1 << 20)  # the sweep's queue (16 MiB), read-ahead past the tensors
print(f"partial load: needed {needed} B of {size}, fetched {fetched[1]} B (bound {bound})")
sys.exit(0 if fetched[0] == fetched[1] and needed <= fetched[1] <= bound else 1)
PY
  fail "the partial load fetched too much: $(cat "$W/counters4.json")"
pass "a loader that stops part way: its sweep stops at its file's release ($STATUS_SEEN)"
# Started again, the loader gets the sweep again (from where it stopped).
out=$(bounded 60 /usr/bin/python3 "$here/tensor_load.py" load "$MNT/model.safetensors" --seed 7 \
        --against "$S/model.safetensors") || fail "full load after the partial one"
tensor_status_matches "$W/cache3" "2 files swept *, 1 stopped when their file was closed" ||
  fail "the loader started again got no sweep: '$STATUS_SEEN'"
pass "the loader started again loads every tensor byte-exact, swept again ($STATUS_SEEN)"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
pass "done in $((SECONDS - t0)) s"
