#!/usr/bin/env bash
# A branch view follows its head: mounts a branch with --metadata-ttl 2, holds
# a file open, commits to the branch through hubsim's commit API (change that
# file, add one, delete one) and checks after the TTL that new opens see the
# new content, the listing changed, user.hf.commit moved, and the descriptor
# opened before the move still reads the old bytes. The kernel caches the
# branch's listing (no directory read when listed again) until the move.
#   mount_branch_moves.sh HUBFS HUBSIM
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup

TOKEN=hf_e2ebranchmoves
e2e_start_hubsim --user "org:$TOKEN"

S=$W/src
mkdir -p "$S/sub"
printf 'version one\n' >"$S/data.txt"
printf 'to be deleted\n' >"$S/old.txt"
printf 'unchanged\n' >"$S/sub/keep.txt"
"$HUBSIM" import --data "$W/data" --user org org/model "$S" >/dev/null || fail "import"

head_of() {
  curl -sf "$HUBSIM_URL/api/models/org/model/revision/main" |
    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["sha"])'
}
old_commit=$(head_of)

bounded 30 "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache" --io-timeout 10 \
  --metadata-ttl 2 || fail "mount failed"
is_mounted || fail "not mounted"
[[ $(cat "$MNT/data.txt") == "version one" ]] || fail "initial content"
[[ $(getfattr --only-values -n user.hf.commit "$MNT/data.txt") == "$old_commit" ]] ||
  fail "user.hf.commit before the move"
source "$here/../lib/mount_record.sh"
# The kernel's directory reads (readdir upcalls) so far.
dir_reads() {
  local rec
  rec=$(ls "$W"/cache/mounts/*.json 2>/dev/null | head -1)
  [[ -n $rec ]] || fail "no mount record"
  mount_record_fresh "$rec" dir_reads || fail "the mount's record was not rewritten"
}

# Listed twice: the kernel caches the root's entries and keeps them.
ls "$MNT" >/dev/null
ls "$MNT" >/dev/null
pass "branch mounted with --metadata-ttl 2"
reads_before=$(dir_reads)
(( reads_before > 0 )) || fail "no directory read counted"
ls "$MNT" >/dev/null
ls -l "$MNT" >/dev/null
reads_cached=$(dir_reads)
[[ $reads_cached == "$reads_before" ]] ||
  fail "the kernel read the root again ($reads_before -> $reads_cached reads): a branch's listing should stay cached"
pass "listing the branch again sends no directory read (the kernel keeps its entries)"

# Hold the file open across the move; read it again when told to.
mkfifo "$W/go"
/usr/bin/python3 - "$MNT/data.txt" "$W/go" "$W/held.txt" <<'PY' &
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
first = os.pread(fd, 100, 0)
with open(sys.argv[2]) as go:
    go.read()
with open(sys.argv[3], "wb") as out:
    out.write(first + b"|" + os.pread(fd, 100, 0))
os.close(fd)
PY
HOLDER=$!
# A failure must not leave the holder waiting on its fifo.
fail() {
  echo "FAIL: $*" >&2
  kill "$HOLDER" 2>/dev/null
  exit 1
}
sleep 0.5

# Commit to main: change data.txt, add new.txt, delete old.txt.
b64() { printf '%s' "$1" | base64 -w0; }
{
  printf '{"key":"header","value":{"summary":"move the branch","parentCommit":"%s"}}\n' "$old_commit"
  printf '{"key":"file","value":{"path":"data.txt","content":"%s","encoding":"base64"}}\n' \
    "$(b64 $'version two, longer\n')"
  printf '{"key":"file","value":{"path":"new.txt","content":"%s","encoding":"base64"}}\n' \
    "$(b64 $'brand new\n')"
  printf '{"key":"deletedFile","value":{"path":"old.txt"}}\n'
} >"$W/commit.ndjson"
curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/x-ndjson' \
  --data-binary "@$W/commit.ndjson" "$HUBSIM_URL/api/models/org/model/commit/main" \
  >"$W/commit.out" || fail "commit API: $(cat "$W/commit.out" 2>/dev/null)"
new_commit=$(head_of)
[[ $new_commit != "$old_commit" ]] || fail "the branch did not move on the server"
pass "committed to main through hubsim"

sleep 3  # > TTL
# The listing first: the open of the directory finds the move, and the
# kernel must not answer from the entries it cached before it.
bounded 20 ls "$MNT" >"$W/ls.txt"
grep -qx new.txt "$W/ls.txt" || fail "new file not listed: $(cat "$W/ls.txt")"
grep -qx old.txt "$W/ls.txt" && fail "deleted file still listed: $(cat "$W/ls.txt")"
bounded 20 ls "$MNT" >"$W/ls2.txt"
cmp -s "$W/ls.txt" "$W/ls2.txt" || fail "listed again: $(cat "$W/ls2.txt")"
reads_moved=$(dir_reads)
(( reads_moved > reads_cached )) ||
  fail "no directory read after the move ($reads_cached -> $reads_moved): the old entries were kept"
bounded 20 cat "$MNT/data.txt" >"$W/now.txt"
[[ $(cat "$W/now.txt") == "version two, longer" ]] || fail "new content: $(cat "$W/now.txt")"
[[ -e $MNT/old.txt ]] && fail "deleted file still there"
[[ $(cat "$MNT/new.txt") == "brand new" ]] || fail "new file content"
[[ $(cat "$MNT/sub/keep.txt") == "unchanged" ]] || fail "unchanged file"
[[ $(getfattr --only-values -n user.hf.commit "$MNT/data.txt") == "$new_commit" ]] ||
  fail "user.hf.commit after the move"
[[ $(stat -c %s "$MNT/data.txt") == 20 ]] || fail "size after the move"
pass "after the TTL: new content, new file listed, deleted file gone, new commit"

# hubfs status follows the view's commit (the record is rewritten every 2 s).
for _ in $(seq 1 30); do
  "$HUBFS" status --cache-dir "$W/cache" >"$W/status" 2>&1 || true
  grep -qE "^  revision: +main \(commit $new_commit\)" "$W/status" && break
  sleep 0.2
done
grep -qE "^  revision: +main \(commit $new_commit\)" "$W/status" ||
  fail "status does not show the new commit: $(cat "$W/status")"
pass "hubfs status shows the commit the view moved to"

echo go >"$W/go"
wait "$HOLDER" || fail "holder failed"
[[ $(cat "$W/held.txt") == $'version one\n|version one' ]] ||
  fail "held descriptor: $(cat "$W/held.txt")"
pass "a descriptor opened before the move still reads the old bytes"

bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
pass "unmounted"
