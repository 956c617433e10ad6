#!/usr/bin/env bash
# Who may see what: --uid/--gid set the owner shown for every entry; without
# --allow-other only the mounting user gets through (FUSE's rule, even for
# files mode 0444), with it another user reads the files, and nobody can
# write either way.
#   mount_access.sh HUBFS HUBSIM
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup
e2e_start_hubsim --user owner:hf_owner_token
chmod 0755 "$W"  # another user must reach the mountpoint

S=$W/src
mkdir -p "$S/sub"
printf 'shared text\n' >"$S/sub/a.txt"
head -c 300000 /dev/urandom >"$S/blob.bin"
e2e_import org/model "$S"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }

# 1. Default: the mounting user only.
bounded 30 "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache" || fail "mount"
[[ $(stat -c %u:%g "$MNT/sub/a.txt") == 0:0 ]] || fail "owner: $(stat -c %u:%g "$MNT/sub/a.txt")"
if as_nobody cat "$MNT/sub/a.txt" >/dev/null 2>"$W/err"; then
  fail "another user read a mount without --allow-other"
fi
grep -q "Permission denied" "$W/err" || fail "other user: $(cat "$W/err")"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
pass "without --allow-other another user gets EACCES"

# 2. --allow-other with an owner of our choosing.
bounded 30 "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache" --allow-other \
  --uid 4321 --gid 8765 || fail "mount --allow-other"
for p in "$MNT" "$MNT/sub" "$MNT/sub/a.txt" "$MNT/blob.bin"; do
  [[ $(stat -c %u:%g "$p") == 4321:8765 ]] || fail "owner of $p: $(stat -c %u:%g "$p")"
done
[[ $(stat -c %a "$MNT/sub") == 555 && $(stat -c %a "$MNT/blob.bin") == 444 ]] ||
  fail "modes: $(stat -c %a "$MNT/sub") $(stat -c %a "$MNT/blob.bin")"
[[ $(as_nobody cat "$MNT/sub/a.txt") == "shared text" ]] || fail "other user cannot read"
[[ $(as_nobody sha256sum <"$MNT/blob.bin" | cut -d' ' -f1) == \
   $(sha256sum <"$S/blob.bin" | cut -d' ' -f1) ]] || fail "other user reads other bytes"
[[ $(as_nobody ls "$MNT/sub") == a.txt ]] || fail "other user cannot list"
if as_nobody touch "$MNT/new" 2>"$W/err"; then fail "other user created a file"; fi
grep -qE "Read-only file system|Permission denied" "$W/err" || fail "other user write: $(cat "$W/err")"
if touch "$MNT/new" 2>"$W/err"; then fail "root created a file"; fi
grep -q "Read-only file system" "$W/err" || fail "root write: $(cat "$W/err")"
pass "--allow-other --uid 4321 --gid 8765: owner shown, another user reads and lists, nobody writes"

bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
pass "unmounted"

# 3. A private repo is shared with every local user only when asked for by name.
"$HUBSIM" import --data "$W/data" --user owner --private owner/secret "$S" >/dev/null
if HF_TOKEN=hf_owner_token bounded 30 "$HUBFS" mount owner/secret "$MNT" --cache-dir "$W/cache" \
     --allow-other 2>"$W/err"; then
  fail "--allow-other mounted a private repo"
fi
grep -q "owner/secret is private: --allow-other would let every local user read it" "$W/err" ||
  fail "private refusal: $(cat "$W/err")"
if HF_TOKEN=hf_owner_token bounded 30 "$HUBFS" mount hub "$MNT" --cache-dir "$W/cache" \
     --allow-other 2>"$W/err"; then
  fail "--allow-other mounted the whole Hub with a token"
fi
grep -q "a hub mount with a token reaches private repos" "$W/err" || fail "hub refusal: $(cat "$W/err")"
HF_TOKEN=hf_owner_token bounded 30 "$HUBFS" mount owner/secret "$MNT" --cache-dir "$W/cache" \
  --allow-other-private || fail "mount --allow-other-private"
[[ $(as_nobody cat "$MNT/sub/a.txt") == "shared text" ]] || fail "other user cannot read the private repo"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
pass "private repo: --allow-other refused (also a hub mount with a token), --allow-other-private shares it"
