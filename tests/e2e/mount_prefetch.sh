#!/usr/bin/env bash
# hubfs prefetch: paths outside a mount and bad options are refused; a folder
# of a mount prefetched while hubsim's data answers are slowed shows up in
# `hubfs status`, prints plain lines without a terminal and a progress bar
# with one (script(1)); afterwards, on a fresh mount, its files read with
# exact bytes and no data request, while a file not prefetched needs some;
# a SOURCE prefetched without a mount (into another cache dir) the same.
#   mount_prefetch.sh HUBFS HUBSIM
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup
e2e_start_hubsim
MIB=$((1 << 20))

S=$W/src
/usr/bin/python3 - "$S" <<'PY'
import os, random, sys
root = sys.argv[1]
open(f"{root}/.gitattributes", "w").write("*.bin filter=lfs diff=lfs merge=lfs -text\n")
os.makedirs(f"{root}/models/sub", exist_ok=True)
r = random.Random(5)
for name, mib in (("models/a.bin", 24), ("models/sub/b.bin", 8), ("other.bin", 8)):
    open(f"{root}/{name}", "wb").write(r.randbytes(mib << 20))
open(f"{root}/models/config.json", "w").write('{"hidden": 64}\n')
PY
commit=$("$HUBSIM" import --data "$W/data" org/pf "$S") || fail "import"
faults() { curl -sf -X POST --data "$1" "$HUBSIM_URL/admin/faults" >/dev/null || fail "faults"; }
mount_it() {
  bounded 30 "$HUBFS" mount "org/pf@$commit" "$MNT" --cache-dir "$W/cache" || fail "mount"
}
unmount_it() { bounded 30 "$HUBFS" unmount "$MNT" >/dev/null || fail "unmount"; }
# The line of `hubfs status --cache-dir DIR` holding TEXT, looked for while
# process PID runs (empty when it never showed).
status_line_while() {
  local pid=$1 dir=$2 text=$3 st
  for _ in $(seq 1 300); do
    st=$("$HUBFS" status --cache-dir "$dir")
    if grep -qF "$text" <<<"$st"; then grep -F "$text" <<<"$st"; return; fi
    kill -0 "$pid" 2>/dev/null || return
    sleep 0.05
  done
}

# --- refusals
rc=0; out=$("$HUBFS" prefetch "$W/nothing-here" 2>&1) || rc=$?
[[ $rc -eq 1 && $out == *"nothing-here"* ]] || fail "missing path: rc $rc: $out"
rc=0; out=$("$HUBFS" prefetch --cache-dir "$W/cache" "$S" 2>&1) || rc=$?
[[ $rc -eq 1 && $out == *"not inside a running hubfs mount"* ]] || fail "local path: rc $rc: $out"
rc=0; out=$("$HUBFS" prefetch -j 0 "$S" 2>&1) || rc=$?
[[ $rc -eq 2 ]] || fail "-j 0: rc $rc: $out"
pass "refused: a missing path, a path outside any mount, -j 0"

# --- a prefetch in flight, plain output
mount_it
faults "latency=150ms,only=data"
"$HUBFS" prefetch -j 2 --cache-dir "$W/cache" "$MNT/models" >"$W/pf.out" 2>"$W/pf.err" &
pf=$!
seen=$(status_line_while "$pf" "$W/cache" "prefetch: pid $pf, ")
wait "$pf" || fail "prefetch failed: $(cat "$W/pf.err")"
faults ""
[[ -n $seen ]] || fail "hubfs status never showed the prefetch"
[[ $seen == *"of 32.0 MiB"*"of 3 files"*"$MNT/models"* ]] || fail "status line: $seen"
grep -q "^prefetched 32.0 MiB of 32.0 MiB" "$W/pf.out" || fail "summary: $(cat "$W/pf.out")"
grep -qF "prefetch: $MNT/models/a.bin (24.0 MiB)" "$W/pf.err" || fail "lines: $(cat "$W/pf.err")"
grep -qF "prefetch: $MNT/models/sub/b.bin (8.0 MiB)" "$W/pf.err" || fail "lines: $(cat "$W/pf.err")"
grep -q $'\r' "$W/pf.err" && fail "a progress bar without a terminal"
[[ -z $(ls "$W/cache/prefetch" 2>/dev/null) ]] || fail "prefetch record left behind"
unmount_it
pass "prefetch shown by hubfs status ($seen), plain lines, record removed"

# --- prefetched files are cached; others are not
mount_it
curl -sf -X DELETE "$HUBSIM_URL/admin/counters" >/dev/null || fail "counters reset"
for f in models/a.bin models/sub/b.bin models/config.json; do
  cmp "$MNT/$f" "$S/$f" || fail "$f differs"
done
n=$(data_requests)
[[ $n -eq 0 ]] || fail "prefetched files made $n data requests"
cmp "$MNT/other.bin" "$S/other.bin" || fail "other.bin differs"
n=$(data_requests)
[[ $n -gt 0 ]] || fail "other.bin was cached without a prefetch"
pass "prefetched files read exact with no data request; other.bin needed $n"

# --- on a terminal: a progress bar
script -qec "$HUBFS prefetch --cache-dir $W/cache $MNT/other.bin" /dev/null >"$W/tty.out" ||
  fail "prefetch on a terminal: $(cat "$W/tty.out")"
grep -q $'\r\033\\[K\\[########################\\] 8.0 MiB of 8.0 MiB (100%)' "$W/tty.out" ||
  fail "no progress bar: $(od -c "$W/tty.out" | head)"
unmount_it
pass "progress bar on a terminal"

# --- a SOURCE without a mount: into a fresh cache dir, seen by hubfs status
# while it runs, then a mount from that cache dir reads it with no data request
faults "latency=150ms,only=data"
"$HUBFS" prefetch -j 2 --cache-dir "$W/cache2" "org/pf@$commit/models" >"$W/spf.out" 2>"$W/spf.err" &
pf=$!
seen=$(status_line_while "$pf" "$W/cache2" \
  "prefetch of org/pf@$commit/models into $W/cache2 (no mount): pid $pf")
wait "$pf" || fail "source prefetch failed: $(cat "$W/spf.err")"
faults ""
[[ -n $seen ]] || fail "hubfs status never showed the source prefetch"
grep -q "^prefetched 32.0 MiB of 32.0 MiB" "$W/spf.out" || fail "summary: $(cat "$W/spf.out")"
grep -qF "prefetch: org/pf@$commit/models/sub/b.bin (8.0 MiB)" "$W/spf.err" ||
  fail "lines: $(cat "$W/spf.err")"
rc=0; out=$("$HUBFS" prefetch --cache-dir "$W/cache2" "org/pf@$commit/nope" 2>&1) || rc=$?
[[ $rc -eq 1 && $out == *"nope"* ]] || fail "missing path in a source: rc $rc: $out"
bounded 30 "$HUBFS" mount "org/pf@$commit" "$MNT" --cache-dir "$W/cache2" || fail "mount cache2"
curl -sf -X DELETE "$HUBSIM_URL/admin/counters" >/dev/null || fail "counters reset"
for f in models/a.bin models/sub/b.bin models/config.json; do
  cmp "$MNT/$f" "$S/$f" || fail "$f differs"
done
n=$(data_requests)
[[ $n -eq 0 ]] || fail "files prefetched from the source made $n data requests"
unmount_it
pass "hubfs prefetch SOURCE without a mount: shown by status, then read with no data request"
