#!/usr/bin/env bash
# du over a mounted repo of ~1000 files in nested folders (git files of many
# sizes, empty files, Xet files): `du -sb` and `du -b` per folder equal the
# source's apparent sizes, `du -s` equals the 512-byte blocks the sizes need
# (st_blocks filled, folders 0), with zero per-file requests: one tree
# listing per folder and nothing else (hubsim counters).
#   mount_du.sh HUBFS HUBSIM
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup
e2e_start_hubsim
t0=$SECONDS

S=$W/src
/usr/bin/python3 - "$S" <<'PY'
import os, random, sys
root, r = sys.argv[1], random.Random(99)
# Our own .gitattributes, so the repo holds exactly the source folder.
os.makedirs(root, exist_ok=True)
open(f"{root}/.gitattributes", "w").write("*.bin filter=lfs diff=lfs merge=lfs -text\n")
for d in range(30):
    p = f"{root}/part{d:02d}" + ("/nested/deeper" if d % 4 == 0 else "")
    os.makedirs(p, exist_ok=True)
    for i in range(33):
        size = r.choice([0, 1, 511, 512, 513, 4096, r.randrange(1, 20000)])
        open(f"{p}/f{i}.txt", "wb").write(r.randbytes(size).replace(b"\0", b"x"))
    if d % 10 == 0:  # Xet files
        open(f"{p}/w{d}.bin", "wb").write(r.randbytes(r.randrange(1 << 20, 3 << 20)))
PY
commit=$("$HUBSIM" import --data "$W/data" org/sizes "$S") || fail "import"
# The commit itself, so the view is immutable and nothing re-resolves a branch.
bounded 30 "$HUBFS" mount "org/sizes@$commit" "$MNT" --cache-dir "$W/cache" || fail "mount"
curl -sf -X DELETE "$HUBSIM_URL/admin/counters" >/dev/null || fail "counters reset"

# Expected: apparent sizes per folder (du -b counts subfolders in), and 512-byte blocks.
/usr/bin/python3 - "$S" >"$W/want.txt" <<'PY'
import math, os, sys
root = sys.argv[1]
sizes, blocks = {}, 0
for dirpath, dirs, files in os.walk(root):
    rel = os.path.relpath(dirpath, root)
    sizes.setdefault(rel, 0)
    for f in files:
        s = os.path.getsize(os.path.join(dirpath, f))
        blocks += math.ceil(s / 512)
        d = rel
        while True:
            sizes[d] = sizes.get(d, 0) + s
            if d == ".":
                break
            d = os.path.dirname(d) or "."
print("blocks_kib", math.ceil(blocks * 512 / 1024))
for d in sorted(sizes):
    print(sizes[d], d if d == "." else "./" + d)
PY
sb=$(cd "$MNT" && bounded 30 du -sb . | cut -f1)
[[ $sb == $(sed -n 's/^\([0-9]*\) \.$/\1/p' "$W/want.txt") ]] || fail "du -sb: $sb, want $(grep ' \.$' "$W/want.txt")"
(cd "$MNT" && bounded 30 du -b . | awk -F'\t' '{print $1 " " $2}' | sort -k2) >"$W/du-b.txt"
grep -v '^blocks_kib' "$W/want.txt" | sort -k2 | diff - "$W/du-b.txt" || fail "du -b per folder differs"
s=$(cd "$MNT" && bounded 30 du -s . | cut -f1)
[[ $s == $(sed -n 's/^blocks_kib //p' "$W/want.txt") ]] ||
  fail "du -s: $s KiB, want $(sed -n 's/^blocks_kib //p' "$W/want.txt")"
bad=$(bounded 30 find "$MNT" -type f -printf '%b %s\n' | awk '$1 != int(($2 + 511) / 512)' | head -3)
[[ -z $bad ]] || fail "st_blocks is not ceil(size / 512): $bad"
pass "du -sb ($sb B), du -b per folder, du -s ($s KiB) equal the source"

ndirs=$(cd "$S" && find . -type d | wc -l)
curl -sf "$HUBSIM_URL/admin/counters" >"$W/counters.json" || fail "counters"
/usr/bin/python3 - "$W/counters.json" "$ndirs" <<'PY' || fail "requests during du: $(cat "$W/counters.json")"
import json, sys
c = json.load(open(sys.argv[1]))
hub = c.get("hub", {})
tree = sum(v["requests"] for k, v in hub.items() if k == "tree")
other = sum(v["requests"] for k, v in hub.items() if k not in ("tree", "admin"))
other += sum(v["requests"] for o in ("cas", "data") for v in c.get(o, {}).values())
ndirs = int(sys.argv[2])
print(f"du: {tree} tree listings for {ndirs} folders (the root listed at mount), {other} other requests")
sys.exit(0 if tree == ndirs - 1 and other == 0 else 1)
PY
pass "one listing per folder, zero per-file requests"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
pass "done in $((SECONDS - t0)) s"
