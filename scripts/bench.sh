#!/usr/bin/env bash
# The design §8 benchmark, all in one run against hubsim on loopback (root:
# it mounts and drops the page cache). Every timed case runs BENCH_REPEAT
# times, the runs interleaved, each cold one from an empty chunk cache and a
# dropped page cache. Prints a markdown table on stdout (per row: the median
# and the best run, and a ratio of medians against its baseline measured in
# the same run) and writes it to BENCH_OUT with a JSON of every sample, the
# medians and minima, and two PNGs (gnuplot; skipped with a message without
# it); their paths go to stderr:
#   - sequential read of a BENCH_SIZE_MB Xet file, cold (empty chunk cache) and
#     warm (chunk cache full, page caches dropped on both sides), through the
#     mount vs `hubfs cat` vs the official JS client's downloadFile vs curl
#     fetching the plan's data ranges 8 at a time vs a local copy; every
#     sequential read is 1 MiB reads by scripts/bench/read_trace.py; the page
#     cache's growth over the cold and the warm read through the mount
#     (Cached in /proc/meminfo) vs the bytes read; each cold run vs the first;
#     a no-op FUSE file of the same size (bench/fuse_noop: the kernel's FUSE
#     path alone, the ceiling of any read through a mount)
#   - re-open with the page cache warm: the daemon's reader calls (every FUSE
#     read of a Xet file makes at least one; from <cache>/mounts/<pid>.json),
#     vs the local copy with its page cache warm
#   - fio 4 KiB random reads of the file, cold, warm (chunk cache full, page
#     cache dropped) and of the local copy: p50, p99, IOPS, HTTP requests per
#     cold read (hubsim counters)
#   - selective reads: a safetensors header + 2 small tensors of a
#     BENCH_SIZE_MB file, bytes fetched vs needed (once: bytes, not time)
#   - find, du, ls -lR of a BENCH_FILES-file repo, cold and warm, with
#     requests, vs the same on the local tree
#   - peak anonymous RSS (RssAnon) of the daemon while streaming a
#     BENCH_STREAM_MB file through the mount, and its rate vs curl
#   - `hubfs xet hash` of the BENCH_SIZE_MB file on one core vs single-threaded
#     b3sum (when installed)
#   - bench-<time>-throughput.png: MB/s over time (per 100 ms) of the cold,
#     warm and streaming reads through the mount (the median run of each);
#     bench-<time>-latency.png: the fio latency percentiles, cold vs warm vs
#     local (median runs); the plotted data beside them (.dat)
#   - then scripts/bench-peers.sh (unless BENCH_PEERS=0), its own table and
#     JSON: the official Python client (hf_xet) vs the mount and `hubfs cat`
#     on a BENCH_SIZE_MB file and a 4-shard model folder of the same total size
# Every cold case drops the page cache first and then reads hubsim's store
# back into memory (bench_server_in_memory): cold is the client side's
# cold, the server's store in memory as a CDN's would be (design §8).
# usage: scripts/bench.sh [BUILD_DIR]
#   env: BENCH_SIZE_MB (1024), BENCH_STREAM_MB (4096), BENCH_FILES (10000),
#        BENCH_FIO_SECS (15), BENCH_REPEAT (3), BENCH_PEERS (1), BENCH_OUT (BUILD_DIR/bench),
#        KIT (BUILD_DIR/conformance),
#        TMPDIR (work files: ~3 x BENCH_SIZE_MB + 3 x BENCH_STREAM_MB of disk)
#   memory: hubsim's store (~2 x BENCH_SIZE_MB + BENCH_STREAM_MB) stays in the
#   page cache beside the reads (~3 x BENCH_SIZE_MB); with less available, the
#   kernel takes the store's pages back during the rows (said at the start)
#   quick run: BENCH_SIZE_MB=256 BENCH_STREAM_MB=512 BENCH_FIO_SECS=5 BENCH_REPEAT=2 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
HUBFS=$(realpath "$BUILD/bin/hubfs")
HUBSIM=$(realpath "$BUILD/bin/hubsim")
NOOP=$BUILD/bin/fuse_noop
SIZE_MB=${BENCH_SIZE_MB:-1024}
STREAM_MB=${BENCH_STREAM_MB:-4096}
NFILES=${BENCH_FILES:-10000}
FIO_SECS=${BENCH_FIO_SECS:-15}
REPEAT=${BENCH_REPEAT:-3}
OUT=${BENCH_OUT:-$BUILD/bench}
KIT=${KIT:-$BUILD/conformance}
PY=/usr/bin/python3
source scripts/bench-lib.sh

say() { echo "bench: $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }
bench_check_mounting
command -v fio >/dev/null ||
  die "fio is not installed: run scripts/install-deps.sh (or apt-get install fio)"
[[ -d $KIT/node_modules/@huggingface/hub ]] ||
  die "the JS client kit is missing in $KIT: run scripts/setup-conformance.sh"
"$PY" -c 'import numpy' 2>/dev/null || die "$PY has no numpy: apt-get install python3-numpy"

bench_workdir hubfs-bench
mkdir -p "$OUT"

R=$T/results.txt  # "key value" lines, a key once per run, turned into the table and JSON at the end
RUNS=$T/runs     # read traces and fio JSONs per run, for the plots
: >"$R"
mkdir -p "$RUNS"
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
bench_server_in_memory "$T/data"
store_mib=$(($(du -sk "$T/data" | cut -f1) / 1024))
avail_mib=$(($(awk '$1 == "MemAvailable:" { print $2 }' /proc/meminfo) / 1024))
((avail_mib > store_mib + 3 * SIZE_MB)) ||
  say "note: $avail_mib MiB available for hubsim's store ($store_mib MiB) and the reads ($((3 * SIZE_MB)) MiB): cold rows may find the store partly on disk"
export HF_ENDPOINT=$BENCH_HUB HF_HOME=$T/hfhome HF_TOKEN_PATH=$T/no-token
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_HUB_OFFLINE HUBFS_CACHE_DIR || true
say "hubsim at $BENCH_HUB; file $size bytes"

MPID=
MCACHE=
mount_fresh() {  # SOURCE CACHE_NAME: mounts with a fresh cache dir of that name
  MCACHE=$T/cache-$2
  "$HUBFS" mount "$1" "$MNT" --cache-dir "$MCACHE" --io-timeout 30 || die "mount $1"
  MPID=$(basename "$(ls "$MCACHE"/mounts/*.json | head -1)" .json)
  [[ -n $MPID ]] || die "no mount state in $MCACHE/mounts"
}
unmount() {  # and drops the cache dir: every run starts from an empty one
  "$HUBFS" unmount "$MNT" >/dev/null || die "unmount"
  bench_wait_exit "$MPID" || die "the daemon (pid $MPID) did not exit after its unmount"
  rm -rf "$MCACHE"
}
timed_ms() {  # CMD...: runs it, prints its wall time in ms
  local t0
  t0=$(bench_now)
  "$@" >/dev/null
  bench_ms "$t0" "$(bench_now)"
}
seqread() { "$PY" scripts/bench/read_trace.py "$@"; }  # FILE [TRACE]: dd bs=1M, traced
state() {  # KEY from the daemon's record, after its next refresh (every 2 s)
  mount_record_fresh "$MCACHE/mounts/$MPID.json" "$1" || die "the daemon's record ($MPID) was not rewritten"
}
put curl_bytes "$(bench_xet_ranges bench/model main big.bin "$T/ranges")"
put curl_ranges "$(wc -l <"$T/ranges")"

# Re-open with the page cache warm. Pages can leave the page cache between the
# read that filled it and the re-open (a drop_caches or reclaim elsewhere on
# the machine): the residency just before is reported, and a re-open that
# did not start from a fully resident file is tried again (3 times at most).
resident() { fincore -b -n -o RES,SIZE "$MNT/big.bin" | awk '{printf "%.3f %s", 100 * $1 / $2, $1 == $2}'; }
reopen() {
  local attempt res full ms r0 r1
  for attempt in 1 2 3; do
    cat "$MNT/big.bin" >/dev/null
    r0=$(state reads)
    read -r res full <<<"$(resident)"
    ms=$(timed_ms seqread "$MNT/big.bin")
    r1=$(state reads)
    ((full)) && break
    say "re-open: $res% resident before (attempt $attempt), $((r1 - r0)) reader calls"
  done
  put reopen_resident_pct "$res"
  put reopen_ms "$ms"
  put reopen_reader_calls $((r1 - r0))
}

# The page cache's size (KiB): its growth over a read through the mount is
# the mount's own pages plus whatever the chunk cache's files left there.
cached_kib() { awk '$1 == "Cached:" { print $2 }' /proc/meminfo; }

sequential() {  # RUN
  local c0
  mount_fresh bench/model "seq-$1"
  bench_drop_caches
  c0=$(cached_kib)
  put mount_cold_ms "$(timed_ms seqread "$MNT/big.bin" "$RUNS/trace-mount_cold-$1")"
  put cold_cache_growth $((($(cached_kib) - c0) * 1024))
  # A cold read through the page cache caches what the cache's disk keeps up
  # with, not always all: warm the rest first (untimed; prefetch reads
  # O_DIRECT, which caches every chunk).
  "$HUBFS" prefetch "$MNT/big.bin" >/dev/null
  bench_drop_caches --no-server
  c0=$(cached_kib)
  put mount_warm_ms "$(timed_ms seqread "$MNT/big.bin" "$RUNS/trace-mount_warm-$1")"
  put warm_cache_growth $((($(cached_kib) - c0) * 1024))
  if (($1 == 1)); then
    [[ $(sha256sum <"$MNT/big.bin") == $(sha256sum <"$T/src/big/big.bin") ]] || die "mounted big.bin differs"
  fi
  reopen
  unmount
  bench_drop_caches
  put cat_cold_ms "$(timed_ms "$HUBFS" cat --cache-dir "$T/cache-cat" bench/model/big.bin)"
  # A cold cat caches what its disk keeps up with, not always all: warm the
  # rest first (untimed).
  "$HUBFS" prefetch --cache-dir "$T/cache-cat" bench/model/big.bin >/dev/null
  bench_drop_caches --no-server
  put cat_warm_ms "$(timed_ms "$HUBFS" cat --cache-dir "$T/cache-cat" bench/model/big.bin)"
  rm -rf "$T/cache-cat"
  bench_drop_caches
  put curl_ms "$(timed_ms bench_curl_ranges "$T/ranges")"
  bench_drop_caches
  put js_ms "$(timed_ms bench_js_download "$KIT" bench/model big.bin "$size")"
  bench_drop_caches --no-server
  put local_ms "$(timed_ms seqread "$T/src/big/big.bin")"
  put local_hot_ms "$(timed_ms seqread "$T/src/big/big.bin")"
  noop_read
}

# The kernel's FUSE read path alone (bench/fuse_noop answers reads from
# memory, with hubfs's read-ahead and background settings): the ceiling of a
# sequential read through any FUSE mount here, page cache dropped.
noop_read() {
  if [[ ! -x $NOOP ]]; then
    say "no $NOOP (built with HUBFS_BENCH=OFF?): no no-op FUSE row"
    return 0
  fi
  "$NOOP" "$MNT" "$size" &
  local pid=$! i
  for i in $(seq 1 50); do
    grep -qF " $MNT " /proc/self/mountinfo && break
    sleep 0.1
  done
  if ! grep -qF " $MNT " /proc/self/mountinfo; then
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    die "fuse_noop did not mount"
  fi
  echo 1024 >"/sys/class/bdi/$(mountpoint -d "$MNT")/read_ahead_kb"
  bench_drop_caches --no-server
  put noop_ms "$(timed_ms seqread "$MNT/data")"
  fusermount3 -u "$MNT" || die "fuse_noop: unmount"
  wait "$pid" || die "fuse_noop failed"
}

fio_rand() {  # FILE CASE RUN: 4 KiB random reads; JSON kept for the latency plot
  local json=$RUNS/fio-$2-$3.json
  fio --name=rand4k --filename="$1" --readonly --rw=randread --bs=4k --size="$size" \
    --ioengine=psync --numjobs=1 --runtime="$FIO_SECS" --time_based --fadvise_hint=1 \
    --randrepeat=0 --output-format=json >"$json" 2>"$T/fio.err" || die "fio: $(cat "$T/fio.err")"
  "$PY" scripts/bench/bench_report.py fio "$json" "fio_$2" >>"$R"
}
random_reads() {  # RUN: cold mount, then warm (chunk cache full), then the local file
  mount_fresh bench/model "fio-$1"
  bench_drop_caches
  bench_counters_reset
  fio_rand "$MNT/big.bin" cold "$1"
  put fio_cold_requests "$(bench_requests cas data)"
  "$HUBFS" prefetch "$MNT/big.bin" >/dev/null  # the chunk cache full
  bench_drop_caches --no-server
  fio_rand "$MNT/big.bin" warm "$1"
  unmount
  bench_drop_caches --no-server
  fio_rand "$T/src/big/big.bin" local "$1"
}

selective() {
  mount_fresh bench/st st
  bench_drop_caches
  bench_counters_reset
  put st_needed "$(BIG_MB=$SIZE_MB "$PY" tests/e2e/safetensors_check.py selective "$MNT")"
  put st_fetched "$(bench_data_bytes)"
  put st_size "$(stat -c %s "$MNT/big.safetensors")"
  unmount
}

list_cmd() {  # OP DIR
  case $1 in
    find) find "$2" ;;
    du) du -s "$2" ;;
    ls) ls -lR "$2" ;;
  esac
}
listing() {  # RUN: each op on a fresh mount, cold then warm, and on the local tree alike
  local op temp
  for op in find du ls; do
    mount_fresh datasets/bench/many "many-$op-$1"
    bench_drop_caches
    for temp in cold warm; do
      bench_counters_reset
      put "${op}_${temp}_ms" "$(timed_ms list_cmd "$op" "$MNT")"
      put "${op}_${temp}_tree" "$(curl -fsS "$BENCH_HUB/admin/counters" |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["hub"].get("tree", {}).get("requests", 0))')"
      put "${op}_${temp}_requests" "$(bench_requests hub cas data)"
    done
    unmount
    bench_drop_caches --no-server
    put "local_${op}_cold_ms" "$(timed_ms list_cmd "$op" "$T/src/many")"
    put "local_${op}_warm_ms" "$(timed_ms list_cmd "$op" "$T/src/many")"
  done
}

streaming() {  # RUN: peak anonymous RSS of the daemon while streaming
  local t0 pid peak
  mount_fresh bench/huge "huge-$1"
  bench_drop_caches
  t0=$(bench_now)
  seqread "$MNT/huge.bin" "$RUNS/trace-stream-$1" &
  pid=$!
  peak=$(bench_peak_rss_anon "$MPID" "$pid")
  wait "$pid" || die "streaming huge.bin failed"
  put stream_ms "$(bench_ms "$t0" "$(bench_now)")"
  put stream_rss_anon_mib $((peak / 1024))
  put stream_size $((STREAM_MB << 20))
  unmount
}

hashing() {  # on one core, the file in the page cache; single-threaded b3sum alike
  cat "$T/src/big/big.bin" >/dev/null
  put xet_hash_ms "$(timed_ms taskset -c 0 "$HUBFS" xet hash "$T/src/big/big.bin")"
  if command -v b3sum >/dev/null; then
    put b3sum_ms "$(timed_ms taskset -c 0 b3sum --num-threads 1 "$T/src/big/big.bin")"
  fi
}

# Runs interleave the cases, so a disturbance elsewhere on the machine spreads
# over them rather than landing on one.
for run in $(seq 1 "$REPEAT"); do
  sequential "$run"
  random_reads "$run"
  listing "$run"
  streaming "$run"
  hashing
  say "run $run of $REPEAT done"
done
selective  # bytes, not time: once
put many_files "$NFILES"
put many_dirs "$ndirs"

# --- table, JSON and plots
stamp=$(date -u +%Y%m%d-%H%M%S)
"$PY" scripts/bench/bench_report.py table "$R" "$size" "$OUT/bench-$stamp.json" "$OUT/bench-$stamp.md"
say "JSON: $OUT/bench-$stamp.json (table: $OUT/bench-$stamp.md)"
"$PY" scripts/bench/bench_plot.py "$R" "$RUNS" "$OUT/bench-$stamp" | sed 's/^/bench: plot: /' >&2

# --- the official Python client as a peer (a second table)
if [[ ${BENCH_PEERS:-1} != 0 ]]; then
  echo
  BENCH_OUT=$OUT BENCH_PEERS_FILE_MB=${BENCH_PEERS_FILE_MB:-$SIZE_MB} \
    BENCH_PEERS_SHARD_MB=${BENCH_PEERS_SHARD_MB:-$((SIZE_MB / 4))} scripts/bench-peers.sh "$BUILD"
fi
