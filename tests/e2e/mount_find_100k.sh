#!/usr/bin/env bash
# find over a repo of 100 000 files in 400 folders keeps the inode table
# bounded by the kernel's lookups:
#   - find counts every entry, with one tree listing per folder and no
#     per-file requests (hubsim counters)
#   - after find, and after a walk that stats every file (du), the table
#     (statfs f_files) holds at most the entries + a small slack; the
#     daemon's anonymous RSS stays bounded (printed)
#   - drop_caches=2 (dentries and inodes) makes the kernel forget them and the
#     table shrinks back; a second walk is served from the cached listings
#   mount_find_100k.sh HUBFS HUBSIM        env: DIRS (200), FILES_PER_DIR (500)
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
DIRS=${DIRS:-200}
FILES_PER_DIR=${FILES_PER_DIR:-500}
# 200 000 small files (the source and hubsim's blobs) are written and removed:
# in memory when /dev/shm has room (under 1 GiB is used), not on a disk that
# parallel tests keep syncing (that made the same steps take 90 s instead of 5).
if [[ -w /dev/shm && $(df -Pk /dev/shm | awk 'NR == 2 {print $4}') -gt 2000000 ]]; then
  export TMPDIR=/dev/shm
fi
e2e_setup
e2e_start_hubsim
t0=$SECONDS

S=$W/src
# DIRS folders, each holding one subfolder with FILES_PER_DIR small files.
/usr/bin/python3 - "$S" "$DIRS" "$FILES_PER_DIR" <<'PY'
import os, sys
root, dirs, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for d in range(dirs):
    p = f"{root}/d{d:03d}/s{d % 7}"
    os.makedirs(p)
    for i in range(per):
        with open(f"{p}/f{i:04d}.txt", "w") as f:
            f.write(f"{d} {i}\n")
PY
t_gen=$SECONDS
commit=$("$HUBSIM" import --data "$W/data" datasets/org/huge "$S") || fail "import"
pass "generated $((DIRS * FILES_PER_DIR)) files in $((t_gen - t0)) s, hubsim import in $((SECONDS - t_gen)) s"

# The commit itself: an immutable view, so nothing re-resolves a branch.
bounded 30 "$HUBFS" mount "datasets/org/huge@$commit" "$MNT" --cache-dir "$W/cache" || fail "mount"
pid=$(daemon_pid)
[[ -n $pid ]] || fail "no daemon"
files=$((DIRS * FILES_PER_DIR + 1))         # + .gitattributes
entries=$((files + 2 * DIRS))
rss() { awk '/^RssAnon:/ {print int($2 / 1024)}' "/proc/$pid/status"; }
counts() {  # tree listings and all other requests since the last reset
  curl -sf "$HUBSIM_URL/admin/counters" | /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin)
hub = c.get("hub", {})
other = sum(v["requests"] for k, v in hub.items() if k not in ("tree", "admin"))
other += sum(v["requests"] for o in ("cas", "data") for v in c.get(o, {}).values())
print(hub.get("tree", {}).get("requests", 0), other)'
}
curl -sf -X DELETE "$HUBSIM_URL/admin/counters" >/dev/null || fail "counters reset"

t=$SECONDS
n=$(bounded 120 find "$MNT" | wc -l)
[[ $n -eq $((entries + 1)) ]] || fail "find saw $n entries, want $((entries + 1))"
read -r tree other <<<"$(counts)"
[[ $tree -eq $((2 * DIRS)) && $other -eq 0 ]] ||
  fail "find: $tree tree listings for $((2 * DIRS)) folders, $other other requests"
table=$(stat -f -c %c "$MNT")
((table <= entries + 100)) || fail "inode table holds $table for $entries entries"
pass "find: $n entries in $((SECONDS - t)) s, $tree listings, 0 other requests; table $table, RssAnon $(rss) MiB"

t=$SECONDS
[[ $(cd "$MNT" && bounded 120 du -sb . | cut -f1) == $(cd "$S" && find . -type f -printf '%s\n' |
  awk '{s += $1} END {print s}' | xargs expr "$(stat -c %s "$MNT/.gitattributes")" +) ]] ||
  fail "du -sb over $files files"
table=$(stat -f -c %c "$MNT")
((table <= entries + 100)) || fail "inode table holds $table for $entries entries"
((table >= 1000)) || fail "inode table holds only $table after stat-ing every file"
anon=$(rss)
((anon <= 256)) || fail "daemon RssAnon $anon MiB after $entries entries"
read -r tree other <<<"$(counts)"
[[ $tree -eq $((2 * DIRS)) && $other -eq 0 ]] || fail "du: new requests ($tree listings, $other other)"
pass "du -sb stats every file in $((SECONDS - t)) s; table $table, RssAnon $anon MiB, no new requests"

sync
echo 2 >/proc/sys/vm/drop_caches
after=$table
for _ in $(seq 1 100); do
  after=$(stat -f -c %c "$MNT")
  ((after < 100)) && break
  sleep 0.1
done
((after < 100)) || fail "inode table still holds $after after the kernel forgot the entries"
pass "forgets shrink the table from $table to $after; RssAnon $(rss) MiB"

n=$(bounded 120 find "$MNT" -type f | wc -l)
[[ $n -eq $files ]] || fail "second find saw $n files"
read -r tree other <<<"$(counts)"
[[ $tree -eq $((2 * DIRS)) && $other -eq 0 ]] || fail "second find: new requests ($tree listings, $other other)"
pass "second find after the forgets: $n files from cached listings; table $(stat -f -c %c "$MNT")"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
pass "done in $((SECONDS - t0)) s"
