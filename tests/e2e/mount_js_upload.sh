#!/usr/bin/env bash
# Files uploaded by the official @huggingface/hub JS client (its own chunker,
# xorbs and shards; LZ4 and byte-grouping LZ4 records; a file whose prefix the
# client deduplicated against another file's xorb, so it spans two xorbs) read
# through the mount: every file's sha256, 200 random preads, mmap from 8
# threads and xattrs per Xet file (check_reads.py).
#   mount_js_upload.sh HUBFS HUBSIM CONFORMANCE_KIT_DIR
HUBFS=$1
HUBSIM=$2
KIT=$3
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
NODE=$(command -v node) || fail "node not found"
[[ -d $KIT/node_modules/@huggingface/hub ]] ||
  fail "$KIT has no node_modules (run scripts/setup-conformance.sh)"
e2e_setup
e2e_start_hubsim --user jsuser:hf_jsuser_token
t0=$SECONDS

S=$W/src
/usr/bin/python3 "$here/../lib/js_upload_files.py" gen "$S" || fail "writing the source files"
REPO=jsuser/js-upload
js() {  # js CMD ARGS...: the official client (tests/js/hub_client.mjs) from the kit
  (cd "$KIT" && HF_ENDPOINT=$HUBSIM_URL HF_TOKEN=hf_jsuser_token HF_REPO=$REPO "$NODE" hub_client.mjs "$@")
}
js create >"$W/js.out" 2>"$W/js.err" || fail "JS createRepo: $(cat "$W/js.err")"
# random.bin before combined.bin: the second upload finds the first's chunks.
for f in random.bin data/combined.bin data/compressible.bin notes.txt; do
  js upload "$S/$f" "$f" >"$W/js.out" 2>"$W/js.err" || fail "JS upload $f: $(cat "$W/js.err")"
done
/usr/bin/python3 "$here/../lib/js_upload_files.py" layout "$W/data" "$S" >"$W/layout.json" ||
  fail "the JS upload did not produce the expected records"
pass "uploaded with the JS client in $((SECONDS - t0)) s"

export HF_TOKEN=hf_jsuser_token
bounded 30 "$HUBFS" mount "$REPO" "$MNT" --cache-dir "$W/cache" --io-timeout 10 || fail "mount failed"

(cd "$S" && find . -type f | sort) >"$W/files.src"
(cd "$MNT" && bounded 30 find . -type f | sort | grep -v '^./.gitattributes$') >"$W/files.mnt"
diff "$W/files.src" "$W/files.mnt" || fail "the mount lists different files"
while read -r f; do
  [[ $(stat -c %s "$MNT/$f") == $(stat -c %s "$S/$f") ]] || fail "size of $f"
  a=$(sha256sum <"$S/$f")
  b=$(bounded 60 sha256sum <"$MNT/$f")
  [[ $a == "$b" ]] || fail "sha256 of $f differs"
done <"$W/files.src"
pass "sha256 of every file through the mount"

# Random preads, mmap from several threads and xattrs on a fresh cache, so
# the reads fetch from the client's xorbs instead of the chunks the whole
# reads above cached.
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
bounded 30 "$HUBFS" mount "$REPO" "$MNT" --cache-dir "$W/cache2" --io-timeout 10 || fail "remount"
for f in random.bin data/combined.bin data/compressible.bin; do
  bounded 90 /usr/bin/python3 "$here/check_reads.py" "$S" "$MNT" "$f" || fail "reads of $f"
done
pass "random preads, mmap and xattrs of the JS-uploaded Xet files"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
pass "done in $((SECONDS - t0)) s"
