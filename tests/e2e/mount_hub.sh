#!/usr/bin/env bash
# `hubfs mount hub MP`: models/, datasets/, spaces/; namespaces and repos
# looked up on demand; a namespace lists its author's repos; files read
# through hub/models/NS/NAME/main/... match their sources; a missing repo is
# ENOENT, and so is a private repo without a token (the Hub answers 401
# RepoNotFound for both); a bad token is EACCES; with a token the private repo
# is readable.
#   mount_hub.sh HUBFS HUBSIM
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup

TOKEN=hf_e2ehubmount
e2e_start_hubsim --user "org:$TOKEN"

S=$W/src
mkdir -p "$S/m/sub" "$S/d" "$S/p"
head -c 11000000 /dev/urandom >"$S/m/weights.bin"  # Xet, by the LFS rule
printf '{"model": true}\n' >"$S/m/config.json"
printf 'deep\n' >"$S/m/sub/deep.txt"
head -c 10500000 /dev/urandom >"$S/d/train.bin"
printf 'a,b\n1,2\n' >"$S/d/data.csv"
printf 'secret\n' >"$S/p/secret.txt"
"$HUBSIM" import --data "$W/data" --user org org/model "$S/m" >/dev/null || fail "import model"
"$HUBSIM" import --data "$W/data" --user org org/other "$S/d" >/dev/null || fail "import other"
"$HUBSIM" import --data "$W/data" --user org datasets/org/data "$S/d" >/dev/null ||
  fail "import dataset"
"$HUBSIM" import --data "$W/data" --user org --private org/private "$S/p" >/dev/null ||
  fail "import private"

# Anonymous first.
bounded 30 "$HUBFS" mount hub "$MNT" --cache-dir "$W/cache" --io-timeout 10 --metadata-ttl 2 ||
  fail "mount failed"
is_mounted || fail "not mounted"
[[ $(ls "$MNT" | tr '\n' ' ') == "datasets models spaces " ]] || fail "root: $(ls "$MNT")"
[[ -z $(ls "$MNT/models") ]] || fail "models/ lists before any lookup: $(ls "$MNT/models")"
[[ $(stat -c %A "$MNT/models") == dr-xr-xr-x ]] || fail "mode of models/"
pass "hub root: datasets models spaces"

[[ $(ls "$MNT/models/org" | tr '\n' ' ') == "model other " ]] ||
  fail "namespace listing: $(ls "$MNT/models/org")"
[[ $(ls "$MNT/models") == org ]] || fail "models/ after a lookup: $(ls "$MNT/models")"
[[ $(ls "$MNT/datasets/org") == data ]] || fail "datasets/org: $(ls "$MNT/datasets/org")"
[[ -z $(ls "$MNT/spaces/org") ]] || fail "spaces/org not empty"
pass "a namespace lists its author's repos (private ones not)"

sum() { sha256sum <"$1" | cut -d' ' -f1; }
[[ $(ls "$MNT/models/org/model" | tr '\n' ' ') == "main refs " ]] ||
  fail "repo dir: $(ls "$MNT/models/org/model")"
for f in weights.bin config.json sub/deep.txt; do
  [[ $(bounded 60 sum "$MNT/models/org/model/main/$f") == $(sum "$S/m/$f") ]] ||
    fail "models/org/model/main/$f differs"
done
for f in train.bin data.csv; do
  [[ $(bounded 60 sum "$MNT/datasets/org/data/main/$f") == $(sum "$S/d/$f") ]] ||
    fail "datasets/org/data/main/$f differs"
  [[ $(bounded 60 sum "$MNT/models/org/other/refs/heads/main/$f") == $(sum "$S/d/$f") ]] ||
    fail "models/org/other/refs/heads/main/$f differs"
done
sha=$(getfattr --absolute-names --only-values -n user.hf.commit "$MNT/models/org/model/main")
[[ $sha =~ ^[0-9a-f]{40}$ ]] || fail "user.hf.commit: $sha"
[[ $(sum "$MNT/models/org/model/$sha/config.json") == $(sum "$S/m/config.json") ]] ||
  fail "lookup by commit sha"
touch "$MNT/models/org/model/main/x" 2>"$W/err" && fail "created a file"
grep -q "Read-only file system" "$W/err" || fail "EROFS: $(cat "$W/err")"
pass "files through hub/{models,datasets}/org/NAME/main match their sources (sha256)"

stat "$MNT/models/org/missing" 2>"$W/err" && fail "a missing repo exists"
grep -q "No such file or directory" "$W/err" || fail "missing repo, no token: $(cat "$W/err")"
stat "$MNT/models/org/private" 2>"$W/err" && fail "a private repo without a token"
grep -q "No such file or directory" "$W/err" || fail "private repo, no token: $(cat "$W/err")"
stat "$MNT/models/bad..ns" 2>"$W/err" && fail "an invalid namespace exists"
grep -q "No such file or directory" "$W/err" || fail "invalid namespace: $(cat "$W/err")"
pass "without a token a private (or missing: the Hub answers alike, 401 RepoNotFound) repo is ENOENT"

# Views and inodes go when the kernel forgets them.
bounded 60 find "$MNT/models/org" "$MNT/datasets/org" >/dev/null
before=$(stat -f -c %c "$MNT")
((before >= 20)) || fail "inode table holds only $before inodes after find"
sync
echo 2 >/proc/sys/vm/drop_caches
after=$before
for _ in $(seq 1 50); do
  after=$(stat -f -c %c "$MNT")
  ((after < 5)) && break
  sleep 0.1
done
((after < 5)) || fail "inode table still holds $after inodes after the kernel forgot them"
[[ $(sum "$MNT/models/org/model/main/config.json") == $(sum "$S/m/config.json") ]] ||
  fail "re-lookup after forget"
pass "forgets shrink the inode table from $before to $after; lookups work again"

bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"

# A bad token: the Hub refuses it (401 without RepoNotFound): EACCES.
echo -n "hf_not_a_valid_token" >"$W/badtoken"
HF_TOKEN_PATH=$W/badtoken bounded 30 "$HUBFS" mount hub "$MNT" --cache-dir "$W/cache" \
  --io-timeout 10 || fail "mount with a bad token"
stat "$MNT/models/org/model" 2>"$W/err" && fail "a bad token was accepted"
grep -q "Permission denied" "$W/err" || fail "bad token: $(cat "$W/err")"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
pass "a bad token is EACCES"

# With a token: a missing repo is ENOENT, the private repo readable.
echo -n "$TOKEN" >"$W/token"
export HF_TOKEN_PATH=$W/token
bounded 30 "$HUBFS" mount hub "$MNT" --cache-dir "$W/cache" --io-timeout 10 --metadata-ttl 2 ||
  fail "mount with a token failed"
stat "$MNT/models/org/missing" 2>"$W/err" && fail "a missing repo exists"
grep -q "No such file or directory" "$W/err" || fail "missing repo: $(cat "$W/err")"
[[ $(cat "$MNT/models/org/private/main/secret.txt") == secret ]] || fail "private repo with token"
ls "$MNT/models/org" | grep -qx private || fail "the owner's listing lacks the private repo"
# A repo created after the negative lookup appears once the TTL passed.
"$HUBSIM" import --data "$W/data" --user org org/missing "$S/p" >/dev/null || fail "import late"
sleep 3
[[ $(cat "$MNT/models/org/missing/main/secret.txt") == secret ]] || fail "late repo"
pass "with a token: missing repo ENOENT (until created), private repo readable"

bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
pass "unmounted"
