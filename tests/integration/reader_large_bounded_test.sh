#!/usr/bin/env bash
# A 4 GiB Xet file read whole with `hubfs cat --cache-size 64M` into sha256sum:
#   - the bytes' SHA-256 matches the source, and hubfs exits 0 (a whole-file
#     cat also checks the Xet file hash itself)
#   - hubfs's anonymous memory (RssAnon, sampled) stays <= 256 MiB
#   - the cache directory stays <= CACHE_DIR_BOUND (see below) throughout
# The source is AES-CTR keystream (incompressible, no repeated chunk, so no
# dedup shortcut), streamed through sha256sum while it is written, imported
# with `hubsim import`, and deleted right after. Disk use peaks at about
# 2 × 4 GiB (source + hubsim's xorbs) during the import and is removed at the
# end, also on failure.
# usage: reader_large_bounded_test.sh HUBFS HUBSIM [SIZE]   (SIZE default 4G)
set -euo pipefail
source "$(dirname "$0")/../lib/hubsim.sh"
source "$(dirname "$0")/../lib/workdir.sh"
HUBFS=$1
HUBSIM=$2
SIZE=${3:-4G}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

MIB=$((1 << 20))
CACHE_SIZE_MIB=64
RSS_ANON_BOUND=$((256 * MIB))
# The cache stores at most --cache-size bytes (keys + values, enforced in
# every write transaction). LMDB is copy-on-write: pages freed by eviction
# become reusable only once no transaction can still see them, so the file
# holds the live 64 MiB plus up to about one more cache's worth of freed,
# not yet reused pages, plus B-tree branch pages and the lock file. Twice the
# cache size plus 32 MiB bounds that; a free list that fragments under
# eviction churn would show up here as growth towards the 4x + 64 MiB map
# limit.
CACHE_DIR_BOUND=$(((2 * CACHE_SIZE_MIB + 32) * MIB))

reader_pid=
workdir_cleanup_extra() {
  if [ -n "$reader_pid" ]; then kill "$reader_pid" 2>/dev/null || true; wait "$reader_pid" 2>/dev/null || true; fi
}
workdir_setup reader-large
now() { date +%s.%N; }
since() { "$PY" -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.1f}")' "$1" "$(now)"; }

# --- the source: SIZE bytes of AES-128-CTR keystream, hashed on the way to disk
want_bytes=$("$PY" -c 'import sys; s=sys.argv[1]; print(int(s[:-1]) << {"K":10,"M":20,"G":30}[s[-1]] if s[-1] in "KMG" else int(s))' "$SIZE")
avail=$(df -B1 --output=avail "$tmp" | tail -1 | tr -d ' ')
if [ "$avail" -lt $((2 * want_bytes + (1 << 30))) ]; then
  # Not a failure of hubfs: the machine lacks the scratch space. ctest reports
  # the test as skipped (SKIP_RETURN_CODE 77), never as passed.
  echo "SKIP: needs $((2 * want_bytes + (1 << 30))) free bytes in ${TMPDIR:-/tmp}, has $avail" >&2
  exit 77
fi
mkdir -p "$tmp/src"
t0=$(now)
if command -v openssl >/dev/null; then
  # openssl dies of SIGPIPE once head has enough; that is expected.
  { openssl enc -aes-128-ctr -nosalt -K 68756266732d6c617267652d74657374 -iv 0 </dev/zero 2>/dev/null || true; } |
    head -c "$SIZE" | tee "$tmp/src/large.bin" | sha256sum | cut -d' ' -f1 >"$tmp/want.sha256"
else
  "$PY" - "$SIZE" <<'PYEOF' | tee "$tmp/src/large.bin" | sha256sum | cut -d' ' -f1 >"$tmp/want.sha256"
import sys, numpy as np
s = sys.argv[1]
n = int(s[:-1]) << {"K": 10, "M": 20, "G": 30}[s[-1]] if s[-1] in "KMG" else int(s)
g = np.random.Generator(np.random.PCG64(20261128))
while n > 0:
    k = min(n, 64 << 20)
    sys.stdout.buffer.write(g.bytes(k))
    n -= k
PYEOF
fi
size=$(stat -c %s "$tmp/src/large.bin")
want=$(cat "$tmp/want.sha256")
[ "$size" = "$want_bytes" ] || fail "generated $size bytes, wanted $want_bytes"
echo "generated $size bytes in $(since "$t0") s (sha256 $want)"

t0=$(now)
"$HUBSIM" import --data "$tmp/data" org/large "$tmp/src" >"$tmp/import.log" 2>&1 ||
  fail "hubsim import: $(cat "$tmp/import.log")"
echo "hubsim import took $(since "$t0") s"
rm -f "$tmp/src/large.bin"
# Only the xorbs of this one file are stored: hubsim did not dedup it.
stored=$(du -sB1 "$tmp/data/cas/xorbs" | cut -f1)
[ "$stored" -ge "$size" ] || fail "hubsim stored only $stored bytes of xorbs for $size bytes of random data"

hubsim_start "$tmp/data" "$tmp/serve.log" || fail "hubsim did not start"
HUB=$HUBSIM_URL
export HF_ENDPOINT=$HUB HF_HOME=$tmp/hfhome
unset HF_TOKEN HF_HUB_OFFLINE HUBFS_CACHE_DIR || true
cache=$tmp/cache

"$HUBFS" ls -l org/large >"$tmp/ls.txt" || fail "ls -l"
grep -q " $size xet large.bin$" "$tmp/ls.txt" || fail "ls -l: $(cat "$tmp/ls.txt")"

# --- the read: hubfs -> fifo -> sha256sum, with hubfs's memory (RssAnon every
# 0.1 s; VmHWM is the kernel's own peak of the total RSS, which also counts
# the cache's mapped LMDB pages) and the cache directory (every 0.5 s)
# sampled while it runs.
mkfifo "$tmp/pipe"
sha256sum <"$tmp/pipe" | cut -d' ' -f1 >"$tmp/got.sha256" &
sum_pid=$!
t0=$(now)
"$HUBFS" cat --cache-dir "$cache" --cache-size "${CACHE_SIZE_MIB}M" org/large/large.bin \
  >"$tmp/pipe" 2>"$tmp/cat.err" &
reader_pid=$!
peak_anon=0 peak_hwm=0 peak_cache=0 samples=0
cache_bytes() {  # allocated bytes under the cache directory
  du -sB1 "$cache" 2>/dev/null | cut -f1 || echo 0
}
while kill -0 "$reader_pid" 2>/dev/null; do
  if st=$(cat "/proc/$reader_pid/status" 2>/dev/null); then
    anon=$(awk '/^RssAnon:/ {print $2 * 1024}' <<<"$st")
    hwm=$(awk '/^VmHWM:/ {print $2 * 1024}' <<<"$st")
    [ -n "$anon" ] && [ "$anon" -gt "$peak_anon" ] && peak_anon=$anon
    [ -n "$hwm" ] && [ "$hwm" -gt "$peak_hwm" ] && peak_hwm=$hwm
  fi
  if [ $((samples % 5)) -eq 0 ]; then
    c=$(cache_bytes)
    [ "$c" -gt "$peak_cache" ] && peak_cache=$c
  fi
  samples=$((samples + 1))
  sleep 0.1
done
rc=0
wait "$reader_pid" || rc=$?
reader_pid=
read_s=$(since "$t0")
wait "$sum_pid" || fail "sha256sum failed"
c=$(cache_bytes)
[ "$c" -gt "$peak_cache" ] && peak_cache=$c
[ "$rc" = 0 ] || fail "hubfs cat exited $rc: $(cat "$tmp/cat.err")"
got=$(cat "$tmp/got.sha256")

mb() { "$PY" -c 'import sys; print(f"{int(sys.argv[1]) / 1048576:.1f} MiB")' "$1"; }
echo "hubfs cat: $size bytes in $read_s s; peak RssAnon $(mb "$peak_anon"), peak VmHWM (total RSS incl." \
  "mapped cache pages) $(mb "$peak_hwm"), peak cache dir $(mb "$peak_cache") ($samples samples)"
[ "$got" = "$want" ] || fail "sha256 of the streamed bytes $got != source $want"
[ "$samples" -ge 3 ] || fail "too few memory samples ($samples) to judge"
[ "$peak_anon" -gt 0 ] || fail "no RssAnon sample"
[ "$peak_anon" -le "$RSS_ANON_BOUND" ] || fail "peak RssAnon $(mb "$peak_anon") > $(mb "$RSS_ANON_BOUND")"
[ "$peak_cache" -le "$CACHE_DIR_BOUND" ] || fail "cache directory reached $(mb "$peak_cache") > $(mb "$CACHE_DIR_BOUND")"
# The cache's own accounting: it holds chunks (the bound is not met by caching
# nothing) and no more than --cache-size in all.
"$HUBFS" cache ls --cache-dir "$cache" >"$tmp/cache-ls.txt" 2>&1 || fail "cache ls: $(cat "$tmp/cache-ls.txt")"
chunk_bytes=$(awk '$1 == "chunk" {print $3}' "$tmp/cache-ls.txt")
total_bytes=$(awk '$1 == "total" {print $3}' "$tmp/cache-ls.txt")
[ -n "$chunk_bytes" ] && [ -n "$total_bytes" ] || fail "unexpected cache ls output: $(cat "$tmp/cache-ls.txt")"
echo "cache holds $(mb "$total_bytes") ($(mb "$chunk_bytes") of chunks)"
[ "$total_bytes" -le $((CACHE_SIZE_MIB * MIB)) ] || fail "cache holds $total_bytes bytes > --cache-size"
[ "$chunk_bytes" -ge $((CACHE_SIZE_MIB * MIB / 2)) ] || fail "cache holds only $chunk_bytes bytes of chunks"
echo "reader_large_bounded_test: OK"
