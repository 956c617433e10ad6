#!/usr/bin/env bash
# Mounts an imported folder (daemon mode) and checks what a user sees: every
# file's sha256, ls -lR / find, pread and mmap ranges, xattrs, EROFS, ENOENT,
# hubfs unmount ending the daemon.
#   mount_read.sh HUBFS HUBSIM
HUBFS=$1
HUBSIM=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup
e2e_start_hubsim

S=$W/src
mkdir -p "$S/sub/deeper"
head -c 5000000 /dev/urandom >"$S/big.bin"     # Xet, by the LFS rule
printf 'hello from hubfs\n' >"$S/README.md"      # regular git file
printf '{"a": 1}\n' >"$S/sub/config.json"
head -c 3000 /dev/urandom >"$S/sub/deeper/small.bin"
e2e_import org/model "$S"

bounded 30 "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache" --io-timeout 10 ||
  fail "mount failed"
is_mounted || fail "not mounted after hubfs mount returned"
[[ -n $(daemon_pid) ]] || fail "no daemon serving $MNT"
pass "mount returned with the mount ready"

[[ $(cat "/sys/class/bdi/$(mountpoint -d "$MNT")/read_ahead_kb") == 1024 ]] ||
  fail "kernel readahead not 1 MiB"
commit_time=$(curl -s "$HUBSIM_URL/api/models/org/model/revision/main" | /usr/bin/python3 -c '
import calendar, json, sys, time
d = json.load(sys.stdin)["lastModified"][:19]
print(calendar.timegm(time.strptime(d, "%Y-%m-%dT%H:%M:%S")))')
[[ $(stat -c %Y "$MNT/README.md") == "$commit_time" ]] || fail "mtime is not the commit date"
pass "readahead 1 MiB, mtime = commit date"

curl -sf -X DELETE "$HUBSIM_URL/admin/counters" >/dev/null || fail "counters reset"
# ls -lR: modes, sizes, directories.
bounded 30 ls -lR "$MNT" >"$W/ls.txt"
grep -q '^-r--r--r-- 1 .* 5000000 .* big.bin$' "$W/ls.txt" || fail "ls -l big.bin: $(cat "$W/ls.txt")"
grep -q '^dr-xr-xr-x .* sub$' "$W/ls.txt" || fail "ls -l sub"
grep -q '^-r--r--r-- 1 .* 3000 .* small.bin$' "$W/ls.txt" || fail "ls -l small.bin"
[[ $(stat -c %b "$MNT/big.bin") -ge 9766 ]] || fail "st_blocks not filled"
[[ $(find "$MNT" -type d | wc -l) -eq 3 ]] || fail "find -type d"
[[ $(ls -a "$MNT/sub" | tr '\n' ' ') == ". .. config.json deeper " ]] ||
  fail "ls -a: $(ls -a "$MNT/sub")"
pass "ls -lR and find"

# Listing the whole tree costs one request per directory not yet listed
# (the root was listed before mounting) and none per file (readdirplus).
curl -s "$HUBSIM_URL/admin/counters" >"$W/counters.json"
/usr/bin/python3 - "$W/counters.json" <<'PY' || fail "requests while listing: $(cat "$W/counters.json")"
import json, sys
hub = json.load(open(sys.argv[1])).get("hub", {})
tree = sum(v["requests"] for k, v in hub.items() if "tree" in k)
other = sum(v["requests"] for k, v in hub.items() if "tree" not in k and "admin" not in k)
sys.exit(0 if tree == 2 and other == 0 else 1)
PY
pass "ls -lR and find: one listing per directory, no per-file requests"

# Every file, byte for byte.
(cd "$S" && find . -type f | sort) >"$W/files.src"
(cd "$MNT" && bounded 30 find . -type f | sort) >"$W/files.mnt"
grep -v '^./.gitattributes$' "$W/files.mnt" >"$W/files.mnt2" || true
diff "$W/files.src" "$W/files.mnt2" || fail "find lists different files"
while read -r f; do
  a=$(sha256sum <"$S/$f")
  b=$(bounded 30 sha256sum <"$MNT/$f")
  [[ $a == "$b" ]] || fail "sha256 of $f differs"
done <"$W/files.src"
pass "sha256 of every file"

bounded 60 /usr/bin/python3 "$here/check_reads.py" "$S" "$MNT" big.bin

# Read-only and missing paths.
(echo x >"$MNT/new") 2>"$W/err" && fail "create succeeded"
grep -q "Read-only file system" "$W/err" || fail "create: $(cat "$W/err")"
(echo x >>"$MNT/README.md") 2>"$W/err" && fail "append succeeded"
grep -q "Read-only file system" "$W/err" || fail "append: $(cat "$W/err")"
mkdir "$MNT/d" 2>"$W/err" && fail "mkdir succeeded"
grep -q "Read-only file system" "$W/err" || fail "mkdir: $(cat "$W/err")"
rm -f "$MNT/README.md" 2>"$W/err" && fail "unlink succeeded"
grep -q "Read-only file system" "$W/err" || fail "unlink: $(cat "$W/err")"
cat "$MNT/nope" 2>"$W/err" && fail "missing file read"
grep -q "No such file or directory" "$W/err" || fail "ENOENT: $(cat "$W/err")"
[[ -e $MNT/sub/nope/deeper ]] && fail "missing nested path exists"
pass "EROFS on writes, ENOENT on missing paths"

pid=$(daemon_pid)
bounded 30 "$HUBFS" unmount "$MNT" || fail "hubfs unmount"
is_mounted && fail "still mounted after hubfs unmount"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "daemon still running after unmount"
pass "unmount ends the daemon"
