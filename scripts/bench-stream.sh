#!/usr/bin/env bash
# Files larger than the cache (not a test): random Xet files of several sizes
# streamed through a mount whose chunk cache is limited to BENCH_STREAM_CACHE,
# in one run against hubsim on loopback (root: it mounts and drops the page
# cache). Rows:
#   - stream N MiB: a cold sequential read of an N MiB file in 1 MiB reads
#     (fresh cache dir, page cache dropped), MB/s, the daemon's peak RssAnon,
#     the cache dir's size on disk afterwards, and the ratio of its rate to the
#     first (smallest) size's rate in the same run (target >= 0.9)
#   - working set: a BENCH_STREAM_WS_MB file read twice 15 s apart (so its
#     chunks are protected, docs/CACHE_FORMAT.md "Admission"), then the largest
#     file streamed on the same mount, then the working set read again: the
#     bytes that last read fetched from the CAS (target: none — one scan of a
#     file larger than the cache does not evict the working set)
# BENCH_REPEAT rounds of the stream rows, interleaved; medians and best runs.
#   scripts/bench-stream.sh [BUILD_DIR]
#   env: BENCH_STREAM_SIZES ("1024 4096 16384", MiB), BENCH_STREAM_CACHE (2G),
#        BENCH_STREAM_WS_MB (256), BENCH_REPEAT (1),
#        TMPDIR (work files: about twice the sum of the sizes of disk)
#   quick run: BENCH_STREAM_SIZES="256 1024" BENCH_STREAM_CACHE=512M scripts/bench-stream.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
HUBFS=$(realpath "$BUILD/bin/hubfs")
HUBSIM=$(realpath "$BUILD/bin/hubsim")
read -r -a SIZES <<<"${BENCH_STREAM_SIZES:-1024 4096 16384}"
CACHE_SIZE=${BENCH_STREAM_CACHE:-2G}
WS_MB=${BENCH_STREAM_WS_MB:-256}
REPEAT=${BENCH_REPEAT:-1}
PY=/usr/bin/python3
source scripts/bench-lib.sh

say() { echo "bench-stream: $*" >&2; }
die() { echo "bench-stream: $*" >&2; exit 1; }
bench_check_mounting
((${#SIZES[@]} > 0)) || die "BENCH_STREAM_SIZES is empty"

bench_workdir hubfs-bench-stream
R=$T/results.txt  # "key value" lines
: >"$R"
put() { echo "$1 $2" >>"$R"; }

# --- inputs: one repo per file, each written, imported and deleted in turn
t=$(bench_now)
for mb in "${SIZES[@]}" ws; do
  n=$([[ $mb == ws ]] && echo "$WS_MB" || echo "$mb")
  mkdir -p "$T/src/$mb"
  head -c $((n << 20)) /dev/urandom >"$T/src/$mb/f.bin"
  "$HUBSIM" import --data "$T/data" "bench/s$mb" "$T/src/$mb" >/dev/null
  rm -rf "${T:?}/src/$mb"
done
say "files of ${SIZES[*]} and $WS_MB MiB imported in $(bench_ms "$t" "$(bench_now)") ms"
bench_start_hubsim "$T/data" "$T/hubsim.log" || die "hubsim did not start"
export HF_ENDPOINT=$BENCH_HUB HF_HOME=$T/hfhome HF_TOKEN_PATH=$T/no-token
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_HUB_OFFLINE HUBFS_CACHE_DIR || true

MPID=
MCACHE=
mount_fresh() {  # SOURCE: mounts with a fresh, limited cache dir
  MCACHE=$T/cache
  rm -rf "$MCACHE"
  "$HUBFS" mount "$1" "$MNT" --cache-dir "$MCACHE" --cache-size "$CACHE_SIZE" --io-timeout 30 ||
    die "mount $1"
  MPID=$(basename "$(ls "$MCACHE"/mounts/*.json | head -1)" .json)
  [[ -n $MPID ]] || die "no mount state in $MCACHE/mounts"
}
unmount() {  # and waits for the daemon, which may still write its cache dir
  "$HUBFS" unmount "$MNT" >/dev/null || die "unmount"
  bench_wait_exit "$MPID" || die "the daemon (pid $MPID) did not exit after its unmount"
}
seqread() { "$PY" scripts/bench/read_trace.py "$1"; }

stream() {  # MB: a cold read of bench/sMB's file on a fresh mount
  local t0 pid peak
  mount_fresh "bench/s$1"
  bench_drop_caches
  t0=$(bench_now)
  seqread "$MNT/f.bin" >/dev/null &
  pid=$!
  peak=$(bench_peak_rss_anon "$MPID" "$pid")
  wait "$pid" || die "streaming bench/s$1 failed"
  put "ms_$1" "$(bench_ms "$t0" "$(bench_now)")"
  put "rss_$1" $((peak / 1024))
  unmount
  put "disk_$1" "$(du -sm "$MCACHE" | cut -f1)"
  rm -rf "$MCACHE"
}

for round in $(seq 1 "$REPEAT"); do
  for mb in "${SIZES[@]}"; do
    stream "$mb"
    say "round $round: $mb MiB streamed"
  done
done

# --- the working set survives one scan of the largest file
largest=${SIZES[-1]}
MCACHE=$T/cache
ws_mount() {  # SOURCE: the same cache dir, kept
  "$HUBFS" mount "$1" "$MNT" --cache-dir "$MCACHE" --cache-size "$CACHE_SIZE" --io-timeout 30 ||
    die "mount $1"
  MPID=$(basename "$(ls -t "$MCACHE"/mounts/*.json | head -1)" .json)
}
rm -rf "$MCACHE"
ws_mount bench/sws
seqread "$MNT/f.bin" >/dev/null
sleep 15  # past promote_after: the second read protects the working set
bench_drop_caches
seqread "$MNT/f.bin" >/dev/null
unmount
ws_mount "bench/s$largest"
seqread "$MNT/f.bin" >/dev/null
unmount
ws_mount bench/sws
bench_drop_caches
bench_counters_reset
seqread "$MNT/f.bin" >/dev/null
put ws_refetched "$(bench_data_bytes)"
unmount
put ws_disk "$(du -sm "$MCACHE" | cut -f1)"

"$PY" - "$R" "$REPEAT" "$CACHE_SIZE" "$WS_MB" "$largest" "${SIZES[@]}" <<'PYEOF'
import statistics, sys
path, repeat, cache, ws_mb, largest = sys.argv[1:6]
sizes = [int(s) for s in sys.argv[6:]]
vals = {}
for line in open(path):
    k, v = line.split()
    vals.setdefault(k, []).append(float(v))
def rate(mb, ms):
    return mb * 1048576 / 1e6 / (ms / 1000)
base = rate(sizes[0], statistics.median(vals["ms_%d" % sizes[0]]))
print("streams through a %s cache, %s round(s), hubsim on loopback" % (cache, repeat))
print("| row | median MB/s | best MB/s | vs %d MiB | peak RssAnon MiB | cache dir MiB |" % sizes[0])
print("| --- | ---: | ---: | ---: | ---: | ---: |")
worst = None
for mb in sizes:
    ms = vals["ms_%d" % mb]
    med = rate(mb, statistics.median(ms))
    best = rate(mb, min(ms))
    ratio = med / base
    if mb != sizes[0]:
        worst = ratio if worst is None else min(worst, ratio)
    print("| stream %d MiB | %.0f | %.0f | %.2fx | %d | %d |" % (
        mb, med, best, ratio, max(vals["rss_%d" % mb]), max(vals["disk_%d" % mb])))
if worst is not None:
    print("larger files vs the %d MiB rate: %.2fx at worst (target >= 0.9)" % (sizes[0], worst))
refetched = vals["ws_refetched"][0]
print("working set of %s MiB after one scan of the %s MiB file: %.1f MiB fetched again "
      "(target 0), cache dir %d MiB" % (ws_mb, largest, refetched / 1048576, vals["ws_disk"][0]))
PYEOF
