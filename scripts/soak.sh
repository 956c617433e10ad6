#!/usr/bin/env bash
# Soak: mixed readers and writers on one writable mount of a hubsim repo,
# with hubsim's faults on, for a bounded time (root: it mounts). Shows the
# daemon's RSS, open descriptors, threads, inodes held and the cache size
# sampled over the run (they must stay flat), the reads that returned wrong
# bytes (must be 0), and - after the faults are turned off, `hubfs sync`
# and unmount - the acknowledged writes missing on the Hub (must be 0).
# With SOAK_VALGRIND=1 the daemon runs under valgrind's memcheck (use a
# short SOAK_SECONDS) and its summary is printed: errors and definitely
# lost bytes must be 0. With SOAK_HEAPTRACK=1 it runs under heaptrack
# instead, and heaptrack_print's summary (peak heap, peak RSS, leaked) and
# its largest peak contributors are printed.
# usage: scripts/soak.sh [BUILD_DIR]
#   env: SOAK_SECONDS (1200), SOAK_READERS (4), SOAK_WRITERS (2), SOAK_EVERY (10),
#        SOAK_FAULTS (error=0.03,reset=0.01,truncate=0.01,latency=1ms,seed=11),
#        SOAK_COMMIT_DELAY (10: the repo's budget of 128 commits an hour lasts
#        about 20 minutes of steady writing), SOAK_CACHE_SIZE (256M: the workload
#        outgrows it in a few minutes, so the cache's bound shows), SOAK_VALGRIND (0),
#        SOAK_HEAPTRACK (0),
#        SOAK_OUT (BUILD_DIR/soak)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
HUBFS=$(realpath "$BUILD/bin/hubfs")
HUBSIM=$(realpath "$BUILD/bin/hubsim")
SECONDS_TOTAL=${SOAK_SECONDS:-1200}
FAULTS=${SOAK_FAULTS:-error=0.03,reset=0.01,truncate=0.01,latency=1ms,seed=11}
OUT=${SOAK_OUT:-$BUILD/soak}
PY=/usr/bin/python3
TOKEN=hf_soak_token
say() { echo "soak: $*" >&2; }
die() { echo "soak: $*" >&2; exit 1; }
[[ -x $HUBFS && -x $HUBSIM ]] || die "build hubfs and hubsim first (scripts/build.sh)"
[[ $(id -u) -eq 0 ]] || die "run as root: it mounts"
if [[ ${SOAK_VALGRIND:-0} == 1 ]]; then
  command -v valgrind >/dev/null || die "valgrind is not installed (apt-get install valgrind)"
fi
if [[ ${SOAK_HEAPTRACK:-0} == 1 ]]; then
  command -v heaptrack >/dev/null || die "heaptrack is not installed (apt-get install heaptrack)"
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/hubfs-soak.XXXXXX")
MNT=$T/mnt
mkdir -p "$MNT" "$OUT" "$T/src/models" "$T/src/small"
SIM_PID= DAEMON_PID= SAMPLE_PID=
cleanup() {
  local rc=$?
  set +e
  if grep -qF " $MNT " /proc/self/mountinfo; then
    fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"
  fi
  [[ -n $DAEMON_PID ]] && kill -9 "$DAEMON_PID" 2>/dev/null
  [[ -n $SIM_PID ]] && { kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; }
  cp "$T/cache/hubfs-mount.log" "$OUT/soak-mount.log" 2>/dev/null
  cp "$T/hubsim.log" "$OUT/soak-hubsim.log" 2>/dev/null
  grep -qF " $MNT " /proc/self/mountinfo || rm -rf "$T"
  exit $rc
}
trap cleanup EXIT

# --- a repo: Xet files of a few sizes and small text files
for mb in 4 16 48; do head -c $((mb << 20)) /dev/urandom >"$T/src/models/w$mb.bin"; done
for i in $(seq 1 40); do head -c $((RANDOM * 3)) /dev/urandom >"$T/src/small/s$i.txt"; done
"$HUBSIM" import --data "$T/data" --user me me/soak "$T/src" >/dev/null
"$HUBSIM" serve --data "$T/data" --listen 127.0.0.1:0 --user "me:$TOKEN" --faults "$FAULTS" \
  >"$T/hubsim.out" 2>"$T/hubsim.log" &
SIM_PID=$!
for _ in $(seq 100); do grep -q "listening on" "$T/hubsim.out" && break; sleep 0.1; done
URL=$(awk '/listening on/ {print $4; exit}' "$T/hubsim.out")
[[ -n $URL ]] || die "hubsim did not start"
export HF_ENDPOINT=$URL HF_TOKEN=$TOKEN HF_HOME=$T/hfhome
unset HF_HUB_OFFLINE

# --- the mount (set-up requests face the faults too: a few attempts)
mount_args=(mount me/soak "$MNT" --rw --cache-dir "$T/cache" --commit-delay "${SOAK_COMMIT_DELAY:-10}"
            --cache-size "${SOAK_CACHE_SIZE:-256M}")
if [[ ${SOAK_VALGRIND:-0} == 1 || ${SOAK_HEAPTRACK:-0} == 1 ]]; then
  if [[ ${SOAK_VALGRIND:-0} == 1 ]]; then
    valgrind --leak-check=full --errors-for-leak-kinds=definite --num-callers=30 \
      --log-file="$T/valgrind.log" "$HUBFS" "${mount_args[@]}" -f 2>"$T/daemon.err" &
  else
    heaptrack -o "$T/heaptrack" "$HUBFS" "${mount_args[@]}" -f >"$T/heaptrack.out" 2>&1 &
  fi
  DAEMON_PID=$!
  for _ in $(seq 1200); do grep -qF " $MNT " /proc/self/mountinfo && break; sleep 0.1; done
  grep -qF " $MNT " /proc/self/mountinfo || die "the mount under the profiler did not come up"
  # heaptrack runs hubfs as its child: sample the process the mount records.
  for _ in $(seq 100); do ls "$T"/cache/mounts/*.json >/dev/null 2>&1 && break; sleep 0.1; done
  SAMPLE_PID=$(basename "$(ls "$T"/cache/mounts/*.json | head -1)" .json)
else
  for attempt in 1 2 3 4 5; do
    "$HUBFS" "${mount_args[@]}" 2>"$T/mount.err" && break
    say "mount attempt $attempt: $(cat "$T/mount.err")"
    [[ $attempt == 5 ]] && die "could not mount"
  done
  DAEMON_PID=$(basename "$(ls "$T"/cache/mounts/*.json | head -1)" .json)
  SAMPLE_PID=$DAEMON_PID
fi
say "mounted at $MNT (daemon $SAMPLE_PID), faults $FAULTS, ${SECONDS_TOTAL}s"

# --- the workload
"$PY" scripts/soak_workload.py --mnt "$MNT" --src "$T/src" --cache "$T/cache" \
  --pid "$SAMPLE_PID" --seconds "$SECONDS_TOTAL" --readers "${SOAK_READERS:-4}" \
  --writers "${SOAK_WRITERS:-2}" --every "${SOAK_EVERY:-10}" \
  --expect "$T/expect.json" --samples "$OUT/soak-samples.csv" >"$T/counts.json"

# --- faults off, everything committed, unmounted
curl -sf -X POST --data '' "$URL/admin/faults" >/dev/null || die "could not turn the faults off"
say "before sync: $("$HUBFS" status --cache-dir "$T/cache" | grep -E 'writes:' | sed 's/^ *//')"
t=$(date +%s%N)
"$HUBFS" sync "$MNT" 2>"$T/sync.err" || say "hubfs sync: $(cat "$T/sync.err")"
sync_s=$(( ($(date +%s%N) - t) / 1000000 ))e-3
"$HUBFS" unmount "$MNT" || die "unmount failed"
for _ in $(seq 600); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$DAEMON_PID" 2>/dev/null; then die "the daemon did not exit after unmount"; fi
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=

# --- the report
rc=0
"$PY" - "$T" "$URL" "$TOKEN" "$OUT/soak-samples.csv" "$sync_s" <<'PYEOF' || rc=$?
import csv, hashlib, json, os, statistics, sys, urllib.error, urllib.parse, urllib.request
T, url, token, samples_path, sync_s = sys.argv[1:6]
counts = json.load(open(os.path.join(T, "counts.json")))
expect = json.load(open(os.path.join(T, "expect.json")))
lost = []
for path, sha in expect.items():
    req = urllib.request.Request("%s/me/soak/resolve/main/%s" % (url, urllib.parse.quote(path)))
    req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            got = hashlib.sha256(r.read()).hexdigest()
    except urllib.error.HTTPError as e:
        got = None if e.code == 404 else "http %d" % e.code
    if got != sha:
        lost.append(path)
rows = list(csv.DictReader(open(samples_path)))
print("| measurement | value |")
print("| --- | --- |")
for k in ("reads", "read_bytes", "creates", "overwrites", "renames", "deletes", "fsyncs"):
    print("| %s | %s |" % (k, counts[k]))
print("| reads with wrong bytes (must be 0) | %d |" % counts["wrong_reads"])
print("| read errors (EIO after the deadline) | %d |" % counts["read_errors"])
print("| write / fsync errors | %d / %d |" % (counts["write_errors"], counts["fsync_errors"]))
print("| slowest operation of each kind | %s |" % ", ".join(
    "%s %.2f s" % kv for kv in sorted(counts["slowest"].items())))
print("| acknowledged changes missing on the Hub (must be 0) | %d of %d |" % (len(lost), len(expect)))
print("| hubfs sync after the faults stopped | %.1f s |" % float(sync_s))
print()
print("| gauge | first | at 25% | median | last | max |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for key, unit in (("VmRSS", "KiB"), ("RssAnon", "KiB"), ("fds", ""), ("Threads", ""),
                  ("inodes", ""), ("pending", ""), ("commits", ""), ("cache_mb", "MiB")):
    vals = [float(r[key]) for r in rows if r.get(key) not in (None, "")]
    if not vals:
        continue
    q = vals[len(vals) // 4]
    print("| %s %s | %g | %g | %g | %g | %g |" % (key, unit, vals[0], q, statistics.median(vals),
                                                vals[-1], max(vals)))
if counts["errors"]:
    print("\nfirst errors: " + "; ".join(counts["errors"]))
if lost:
    print("\nmissing or different on the Hub: " + ", ".join(sorted(lost)[:20]))
sys.exit(1 if lost or counts["wrong_reads"] else 0)
PYEOF

if [[ -f $T/valgrind.log ]]; then
  echo
  echo "valgrind (memcheck) summary:"
  grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost" "$T/valgrind.log" || true
  cp "$T/valgrind.log" "$OUT/soak-valgrind.log"
  say "valgrind log: $OUT/soak-valgrind.log"
fi
HT=$(ls "$T"/heaptrack*.zst "$T"/heaptrack*.gz 2>/dev/null | head -1 || true)
if [[ -n $HT ]]; then
  cp "$HT" "$OUT/"
  echo
  echo "heaptrack summary:"
  # The totals, then the largest contributors to the peak: size, calls, function.
  heaptrack_print -f "$HT" -p 1 -a 0 -T 0 -l 0 -n 8 -s 0 2>/dev/null | awk '
    /^(total runtime|calls to allocation|temporary memory|peak heap|peak RSS|total memory leaked)/ { print; next }
    /peak memory consumed over/ { size = $1; calls = $6; getline; printf "  peak %s over %s calls: %s\n", size, calls, substr($0, 1, 110) }' || true
  say "heaptrack data: $OUT/$(basename "$HT") (heaptrack_print -f FILE)"
fi
say "samples: $OUT/soak-samples.csv; logs: $OUT/soak-mount.log, $OUT/soak-hubsim.log"
exit $rc
