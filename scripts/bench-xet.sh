#!/usr/bin/env bash
# Xet hashing throughput on one core: `hubfs xet hash` vs single-threaded
# b3sum and sha256sum on the same 1 GiB random file (page cache warm, best of
# N runs, all pinned to one CPU), then the Google Benchmark micro-benchmarks.
#   scripts/bench-xet.sh            SIZE_MIB=1024 RUNS=3 CPU=0 override
# Other processes on the machine disturb the timings: repeat, and compare the
# ratios measured in the same run rather than absolute numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
HUBFS=$BUILD_DIR/bin/hubfs
BENCH=$BUILD_DIR/bin/xet_hash_bench
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
CPU=${CPU:-0}
for tool in "$HUBFS" "$BENCH"; do
  [[ -x $tool ]] || { echo "bench-xet: $tool not built (scripts/build.sh)" >&2; exit 1; }
done
for tool in b3sum sha256sum taskset; do
  command -v $tool >/dev/null || { echo "bench-xet: $tool not installed" >&2; exit 1; }
done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FILE=$TMP/random.bin
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$FILE"
BYTES=$(stat -c %s "$FILE")
cat "$FILE" >/dev/null  # warm the page cache for every tool alike
LOAD=$(cut -d" " -f1-3 /proc/loadavg)

# best_of CMD...: "<wall s> <cpu s>", the smallest of each over $RUNS runs.
# CPU time (user + sys) is less disturbed by other load than wall time.
best_of() {
  local TIMEFORMAT='%R %U %S' times=""
  for ((i = 0; i < RUNS; i++)); do
    times+=$({ time taskset -c "$CPU" "$@" >/dev/null 2>&1; } 2>&1)$'\n'
  done
  awk 'NF == 3 { w = $1; c = $2 + $3
                 if (bw == "" || w < bw) bw = w
                 if (bc == "" || c < bc) bc = c }
       END { printf "%.3f %.3f\n", bw, bc }' <<<"$times"
}

read -r w_hubfs c_hubfs < <(best_of "$HUBFS" xet hash "$FILE")
read -r w_json c_json < <(best_of "$HUBFS" xet hash --json "$FILE")
read -r w_b3 c_b3 < <(best_of b3sum --num-threads 1 "$FILE")
read -r w_sha c_sha < <(best_of sha256sum "$FILE")

gbps() { awk -v b="$BYTES" -v t="$1" 'BEGIN { printf "%.2f", b / t / 1e9 }'; }
row() {  # row NAME WALL CPU
  printf '| %s | %.2f | %s | %.2f | %s | %.2f | %.2f |\n' "$1" "$2" "$(gbps "$2")" "$3" \
    "$(gbps "$3")" "$(awk -v a="$2" -v b="$w_b3" 'BEGIN { print a / b }')" \
    "$(awk -v a="$3" -v b="$c_b3" 'BEGIN { print a / b }')"
}
echo
echo "1 file of $SIZE_MIB MiB, page cache warm, pinned to CPU $CPU, best of $RUNS" \
  "(load average before: $LOAD)"
echo
echo "| command | wall s | GB/s (wall) | cpu s | GB/s (cpu) | wall / b3sum | cpu / b3sum |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
row '`hubfs xet hash`' "$w_hubfs" "$c_hubfs"
row '`hubfs xet hash --json` (+SHA-256, chunk list)' "$w_json" "$c_json"
row '`b3sum --num-threads 1`' "$w_b3" "$c_b3"
row '`sha256sum`' "$w_sha" "$c_sha"
echo
echo "Target (design §8): hubfs xet hash >= 1 GB/s on one core (<= ~5x b3sum)."
echo
taskset -c "$CPU" "$BENCH" --benchmark_min_time=0.5 ${BENCH_ARGS:-}
