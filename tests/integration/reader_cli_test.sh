#!/usr/bin/env bash
# Integration test of the read path: the real `hubfs` CLI against hubsim on
# loopback. usage: reader_cli_test.sh HUBFS HUBSIM
#   - a few-MB random file and a small text file imported with `hubsim import`
#   - `hubfs cat` whole (verified) and by ranges, byte-compared with the source
#   - `hubfs ls -R` lists them
#   - a warm re-read sends no data request (hubsim counters)
#   - with hubsim stopped: cached data (via @main) still reads, uncached data
#     fails fast with a clear message
#   - clear errors for a missing repo / file and an invalid id
set -euo pipefail
source "$(dirname "$0")/../lib/hubsim.sh"
source "$(dirname "$0")/../lib/workdir.sh"
HUBFS=$1
HUBSIM=$2
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

workdir_setup reader-it

src=$tmp/src
mkdir -p "$src/sub"
"$PY" - "$src" <<'PYEOF'
import random, sys
root = sys.argv[1]
r = random.Random(20261128)
big = bytearray(r.randbytes(3_500_000))
# a compressible stretch so some records are LZ4
big[1_000_000:1_600_000] = (b"hubfs reads lazily " * 40000)[:600_000]
open(root + "/big.bin", "wb").write(big)
open(root + "/sub/other.bin", "wb").write(random.Random(5).randbytes(1_200_000))
open(root + "/README.md", "w").write("# test repo\nhello from hubsim\n")
PYEOF

"$HUBSIM" import --data "$tmp/data" org/model "$src" >/dev/null
mkdir -p "$tmp/secret" && echo "private bytes" >"$tmp/secret/s.txt"
"$HUBSIM" import --data "$tmp/data" --user alice --private alice/secret "$tmp/secret" >/dev/null

start_server() {
  hubsim_start "$tmp/data" "$tmp/serve.log" --user alice:hf_alice_reader_token || fail "hubsim did not start"
  HUB=$HUBSIM_URL
}
start_server

export HF_ENDPOINT=$HUB
export HUBFS_CACHE_DIR=$tmp/cache
export HF_HOME=$tmp/hfhome
unset HF_TOKEN HF_HUB_OFFLINE HUGGING_FACE_HUB_TOKEN TRANSFORMERS_OFFLINE || true

slice() { "$PY" -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.stdout.buffer.write(d[int(sys.argv[2]):int(sys.argv[3])])' "$@"; }
counters() { curl -fsS "$HUB/admin/counters"; }
data_requests() {
  counters | "$PY" -c 'import json,sys; c=json.load(sys.stdin).get("data",{}); print(sum(v.get("requests",0) for v in c.values()))'
}

# --- listing
"$HUBFS" ls -R org/model >"$tmp/ls.txt" || fail "ls -R"
grep -qx "big.bin" "$tmp/ls.txt" || fail "ls -R lacks big.bin: $(cat "$tmp/ls.txt")"
grep -qx "sub/other.bin" "$tmp/ls.txt" || fail "ls -R lacks sub/other.bin"
"$HUBFS" ls -l org/model >"$tmp/ls-l.txt" || fail "ls -l"
grep -q "3500000 xet big.bin" "$tmp/ls-l.txt" || fail "ls -l does not show big.bin as a 3500000-byte xet file: $(cat "$tmp/ls-l.txt")"

# --- whole-file reads (verified)
"$HUBFS" cat org/model/big.bin >"$tmp/big.out" || fail "cat big.bin"
cmp "$src/big.bin" "$tmp/big.out" || fail "cat big.bin differs"
"$HUBFS" cat hf://models/org/model/README.md >"$tmp/readme.out" || fail "cat README.md"
cmp "$src/README.md" "$tmp/readme.out" || fail "README.md differs"

# --- tokens: the CAS token went to the CAS only, nothing to data URLs
counters | "$PY" -c '
import json, sys
c = json.load(sys.stdin)
data_auth = sum(v.get("auth", 0) for v in c.get("data", {}).values())
cas = c.get("cas", {})
cas_req = sum(v.get("requests", 0) for v in cas.values())
cas_auth = sum(v.get("auth", 0) for v in cas.values())
assert data_auth == 0, f"{data_auth} data requests carried Authorization"
assert cas_req > 0 and cas_auth == cas_req, f"cas requests {cas_req}, with auth {cas_auth}"
' || fail "token placement"

# --- ranges: first/last byte, around 64 KiB chunk sizes, the LZ4 stretch, past the end
size=3500000
for r in 0-1 $((size - 1))-$size 0-$size 65535-65537 131071-131073 999990-1000010 \
         1599999-1600001 1234567-2345678 3000000-3600000 17-17; do
  a=${r%-*}; b=${r#*-}
  "$HUBFS" cat --range "$r" org/model/big.bin >"$tmp/r.out" || fail "cat --range $r"
  [ "$b" -gt "$size" ] && b=$size
  slice "$src/big.bin" "$a" "$b" >"$tmp/r.want"
  cmp "$tmp/r.want" "$tmp/r.out" || fail "range $r differs"
done
# Cold ranges in a file not read before.
"$HUBFS" cat --range 500000-500100 org/model/sub/other.bin >"$tmp/r.out" || fail "cold range"
slice "$src/sub/other.bin" 500000 500100 | cmp - "$tmp/r.out" || fail "cold range differs"

# --- warm re-read: no data request
curl -fsS -X DELETE "$HUB/admin/counters" >/dev/null || fail "counters reset"
"$HUBFS" cat org/model/big.bin >"$tmp/big2.out" || fail "warm cat"
cmp "$src/big.bin" "$tmp/big2.out" || fail "warm cat differs"
n=$(data_requests)
[ "$n" = "0" ] || fail "warm re-read made $n data requests"

# --- a corrupted cache entry is dropped and refetched, never served
"$PY" - "$src/big.bin" "$HUBFS_CACHE_DIR" <<'PYEOF' || fail "could not corrupt the cache"
import os, sys
needle = open(sys.argv[1], "rb").read()[2_000_000:2_000_064]
for root, _, files in os.walk(sys.argv[2]):
    for f in files:
        p = os.path.join(root, f)
        data = open(p, "rb").read()
        i = data.find(needle)
        if i >= 0:
            with open(p, "r+b") as fh:
                fh.seek(i + 10)
                fh.write(bytes([data[i + 10] ^ 0x5A]))
            sys.exit(0)
sys.exit(1)
PYEOF
"$HUBFS" cat --range 1999000-2001000 org/model/big.bin >"$tmp/r.out" || fail "read over a corrupted entry"
slice "$src/big.bin" 1999000 2001000 | cmp - "$tmp/r.out" || fail "corrupted cache entry was served"

# --- clear errors
expect_error() {  # expect_error PATTERN hubfs-args...
  local pattern=$1; shift
  if "$HUBFS" "$@" >/dev/null 2>"$tmp/err"; then fail "hubfs $* succeeded"; fi
  [ "$(wc -l <"$tmp/err")" -le 2 ] || fail "hubfs $*: long error output: $(cat "$tmp/err")"
  grep -qi "$pattern" "$tmp/err" || fail "hubfs $*: expected '$pattern', got: $(cat "$tmp/err")"
}
expect_error "not found" cat org/nope/file.bin
expect_error "no such file" cat org/model/missing.bin
expect_error "revision 'v9' not found" cat org/model@v9/big.bin
expect_error "not with --range" cat --sha256 --range 0-10 org/model/big.bin
expect_error "invalid source" ls 'org//model'
expect_error "is a directory" cat org/model/sub
expect_error "private" cat alice/secret/s.txt
HF_TOKEN=hf_alice_reader_token "$HUBFS" cat alice/secret/s.txt >"$tmp/s.out" || fail "private repo with token"
cmp "$tmp/secret/s.txt" "$tmp/s.out" || fail "private file differs"

# --- server stopped: cached data through @main still reads; uncached fails fast
hubsim_stop
"$HUBFS" cat org/model@main/big.bin >"$tmp/big3.out" 2>"$tmp/err" || fail "offline cat: $(cat "$tmp/err")"
cmp "$src/big.bin" "$tmp/big3.out" || fail "offline cat differs"
grep -q "possibly stale" "$tmp/err" || fail "offline cat did not say possibly stale"
HF_HUB_OFFLINE=1 "$HUBFS" cat --range 10-20 org/model/big.bin >"$tmp/r.out" 2>/dev/null || fail "HF_HUB_OFFLINE cached range"
slice "$src/big.bin" 10 20 | cmp - "$tmp/r.out" || fail "HF_HUB_OFFLINE range differs"
t0=$(date +%s)
expect_error "cannot reach" cat --range 0-100000 org/model/sub/other.bin
t1=$(date +%s)
[ $((t1 - t0)) -le 10 ] || fail "uncached offline read took $((t1 - t0)) s"
HF_HUB_OFFLINE=1 "$HUBFS" cat --range 0-100000 org/model/sub/other.bin >/dev/null 2>"$tmp/err" && fail "offline uncached succeeded"
grep -q "HF_HUB_OFFLINE" "$tmp/err" || fail "offline error does not name HF_HUB_OFFLINE: $(cat "$tmp/err")"

# --- the cache tools
"$HUBFS" cache verify >/dev/null || fail "cache verify"
"$HUBFS" cache ls | grep -q "^chunk" || fail "cache ls"
echo "reader_cli_test: OK"
