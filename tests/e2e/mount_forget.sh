#!/usr/bin/env bash
# The inode table follows the kernel's lookup count: after find(1) over a few
# thousand entries the table holds them (statfs f_files reports its size);
# once the kernel drops its dentries (drop_caches=2: dentries and inodes
# only, not the page cache) and forgets them, the table shrinks back.
#   mount_forget.sh HUBFS HUBSIM
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup
e2e_start_hubsim

S=$W/src
for d in a b c; do
  mkdir -p "$S/$d"
  for i in $(seq 1 1000); do printf '%s\n' "$i" >"$S/$d/f$i.txt"; done
done
e2e_import datasets/org/many "$S"

bounded 30 "$HUBFS" mount datasets/org/many "$MNT" --cache-dir "$W/cache" || fail "mount"
n=$(bounded 60 find "$MNT" -type f | wc -l)
[[ $n -eq 3001 ]] || fail "find saw $n files"  # + .gitattributes
before=$(stat -f -c %c "$MNT")
((before >= 3000)) || fail "inode table holds $before inodes after find"
pass "find over 3000 entries; the inode table holds $before"

sync
echo 2 >/proc/sys/vm/drop_caches
after=$before
for _ in $(seq 1 50); do
  after=$(stat -f -c %c "$MNT")
  ((after < 100)) && break
  sleep 0.1
done
((after < 100)) || fail "inode table still holds $after inodes after the kernel forgot them"
pass "forgets shrink the inode table to $after"

# Everything still resolves after being forgotten.
[[ $(cat "$MNT/b/f500.txt") == 500 ]] || fail "re-lookup after forget"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
pass "re-lookup after forget; unmount"
