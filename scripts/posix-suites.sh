#!/usr/bin/env bash
# Runs standard POSIX suites against a writable mount (hubfs mount --rw) of a
# hubsim repo on loopback and prints a table of pass/fail counts. Not part of
# CI: the suites are built beside the project from their public sources and
# found through the environment; a suite whose path is unset is skipped.
#
#   PJDFSTEST_DIR=DIR   a built pjdfstest checkout (DIR/pjdfstest, DIR/tests)
#   PJD_GROUPS="..."    its groups (default: open truncate ftruncate unlink
#                       rename mkdir rmdir utimensat)
#   FSX_BIN=PATH        fsx (the classic fsx-linux options: -N -S -c -P -q)
#   FSX_OPS=N           operations per fsx run (default 3000), FSX_SEED (7)
#   FIO_BIN=PATH        fio (default: fio on PATH), FIO_SIZE (default 32m)
#   HUBFS_BIN, HUBSIM_BIN  default build/bin/hubfs, build/bin/hubsim
#   SUITES="..."        which suites to run (default: pjdfstest fsx fio)
#   KEEP=1              keep the work directory (logs) after the run
#
# Needs root and /dev/fuse. Logs go to the work directory (printed at the end).
set -uo pipefail
cd "$(dirname "$0")/.."

HUBFS=${HUBFS_BIN:-build/bin/hubfs}
HUBSIM=${HUBSIM_BIN:-build/bin/hubsim}
HUBFS=$(readlink -f "$HUBFS")
HUBSIM=$(readlink -f "$HUBSIM")
PJD_GROUPS=${PJD_GROUPS:-"open truncate ftruncate unlink rename mkdir rmdir utimensat"}
FSX_OPS=${FSX_OPS:-3000}
FSX_SEED=${FSX_SEED:-7}
FIO=${FIO_BIN:-$(command -v fio || true)}
FIO_SIZE=${FIO_SIZE:-32m}
SUITES=${SUITES:-"pjdfstest fsx fio"}
TOKEN=hf_posix_writer_token
want() { [[ " $SUITES " == *" $1 "* ]]; }

for b in "$HUBFS" "$HUBSIM"; do
  [[ -x "$b" ]] || { echo "missing binary: $b (build first)" >&2; exit 2; }
done
[[ $(id -u) -eq 0 ]] || { echo "pjdfstest needs root; run as root" >&2; exit 2; }

W=$(mktemp -d /tmp/hubfs-posix.XXXXXX)
MNT=$W/mnt
LOGS=$W/logs
mkdir -p "$MNT" "$LOGS"
SIM_PID=""
RESULTS=()  # "suite|group|pass|fail|note"

mounted() { grep -q " $MNT " /proc/self/mountinfo; }

cleanup() {
  set +e
  cd /
  if mounted; then
    "$HUBFS" unmount "$MNT" >/dev/null 2>&1
    mounted && fusermount3 -u "$MNT" >/dev/null 2>&1
    mounted && fusermount3 -uz "$MNT" >/dev/null 2>&1
  fi
  if [[ -n "$SIM_PID" ]]; then
    kill "$SIM_PID" 2>/dev/null
    wait "$SIM_PID" 2>/dev/null
  fi
  if [[ "${KEEP:-0}" == 1 ]]; then
    echo "work directory kept: $W"
  elif ! mounted; then
    rm -rf "$W"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- hubsim on loopback
"$HUBSIM" serve --data "$W/data" --listen 127.0.0.1:0 --user "me:$TOKEN" \
  >"$W/hubsim.out" 2>"$LOGS/hubsim.log" &
SIM_PID=$!
URL=""
for _ in $(seq 100); do
  URL=$(sed -n 's/^hubsim listening on \([^ ]*\).*/\1/p' "$W/hubsim.out")
  [[ -n "$URL" ]] && break
  sleep 0.1
done
[[ -n "$URL" ]] || { echo "hubsim did not start" >&2; exit 1; }
export HF_ENDPOINT=$URL HF_TOKEN=$TOKEN HUBFS_CACHE_DIR=$W/cache
unset HF_HUB_OFFLINE

curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d '{"name":"posix","organization":"me","type":"model"}' "$URL/api/repos/create" >/dev/null ||
  { echo "repo creation failed" >&2; exit 1; }
mkdir -p "$W/seed"
echo "POSIX suites" >"$W/seed/README.md"
"$HUBFS" upload me/posix "$W/seed" --quiet >/dev/null || { echo "seed upload failed" >&2; exit 1; }

mount_rw() {
  "$HUBFS" mount me/posix "$MNT" --rw --commit-delay 1 --log-level info \
    2>>"$LOGS/mount.err" || { echo "mount failed" >&2; exit 1; }
}
unmount() {
  cd /
  "$HUBFS" unmount "$MNT" >>"$LOGS/mount.err" 2>&1
  for _ in $(seq 100); do mounted || return 0; sleep 0.1; done
  echo "unmount did not finish" >&2
  return 1
}
hubsync() {  # fsync of the mount's root: everything journaled reaches the Hub
  python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY); os.fsync(fd)' \
    "$MNT" >>"$LOGS/sync.log" 2>&1
}

record() { RESULTS+=("$1|$2|$3|$4|${5:-}"); }

mount_rw

# --- pjdfstest: prove per group, counting assertions
if ! want pjdfstest; then
  :
elif [[ -n "${PJDFSTEST_DIR:-}" && -x "${PJDFSTEST_DIR}/pjdfstest" ]]; then
  for g in $PJD_GROUPS; do
    d="$MNT/pjd-$g"
    mkdir -p "$d"
    log="$LOGS/pjd-$g.log"
    (cd "$d" && timeout 900 prove -v "$PJDFSTEST_DIR/tests/$g" >"$log" 2>&1)
    pass=$(grep -cE '^ok [0-9]+' "$log")
    fail=$(grep -cE '^not ok [0-9]+' "$log")
    files=$(sed -n 's/^Files=\([0-9]*\).*/\1/p' "$log")
    badfiles=$(grep -cE '^/.*\.t +\(Wstat' "$log")
    record pjdfstest "$g" "$pass" "$fail" "files=${files:-?} failed-files=$badfiles"
  done
else
  record pjdfstest "-" - - "skipped (set PJDFSTEST_DIR)"
fi

# --- fsx: one file, seeded, bounded; then with close+open per operation
if ! want fsx; then
  :
elif [[ -n "${FSX_BIN:-}" && -x "${FSX_BIN}" ]]; then
  mkdir -p "$MNT/fsx" "$LOGS/fsx"
  run_fsx() {  # name, extra args...
    local name=$1; shift
    local log="$LOGS/fsx-$name.log"
    (cd "$LOGS/fsx" && timeout 1200 "$FSX_BIN" -q -N "$FSX_OPS" -S "$FSX_SEED" -P "$LOGS/fsx" \
      "$@" "$MNT/fsx/$name.bin" >"$log" 2>&1)
    local rc=$?
    if [[ $rc -eq 0 ]]; then
      record fsx "$name" "$FSX_OPS" 0 "ops, seed $FSX_SEED"
    else
      local done_ops
      done_ops=$(grep -oE 'LOG DUMP \(([0-9]+) total' "$log" | grep -oE '[0-9]+' | head -1)
      record fsx "$name" "${done_ops:-?}" 1 "rc=$rc, see $log"
    fi
  }
  run_fsx plain
  run_fsx reopen -c 1       # close and reopen the file before every operation
  run_fsx nommap -W -R      # read/write system calls only
  run_fsx nommap-reopen -W -R -c 1
  hubsync || record fsx "sync" 0 1 "sync of the mount failed after fsx"
else
  record fsx "-" - - "skipped (set FSX_BIN)"
fi

# --- fio: write with verify, commit, remount with an empty cache, verify only
if ! want fio; then
  :
elif [[ -n "$FIO" && -x "$FIO" ]]; then
  mkdir -p "$MNT/fio"
  fio_job() {  # name, extra args...
    local name=$1; shift
    (cd "$LOGS" && "$FIO" --name=hubfs --directory="$MNT/fio" \
      --rw=write --bs=64k --size="$FIO_SIZE" --numjobs=2 --ioengine=psync \
      --verify=crc32c --verify_fatal=1 --verify_backlog=0 --group_reporting \
      "$@" >"$LOGS/fio-$name.log" 2>&1)
  }
  if fio_job write --do_verify=1; then
    record fio "write+verify" 1 0 "2 jobs x $FIO_SIZE"
  else
    record fio "write+verify" 0 1 "see $LOGS/fio-write.log"
  fi
  hubsync || record fio "sync" 0 1 "sync of the mount failed"
  unmount
  export HUBFS_CACHE_DIR=$W/cache2  # read back from the Hub, not the staging files
  mount_rw
  if fio_job verify --verify_only; then
    record fio "remount verify-only" 1 0 "fresh cache"
  else
    record fio "remount verify-only" 0 1 "see $LOGS/fio-verify.log"
  fi
else
  record fio "-" - - "skipped (fio not found)"
fi

unmount

printf '\n%-10s %-22s %8s %8s  %s\n' SUITE GROUP PASS FAIL NOTE
tp=0 tf=0
for r in "${RESULTS[@]}"; do
  IFS='|' read -r s g p f n <<<"$r"
  printf '%-10s %-22s %8s %8s  %s\n' "$s" "$g" "$p" "$f" "$n"
  [[ "$p" =~ ^[0-9]+$ && "$s" == pjdfstest ]] && tp=$((tp + p)) && tf=$((tf + f))
done
printf '%-10s %-22s %8s %8s\n' pjdfstest total "$tp" "$tf"
echo "logs: $LOGS"
