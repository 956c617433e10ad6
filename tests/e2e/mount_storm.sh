#!/usr/bin/env bash
# A transient storm (hubsim --faults error=0.2,reset=0.1,truncate=0.1: 5xx
# and 429 with Retry-After, connections reset after the headers, bodies cut
# in half) under several seeds: each time the mount comes up with the
# default --io-timeout, a cold read returns the exact bytes and listings are
# complete - retries run until the operation's deadline, not for a fixed
# count. Checks that faults were really injected.
#   mount_storm.sh HUBFS HUBSIM [SEEDS]
HUBFS=$1
HUBSIM=$2
SEEDS=${3:-"1 2 3 4 5 6"}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup

S=$W/src
mkdir -p "$S/sub/deeper"
head -c 6000000 /dev/urandom >"$S/big.bin"
head -c 200000 /dev/urandom >"$S/sub/deeper/small.bin"
printf 'hello from a storm\n' >"$S/README.md"
printf '{"a": 1}\n' >"$S/sub/config.json"
e2e_import org/model "$S"
STORM=error=0.2,reset=0.1,truncate=0.1
# Fails with the end of the mount's log, which says what was retried.
storm_fail() {
  tail -n 30 "$W/cache-$seed/hubfs-mount.log" >&2 2>/dev/null || true
  fail "seed $seed: $*"
}

for seed in $SEEDS; do
  hubsim_stop
  e2e_start_hubsim --faults "$STORM,seed=$seed"
  start=$(date +%s%N)
  bounded 90 "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache-$seed" 2>"$W/mount.err" ||
    storm_fail "mount failed: $(cat "$W/mount.err")"
  bounded 90 cmp "$S/big.bin" "$MNT/big.bin" || storm_fail "big.bin differs"
  bounded 90 cmp "$S/sub/deeper/small.bin" "$MNT/sub/deeper/small.bin" ||
    storm_fail "small.bin differs"
  [[ $(bounded 60 ls "$MNT/sub" | tr '\n' ' ') == "config.json deeper " ]] ||
    storm_fail "ls sub: $(ls "$MNT/sub" 2>&1)"
  [[ $(bounded 60 cat "$MNT/README.md") == "hello from a storm" ]] || storm_fail "README"
  elapsed_ms=$((($(date +%s%N) - start) / 1000000))
  faults=$(curl -sf "$HUBSIM_URL/admin/counters" | /usr/bin/python3 -c '
import json, sys
f = json.load(sys.stdin).get("faults", {})
print(" ".join(f"{o}:{k}={n}" for o, kinds in sorted(f.items()) for k, n in sorted(kinds.items())))')
  [[ -n $faults ]] || storm_fail "no fault was injected"
  bounded 30 "$HUBFS" unmount "$MNT" || storm_fail "unmount"
  pass "seed $seed: mount, exact reads and listings in ${elapsed_ms} ms through $faults"
done
