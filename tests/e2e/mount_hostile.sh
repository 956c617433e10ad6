#!/usr/bin/env bash
# A hostile Hub (hubsim --hostile kinds, switched through /admin/hostile):
# for every lie hubfs answers with a clear errno or exit code and a log line,
# within the I/O timeout; it never crashes, never shows a name that is not a
# usable direct child, never returns bytes it could not check, never sends the
# Hub token to another origin, and never reports a commit that is not on the
# branch. Each case mounts in the foreground on a fresh cache.
#   mount_hostile.sh HUBFS HUBSIM
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup
TOKEN=hf_hostile_owner_token
e2e_start_hubsim --user "owner:$TOKEN"
export HF_TOKEN=$TOKEN

S=$W/src
mkdir -p "$S/dir" "$S/big"
printf 'hello\n' >"$S/a.txt"
printf 'b\n' >"$S/dir/b.txt"
printf 'x\n' >"$S/big/x.txt"
head -c 2000000 /dev/urandom >"$S/w.bin"
"$HUBSIM" import --data "$W/data" --user owner owner/model "$S" >/dev/null || fail "import"
mkdir -p "$W/other"
printf 'other\n' >"$W/other/o.txt"
"$HUBSIM" import --data "$W/data" --user owner owner/model@other "$W/other" >/dev/null ||
  fail "import of branch other"

hostile() {
  curl -sf -X POST --data "$1" "$HUBSIM_URL/admin/hostile" >/dev/null || fail "set hostile '$1'"
}

# start_case NAME KINDS [late]: a fresh foreground mount with KINDS on (set
# once the mount is up with `late`, for lies that would stop it coming up).
CASE=""
start_case() {
  CASE=$1
  if [[ ${3:-} == late ]]; then hostile ""; else hostile "$2"; fi
  "$HUBFS" mount owner/model "$MNT" -f --cache-dir "$W/cache-$CASE" --io-timeout 3 \
    2>"$W/log-$CASE" &
  FG_PID=$!
  for _ in $(seq 1 100); do is_mounted && break; sleep 0.05; done
  is_mounted || { cat "$W/log-$CASE" >&2; fail "$CASE: mount did not come up"; }
  hostile "$2"
}

end_case() {
  hostile ""
  bounded 20 "$HUBFS" unmount "$MNT" || fail "$CASE: unmount"
  # The daemon exits promptly even with transfers still trickling.
  local t0=$SECONDS
  wait "$FG_PID" || fail "$CASE: the daemon exited with status $? (log: $(tail -3 "$W/log-$CASE"))"
  ((SECONDS - t0 <= 3)) || fail "$CASE: the daemon took $((SECONDS - t0)) s to exit after unmount"
  FG_PID=""
  is_mounted && fail "$CASE: still mounted"
  grep -qiE "sanitizer|terminate called|segmentation|core dumped" "$W/log-$CASE" &&
    fail "$CASE: the daemon crashed: $(cat "$W/log-$CASE")"
  true
}

# expect_err [-2] WANT CMD...: CMD fails within 4.5 s (--io-timeout 3 plus
# slack) with WANT in its stderr. -2 allows two timeouts: a read(2) whose
# kernel readahead request timed out is retried by the kernel as one more
# FUSE read, which gets its own --io-timeout.
expect_err() {
  local limit=4500 want t0 ms
  if [[ $1 == -2 ]]; then limit=7500; shift; fi
  want=$1
  shift
  t0=$(date +%s%N)
  if bounded 30 "$@" >"$W/out" 2>"$W/err"; then fail "$CASE: '$*' succeeded"; fi
  ms=$((($(date +%s%N) - t0) / 1000000))
  grep -q -- "$want" "$W/err" || fail "$CASE: '$*': expected '$want', got: $(cat "$W/err")"
  ((ms < limit)) || fail "$CASE: '$*' took ${ms} ms (io-timeout 3 s, limit ${limit} ms)"
  echo "$ms"
}

# log_has REGEX: the daemon logged why.
log_has() {
  grep -qiE -- "$1" "$W/log-$CASE" ||
    fail "$CASE: no log line matching '$1': $(tail -5 "$W/log-$CASE")"
}

auth_sum() {  # auth_sum ORIGIN [ROUTE]: requests to ORIGIN (ROUTE) that carried a token
  curl -sf "$HUBSIM_URL/admin/counters" | python3 -c '
import json, sys
c = json.load(sys.stdin)[sys.argv[1]]
print(sum(v.get("auth", 0) for k, v in c.items() if len(sys.argv) < 3 or k == sys.argv[2]))' "$@"
}
requests_of() {  # requests_of ORIGIN ROUTE
  curl -sf "$HUBSIM_URL/admin/counters" | python3 -c '
import json, sys
print(json.load(sys.stdin)[sys.argv[1]].get(sys.argv[2], {}).get("requests", 0))' "$@"
}

# Tree entries named "..", "." or with a NUL: the listing is refused (EIO).
for kind in name-dotdot name-dot name-nul; do
  start_case "$kind" "$kind" late
  ms=$(expect_err "Input/output error" ls "$MNT/dir")
  log_has "unsafe path"
  [[ $(cat "$MNT/a.txt") == hello ]] || fail "$CASE: other directories still read"
  end_case
  pass "$kind: listing refused with EIO in ${ms} ms"
done

# A lying root listing: the mount is refused with the reason, nothing mounted.
CASE=mount-refused
hostile name-dotdot
rc=0
bounded 30 "$HUBFS" mount owner/model "$MNT" --cache-dir "$W/cache-refused" --io-timeout 3 \
  2>"$W/err" || rc=$?
hostile ""
((rc != 0)) || fail "$CASE: mounted over a root listing with '..'"
grep -q "unsafe path" "$W/err" || fail "$CASE: $(cat "$W/err")"
is_mounted && fail "$CASE: left a mount behind"
pass "mount over a root listing with '..' refused (exit $rc): $(head -c 160 "$W/err")"

# Entries deeper than the listed directory or with names over 255 bytes:
# dropped with a warning, the rest of the directory is served.
start_case names-dropped "name-slash,name-long" late
[[ $(bounded 10 ls "$MNT/dir") == b.txt ]] || fail "$CASE: ls shows $(ls "$MNT/dir" | head -c 300)"
[[ ! -e $MNT/dir/x ]] || fail "$CASE: 'x' appeared"
log_has "ignored 2 entries"
end_case
pass "name-slash, name-long: entries dropped, the rest listed"

# A directory of 10^6 entries in one page: refused at the body bound.
start_case big-dir big-dir
ms=$(expect_err "" ls "$MNT/big")
log_has "big"
end_case
pass "big-dir: refused in ${ms} ms"

# Sizes larger than the file: reads fail, never pad or return short data.
start_case size size
expect_err "Input/output error" cat "$MNT/a.txt" >/dev/null
expect_err "Input/output error" cat "$MNT/w.bin" >/dev/null
log_has "a.txt"
end_case
pass "size: reads of files listed too large fail with EIO"

# Content-Range one byte off, xorbs missing, compression bombs.
for kind in range xorb-missing bomb; do
  start_case "$kind" "$kind"
  ms=$(expect_err -2 "Input/output error" cat "$MNT/w.bin")
  log_has "w.bin|xorb|range|corrupt"
  end_case
  pass "$kind: read fails with EIO in ${ms} ms"
done

# Flipped bytes in xorb ranges: a whole-file `hubfs cat` checks the file hash.
CASE=xorb-mismatch
hostile xorb-mismatch
if bounded 30 "$HUBFS" cat --cache-dir "$W/cache-mismatch" owner/model/w.bin >"$W/out" 2>"$W/err"; then
  fail "$CASE: hubfs cat succeeded"
fi
grep -qiE "hash|sha-?256|corrupt" "$W/err" || fail "$CASE: $(cat "$W/err")"
hostile ""
pass "xorb-mismatch: hubfs cat exits non-zero: $(head -c 160 "$W/err")"

# Listed SHA-256s that disagree with the bytes (and with the Xet hash, which
# holds): `hubfs cat` checks the Xet file hash and succeeds; `hubfs cat
# --sha256` checks the listed SHA-256 too and fails, after the same bytes.
CASE=sha256
hostile sha256
bounded 30 "$HUBFS" cat --cache-dir "$W/cache-sha" owner/model/w.bin >"$W/out" 2>"$W/err" ||
  fail "$CASE: hubfs cat failed: $(cat "$W/err")"
cmp -s "$W/out" "$S/w.bin" || fail "$CASE: hubfs cat wrote other bytes"
if bounded 30 "$HUBFS" cat --sha256 --cache-dir "$W/cache-sha" owner/model/w.bin >"$W/out" \
  2>"$W/err"; then
  fail "$CASE: hubfs cat --sha256 succeeded"
fi
grep -q "sha256 mismatch" "$W/err" || fail "$CASE: $(cat "$W/err")"
cmp -s "$W/out" "$S/w.bin" || fail "$CASE: hubfs cat --sha256 wrote other bytes"
hostile ""
pass "sha256: hubfs cat exits 0 (Xet hash checked), --sha256 exits non-zero: $(head -c 160 "$W/err")"

# Redirects to another origin: the Hub token never follows.
start_case redirect redirect late
curl -sf -X DELETE "$HUBSIM_URL/admin/counters" >/dev/null
expect_err "Input/output error" ls "$MNT/dir" >/dev/null
expect_err -2 "Input/output error" cat "$MNT/w.bin" >/dev/null
log_has "redirect|30[127]|dir"
end_case
[[ $(auth_sum data) == 0 ]] || fail "redirect: the data origin received a token"
[[ $(auth_sum hub other) == 0 ]] || fail "redirect: a redirected data request carried a token"
pass "redirect: EIO, no token on the other origin (data requests $(requests_of data other), hub /hostile requests $(requests_of hub other))"

# Bodies at one byte a second: EIO within the I/O timeout.
start_case slow slow late
ms1=$(expect_err "Input/output error" ls "$MNT/dir")
ms2=$(expect_err -2 "Input/output error" cat "$MNT/w.bin")
log_has "dir|w.bin|tim"
end_case
pass "slow: listing failed in ${ms1} ms, read in ${ms2} ms (io-timeout 3 s)"

# A commit answer naming another branch's commit: the upload is not reported done.
CASE=other-branch
hostile other-branch
printf 'new\n' >"$W/new.txt"
rc=0
bounded 30 "$HUBFS" upload owner/model "$W/new.txt" new.txt -m "hostile" >"$W/out" 2>"$W/err" || rc=$?
hostile ""
((rc == 1)) || fail "$CASE: exit status $rc: $(cat "$W/out" "$W/err")"
grep -q "not on the branch" "$W/err" || fail "$CASE: $(cat "$W/err")"
other=$(curl -sf "$HUBSIM_URL/api/models/owner/model/revision/other" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sha"])')
grep -q "$other" "$W/out" && fail "$CASE: printed the other branch's commit"
pass "other-branch: hubfs upload exits 1: $(head -c 200 "$W/err")"
