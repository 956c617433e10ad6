#!/usr/bin/env bash
# Read-path benchmark against hubsim on loopback, all in one run:
#   1. `hubfs cat` of a SIZE_MB Xet file to /dev/null, cold cache and warm cache
#   2. curl fetching exactly the data ranges of the file's reconstruction, 8 in parallel
#   3. the official JS client's downloadFile of the same file (when the conformance kit's
#      node_modules are present: KIT=dir holding node_modules/@huggingface/hub)
#   4. the whole file through a 64 MiB cache: rate, peak anonymous RSS
#   5. scattered small reads: N random 4 KiB `hubfs cat --range` on a cold cache,
#      bytes fetched versus bytes asked for
#   6. (root, /dev/fuse) a cold sequential read through a mount with --memory-limit
#      MEMORY_LIMIT: rate, the daemon's peak anonymous RSS, its `hubfs status` counters
# The cat lines also give the process's CPU seconds (user + system): on a shared machine
# they are steadier than the rates.
# usage: scripts/bench-reader.sh [BUILD_DIR]
#   env: SIZE_MB (1024), READS (50), KIT, MEMORY_LIMIT (128M)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
HUBFS=$BUILD/bin/hubfs
HUBSIM=$BUILD/bin/hubsim
SIZE_MB=${SIZE_MB:-1024}
READS=${READS:-50}
KIT=${KIT:-$BUILD/conformance}
PY=/usr/bin/python3
[ -x "$HUBFS" ] && [ -x "$HUBSIM" ] || { echo "build hubfs and hubsim first" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubfs-bench-XXXXXX")
pid=
mounted=
cleanup() {
  [ -n "$mounted" ] && "$HUBFS" unmount "$tmp/mnt" >/dev/null 2>&1
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/src"
"$PY" - "$tmp/src/big.bin" "$SIZE_MB" <<'PYEOF'
import random, sys
r = random.Random(1)
with open(sys.argv[1], "wb") as f:
    for _ in range(int(sys.argv[2])):
        f.write(r.randbytes(1 << 20))
PYEOF
size=$(stat -c %s "$tmp/src/big.bin")
"$HUBSIM" import --data "$tmp/data" bench/model "$tmp/src" >/dev/null
"$HUBSIM" serve --data "$tmp/data" --listen 127.0.0.1:0 >"$tmp/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$tmp/serve.log" && break; sleep 0.1; done
HUB=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$tmp/serve.log" | head -1)
export HF_ENDPOINT=$HUB HF_HOME=$tmp/hfhome
unset HF_TOKEN HF_HUB_OFFLINE || true

secs() { "$PY" -c 'import sys,time; print(f"{time.time():.3f}")'; }
rate() { "$PY" -c "import sys; b=$1; t=$2; print(f'{t:7.2f} s  {b/t/1e6:8.1f} MB/s')"; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }

echo "file: $size bytes; hubsim at $HUB"
# 1. hubfs cold / warm
export HUBFS_CACHE_DIR=$tmp/cache
# CPU seconds (user + system) of a command, when /usr/bin/time is there.
cpu_of() {
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%U %S" -o "$tmp/cpu" "$@" >/dev/null
    awk '{printf "  cpu %.2f s (user %.2f, sys %.2f)", $1 + $2, $1, $2}' "$tmp/cpu"
  else
    "$@" >/dev/null
  fi
}
t0=$(secs); c=$(cpu_of "$HUBFS" cat bench/model/big.bin); t1=$(secs)
cold=$("$PY" -c "print($t1-$t0)")
echo "hubfs cat cold            $(rate "$size" "$cold")$c"
# A cold cat caches what its disk keeps up with: warm the rest (untimed).
"$HUBFS" prefetch bench/model/big.bin >/dev/null
drop_caches
t0=$(secs); c=$(cpu_of "$HUBFS" cat bench/model/big.bin); t1=$(secs)
warm=$("$PY" -c "print($t1-$t0)")
echo "hubfs cat warm            $(rate "$size" "$warm")$c"
drop_caches
t0=$(secs); cat "$tmp/src/big.bin" >/dev/null; t1=$(secs)
echo "local file (caches dropped)$(rate "$size" "$("$PY" -c "print($t1-$t0)")")"

# 2. curl: the plan's ranges, 8 at a time
tok=$(curl -fsS "$HUB/api/models/bench/model/xet-read-token/main")
cas=$(echo "$tok" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["casUrl"])')
access=$(echo "$tok" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')
xet=$("$HUBFS" ls -l bench/model >/dev/null; curl -fsS "$HUB/api/models/bench/model/tree/main" |
      "$PY" -c 'import json,sys; print([e for e in json.load(sys.stdin) if e["path"]=="big.bin"][0]["xetHash"])')
curl -fsS -H "Authorization: Bearer $access" "$cas/v2/reconstructions/$xet" >"$tmp/recon.json"
"$PY" - "$tmp/recon.json" >"$tmp/ranges.txt" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
for entries in r["xorbs"].values():
    for e in entries:
        for rg in e["ranges"]:
            print(f'{rg["bytes"]["start"]}-{rg["bytes"]["end"]} {e["url"]}')
PYEOF
t0=$(secs)
xargs -P 8 -L 1 sh -c 'curl -fsS -o /dev/null -H "Range: bytes=$0" "$1"' <"$tmp/ranges.txt"
t1=$(secs)
fetched=$("$PY" -c "import sys; print(sum(int(l.split()[0].split('-')[1])-int(l.split()[0].split('-')[0])+1 for l in open('$tmp/ranges.txt')))")
echo "curl ranges x8 ($(wc -l <"$tmp/ranges.txt") ranges) $(rate "$fetched" "$("$PY" -c "print($t1-$t0)")")"

# 3. JS client
if [ -d "$KIT/node_modules/@huggingface/hub" ]; then
  cat >"$tmp/dl.mjs" <<JSEOF
const hub = await import("$(realpath "$KIT")/node_modules/@huggingface/hub/dist/index.mjs");
const blob = await hub.downloadFile({ hubUrl: "$HUB", repo: "bench/model", path: "big.bin" });
const buf = Buffer.from(await blob.arrayBuffer());
if (buf.length !== $size) { console.error("short", buf.length); process.exit(1); }
JSEOF
  t0=$(secs); node "$tmp/dl.mjs"; t1=$(secs)
  echo "JS downloadFile           $(rate "$size" "$("$PY" -c "print($t1-$t0)")")"
else
  echo "JS downloadFile           skipped (no $KIT/node_modules; run scripts/setup-conformance.sh)"
fi

# 4. bounded: the whole file through a 64 MiB cache
export HUBFS_CACHE_DIR=$tmp/cache-small
t0=$(secs)
"$HUBFS" cat --cache-size 64M bench/model/big.bin >/dev/null &
cat_pid=$!
anon=0
while kill -0 "$cat_pid" 2>/dev/null; do
  a=$(awk '/^RssAnon:/ {print $2}' "/proc/$cat_pid/status" 2>/dev/null || echo 0)
  [ -n "$a" ] && [ "$a" -gt "$anon" ] && anon=$a
  sleep 0.05
done
wait "$cat_pid"
t1=$(secs)
echo "64 MiB cache: cat $(rate "$size" "$("$PY" -c "print($t1-$t0)")"), peak anonymous RSS $((anon / 1024)) MiB, cache dir $(du -sm "$HUBFS_CACHE_DIR" | cut -f1) MiB"

# 5. scattered 4 KiB reads, cold cache
export HUBFS_CACHE_DIR=$tmp/cache-scatter
asked=0; got=0
t0=$(secs)
for i in $(seq "$READS"); do
  off=$("$PY" -c "import random; r=random.Random($i); print(r.randrange(0, $size - 4096))")
  line=$(HUBFS_READER_STATS=1 "$HUBFS" cat --range "$off-$((off + 4096))" bench/model/big.bin 2>&1 >/dev/null | grep reads=)
  b=$(echo "$line" | sed -n 's/.*data_bytes=\([0-9]*\).*/\1/p')
  asked=$((asked + 4096)); got=$((got + b))
done
t1=$(secs)
echo "scattered 4 KiB reads: $READS reads, asked $asked B, fetched $got B (x$("$PY" -c "print(round($got/$asked,1))")), $("$PY" -c "print(round(($t1-$t0)/$READS*1000,1))") ms per read incl. process start"

# 6. through a mount, cold, within a memory limit
if [ "$(id -u)" = 0 ] && [ -c /dev/fuse ]; then
  export HUBFS_CACHE_DIR=$tmp/cache-mount
  mkdir -p "$tmp/mnt"
  "$HUBFS" mount bench/model "$tmp/mnt" --memory-limit "${MEMORY_LIMIT:-128M}" && mounted=1
  dpid=$(basename "$(ls "$HUBFS_CACHE_DIR"/mounts/*.json | head -1)" .json)  # <pid>.json
  t0=$(secs)
  cat "$tmp/mnt/big.bin" >/dev/null &
  cat_pid=$!
  anon=0
  while kill -0 "$cat_pid" 2>/dev/null; do
    a=$(awk '/^RssAnon:/ {print $2}' "/proc/$dpid/status" 2>/dev/null || echo 0)
    [ -n "$a" ] && [ "$a" -gt "$anon" ] && anon=$a
    sleep 0.05
  done
  wait "$cat_pid"
  t1=$(secs)
  echo "mount, --memory-limit ${MEMORY_LIMIT:-128M}: cold read $(rate "$size" "$("$PY" -c "print($t1-$t0)")"), daemon peak anonymous RSS $((anon / 1024)) MiB"
  sleep 2.5  # the daemon refreshes its status every 2 s
  "$HUBFS" status --cache-dir "$HUBFS_CACHE_DIR" | grep -E '^  (reads|fetching):'
  "$HUBFS" unmount "$tmp/mnt" && mounted=
else
  echo "mount                     skipped (needs root and /dev/fuse)"
fi
