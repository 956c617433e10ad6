#!/usr/bin/env bash
# The safetensors library (the pinned venv's, numpy framework) loading weights
# from a mount, the files written by save_file and uploaded through hf_xet:
#   - load_file and safe_open(framework="numpy") of model.safetensors (several
#     dtypes, metadata, a slice) equal the arrays they were written from
#   - selective loading: safe_open + get_tensor of two small tensors of a
#     large file (one right after the header, one in the middle) fetch far
#     less than the file (hubsim's data-byte counters): at most 1.1 x the
#     bytes needed + 1.25 MiB per tensor edge (the kernel's ~1 MiB read-around
#     of an mmap fault, plus chunk rounding)
#   mount_safetensors_lib.sh HUBFS HUBSIM PYTHON     env: BIG_MB (64)
HUBFS=$1
HUBSIM=$2
PY=$3
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
[[ -x $PY ]] || fail "$PY missing (run scripts/setup-python.sh)"
export BIG_MB=${BIG_MB:-64}
e2e_setup
e2e_start_hubsim --user pyuser:hf_pyuser_token
export HF_HOME=$W/hf_home HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_PROGRESS_BARS=1
t0=$SECONDS

S=$W/src
REPO=pyuser/weights
mkdir -p "$S"
"$PY" "$here/safetensors_lib_check.py" write "$S" || fail "writing the files"
bounded 120 "$PY" "$here/hf_xet_files.py" upload "$S" "$REPO" hf_pyuser_token || fail "hf_xet upload"

bounded 30 "$HUBFS" mount "$REPO" "$MNT" --cache-dir "$W/cache" --io-timeout 10 || fail "mount failed"
bounded 60 "$PY" "$here/safetensors_lib_check.py" check "$MNT" || fail "tensors through the mount"
for f in model.safetensors big.safetensors; do
  [[ $(stat -c %s "$MNT/$f") == $(stat -c %s "$S/$f") ]] || fail "size of $f"
done
pass "safetensors load_file and safe_open over the mount equal the originals"

# big.safetensors has not been read yet: nothing of it is cached anywhere.
curl -sf -X DELETE "$HUBSIM_URL/admin/counters" >/dev/null || fail "counters reset"
needed=$(bounded 60 "$PY" "$here/safetensors_lib_check.py" selective "$MNT") ||
  fail "selective load of big.safetensors"
curl -sf "$HUBSIM_URL/admin/counters" >"$W/counters.json" || fail "counters"
size=$(stat -c %s "$S/big.safetensors")
"$PY" - "$W/counters.json" "$needed" "$size" <<'PY' || fail "selective load fetched too much: $(cat "$W/counters.json")"
import json, sys
c = json.load(open(sys.argv[1]))
needed, size = int(sys.argv[2]), int(sys.argv[3])
fetched = sum(v["bytes"] for v in c.get("data", {}).values())
requests = sum(v["requests"] for v in c.get("data", {}).values())
# Two regions are read (header + c_small, which follows it; a_small in the
# middle): four edges, the first of which is the start of the file.
bound = 1.1 * needed + 4 * 1.25 * (1 << 20)
print(f"selective load: needed {needed} B, fetched {fetched} B in {requests} data requests "
      f"({100 * fetched / size:.2f}% of the {size} B file; bound {int(bound)} B)")
sys.exit(0 if 0 < fetched <= bound else 1)
PY
pass "selective load of a $BIG_MB MiB safetensors file"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
pass "done in $((SECONDS - t0)) s"
