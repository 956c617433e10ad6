#!/usr/bin/env bash
# The design §8 benchmark, all in one run against hubsim on loopback (root:
# it mounts and drops the page cache). Prints a markdown table on stdout and
# writes it, with a JSON of every number, to BENCH_OUT (paths on stderr):
#   - sequential read of a BENCH_SIZE_MB Xet file, cold (empty chunk cache) and
#     warm (chunk cache full, page caches dropped on both sides), through the
#     mount vs `hubfs cat` vs the official JS client's downloadFile vs curl
#     fetching the plan's data ranges 8 at a time vs a local copy
#   - re-open with the page cache warm: the daemon's reader calls (every FUSE
#     read of a Xet file makes at least one; from <cache>/mounts/<pid>.json)
#   - fio 4 KiB random reads of the cold file: p50, p99, IOPS, HTTP requests
#     per read (hubsim counters)
#   - selective reads: a safetensors header + 2 small tensors of a
#     BENCH_SIZE_MB file, bytes fetched vs needed
#   - find, du, ls -lR of a BENCH_FILES-file repo, cold and warm, with requests
#   - peak anonymous RSS (RssAnon) of the daemon while streaming a
#     BENCH_STREAM_MB file through the mount
#   - `hubfs xet hash` of the BENCH_SIZE_MB file on one core
#   - then scripts/bench-peers.sh (unless BENCH_PEERS=0), its own table and
#     JSON: the official Python client (hf_xet) vs the mount and `hubfs cat`
#     on a BENCH_SIZE_MB file and a 4-shard model folder of the same total size
# Every cold case drops the page cache first, so hubsim reads its store from
# disk for all of them alike.
# usage: scripts/bench.sh [BUILD_DIR]
#   env: BENCH_SIZE_MB (1024), BENCH_STREAM_MB (4096), BENCH_FILES (10000),
#        BENCH_FIO_SECS (15), BENCH_PEERS (1), BENCH_OUT (BUILD_DIR/bench), KIT (BUILD_DIR/conformance),
#        TMPDIR (work files: ~3 x BENCH_SIZE_MB + 3 x BENCH_STREAM_MB of disk)
#   quick run: BENCH_SIZE_MB=256 BENCH_STREAM_MB=512 BENCH_FIO_SECS=5 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
HUBFS=$(realpath "$BUILD/bin/hubfs")
HUBSIM=$(realpath "$BUILD/bin/hubsim")
SIZE_MB=${BENCH_SIZE_MB:-1024}
STREAM_MB=${BENCH_STREAM_MB:-4096}
NFILES=${BENCH_FILES:-10000}
FIO_SECS=${BENCH_FIO_SECS:-15}
OUT=${BENCH_OUT:-$BUILD/bench}
KIT=${KIT:-$BUILD/conformance}
PY=/usr/bin/python3
source scripts/bench-lib.sh

say() { echo "bench: $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }
[[ -x $HUBFS && -x $HUBSIM ]] || die "build hubfs and hubsim first (scripts/build.sh)"
[[ $(id -u) -eq 0 ]] || die "run as root: it mounts and drops the page cache"
[[ -e /dev/fuse ]] || die "/dev/fuse is missing"
command -v fio >/dev/null ||
  die "fio is not installed: run scripts/install-deps.sh (or apt-get install fio)"
[[ -d $KIT/node_modules/@huggingface/hub ]] ||
  die "the JS client kit is missing in $KIT: run scripts/setup-conformance.sh"
"$PY" -c 'import numpy' 2>/dev/null || die "$PY has no numpy: apt-get install python3-numpy"

T=$(mktemp -d "${TMPDIR:-/tmp}/hubfs-bench.XXXXXX")
MNT=$T/mnt
mkdir -p "$MNT" "$OUT"
BENCH_HUBSIM_PID=
cleanup() {
  local rc=$?
  set +e
  if grep -qF " $MNT " /proc/self/mountinfo; then
    "$HUBFS" unmount "$MNT" >/dev/null 2>&1 || fusermount3 -uz "$MNT" 2>/dev/null || umount -l "$MNT"
  fi
  [[ -n $BENCH_HUBSIM_PID ]] && { kill "$BENCH_HUBSIM_PID" 2>/dev/null; wait "$BENCH_HUBSIM_PID" 2>/dev/null; }
  if grep -qF " $MNT " /proc/self/mountinfo; then
    say "$MNT still mounted; leaving $T"
  else
    rm -rf "$T"
  fi
  exit $rc
}
trap cleanup EXIT

R=$T/results.txt  # "key value" lines, turned into the table and JSON at the end
: >"$R"
put() { echo "$1 $2" >>"$R"; }

# --- inputs
t=$(bench_now)
mkdir -p "$T/src/big" "$T/src/huge" "$T/src/many" "$T/src/st"
head -c $((SIZE_MB << 20)) /dev/urandom >"$T/src/big/big.bin"
size=$(stat -c %s "$T/src/big/big.bin")
head -c $((STREAM_MB << 20)) /dev/urandom >"$T/src/huge/huge.bin"
BIG_MB=$SIZE_MB "$PY" tests/e2e/safetensors_check.py write "$T/src/st"
rm "$T/src/st/model.safetensors" "$T/src/st/arrays.npy"
"$PY" - "$T/src/many" "$NFILES" <<'PYEOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = 100
for i in range(n):
    d = f"{root}/dir{i // per:04d}"
    if i % per == 0:
        os.makedirs(d)
    with open(f"{d}/file{i % per:03d}.txt", "w") as f:
        f.write(f"file {i}\n")
PYEOF
ndirs=$(find "$T/src/many" -type d | wc -l)
say "inputs written in $(bench_ms "$t" "$(bench_now)") ms"
t=$(bench_now)
"$HUBSIM" import --data "$T/data" bench/model "$T/src/big" >/dev/null
"$HUBSIM" import --data "$T/data" bench/huge "$T/src/huge" >/dev/null
"$HUBSIM" import --data "$T/data" bench/st "$T/src/st" >/dev/null
"$HUBSIM" import --data "$T/data" datasets/bench/many "$T/src/many" >/dev/null
say "hubsim import in $(bench_ms "$t" "$(bench_now)") ms"
rm "$T/src/huge/huge.bin" "$T/src/st/big.safetensors"  # not read locally; frees disk
bench_start_hubsim "$T/data" "$T/hubsim.log" || die "hubsim did not start"
export HF_ENDPOINT=$BENCH_HUB HF_HOME=$T/hfhome HF_TOKEN_PATH=$T/no-token
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_HUB_OFFLINE HUBFS_CACHE_DIR || true
say "hubsim at $BENCH_HUB; file $size bytes"

MPID=
mount_fresh() {  # SOURCE CACHE_NAME: mounts with a cache dir of that name
  "$HUBFS" mount "$1" "$MNT" --cache-dir "$T/cache-$2" --io-timeout 30 || die "mount $1"
  MPID=$(basename "$(ls "$T/cache-$2"/mounts/*.json | head -1)" .json)
  [[ -n $MPID ]] || die "no mount state in $T/cache-$2/mounts"
}
unmount() { "$HUBFS" unmount "$MNT" >/dev/null || die "unmount"; }
timed_ms() {  # CMD...: runs it, prints its wall time in ms
  local t0
  t0=$(bench_now)
  "$@" >/dev/null
  bench_ms "$t0" "$(bench_now)"
}
ddnull() { dd if="$1" of=/dev/null bs=1M status=none; }
state() {  # KEY from the daemon's state file, after its next refresh (every 2 s)
  local f=$T/cache-$1/mounts/$MPID.json before
  before=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["updated"])' "$f")
  for _ in $(seq 1 60); do
    sleep 0.1
    "$PY" -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["updated"] <= int(sys.argv[2]))' \
      "$f" "$before" 2>/dev/null && break
  done
  "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$f" "$2"
}

# --- sequential reads
mount_fresh bench/model seq
bench_drop_caches
put mount_cold_ms "$(timed_ms ddnull "$MNT/big.bin")"
bench_drop_caches
put mount_warm_ms "$(timed_ms ddnull "$MNT/big.bin")"
[[ $(sha256sum <"$MNT/big.bin") == $(sha256sum <"$T/src/big/big.bin") ]] || die "mounted big.bin differs"
# Re-open with the page cache warm. Pages can leave the page cache between the
# read that filled it and the re-open (a drop_caches or reclaim elsewhere on
# the machine): the residency just before is reported, and a re-open that
# did not start from a fully resident file is tried again (3 times at most).
resident() { fincore -b -n -o RES,SIZE "$MNT/big.bin" | awk '{printf "%.3f %s", 100 * $1 / $2, $1 == $2}'; }
for attempt in 1 2 3; do
  cat "$MNT/big.bin" >/dev/null
  r0=$(state seq reads)
  read -r res full <<<"$(resident)"
  ms=$(timed_ms ddnull "$MNT/big.bin")
  r1=$(state seq reads)
  ((full)) && break
  say "re-open: $res% resident before (attempt $attempt), $((r1 - r0)) reader calls"
done
put reopen_resident_pct "$res"
put reopen_ms "$ms"
put reopen_reader_calls $((r1 - r0))
unmount
say "mount: sequential done"

bench_drop_caches
put cat_cold_ms "$(timed_ms "$HUBFS" cat --cache-dir "$T/cache-cat" bench/model/big.bin)"
bench_drop_caches
put cat_warm_ms "$(timed_ms "$HUBFS" cat --cache-dir "$T/cache-cat" bench/model/big.bin)"
put curl_bytes "$(bench_xet_ranges bench/model main big.bin "$T/ranges")"
put curl_ranges "$(wc -l <"$T/ranges")"
bench_drop_caches
put curl_ms "$(timed_ms bench_curl_ranges "$T/ranges")"
bench_drop_caches
put js_ms "$(timed_ms bench_js_download "$KIT" bench/model big.bin "$size")"
bench_drop_caches
put local_ms "$(timed_ms ddnull "$T/src/big/big.bin")"
say "baselines done"

# --- random 4 KiB reads on a cold file
mount_fresh bench/model fio
bench_drop_caches
bench_counters_reset
fio --name=rand4k --filename="$MNT/big.bin" --readonly --rw=randread --bs=4k --size="$size" \
  --ioengine=psync --numjobs=1 --runtime="$FIO_SECS" --time_based --fadvise_hint=1 \
  --randrepeat=0 --output-format=json >"$T/fio.json" 2>"$T/fio.err" || die "fio: $(cat "$T/fio.err")"
put fio_requests "$(bench_requests cas data)"
"$PY" - "$T/fio.json" >>"$R" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))["jobs"][0]["read"]
p = r["clat_ns"]["percentile"]
print("fio_iops", round(r["iops"], 1))
print("fio_p50_us", round(p["50.000000"] / 1000, 1))
print("fio_p99_us", round(p["99.000000"] / 1000, 1))
print("fio_reads", r["total_ios"])
PYEOF
unmount
say "fio done"

# --- selective reads
mount_fresh bench/st st
bench_drop_caches
bench_counters_reset
put st_needed "$(BIG_MB=$SIZE_MB "$PY" tests/e2e/safetensors_check.py selective "$MNT")"
put st_fetched "$(curl -fsS "$BENCH_HUB/admin/counters" |
  "$PY" -c 'import json,sys; print(sum(v["bytes"] for v in json.load(sys.stdin).get("data", {}).values()))')"
put st_size "$(stat -c %s "$MNT/big.safetensors")"
unmount

# --- listing a NFILES-file repo
put many_files "$NFILES"
put many_dirs "$ndirs"
for op in find du ls; do
  case $op in
    find) cmd=(find "$MNT") ;;
    du) cmd=(du -s "$MNT") ;;
    ls) cmd=(ls -lR "$MNT") ;;
  esac
  mount_fresh datasets/bench/many "many-$op"
  bench_drop_caches
  for temp in cold warm; do
    bench_counters_reset
    put "${op}_${temp}_ms" "$(timed_ms "${cmd[@]}")"
    put "${op}_${temp}_tree" "$(curl -fsS "$BENCH_HUB/admin/counters" |
      "$PY" -c 'import json,sys; print(json.load(sys.stdin)["hub"].get("tree", {}).get("requests", 0))')"
    put "${op}_${temp}_requests" "$(bench_requests hub cas data)"
  done
  unmount
done
say "listing done"

# --- anonymous RSS while streaming
mount_fresh bench/huge huge
bench_drop_caches
t0=$(bench_now)
ddnull "$MNT/huge.bin" &
dd_pid=$!
peak=0
while kill -0 "$dd_pid" 2>/dev/null; do
  a=$(awk '/^RssAnon:/ {print $2}' "/proc/$MPID/status" 2>/dev/null || echo 0)
  ((a > peak)) && peak=$a
  sleep 0.05
done
wait "$dd_pid" || die "streaming huge.bin failed"
put stream_ms "$(bench_ms "$t0" "$(bench_now)")"
put stream_rss_anon_mib $((peak / 1024))
put stream_size $((STREAM_MB << 20))
unmount
say "streaming done"

# --- Xet hashing on one core (the file in the page cache)
cat "$T/src/big/big.bin" >/dev/null
put xet_hash_ms "$(timed_ms taskset -c 0 "$HUBFS" xet hash "$T/src/big/big.bin")"

# --- table and JSON
stamp=$(date -u +%Y%m%d-%H%M%S)
"$PY" - "$R" "$size" "$OUT/bench-$stamp.json" "$OUT/bench-$stamp.md" <<'PYEOF'
import json, sys
v = {}
for line in open(sys.argv[1]):
    k, x = line.split()
    v[k] = float(x)
size = int(sys.argv[2])
mbs = lambda ms: size / (ms / 1000) / 1e6
rows, targets = [], []
def row(name, value, detail=""):
    rows.append((name, value, detail))
def target(what, ok, measured):
    targets.append({"target": what, "measured": measured, "pass": bool(ok)})

mib = size >> 20
for key, name in [("mount_cold", "mount, cold"), ("mount_warm", "mount, warm (page caches dropped)"),
                  ("cat_cold", "hubfs cat, cold"), ("cat_warm", "hubfs cat, warm (page caches dropped)"),
                  ("js", "JS downloadFile"), ("local", "local file (page cache dropped)")]:
    row(f"{name}: {mib} MiB", f"{mbs(v[key + '_ms']):.0f} MB/s", f"{v[key + '_ms'] / 1000:.2f} s")
curl_mbs = v["curl_bytes"] / (v["curl_ms"] / 1000) / 1e6
row(f"curl, plan's {int(v['curl_ranges'])} ranges x8", f"{curl_mbs:.0f} MB/s",
    f"{v['curl_bytes'] / 1e6:.0f} MB in {v['curl_ms'] / 1000:.2f} s")
row("re-open, page cache warm", f"{int(v['reopen_reader_calls'])} reader calls",
    f"{mbs(v['reopen_ms']):.0f} MB/s; {v['reopen_resident_pct']:.3f}% resident before")
row("fio 4 KiB random reads, cold", f"{v['fio_iops']:.0f} IOPS",
    f"p50 {v['fio_p50_us']:.0f} us, p99 {v['fio_p99_us']:.0f} us; "
    f"{v['fio_requests'] / max(1, v['fio_reads']):.2f} HTTP requests per read ({int(v['fio_reads'])} reads)")
st_bound = 1.1 * v["st_needed"] + 4 * (1 << 20)
row(f"safetensors header + 2 tensors of {v['st_size'] / 2**20:.0f} MiB", f"{v['st_fetched'] / 1e6:.2f} MB fetched",
    f"needed {v['st_needed']:.0f} B; bound {st_bound / 1e6:.2f} MB")
for op, name in [("find", "find"), ("du", "du -s"), ("ls", "ls -lR")]:
    for temp in ("cold", "warm"):
        row(f"{name} of {int(v['many_files'])} files ({int(v['many_dirs'])} folders), {temp}",
            f"{v[f'{op}_{temp}_ms']:.0f} ms",
            f"{int(v[f'{op}_{temp}_requests'])} requests ({int(v[f'{op}_{temp}_tree'])} tree listings)")
row(f"stream {v['stream_size'] / 2**30:.1f} GiB through the mount",
    f"peak RssAnon {v['stream_rss_anon_mib']:.0f} MiB",
    f"{v['stream_size'] / (v['stream_ms'] / 1000) / 1e6:.0f} MB/s")
row(f"hubfs xet hash, {mib} MiB, one core", f"{mbs(v['xet_hash_ms']) / 1000:.2f} GB/s")

cold, warm = mbs(v["mount_cold_ms"]), mbs(v["mount_warm_ms"])
r = cold / mbs(v["cat_cold_ms"]); target("cold mount >= 0.70 x hubfs cat (no FUSE)", r >= 0.7, f"{r:.2f}x")
r = cold / curl_mbs; target("cold mount >= 0.50 x curl ranges x8", r >= 0.5, f"{r:.2f}x")
r = cold / mbs(v["js_ms"]); target("cold mount faster than JS downloadFile", r > 1, f"{r:.2f}x")
r = warm / mbs(v["local_ms"]); target("warm mount >= 0.80 x local file", r >= 0.8, f"{r:.2f}x")
target("re-open with warm page cache: 0 read upcalls", v["reopen_reader_calls"] == 0,
       f"{int(v['reopen_reader_calls'])} reader calls")
r = v["fio_requests"] / max(1, v["fio_reads"])
target("random 4 KiB read <= 2 HTTP round trips", r <= 2, f"{r:.2f} requests per read")
target("selective read <= 1.1 x needed + 1 MiB per tensor edge", v["st_fetched"] <= st_bound,
       f"{v['st_fetched'] / v['st_needed']:.0f}x needed, {v['st_fetched'] / st_bound:.2f} of the bound")
for op, name, temp, limit in [("find", "find", "warm", 50), ("du", "du", "warm", 50),
                              ("ls", "ls -lR", "cold", 1000), ("ls", "ls -lR", "warm", 200)]:
    ms = v[f"{op}_{temp}_ms"]
    target(f"{name} {temp} <= {limit} ms", ms <= limit, f"{ms:.0f} ms")
per_file = max(v[f"{op}_{t}_requests"] - v[f"{op}_{t}_tree"] for op in ("find", "du", "ls") for t in ("cold", "warm"))
tree = max(v[f"{op}_cold_tree"] for op in ("find", "du", "ls"))
target("listing: zero per-file requests", per_file == 0 and tree <= v["many_dirs"],
       f"{int(per_file)} non-listing requests; at most {int(tree)} listings for {int(v['many_dirs'])} folders")
target("RssAnon while streaming <= 256 MiB", v["stream_rss_anon_mib"] <= 256, f"{v['stream_rss_anon_mib']:.0f} MiB")
g = mbs(v["xet_hash_ms"]) / 1000
target("xet hash >= 1 GB/s per core", g >= 1, f"{g:.2f} GB/s")

md = ["| measurement | result | detail |", "| --- | --- | --- |"]
md += [f"| {a} | {b} | {c} |" for a, b, c in rows]
md += ["", "| §8 target | measured | |", "| --- | --- | --- |"]
md += [f"| {t['target']} | {t['measured']} | {'pass' if t['pass'] else 'MISS'} |" for t in targets]
text = "\n".join(md) + "\n"
open(sys.argv[4], "w").write(text)
json.dump({"file_size": size, "measurements": v, "targets": targets}, open(sys.argv[3], "w"), indent=1)
sys.stdout.write(text)
PYEOF
say "JSON: $OUT/bench-$stamp.json (table: $OUT/bench-$stamp.md)"

# --- the official Python client as a peer (a second table)
if [[ ${BENCH_PEERS:-1} != 0 ]]; then
  echo
  BENCH_OUT=$OUT BENCH_PEERS_FILE_MB=${BENCH_PEERS_FILE_MB:-$SIZE_MB} \
    BENCH_PEERS_SHARD_MB=${BENCH_PEERS_SHARD_MB:-$((SIZE_MB / 4))} scripts/bench-peers.sh "$BUILD"
fi
