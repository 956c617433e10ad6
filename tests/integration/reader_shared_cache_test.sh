#!/usr/bin/env bash
# Two `hubfs cat` processes share one cache directory; one is killed with
# SIGKILL in the middle of its read; a third process then verifies the cache
# and reads both files correctly (the second without any data request).
# usage: reader_shared_cache_test.sh HUBFS HUBSIM
set -euo pipefail
source "$(dirname "$0")/../lib/hubsim.sh"
source "$(dirname "$0")/../lib/workdir.sh"
HUBFS=$1
HUBSIM=$2
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
workdir_setup reader-shared

mkdir -p "$tmp/src"
"$PY" - "$tmp/src" <<'PYEOF'
import random, sys
open(sys.argv[1] + "/a.bin", "wb").write(random.Random(1).randbytes(20_000_000))
open(sys.argv[1] + "/b.bin", "wb").write(random.Random(2).randbytes(20_000_000))
PYEOF
"$HUBSIM" import --data "$tmp/data" org/shared "$tmp/src" >/dev/null
# Latency on data requests so that the kill lands mid-read.
hubsim_start "$tmp/data" "$tmp/serve.log" --faults "latency=300ms,only=data" || fail "hubsim did not start"
HUB=$HUBSIM_URL
export HF_ENDPOINT=$HUB HF_HOME=$tmp/hfhome HUBFS_CACHE_DIR=$tmp/cache
unset HF_TOKEN HF_HUB_OFFLINE || true

"$HUBFS" cat org/shared/a.bin >"$tmp/a.out" 2>"$tmp/a.err" &
a_pid=$!
"$HUBFS" cat org/shared/b.bin >"$tmp/b.out" 2>"$tmp/b.err" &
b_pid=$!
sleep 0.5
kill -9 "$a_pid" 2>/dev/null || true
wait "$a_pid" 2>/dev/null || true
wait "$b_pid" || fail "reader b failed: $(cat "$tmp/b.err")"
cmp "$tmp/src/b.bin" "$tmp/b.out" || fail "reader b got wrong bytes"

"$HUBFS" cache verify >"$tmp/verify.txt" || fail "cache verify after kill -9: $(cat "$tmp/verify.txt")"
"$HUBFS" cat org/shared/a.bin >"$tmp/a2.out" || fail "re-read of a"
cmp "$tmp/src/a.bin" "$tmp/a2.out" || fail "re-read of a differs"
curl -fsS -X DELETE "$HUB/admin/counters" >/dev/null
"$HUBFS" cat org/shared/b.bin >"$tmp/b2.out" || fail "warm re-read of b"
cmp "$tmp/src/b.bin" "$tmp/b2.out" || fail "warm re-read of b differs"
n=$(curl -fsS "$HUB/admin/counters" | "$PY" -c 'import json,sys; print(sum(v.get("requests",0) for v in json.load(sys.stdin).get("data",{}).values()))')
[ "$n" = "0" ] || fail "warm re-read of b made $n data requests"
echo "reader_shared_cache_test: OK (killed reader had written $(stat -c %s "$tmp/a.out") of 20000000 bytes; $(cat "$tmp/verify.txt"))"
