#!/usr/bin/env bash
# Copying a model folder out of a cold mount vs the official clients
# downloading it, in one run against hubsim on loopback (not a test). The
# folder: BENCH_FOLDER_SHARDS safetensors shards of BENCH_FOLDER_SHARD_MB MiB
# (U8 tensors of 16 MiB, random bytes) and about ten small files (config,
# tokenizer files, the shard index, a README). Rows, each cold (a fresh
# cache dir or client cache, the page cache dropped):
#   - cp-r         `cp -r` of the mounted folder to local disk (one file at a
#                  time, in directory order, each from offset 0 to its end)
#   - cp-r-off     the same with `--folder-readahead off` (only when the
#                  binary knows the option)
#   - hf_xet       huggingface_hub's snapshot_download (with hf_xet)
#   - js           @huggingface/hub's snapshotDownload (node)
# Every copy is compared with the original outside the timed part (first
# round). BENCH_REPEAT rounds, the rows in turn within a round; per row the
# median and the best wall time, MB/s of the folder's bytes over the median,
# the ratio of each baseline's median to the row's (> 1: the row is faster),
# and what hubsim's CAS and data origins served (median over the rounds).
# hubsim's store is kept in memory (read back after every drop of the page cache).
#   scripts/bench-folder.sh [BUILD_DIR]
#   env: BENCH_FOLDER_SHARDS (4), BENCH_FOLDER_SHARD_MB (256), BENCH_REPEAT (3),
#        BENCH_FOLDER_ROWS ("cp-r cp-r-off hf_xet js"), KIT (BUILD_DIR/conformance),
#        PYENV (BUILD_DIR/pyenv/bin/python), TMPDIR (work files: ~4 x the folder),
#        BENCH_FOLDER_FAULTS (hubsim faults for the timed rows, e.g.
#        "latency=20ms" for a round trip on every request, as to a remote Hub),
#        BENCH_FOLDER_MOUNT_OPTS (more `hubfs mount` options for the cp-r rows,
#        e.g. "--memory-limit 512M"; split at spaces)
#   quick run: BENCH_FOLDER_SHARD_MB=64 BENCH_REPEAT=2 scripts/bench-folder.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
HUBFS=$(realpath "$BUILD/bin/hubfs")
HUBSIM=$(realpath "$BUILD/bin/hubsim")
SHARDS=${BENCH_FOLDER_SHARDS:-4}
SHARD_MB=${BENCH_FOLDER_SHARD_MB:-256}
REPEAT=${BENCH_REPEAT:-3}
ROWS=${BENCH_FOLDER_ROWS:-cp-r cp-r-off hf_xet js}
KIT=${KIT:-$BUILD/conformance}
PYENV=${PYENV:-$BUILD/pyenv/bin/python}
PY=/usr/bin/python3
source scripts/bench-lib.sh

say() { echo "bench-folder: $*" >&2; }
die() { echo "bench-folder: $*" >&2; exit 1; }
bench_check_mounting

# Rows this machine can run.
rows=()
for r in $ROWS; do
  case $r in
    cp-r) rows+=("$r") ;;
    cp-r-off)
      if [[ $("$HUBFS" mount --help 2>&1 || true) == *--folder-readahead* ]]; then
        rows+=("$r")
      else
        say "this hubfs has no --folder-readahead: row cp-r-off skipped"
      fi
      ;;
    hf_xet)
      if [[ -x $PYENV ]] && "$PYENV" -c 'import hf_xet, huggingface_hub' 2>/dev/null; then
        rows+=("$r")
      else
        say "no venv with huggingface_hub and hf_xet at $PYENV: row hf_xet skipped (scripts/setup-python.sh)"
      fi
      ;;
    js)
      if [[ -d $KIT/node_modules/@huggingface/hub ]]; then
        rows+=("$r")
      else
        say "no JS client kit in $KIT: row js skipped (scripts/setup-conformance.sh)"
      fi
      ;;
    *) die "unknown row $r" ;;
  esac
done
[[ ${#rows[@]} -gt 0 ]] || die "no row to run"

bench_workdir hubfs-bench-folder
R=$T/results.txt  # "row round ms served_bytes" lines
: >"$R"

t=$(bench_now)
"$PY" - "$T/src" "$SHARDS" "$SHARD_MB" <<'PYEOF'
import json, os, random, struct, sys
root, shards, shard_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(root)
rng = random.Random(7)
weight_map, total = {}, 0
for s in range(shards):
    name = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
    header, off, left, i = {"__metadata__": {"format": "pt"}}, 0, shard_mb << 20, 0
    while left > 0:
        n = min(left, 16 << 20)
        key = "layers.%d.w%d" % (s, i)
        header[key] = {"dtype": "U8", "shape": [n], "data_offsets": [off, off + n]}
        weight_map[key] = name
        off, left, i = off + n, left - n, i + 1
    total += off
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(root, name), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for _ in range(off >> 20):
            f.write(rng.randbytes(1 << 20))
def dump(name, obj):
    with open(os.path.join(root, name), "w") as f:
        json.dump(obj, f, indent=1)
dump("model.safetensors.index.json", {"metadata": {"total_size": total}, "weight_map": weight_map})
dump("config.json", {"model_type": "bench", "hidden_size": 4096, "num_hidden_layers": shards})
dump("generation_config.json", {"do_sample": True, "temperature": 0.6})
dump("special_tokens_map.json", {"bos_token": "<s>", "eos_token": "</s>"})
dump("tokenizer_config.json", {"model_max_length": 8192, "tokenizer_class": "BenchTokenizer"})
vocab = {"tok%d" % i: i for i in range(100000)}
dump("vocab.json", vocab)
with open(os.path.join(root, "tokenizer.json"), "w") as f:
    json.dump({"version": "1.0", "model": {"type": "BPE", "vocab": vocab}}, f)
with open(os.path.join(root, "merges.txt"), "w") as f:
    f.write("#version: 0.2\n" + "".join("tok%d tok%d\n" % (i, i + 1) for i in range(50000)))
with open(os.path.join(root, "README.md"), "w") as f:
    f.write("# bench model\n\nRandom weights.\n")
PYEOF
size=$(du -sb --apparent-size "$T/src" | cut -f1)
files=$(find "$T/src" -type f | wc -l)
"$HUBSIM" import --data "$T/data" bench/model "$T/src" >/dev/null
say "folder of $files files, $size bytes, written and imported in $(bench_ms "$t" "$(bench_now)") ms"
bench_start_hubsim "$T/data" "$T/hubsim.log" || die "hubsim did not start"
bench_server_in_memory "$T/data"
export HF_ENDPOINT=$BENCH_HUB HF_TOKEN_PATH=$T/no-token HF_HUB_DISABLE_TELEMETRY=1 \
  HF_HUB_DISABLE_PROGRESS_BARS=1
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_HUB_OFFLINE HUBFS_CACHE_DIR HF_HOME HF_XET_CACHE \
  HF_HUB_CACHE HF_HUB_DISABLE_XET || true

# hubsim's store stays in memory (as a CDN's would) across every drop of the
# page cache (bench_server_in_memory); one read first, untimed, also loads
# hubsim's own indexes of the files and their xorbs.
for f in "$T"/src/*; do
  "$HUBFS" cat --cache-dir "$T/cache-warmup" "bench/model/$(basename "$f")" >/dev/null ||
    die "warm-up read of $f"
done
rm -rf "$T/cache-warmup"
if [[ -n ${BENCH_FOLDER_FAULTS:-} ]]; then
  curl -fsS -X POST --data "$BENCH_FOLDER_FAULTS" "$BENCH_HUB/admin/faults" >/dev/null ||
    die "hubsim refused faults '$BENCH_FOLDER_FAULTS'"
fi

served() {
  curl -fsS "$BENCH_HUB/admin/counters" | "$PY" -c '
import json, sys
c = json.load(sys.stdin)
print(sum(v.get("bytes", 0) for o in ("cas", "data") for v in c.get(o, {}).values()))'
}

# same_tree DIR: DIR holds exactly the folder (hubsim adds .gitattributes).
same_tree() {
  diff -rq -x .gitattributes "$1" "$T/src" >&2 || die "copy in $1 differs from the folder"
}

cat >"$T/js.mjs" <<JSEOF
const hub = await import("$(realpath "$KIT")/node_modules/@huggingface/hub/dist/index.mjs");
console.log(await hub.snapshotDownload({ hubUrl: process.env.HF_ENDPOINT, repo: "bench/model",
                                         cacheDir: process.argv[2] }));
JSEOF

# run_row ROW ROUND: one cold run of ROW; appends its line to $R.
run_row() {
  local row=$1 round=$2 d=$T/run t0 ms out
  rm -rf "$d"
  mkdir -p "$d"
  case $row in
    cp-r) "$HUBFS" mount bench/model "$MNT" --cache-dir "$d/cache" --io-timeout 30 \
            ${BENCH_FOLDER_MOUNT_OPTS:-} ||
            die "mount ($row)" ;;
    cp-r-off) "$HUBFS" mount bench/model "$MNT" --cache-dir "$d/cache" --io-timeout 30 \
                --folder-readahead off ${BENCH_FOLDER_MOUNT_OPTS:-} || die "mount ($row)" ;;
  esac
  bench_drop_caches
  bench_counters_reset
  t0=$(bench_now)
  case $row in
    cp-r | cp-r-off) cp -r "$MNT/." "$d/copy" || die "cp -r ($row)" ;;
    hf_xet) out=$(HF_HOME=$d/hf "$PYENV" -c '
from huggingface_hub import snapshot_download
print(snapshot_download("bench/model"))') || die "snapshot_download" ;;
    js) out=$(node "$T/js.mjs" "$d/js") || die "js snapshotDownload" ;;
  esac
  ms=$(bench_ms "$t0" "$(bench_now)")
  echo "$row $round $ms $(served)" >>"$R"
  case $row in
    cp-r | cp-r-off) "$HUBFS" unmount "$MNT" >/dev/null || die "unmount ($row)" ;;
  esac
  if [[ $round == 1 ]]; then
    case $row in
      cp-r | cp-r-off) same_tree "$d/copy" ;;
      *) same_tree "$(echo "$out" | tail -1)" ;;
    esac
  fi
  rm -rf "$d"
  say "round $round, $row: $ms ms"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$REPEAT"); do
  for row in "${rows[@]}"; do run_row "$row" "$round"; done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

"$PY" - "$R" "$size" "$files" "$SHARDS" "$SHARD_MB" "$load_before" "$load_after" \
  "${BENCH_FOLDER_FAULTS:-}" "${BENCH_FOLDER_MOUNT_OPTS:-}" <<'PYEOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    row, _, ms, served = line.split()
    runs.setdefault(row, []).append((int(ms), int(served)))
size, files = int(sys.argv[2]), int(sys.argv[3])
print(f"folder: {files} files, {size / 2**20:.0f} MiB ({sys.argv[4]} shards of {sys.argv[5]} MiB); "
      f"hubsim faults: {sys.argv[8] or '-'}; mount options: {sys.argv[9] or '-'}; rounds: {len(next(iter(runs.values())))}; "
      f"load average before {sys.argv[6]}, after {sys.argv[7]}")
med = {r: statistics.median_low([ms for ms, _ in v]) for r, v in runs.items()}
bases = [b for b in ("hf_xet", "js") if b in runs]
head = "| row | median ms | best ms | all ms | MB/s (median) | origin MiB | origin / folder |"
head += "".join(f" vs {b} |" for b in bases)
print(head)
print("| --- " * (7 + len(bases)) + "|")
for r, v in runs.items():
    served = statistics.median_low([s for _, s in v])
    line = (f"| {r} | {med[r]} | {min(ms for ms, _ in v)} | {' '.join(str(ms) for ms, _ in v)} | "
            f"{size / 1e6 / max(med[r], 1) * 1000:.0f} | {served / 2**20:.1f} | {served / size:.2f} |")
    line += "".join(f" {med[b] / max(med[r], 1):.2f}x |" for b in bases)
    print(line)
PYEOF
