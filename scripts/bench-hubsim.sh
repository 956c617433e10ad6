#!/usr/bin/env bash
# Benchmarks hubsim's data plane and listing (numbers, not assertions):
#  1. 8 parallel range GETs of presigned xorb URLs (one whole ~64 MiB xorb each,
#     the ranges a v1 reconstruction issues) with curl on loopback, vs reading
#     the same stored bytes from the local files in the same run; hubsim CPU
#     seconds per GB served.
#  2. First page of a 10 000-file repo's tree listing (plain and expand=true).
#   scripts/bench-hubsim.sh [SIZE_MIB=512] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${HUBSIM_BIN:-build/bin/hubsim}
SIZE_MIB=${1:-512}
ROUNDS=${2:-3}
[[ -x $BIN ]] || { echo "build hubsim first (scripts/build.sh)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/hubsim-bench.XXXXXX")
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)

echo "== fixtures"
mkdir -p "$work/big" "$work/many"
head -c $((SIZE_MIB << 20)) /dev/urandom >"$work/big/weights.bin"
t0=$(now)
"$BIN" import --data "$work/data" bench/big "$work/big" >/dev/null
t1=$(now)
printf 'import of %d MiB (chunk + hash + LZ4 + store): %.2f s\n' "$SIZE_MIB" "$(echo "$t1 - $t0" | bc)"
for i in $(seq 0 9999); do printf 'file %d\n' "$i" >"$work/many/f$(printf %05d "$i").txt"; done
t0=$(now)
"$BIN" import --data "$work/data" bench/many "$work/many" >/dev/null
t1=$(now)
printf 'import of 10000 small files: %.2f s\n' "$(echo "$t1 - $t0" | bc)"

"$BIN" serve --data "$work/data" --listen 127.0.0.1:0 >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 100); do grep -q '^hubsim listening' "$work/out" 2>/dev/null && break; sleep 0.05; done
H=$(sed -n 's/^hubsim listening on //p' "$work/out")

echo "== data plane: 8 parallel range GETs"
tok=$(curl -s "$H/api/models/bench/big/xet-read-token/main")
xet=$(curl -s -o /dev/null -D - "$H/bench/big/resolve/main/weights.bin" \
  -H 'Accept: application/vnd.xet-fileinfo+json' | sed -n 's/^[Xx]-[Xx]et-[Hh]ash: //p' | tr -d '\r')
node -e '
  const t = JSON.parse(process.argv[1]);
  fetch(`${t.casUrl}/v1/reconstructions/${process.argv[2]}`, { headers: { Authorization: `Bearer ${t.accessToken}` } })
    .then((r) => r.json())
    .then((j) => {
      for (const [h, entries] of Object.entries(j.fetch_info))
        for (const e of entries) console.log(`${h} ${e.url_range.start} ${e.url_range.end} ${e.url}`);
    });' "$tok" "$xet" | head -8 >"$work/ranges"
n=$(wc -l <"$work/ranges")
total=$(awk '{s += $3 - $2 + 1} END {print s}' "$work/ranges")
printf '%d ranges, %.1f MiB in total\n' "$n" "$(echo "$total / 1048576" | bc -l)"
best_http=0
for r in $(seq 1 "$ROUNDS"); do
  c0=$(cpu_ticks "$pid")
  t0=$(now)
  while read -r h a b url; do
    curl -s -o /dev/null -H "Range: bytes=$a-$b" "$url" &
  done <"$work/ranges"
  wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
  t1=$(now)
  c1=$(cpu_ticks "$pid")
  gbps=$(echo "$total / ($t1 - $t0) / 1000000000" | bc -l)
  cpu=$(echo "($c1 - $c0) / $tck" | bc -l)
  printf 'round %d: hubsim %.2f GB/s, %.3f CPU s (%.3f CPU s/GB)\n' "$r" "$gbps" "$cpu" \
    "$(echo "$cpu / ($total / 1000000000)" | bc -l)"
  best_http=$(echo "if ($gbps > $best_http) $gbps else $best_http" | bc -l)
done
best_file=0
for r in $(seq 1 "$ROUNDS"); do
  t0=$(now)
  while read -r h a b url; do
    dd if="$work/data/cas/xorbs/${h:0:2}/$h" of=/dev/null bs=1M status=none &
  done <"$work/ranges"
  wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
  t1=$(now)
  gbps=$(echo "$total / ($t1 - $t0) / 1000000000" | bc -l)
  printf 'round %d: plain file read (8 x dd, page cache warm) %.2f GB/s\n' "$r" "$gbps"
  best_file=$(echo "if ($gbps > $best_file) $gbps else $best_file" | bc -l)
done
printf 'best: hubsim %.2f GB/s, plain read %.2f GB/s, ratio %.2f\n' "$best_http" "$best_file" \
  "$(echo "$best_http / $best_file" | bc -l)"

echo "== listing: first page of a 10000-file repo"
for q in "" "?expand=true"; do
  times=()
  for _ in $(seq 1 20); do
    times+=("$(curl -s -o "$work/page" -w '%{time_total}' "$H/api/models/bench/many/tree/main$q")")
  done
  entries=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).length)' "$work/page")
  med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 10p)
  printf 'tree/main%s: %d entries, median %.2f ms over 20\n' "$q" "$entries" "$(echo "$med * 1000" | bc -l)"
done
