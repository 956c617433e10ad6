#!/usr/bin/env bash
# The mount's command-line side: a SOURCE without @REV mounts the default
# branch (by its name, as a branch view); `hubfs status` lists a mount (pid, source,
# cache use) only while it is mounted; `mount.hubfs SOURCE MNT -o OPTS`, as
# mount(8) runs it for /etc/fstab entries, mounts and unmounts.
#   mount_cli.sh HUBFS HUBSIM MOUNT_HUBFS
HUBFS=$1
HUBSIM=$2
MOUNT_HUBFS=$3
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_setup
# The daemon of mount.hubfs carries its own program name: find it too.
daemon_pid() {
  local p
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qE -- "(^| |/)mount( |\.hubfs )" &&
       tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qxF -- "$MNT"; then
      basename "$p"
      return 0
    fi
  done
  return 0
}
e2e_start_hubsim

S=$W/src
mkdir -p "$S/sub"
printf 'one\n' >"$S/a.txt"
printf 'b\n' >"$S/sub/b.txt"
e2e_import datasets/org/data "$S"
main_sha() {
  sed -n 's/.*"sha":"\([0-9a-f]\{40\}\)".*/\1/p' <<<"$(curl -s "$HUBSIM_URL/api/datasets/org/data/revision/main")"
}
sha1=$(main_sha)
[[ ${#sha1} -eq 40 ]] || fail "no commit sha from hubsim"

# 1. No @REV: the default branch, named (status shows "main", not a sha).
bounded 30 "$HUBFS" mount datasets/org/data "$MNT" --cache-dir "$W/cache" --metadata-ttl 1 ||
  fail "mount without a revision"
[[ $(cat "$MNT/a.txt") == one ]] || fail "default branch content"
commit=$(python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.hf.commit").decode())' "$MNT/a.txt")
[[ $commit == "$sha1" ]] || fail "default-branch view at $commit, main is at $sha1"
pass "no @REV mounts the default branch"

# 2. status while mounted: mountpoint, source, revision, the daemon's pid, cache use.
pid=$(daemon_pid)
[[ -n $pid ]] || fail "no daemon"
[[ -f $W/cache/mounts/$pid.json ]] || fail "no mount record $W/cache/mounts/$pid.json"
"$HUBFS" status >"$W/status" 2>&1 || fail "hubfs status: $(cat "$W/status")"
grep -qxF "$MNT" "$W/status" || fail "status does not list $MNT: $(cat "$W/status")"
grep -qE "^  source: +datasets/org/data$" "$W/status" || fail "status source: $(cat "$W/status")"
grep -qE "^  revision: +main \(commit $sha1" "$W/status" || fail "status revision: $(cat "$W/status")"
grep -qE "^  daemon: +pid $pid$" "$W/status" || fail "status pid: $(cat "$W/status")"
grep -qE "^  cache: +$W/cache \([0-9.]+ (B|KiB|MiB)" "$W/status" || fail "status cache: $(cat "$W/status")"
pass "status lists the mount"

bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "daemon still running after unmount"
[[ ! -e $W/cache/mounts/$pid.json ]] || fail "mount record left after unmount"
"$HUBFS" status >"$W/status" 2>&1 || fail "hubfs status after unmount"
grep -qF "$MNT" "$W/status" && fail "status still lists $MNT: $(cat "$W/status")"
# A stale record (dead pid) is ignored and removed.
printf '{"pid":999999999,"mountpoint":"%s","source":"x/y","cache_dir":"%s"}\n' "$MNT" "$W/cache" \
  >"$W/cache/mounts/999999999.json"
"$HUBFS" status --cache-dir "$W/cache" >"$W/status" 2>&1 || fail "hubfs status with a stale record"
grep -qF "$MNT" "$W/status" && fail "status lists a stale record"
[[ ! -e $W/cache/mounts/999999999.json ]] || fail "stale record not removed"
pass "status forgets the mount after unmount"

# 3. mount.hubfs as mount(8) calls it.
bounded 30 "$MOUNT_HUBFS" "datasets/org/data@$sha1" "$MNT" \
  -o "ro,defaults,noauto,_netdev,nofail,metadata_ttl=5,io_timeout=10,memory_limit=48M,cache_dir=$W/cache2" ||
  fail "mount.hubfs"
is_mounted || fail "mount.hubfs returned without a mount"
[[ $(cat "$MNT/a.txt") == one ]] || fail "mount.hubfs: content of the pinned commit"
[[ $(cat "$MNT/sub/b.txt") == b ]] || fail "mount.hubfs: subfolder file"
grep -F " $MNT " /proc/self/mountinfo | grep -q " - fuse.hubfs hubfs:datasets/org/data " ||
  fail "mountinfo: $(grep -F " $MNT " /proc/self/mountinfo)"
touch "$MNT/new" 2>/dev/null && fail "mount.hubfs mount is writable"
hpid=$(daemon_pid)
[[ -n $hpid && -f $W/cache2/mounts/$hpid.json ]] || fail "mount.hubfs: no daemon or record in cache_dir"
"$HUBFS" status >"$W/status" 2>&1 || fail "hubfs status (mount.hubfs)"
grep -qxF "$MNT" "$W/status" || fail "status misses the mount.hubfs mount: $(cat "$W/status")"
grep -qE "^  daemon: +pid $hpid$" "$W/status" || fail "status pid (mount.hubfs): $(cat "$W/status")"
grep -qE "^  fetching: .* held of 48\.0 MiB" "$W/status" ||
  fail "memory_limit=48M not applied: $(cat "$W/status")"
if "$MOUNT_HUBFS" datasets/org/data "$W/src" -o bogus_option 2>"$W/err"; then
  fail "mount.hubfs accepted an unknown option"
fi
grep -q "unknown mount option 'bogus_option'" "$W/err" || fail "unknown option: $(cat "$W/err")"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount (mount.hubfs)"
is_mounted && fail "still mounted"
for _ in $(seq 1 50); do kill -0 "$hpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$hpid" 2>/dev/null && fail "mount.hubfs daemon still running after unmount"
pass "mount.hubfs mounts with -o options and unmounts"

bounded 30 "$MOUNT_HUBFS" datasets/org/data "$MNT" -o "ro,revisions,cache_dir=$W/cache2" ||
  fail "mount.hubfs -o revisions"
[[ $(cat "$MNT/main/a.txt") == one && $(cat "$MNT/$sha1/a.txt") == one ]] ||
  fail "mount.hubfs -o revisions: $(ls "$MNT")"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount (mount.hubfs -o revisions)"
pass "mount.hubfs -o revisions shows revision directories"

# shared_cache=: servers joined by '+' (-o splits at commas) or the option
# repeated. Nothing listens on those ports: the mount works all the same (the
# tier is bypassed), and status names the servers.
read -r p1 p2 p3 < <(/usr/bin/python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
tier_opt="shared_cache=memcached://127.0.0.1:$p1+127.0.0.1:$p2,shared_cache=memcached://127.0.0.1:$p3"
"$MOUNT_HUBFS" datasets/org/data "$MNT" -f -o "ro,$tier_opt" 2>"$W/fake" ||
  fail "mount.hubfs -f -o shared_cache: $(cat "$W/fake")"
grep -qF -- "--shared-cache memcached://127.0.0.1:$p1+127.0.0.1:$p2+127.0.0.1:$p3" "$W/fake" ||
  fail "shared_cache not translated: $(cat "$W/fake")"
bounded 30 "$MOUNT_HUBFS" datasets/org/data "$MNT" -o "ro,cache_dir=$W/cache3,$tier_opt" ||
  fail "mount.hubfs -o shared_cache"
[[ $(cat "$MNT/a.txt") == one ]] || fail "mount.hubfs -o shared_cache: content"
"$HUBFS" status >"$W/status" 2>&1 || fail "hubfs status (shared_cache)"
grep -qF "shared:   memcached://127.0.0.1:$p1+127.0.0.1:$p2+127.0.0.1:$p3" "$W/status" ||
  fail "status misses the shared cache: $(cat "$W/status")"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount (mount.hubfs -o shared_cache)"
if "$MOUNT_HUBFS" datasets/org/data "$MNT" -o "ro,shared_cache=memcached://127.0.0.1" 2>"$W/err"; then
  fail "mount.hubfs accepted a shared_cache without a port"
fi
grep -q "expected HOST:PORT" "$W/err" || fail "bad shared_cache: $(cat "$W/err")"
is_mounted && fail "mounted despite a bad shared_cache"
pass "mount.hubfs -o shared_cache=...+... (and repeated) mounts with the tier; a bad one is refused"

# 4. Mounted from a terminal (script(1) gives the shell a pty as its controlling
# terminal). The daemon stays in that shell's session (hence its scheduler
# autogroup: with one of its own, it starved when the session kept the CPU
# busy) in a process group of its own, without the terminal; when the terminal
# goes away (script exits, the pty hangs up), it keeps serving.
# Field N of a /proc/PID/stat line in FILE (after the command name).
stat_field_of() { sed 's/^.*) //' "$1" | cut -d' ' -f"$(($2 - 2))"; }
stat_field() { stat_field_of "/proc/$1/stat" "$2"; }
command -v script >/dev/null || fail "script(1) missing (bsdutils)"
bounded 60 script -qec "bash -c 'cat /proc/\$\$/stat >\"$W/shell.stat\"; \
  \"$HUBFS\" mount datasets/org/data \"$MNT\" --cache-dir \"$W/cache4\"'" /dev/null </dev/null \
  >"$W/script.out" 2>&1 || fail "mount from a terminal: $(cat "$W/script.out")"
is_mounted || fail "mount from a terminal: not mounted: $(cat "$W/script.out")"
tpid=$(daemon_pid)
[[ -n $tpid ]] || fail "mount from a terminal: no daemon"
shell_sid=$(stat_field_of "$W/shell.stat" 6)
shell_tty=$(stat_field_of "$W/shell.stat" 7)
[[ $shell_tty != 0 ]] || fail "script(1) gave the shell no controlling terminal"
[[ $(stat_field "$tpid" 6) == "$shell_sid" ]] ||
  fail "daemon in session $(stat_field "$tpid" 6), the mounting shell's is $shell_sid"
[[ $(stat_field "$tpid" 5) == "$tpid" ]] || fail "daemon not in a process group of its own"
[[ $(stat_field "$tpid" 7) == 0 ]] || fail "daemon kept the terminal $(stat_field "$tpid" 7)"
[[ $(cat "$MNT/a.txt") == one ]] || fail "mount from a terminal: content after the terminal closed"
kill -0 "$tpid" || fail "daemon gone after the terminal closed"
bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount (mounted from a terminal)"
for _ in $(seq 1 50); do kill -0 "$tpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$tpid" 2>/dev/null && fail "daemon (mounted from a terminal) still running after unmount"
pass "mounted from a terminal: the daemon keeps the shell's session, leaves the terminal, outlives it"
