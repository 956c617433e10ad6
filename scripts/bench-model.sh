#!/usr/bin/env bash
# Model loading through the mount vs downloading the file first, in one run
# against hubsim on loopback (not a test). A ~1 GiB safetensors model (364
# tensors, f16 random data, tensors in name order in the file) is loaded with
# numpy over mmap (tests/e2e/tensor_load.py) in a shuffled parameter order:
#   - mount, full: every tensor from a cold mount (fresh cache, page cache
#     dropped), each byte copied out
#   - mount, full x8: the same with 8 loader threads taking the tensors in
#     that order (parallel loaders; numpy copies without the GIL)
#   - mount, slice: a tensor-parallel rank (1 of 4) copies a quarter of the
#     rows of each tensor; origin bytes fetched vs bytes needed
#   - mount, slice random: the same mapped with MADV_RANDOM (no kernel
#     read-around: the filesystem sees 4 KiB page reads)
# Each row also counts the reconstruction plans asked of the Hub.
#   - js + load: the official JS client's downloadFile to local disk, then
#     the same load
#   - hf_xet + load: huggingface_hub's hf_hub_download (with hf_xet), then
#     the same load (when the venv exists)
# hubsim's store is kept in memory (read back after every drop of the page
# cache), as a CDN's would be. Every row starts with the page cache dropped; a download row's load uses
# whatever page cache the download left, as it would in practice.
# BENCH_MODEL_OTHER="/path/to/hubfs ..." adds the four mount rows for each of
# those binaries (e.g. builds of earlier commits: other1-full, other1-slice,
# other2-...), on the same hubsim and model.
#   scripts/bench-model.sh [BUILD_DIR]
#   env: BENCH_MODEL_LAYERS (40), BENCH_MODEL_HIDDEN (1024), BENCH_MODEL_SEED (1),
#        BENCH_MODEL_OTHER, BENCH_MODEL_PEERS (1; 0 skips the download rows), KIT (BUILD_DIR/conformance), PYENV (BUILD_DIR/pyenv/bin/python),
#        TMPDIR (work files: ~4 x the model of disk)
#   quick run: BENCH_MODEL_LAYERS=8 scripts/bench-model.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
HUBFS=$(realpath "$BUILD/bin/hubfs")
HUBSIM=$(realpath "$BUILD/bin/hubsim")
LAYERS=${BENCH_MODEL_LAYERS:-40}
HIDDEN=${BENCH_MODEL_HIDDEN:-1024}
SEED=${BENCH_MODEL_SEED:-1}
KIT=${KIT:-$BUILD/conformance}
PYENV=${PYENV:-$BUILD/pyenv/bin/python}
PY=/usr/bin/python3
LOADER=$(realpath tests/e2e/tensor_load.py)
source scripts/bench-lib.sh

say() { echo "bench-model: $*" >&2; }
die() { echo "bench-model: $*" >&2; exit 1; }
bench_check_mounting
[[ -d $KIT/node_modules/@huggingface/hub ]] ||
  die "the JS client kit is missing in $KIT: run scripts/setup-conformance.sh"
"$PY" -c 'import numpy' 2>/dev/null || die "$PY has no numpy: apt-get install python3-numpy"

bench_workdir hubfs-bench-model
mkdir -p "$T/src"

R=$T/results.txt  # "row ms needed fetched plans" lines
: >"$R"

t=$(bench_now)
"$PY" "$LOADER" write "$T/src" "$LAYERS" "$HIDDEN"
size=$(stat -c %s "$T/src/model.safetensors")
"$HUBSIM" import --data "$T/data" bench/model "$T/src" >/dev/null
say "model of $size bytes written and imported in $(bench_ms "$t" "$(bench_now)") ms"
bench_start_hubsim "$T/data" "$T/hubsim.log" || die "hubsim did not start"
bench_server_in_memory "$T/data"
export HF_ENDPOINT=$BENCH_HUB HF_TOKEN_PATH=$T/no-token HF_HUB_DISABLE_TELEMETRY=1
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_HUB_OFFLINE HUBFS_CACHE_DIR HF_HOME HF_XET_CACHE || true

# hubsim's store stays in memory (as a CDN's would) across every drop of the
# page cache (bench_server_in_memory); one read first, untimed, also loads
# hubsim's own indexes of the file and its xorbs.
"$HUBFS" cat --cache-dir "$T/cache-warmup" bench/model/model.safetensors >/dev/null ||
  die "warm-up read"
rm -rf "$T/cache-warmup"

# "BYTES PLANS": origin data bytes and reconstruction requests since the reset.
fetched() {
  curl -fsS "$BENCH_HUB/admin/counters" | "$PY" -c '
import json, sys
c = json.load(sys.stdin)
print(sum(v["bytes"] for v in c.get("data", {}).values()),
      c.get("cas", {}).get("reconstruction", {}).get("requests", 0))'
}
needed_of() { "$PY" -c 'import json, sys; print(json.loads(sys.argv[1])["bytes_needed"])' "$1"; }

# mount_row NAME HUBFS_BINARY [LOADER ARGS...]: a cold mount, the load, its
# wall time (the Python process included) and the origin bytes.
n=0
mount_row() {
  local name=$1 bin=$2 t0 out ms
  shift 2
  n=$((n + 1))
  "$bin" mount bench/model "$MNT" --cache-dir "$T/cache-$n" --io-timeout 30 || die "mount ($name)"
  bench_drop_caches
  bench_counters_reset
  t0=$(bench_now)
  out=$("$PY" "$LOADER" load "$MNT/model.safetensors" --seed "$SEED" "$@") || die "load ($name)"
  ms=$(bench_ms "$t0" "$(bench_now)")
  tensors=$("$PY" -c 'import json, sys; print(json.loads(sys.argv[1])["tensors"])' "$out")
  echo "$name $ms $(needed_of "$out") $(fetched)" >>"$R"
  "$bin" unmount "$MNT" >/dev/null || die "unmount ($name)"
  rm -rf "$T/cache-$n"
  say "$name: $ms ms"
}

# download_row NAME CMD...: CMD downloads the file and prints its local path;
# then the same load from there. Wall time of both.
download_row() {
  local name=$1 t0 path out ms
  shift
  bench_drop_caches
  bench_counters_reset
  t0=$(bench_now)
  path=$("$@") || die "download ($name)"
  path=$(echo "$path" | tail -1)
  [[ $(stat -L -c %s "$path") == "$size" ]] || die "download ($name): wrong size"
  out=$("$PY" "$LOADER" load "$path" --seed "$SEED") || die "load ($name)"
  ms=$(bench_ms "$t0" "$(bench_now)")
  echo "$name $ms $(needed_of "$out") $(fetched)" >>"$R"
  say "$name: $ms ms"
}

js_download() {
  local dest=$T/js/model.safetensors script
  mkdir -p "$T/js"
  script=$T/js/download.mjs
  cat >"$script" <<JSEOF
import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
const hub = await import("$(realpath "$KIT")/node_modules/@huggingface/hub/dist/index.mjs");
const blob = await hub.downloadFile({ hubUrl: "$BENCH_HUB", repo: "bench/model", path: "model.safetensors" });
await pipeline(Readable.fromWeb(blob.stream()), createWriteStream("$dest"));
JSEOF
  node "$script" >&2 && echo "$dest"
}

hf_download() {
  HF_HOME=$T/hf-home "$PYENV" -c '
from huggingface_hub import hf_hub_download
print(hf_hub_download("bench/model", "model.safetensors"))'
}

mount_row "mount-full" "$HUBFS"
mount_row "mount-full8" "$HUBFS" --threads 8
mount_row "mount-slice" "$HUBFS" --slice 1/4
mount_row "mount-slice-random" "$HUBFS" --slice 1/4 --random 1
i=0
for other in ${BENCH_MODEL_OTHER:-}; do
  i=$((i + 1))
  mount_row "other$i-full" "$other"
  mount_row "other$i-full8" "$other" --threads 8
  mount_row "other$i-slice" "$other" --slice 1/4
  mount_row "other$i-slice-random" "$other" --slice 1/4 --random 1
done
[[ ${BENCH_MODEL_PEERS:-1} == 0 ]] || download_row "js+load" js_download
rm -rf "$T/js"
if [[ ${BENCH_MODEL_PEERS:-1} == 0 ]]; then
  :
elif [[ -x $PYENV ]] && "$PYENV" -c 'import hf_xet, huggingface_hub' 2>/dev/null; then
  download_row "hf_xet+load" hf_download
  rm -rf "$T/hf-home"
else
  say "no venv with huggingface_hub and hf_xet at $PYENV: hf_xet row skipped (scripts/setup-python.sh)"
fi

"$PY" - "$R" "$size" "${BENCH_MODEL_OTHER:-}" "$tensors" <<'PYEOF'
import sys
rows = {}
for line in open(sys.argv[1]):
    name, ms, needed, fetched, plans = line.split()
    rows[name] = (int(ms), int(needed), int(fetched), int(plans))
size = int(sys.argv[2])
print(f"model: {size / 2**20:.0f} MiB; other hubfs: {sys.argv[3] or '-'}")
print("| row | wall ms | MB/s of the bytes needed | needed MiB | origin MiB | origin / needed "
      "| plans |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for name, (ms, needed, fetched, plans) in rows.items():
    print(f"| {name} | {ms} | {needed / 1e6 / max(ms, 1) * 1000:.0f} | {needed / 2**20:.1f} | "
          f"{fetched / 2**20:.1f} | {fetched / max(needed, 1):.2f} | {plans} |")
print()
full = rows["mount-full"][0]
if "js+load" not in rows:
    print("(no download rows)")
for base in ["js+load", "hf_xet+load"] + [r for r in rows if r.startswith("other") and r.endswith("-full")]:
    if base in rows:
        print(f"mount-full vs {base}: {rows[base][0] / max(full, 1):.2f}x as fast")
for base in [r for r in rows if r.startswith("other") and r.endswith("-full8")]:
    print(f"mount-full8 vs {base}: {rows[base][0] / max(rows['mount-full8'][0], 1):.2f}x as fast")
for kind in ["-slice", "-slice-random"]:
    for base in [r for r in rows if r.startswith("other") and r.endswith(kind)]:
        mine = rows["mount" + kind]
        print(f"mount{kind} vs {base}: {rows[base][0] / max(mine[0], 1):.2f}x as fast, "
              f"origin bytes {mine[2] / max(rows[base][2], 1):.2f}x, plans {mine[3]} vs {rows[base][3]}")
# Design §8's selective-read bound, for the slice load: 1.1 x the bytes
# needed + about one kernel readahead window (1 MiB) per slice edge.
needed, tensors = rows["mount-slice"][1], int(sys.argv[4])
bound = 1.1 * needed + 2 * tensors * 2**20
print(f"slice bound (1.1 x needed + 1 MiB per slice edge): {bound / 2**20:.0f} MiB; "
      f"mount-slice fetched {rows['mount-slice'][2] / bound:.2f} of it")
PYEOF
