#!/usr/bin/env bash
# Model-loading reads through the mount with /usr/bin/python3 and numpy:
#   - a safetensors reader over mmap (8-byte header length, JSON header,
#     np.frombuffer of each tensor from the mapping: f64, f32, f16, i64, i32,
#     i8, bool, a scalar, an empty tensor) and np.load(mmap_mode="r") of a
#     .npy equal the arrays they were written from
#   - selective reading: the header and two small tensors of a large file
#     fetch far less than the file (hubsim's data-byte counters): at most
#     1.1 x the bytes needed + 1.25 MiB per tensor edge (the ~1 MiB kernel
#     read-around of an mmap fault, plus chunk rounding)
#   mount_safetensors.sh HUBFS HUBSIM          env: BIG_MB (96)
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
export BIG_MB=${BIG_MB:-96}
e2e_setup
e2e_start_hubsim
t0=$SECONDS

S=$W/src
/usr/bin/python3 "$here/safetensors_check.py" write "$S" || fail "writing the files"
e2e_import org/model "$S"

bounded 30 "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache" --io-timeout 10 || fail "mount failed"
bounded 60 /usr/bin/python3 "$here/safetensors_check.py" check "$MNT" || fail "tensors through the mount"
for f in model.safetensors arrays.npy big.safetensors; do
  [[ $(stat -c %s "$MNT/$f") == $(stat -c %s "$S/$f") ]] || fail "size of $f"
done
pass "safetensors over mmap and np.load(mmap_mode='r') equal the originals"

# big.safetensors has not been read yet: nothing of it is cached anywhere.
curl -sf -X DELETE "$HUBSIM_URL/admin/counters" >/dev/null || fail "counters reset"
needed=$(bounded 60 /usr/bin/python3 "$here/safetensors_check.py" selective "$MNT") ||
  fail "selective read of big.safetensors"
curl -sf "$HUBSIM_URL/admin/counters" >"$W/counters.json" || fail "counters"
size=$(stat -c %s "$S/big.safetensors")
/usr/bin/python3 - "$W/counters.json" "$needed" "$size" <<'PY' || fail "selective read fetched too much: $(cat "$W/counters.json")"
import json, sys
c = json.load(open(sys.argv[1]))
needed, size = int(sys.argv[2]), int(sys.argv[3])
fetched = sum(v["bytes"] for v in c.get("data", {}).values())
requests = sum(v["requests"] for v in c.get("data", {}).values())
# Two regions are read (header + small_a, which follows it; small_b in the
# middle): four edges, the first of which is the start of the file.
edges = 4
bound = 1.1 * needed + edges * 1.25 * (1 << 20)
print(f"selective read: needed {needed} B, fetched {fetched} B in {requests} data requests "
      f"({fetched / needed:.1f}x needed, {100 * fetched / size:.2f}% of the {size} B file; "
      f"bound {int(bound)} B)")
sys.exit(0 if 0 < fetched <= bound else 1)
PY
pass "selective read of a $BIG_MB MiB safetensors file"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
pass "done in $((SECONDS - t0)) s"
