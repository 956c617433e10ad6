#!/usr/bin/env bash
# Reads under injected faults (hubsim --faults): every `hubfs cat` either
# prints exactly the right bytes and exits 0, or exits non-zero with a short
# error — never wrong bytes. usage: reader_faults_test.sh HUBFS HUBSIM
set -euo pipefail
source "$(dirname "$0")/../lib/hubsim.sh"
source "$(dirname "$0")/../lib/workdir.sh"
HUBFS=$1
HUBSIM=$2
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
workdir_setup reader-faults

mkdir -p "$tmp/src"
"$PY" -c 'import random,sys; open(sys.argv[1],"wb").write(random.Random(3).randbytes(2_500_000))' "$tmp/src/f.bin"
"$HUBSIM" import --data "$tmp/data" org/faulty "$tmp/src" >/dev/null
hubsim_start "$tmp/data" "$tmp/serve.log" \
  --faults "error=0.15,reset=0.05,truncate=0.1,expire=0.1,seed=11,only=cas+data" || fail "hubsim did not start"
HUB=$HUBSIM_URL
export HF_ENDPOINT=$HUB HF_HOME=$tmp/hfhome
unset HF_TOKEN HF_HUB_OFFLINE || true

ok=0; failed=0
for i in $(seq 1 24); do
  export HUBFS_CACHE_DIR=$tmp/cache$((i % 4))
  read -r a b < <("$PY" -c "import random; r=random.Random($i); a=r.randrange(0,2_500_000); print(a, min(2_500_000, a+r.choice([1,4096,100000,900000])))")
  if [ $((i % 6)) = 0 ]; then args=(); a=0; b=2500000; else args=(--range "$a-$b"); fi
  if "$HUBFS" cat "${args[@]}" org/faulty/f.bin >"$tmp/out" 2>"$tmp/err"; then
    "$PY" -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.stdout.buffer.write(d[int(sys.argv[2]):int(sys.argv[3])])' \
      "$tmp/src/f.bin" "$a" "$b" | cmp -s - "$tmp/out" || fail "read $i ($a-$b) exited 0 with wrong bytes"
    ok=$((ok + 1))
  else
    [ "$(wc -l <"$tmp/err")" -le 2 ] || fail "read $i: long error output: $(cat "$tmp/err")"
    failed=$((failed + 1))
  fi
done
echo "reader_faults_test: $ok right, $failed clear errors, 0 wrong"
[ "$ok" -gt 0 ] || fail "no read succeeded under faults"
