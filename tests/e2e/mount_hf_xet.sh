#!/usr/bin/env bash
# Files uploaded by the official Python client through hf_xet (xet-core's
# chunker, xorbs and shard; upload_folder, one commit) read byte-identical with
# hubfs: `hubfs cat --sha256` whole (which verifies the Xet hash and SHA-256) and by
# ranges, then through a read-only mount (sha256 of every file, the listing,
# random preads, mmap from several threads and xattrs: check_reads.py).
#   mount_hf_xet.sh HUBFS HUBSIM PYTHON     PYTHON: the pinned venv's (scripts/setup-python.sh)
#   env: BIG_MB (72): one more random file of that size (> 64 MiB spans xorbs; 0 = none)
HUBFS=$1
HUBSIM=$2
PY=$3
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
[[ -x $PY ]] || fail "$PY missing (run scripts/setup-python.sh)"
e2e_setup
e2e_start_hubsim --user pyuser:hf_pyuser_token
export BIG_MB=${BIG_MB:-72}
export HF_HOME=$W/hf_home HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_PROGRESS_BARS=1
t0=$SECONDS

S=$W/src
REPO=pyuser/xet-upload
"$PY" "$here/hf_xet_files.py" gen "$S" || fail "writing the source files"
bounded 120 "$PY" "$here/hf_xet_files.py" upload "$S" "$REPO" hf_pyuser_token || fail "hf_xet upload"
pass "uploaded with hf_xet in $((SECONDS - t0)) s"
(cd "$S" && find . -type f | sed 's|^\./||' | sort) >"$W/files.src"

# hubfs cat: whole files, then ranges (END exclusive) against the source bytes.
while read -r f; do
  bounded 60 "$HUBFS" cat --sha256 --cache-dir "$W/cat-cache" "$REPO/$f" >"$W/cat.out" 2>"$W/cat.err" ||
    fail "hubfs cat $f: $(cat "$W/cat.err")"
  cmp -s "$W/cat.out" "$S/$f" || fail "hubfs cat $f differs"
done <"$W/files.src"
pass "hubfs cat --sha256 of every file"
n=0
for f in random-6m.bin notes.txt mixed.bin odd/random-1m-plus.bin; do
  # A fresh cache per file, so the ranges are fetched, not cut from cached chunks.
  while read -r a b; do
    bounded 60 "$HUBFS" cat --cache-dir "$W/range-cache-${f//\//_}" --range "$a-$((b + 1))" \
      "$REPO/$f" >"$W/range.out" 2>"$W/cat.err" || fail "hubfs cat --range $a-$((b + 1)) $f: $(cat "$W/cat.err")"
    # (head closes the pipe early: tail's SIGPIPE is expected; cmp decides.)
    { tail -c +$((a + 1)) "$S/$f" | head -c $((b - a + 1)); } >"$W/range.want" || true
    cmp -s "$W/range.out" "$W/range.want" || fail "hubfs cat --range $a-$((b + 1)) $f differs"
    n=$((n + 1))
  done < <("$PY" "$here/hf_xet_files.py" ranges "$S" "$f" 8)
done
pass "hubfs cat --range: $n ranges"

bounded 30 "$HUBFS" mount "$REPO" "$MNT" --cache-dir "$W/cache" --io-timeout 10 || fail "mount failed"
(cd "$MNT" && bounded 30 find . -type f | sed 's|^\./||' | sort | grep -vx '.gitattributes') >"$W/files.mnt"
diff "$W/files.src" "$W/files.mnt" || fail "the mount lists different files"
while read -r f; do
  [[ $(stat -c %s "$MNT/$f") == $(stat -c %s "$S/$f") ]] || fail "size of $f"
  a=$(sha256sum <"$S/$f")
  b=$(bounded 60 sha256sum <"$MNT/$f")
  [[ $a == "$b" ]] || fail "sha256 of $f differs"
done <"$W/files.src"
pass "sha256 of every file through the mount"
# Random preads, mmap and xattrs on a fresh cache (fetched from hf_xet's xorbs).
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
bounded 30 "$HUBFS" mount "$REPO" "$MNT" --cache-dir "$W/cache2" --io-timeout 10 || fail "remount"
for f in random-6m.bin mixed.bin odd/random-1m-plus.bin; do
  bounded 90 /usr/bin/python3 "$here/check_reads.py" "$S" "$MNT" "$f" || fail "reads of $f"
done
if [[ -f $S/big.bin ]]; then
  bounded 120 /usr/bin/python3 "$here/check_reads.py" "$S" "$MNT" big.bin || fail "reads of big.bin"
fi
pass "random preads, mmap and xattrs of the hf_xet-uploaded files"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
pass "done in $((SECONDS - t0)) s"
