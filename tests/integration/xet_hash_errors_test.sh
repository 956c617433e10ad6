#!/usr/bin/env bash
# `hubfs xet hash` with unreadable inputs among good ones: each bad path gets a
# message on stderr, the good files are still hashed (in order), exit status 1.
#   xet_hash_errors_test.sh HUBFS_BIN
set -uo pipefail
HUBFS=${1:?usage: xet_hash_errors_test.sh HUBFS_BIN}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi
}

printf 'hello world' >"$TMP/hello"
: >"$TMP/empty"
mkdir "$TMP/dir"
HELLO=f15edd43b7e85cfd25e2758ffe13b99fdd09dfa817e8d9f6548722a7a126db7f
ZERO=0000000000000000000000000000000000000000000000000000000000000000

"$HUBFS" xet hash "$TMP/hello" "$TMP/missing" "$TMP/dir" "$TMP/empty" >"$TMP/out" 2>"$TMP/err"
rc=$?
check "exit status 1 with bad inputs (got $rc)" test "$rc" -eq 1
check "good files still hashed, in order" \
  diff <(printf '%s  %s\n%s  %s\n' "$HELLO" "$TMP/hello" "$ZERO" "$TMP/empty") "$TMP/out"
check "missing file reported" grep -q "$TMP/missing: No such file or directory" "$TMP/err"
check "directory reported" grep -q "$TMP/dir: Is a directory" "$TMP/err"
check "exactly two error lines" test "$(wc -l <"$TMP/err")" -eq 2

"$HUBFS" xet hash --json "$TMP/missing" "$TMP/hello" >"$TMP/out" 2>"$TMP/err"
rc=$?
check "--json: exit status 1 (got $rc)" test "$rc" -eq 1
check "--json: one line for the good file" test "$(wc -l <"$TMP/out")" -eq 1
check "--json: good file's hash" grep -q "\"file_hash\":\"$HELLO\"" "$TMP/out"
check "--json: missing file reported" grep -q "$TMP/missing" "$TMP/err"

"$HUBFS" xet hash "$TMP/hello" "$TMP/empty" >"$TMP/out" 2>"$TMP/err"
check "all good: exit status 0" test $? -eq 0
check "all good: nothing on stderr" test ! -s "$TMP/err"

"$HUBFS" xet hash "$TMP/hello" >/dev/full 2>"$TMP/err"
rc=$?
check "write error: exit status 1 (got $rc)" test "$rc" -eq 1
check "write error reported" grep -q "write error" "$TMP/err"

"$HUBFS" xet hash --bogus "$TMP/hello" >"$TMP/out" 2>"$TMP/err"
check "unknown option: exit status 2" test $? -eq 2
"$HUBFS" xet hash >"$TMP/out" 2>"$TMP/err"
check "no files: exit status 2" test $? -eq 2

exit $fail
