#!/usr/bin/env bash
# `hubfs mount REPO MP --revisions`: the repo's branches, tags and refs as
# directories. Creates through hubsim's API a nested branch (feature/x), a
# tag, a branch and a tag sharing a name, a pull request; reads files through
# every revision directory (sha256 against the sources), looks up a commit
# sha, checks the synthetic directories (modes, xattrs, EROFS, statfs), then
# moves main, adds and deletes branches and sees it all after the TTL.
#   mount_revisions.sh HUBFS HUBSIM
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup

TOKEN=hf_e2erevisions
e2e_start_hubsim --user "org:$TOKEN"
API=$HUBSIM_URL/api/models/org/model

S=$W/src
mkdir -p "$S/sub"
head -c 12000000 /dev/urandom >"$S/big.bin"  # Xet, by the LFS rule
printf 'version one\n' >"$S/data.txt"
printf 'unchanged\n' >"$S/sub/keep.txt"
"$HUBSIM" import --data "$W/data" --user org org/model "$S" >/dev/null || fail "import"

post() {  # post PATH JSON
  curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    --data "$2" "$API/$1" >"$W/post.out" || fail "POST $1: $(cat "$W/post.out" 2>/dev/null)"
}
head_of() {
  curl -sf -H "Authorization: Bearer $TOKEN" "$API/revision/$1" |
    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["sha"])'
}
commit_to() {  # commit_to BRANCH PATH CONTENT: one changed file on BRANCH
  local parent
  parent=$(head_of "$1")
  {
    printf '{"key":"header","value":{"summary":"change %s","parentCommit":"%s"}}\n' "$2" "$parent"
    printf '{"key":"file","value":{"path":"%s","content":"%s","encoding":"base64"}}\n' \
      "$2" "$(printf '%s' "$3" | base64 -w0)"
  } >"$W/commit.ndjson"
  curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/x-ndjson' \
    --data-binary "@$W/commit.ndjson" "$API/commit/${1//\//%2F}" >"$W/commit.out" ||
    fail "commit to $1: $(cat "$W/commit.out" 2>/dev/null)"
}

c_main=$(head_of main)
post "branch/feature%2Fx" "{\"startingPoint\":\"$c_main\"}"
commit_to feature/x data.txt $'feature x\n'
post "tag/$c_main" '{"tag":"v1.0"}'
post "tag/$c_main" '{"tag":"same"}'
post "branch/same" "{\"startingPoint\":\"$c_main\"}"
commit_to same data.txt $'branch same\n'
post discussions '{"pullRequest":true,"title":"pr"}'
c_feature=$(head_of feature%2Fx)
c_same=$(head_of refs%2Fheads%2Fsame)
[[ $c_feature != "$c_main" && $c_same != "$c_main" ]] || fail "branches did not move"
pass "hubsim: feature/x, v1.0, branch+tag 'same', refs/pr/1"

# @REV and --revisions do not go together.
if "$HUBFS" mount org/model@main "$MNT" --revisions 2>"$W/err"; then fail "@REV accepted"; fi
grep -q -- "--revisions shows every revision" "$W/err" || fail "message: $(cat "$W/err")"
is_mounted && fail "mounted despite @REV"
if bounded 30 "$HUBFS" mount org/missing "$MNT" --revisions --cache-dir "$W/cache" 2>"$W/err"; then
  fail "mounted a missing repo"
fi
grep -q "org/missing: not found or private" "$W/err" || fail "missing repo message: $(cat "$W/err")"
is_mounted && fail "mounted a missing repo"
pass "--revisions refuses @REV and a missing repo, with the reason"

bounded 30 "$HUBFS" mount org/model "$MNT" --revisions --cache-dir "$W/cache" --io-timeout 10 \
  --metadata-ttl 2 || fail "mount failed"
is_mounted || fail "not mounted"
"$HUBFS" status --cache-dir "$W/cache" >"$W/status" 2>&1 || fail "status: $(cat "$W/status")"
grep -qE "^  revision: +every revision, as directories" "$W/status" ||
  fail "status of a --revisions mount: $(cat "$W/status")"
pass "mounted with --revisions"

[[ $(ls "$MNT" | tr '\n' ' ') == "feature main refs same v1.0 " ]] || fail "root: $(ls "$MNT")"
[[ $(ls "$MNT/feature") == x ]] || fail "feature/: $(ls "$MNT/feature")"
[[ $(ls "$MNT/refs" | tr '\n' ' ') == "heads pr tags " ]] || fail "refs/: $(ls "$MNT/refs")"
[[ $(ls "$MNT/refs/heads" | tr '\n' ' ') == "feature main same " ]] || fail "refs/heads"
[[ $(ls "$MNT/refs/tags" | tr '\n' ' ') == "same v1.0 " ]] || fail "refs/tags"
[[ $(ls "$MNT/refs/pr") == 1 ]] || fail "refs/pr: $(ls "$MNT/refs/pr")"
pass "revisions listed, names with / nested, refs/heads, refs/tags, refs/pr"

sum() { sha256sum <"$1" | cut -d' ' -f1; }
for rev in main v1.0 refs/heads/main refs/tags/same refs/pr/1 "$c_main"; do
  for f in big.bin data.txt sub/keep.txt; do
    [[ $(bounded 60 sum "$MNT/$rev/$f") == $(sum "$S/$f") ]] || fail "$rev/$f differs"
  done
done
[[ $(cat "$MNT/feature/x/data.txt") == "feature x" ]] || fail "feature/x/data.txt"
[[ $(sum "$MNT/feature/x/big.bin") == $(sum "$S/big.bin") ]] || fail "feature/x/big.bin"
[[ $(cat "$MNT/same/data.txt") == "branch same" ]] || fail "same/ is not the branch"
[[ $(cat "$MNT/refs/heads/same/data.txt") == "branch same" ]] || fail "refs/heads/same"
[[ $(cat "$MNT/refs/tags/same/data.txt") == "version one" ]] || fail "refs/tags/same"
pass "files through every revision match their sources (sha256); the branch wins 'same'"

xc() { getfattr --absolute-names --only-values -n user.hf.commit "$1"; }
[[ $(xc "$MNT/main") == "$c_main" ]] || fail "user.hf.commit main"
[[ $(xc "$MNT/feature/x") == "$c_feature" ]] || fail "user.hf.commit feature/x"
[[ $(xc "$MNT/same") == "$c_same" ]] || fail "user.hf.commit same"
[[ $(xc "$MNT/refs/tags/same") == "$c_main" ]] || fail "user.hf.commit refs/tags/same"
[[ $(xc "$MNT/$c_feature/data.txt") == "$c_feature" ]] || fail "user.hf.commit by sha"
ls "$MNT" | grep -q "$c_main" && fail "a commit sha is listed"
[[ -e $MNT/0123456789abcdef0123456789abcdef01234567 ]] && fail "an unknown sha exists"
getfattr --absolute-names -n user.hf.commit "$MNT/feature" >/dev/null 2>&1 && fail "xattr on a synthetic dir"
pass "user.hf.commit on revision roots; commit sha by lookup only"

[[ $(stat -c %A "$MNT/feature") == dr-xr-xr-x ]] || fail "synthetic dir mode"
[[ $(stat -c %A "$MNT/main") == dr-xr-xr-x ]] || fail "revision dir mode"
commit_time=$(curl -s "$API/revision/$c_main" | /usr/bin/python3 -c '
import calendar, json, sys, time
d = json.load(sys.stdin)["lastModified"][:19]
print(calendar.timegm(time.strptime(d, "%Y-%m-%dT%H:%M:%S")))')
[[ $(stat -c %Y "$MNT/$c_main") == "$commit_time" ]] || fail "sha dir mtime is not the commit date"
[[ $(stat -c %Y "$MNT/main/data.txt") == "$commit_time" ]] || fail "file mtime"
now=$(date +%s)
t=$(stat -c %Y "$MNT/refs")
((t > now - 300 && t <= now)) || fail "synthetic dir mtime $t is not the mount time"
stat -f "$MNT" >/dev/null || fail "statfs"
for p in "$MNT/new" "$MNT/main/new" "$MNT/feature/new"; do
  touch "$p" 2>"$W/err" && fail "created $p"
  grep -q "Read-only file system" "$W/err" || fail "create $p: $(cat "$W/err")"
done
mkdir "$MNT/refs/x" 2>"$W/err" && fail "mkdir"
grep -q "Read-only file system" "$W/err" || fail "mkdir: $(cat "$W/err")"
[[ $(find "$MNT/main" -type f | wc -l) == 4 ]] || fail "find main (3 files and .gitattributes)"
ls -lR "$MNT/refs" >/dev/null || fail "ls -lR refs"
pass "0555, mtimes, statfs, EROFS, find, ls -lR"

# Hold main/data.txt open across the move.
exec 7<"$MNT/main/data.txt"
commit_to main data.txt $'version two\n'
post "branch/late" "{\"startingPoint\":\"$c_main\"}"
curl -sf -X DELETE -H "Authorization: Bearer $TOKEN" "$API/branch/feature%2Fx" >/dev/null ||
  fail "delete feature/x"
c_main2=$(head_of main)
sleep 3  # > TTL
bounded 20 ls "$MNT" >"$W/ls.txt"
[[ $(tr '\n' ' ' <"$W/ls.txt") == "late main refs same v1.0 " ]] || fail "root after: $(cat "$W/ls.txt")"
[[ -e $MNT/feature ]] && fail "deleted branch still there"
[[ $(bounded 20 cat "$MNT/main/data.txt") == "version two" ]] || fail "main did not move"
[[ $(xc "$MNT/main") == "$c_main2" ]] || fail "user.hf.commit after the move"
[[ $(cat "$MNT/late/data.txt") == "version one" ]] || fail "new branch"
[[ $(cat "$MNT/v1.0/data.txt") == "version one" ]] || fail "tag after the move"
[[ $(cat <&7) == "version one" ]] || fail "the held descriptor lost its version"
exec 7<&-
pass "after the TTL: main moved, new branch listed, deleted one gone, held fd kept its bytes"

bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
pass "unmounted"
