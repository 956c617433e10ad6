#!/usr/bin/env bash
# Mounts on two "nodes" (separate cache dirs) sharing one memcached tier: the
# second reads a file with no origin data at all; a damaged tier entry is
# refused and refetched; a stalled, then killed, memcached never changes or
# fails a read; with three servers (mounted by mount.hubfs -o shared_cache=),
# one killed costs only its keys: the other two still serve theirs.
#   mount_shared_cache.sh HUBFS HUBSIM MOUNT_HUBFS
HUBFS=$1
HUBSIM=$2
MOUNT_HUBFS=$3
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/../lib/memcached.sh"
command -v memcached >/dev/null || fail "memcached not installed (scripts/install-deps.sh)"
e2e_setup
MEMCACHED_PID=""
MC_PIDS=()  # the three servers of the last part
shared_teardown() {
  local rc=$? p
  set +e  # a failing kill or wait must not end the teardown before the unmount
  [[ -n $MEMCACHED_PID ]] && { kill -CONT "$MEMCACHED_PID" 2>/dev/null; kill "$MEMCACHED_PID" 2>/dev/null; wait "$MEMCACHED_PID" 2>/dev/null; }
  for p in "${MC_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  (exit "$rc")
  e2e_teardown
}
trap shared_teardown EXIT
e2e_start_hubsim
memcached_start "$W/memcached.log" || fail "memcached did not start"
TIER=memcached://127.0.0.1:$MEMCACHED_PORT

S=$W/src
/usr/bin/python3 - "$S" <<'PY'
import random, sys
open(sys.argv[1] + "/model.bin", "wb").write(random.Random(5).randbytes(24_000_000))
open(sys.argv[1] + "/other.bin", "wb").write(random.Random(6).randbytes(12_000_000))
PY
e2e_import org/model "$S"

# mount_node NAME [extra args]: mounts at $MNT with its own cache dir.
mount_node() {
  local name=$1
  shift
  bounded 30 "$HUBFS" mount org/model "$MNT" --cache-dir "$W/cache-$name" --io-timeout 10 \
    --shared-cache "$TIER" "$@" || fail "mount $name failed"
}
unmount_node() {
  bounded 30 "$HUBFS" unmount "$MNT" || fail "unmount failed"
  for _ in $(seq 1 100); do [[ -z $(daemon_pid) ]] && return 0; sleep 0.1; done
  fail "daemon did not exit"
}
want=$(sha256sum <"$S/model.bin" | cut -d' ' -f1)

# Node 1: cold, from the origin; its chunks are written to the tier.
mount_node n1
[[ $(bounded 60 sha256sum "$MNT/model.bin" | cut -d' ' -f1) == "$want" ]] || fail "node 1: wrong bytes"
n1_bytes=$(data_bytes)
((n1_bytes >= 24000000)) || fail "node 1 fetched only $n1_bytes bytes"
unmount_node  # a clean exit gives the write-back queue time to drain
items=$(memcached_items "$MEMCACHED_PORT")
((items > 100)) || fail "tier holds $items items after node 1"
pass "node 1 read from the origin ($n1_bytes bytes); the tier holds $items items"

# Node 2: another cache dir, same tier: not one data byte from the origin.
curl -sf -X DELETE "$HUBSIM_URL/admin/counters" >/dev/null || fail "counters reset"
mount_node n2
[[ $(bounded 60 sha256sum "$MNT/model.bin" | cut -d' ' -f1) == "$want" ]] || fail "node 2: wrong bytes"
n2_bytes=$(data_bytes)
[[ $n2_bytes == 0 ]] || fail "node 2 fetched $n2_bytes data bytes from the origin"
sleep 2.5  # the status file is refreshed every 2 s
"$HUBFS" status >"$W/status.txt" 2>&1
grep -qE "shared: +memcached://127.0.0.1:$MEMCACHED_PORT: [1-9][0-9]* hits, [0-9]+ misses, 0 errors" \
  "$W/status.txt" || fail "status: $(cat "$W/status.txt")"
unmount_node
pass "node 2 read every byte from the tier, none from the origin; status shows the hits"

# The CLI shares the tier too (here through HUBFS_SHARED_CACHE).
curl -sf -X DELETE "$HUBSIM_URL/admin/counters" >/dev/null || fail "counters reset"
[[ $(HUBFS_SHARED_CACHE=$TIER bounded 60 "$HUBFS" cat --cache-dir "$W/cache-cli" org/model/model.bin |
     sha256sum | cut -d' ' -f1) == "$want" ]] || fail "hubfs cat: wrong bytes"
[[ $(data_bytes) == 0 ]] || fail "hubfs cat fetched $(data_bytes) data bytes from the origin"
pass "hubfs cat with HUBFS_SHARED_CACHE read every byte from the tier"

# A malformed tier is a clear error before anything is mounted.
if "$HUBFS" mount org/model "$MNT" --shared-cache http://127.0.0.1:1 >"$W/bad.txt" 2>&1; then
  fail "mount with a bad --shared-cache succeeded"
fi
grep -q "memcached://HOST:PORT" "$W/bad.txt" || fail "bad --shared-cache: $(cat "$W/bad.txt")"
is_mounted && fail "mounted despite a bad --shared-cache"
pass "a malformed --shared-cache is refused with a clear message"

# A damaged entry (one bit of a record) is refused; its run is refetched.
key=$(memcached_keys "$MEMCACHED_PORT" | /usr/bin/python3 -c '
import sys, urllib.parse
keys = [urllib.parse.unquote(k.strip()) for k in sys.stdin if "lease" not in k]
keys.sort()
print(keys[len(keys) // 2])')
/usr/bin/python3 - "$MEMCACHED_PORT" "$key" <<'PY' || fail "could not damage $key"
import socket, sys
port, key = int(sys.argv[1]), sys.argv[2].encode()
s = socket.create_connection(("127.0.0.1", port), timeout=2)
f = s.makefile("rb")
s.sendall(b"get " + key + b"\r\n")
head = f.readline().split()
assert head[0] == b"VALUE", head
n = int(head[3])
value = bytearray(f.read(n + 2)[:n])
assert f.readline() == b"END\r\n"
value[-1] ^= 0x40
s.sendall(b"set " + key + b" 0 0 %d\r\n" % n + bytes(value) + b"\r\n")
assert f.readline() == b"STORED\r\n"
PY
curl -sf -X DELETE "$HUBSIM_URL/admin/counters" >/dev/null || fail "counters reset"
mount_node n3
[[ $(bounded 60 sha256sum "$MNT/model.bin" | cut -d' ' -f1) == "$want" ]] || fail "node 3: wrong bytes"
n3_bytes=$(data_bytes)
((n3_bytes > 0 && n3_bytes < 12000000)) || fail "node 3 fetched $n3_bytes bytes (want one run)"
sleep 2.5
"$HUBFS" status >"$W/status.txt" 2>&1
grep -qE "shared: .* [1-9][0-9]* refused" "$W/status.txt" || fail "status: $(cat "$W/status.txt")"
unmount_node
pass "a damaged tier entry was refused and its run refetched ($n3_bytes bytes)"

# Reads go on while memcached stalls (SIGSTOP), then dies (SIGKILL): every
# byte exact, no read slower than a few seconds. (It stalls early: within a
# second or two the node may hold both files and ask the tier nothing more.)
mount_node n4
/usr/bin/python3 - "$MNT" "$S" "$MEMCACHED_PID" <<'PY' || fail "reads while the tier failed"
import os, random, signal, sys, time
mnt, src, mc = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = ["model.bin", "other.bin"]
want = {f: open(os.path.join(src, f), "rb").read() for f in files}
fds = {f: os.open(os.path.join(mnt, f), os.O_RDONLY) for f in files}
rng = random.Random(9)
start = time.monotonic()
stopped = killed = False
n = worst = 0
while time.monotonic() - start < 6:
    t = time.monotonic() - start
    if t > 0.2 and not stopped:
        os.kill(mc, signal.SIGSTOP); stopped = True
    if t > 2.5 and not killed:
        os.kill(mc, signal.SIGKILL); killed = True
    f = rng.choice(files)
    off = rng.randrange(len(want[f]))
    ln = rng.choice([4096, 65536, 1 << 20])
    t0 = time.monotonic()
    got = os.pread(fds[f], ln, off)
    worst = max(worst, time.monotonic() - t0)
    if got != want[f][off:off + ln]:
        sys.exit(f"wrong bytes: {f} at {off}+{ln}")
    n += 1
if worst > 5:
    sys.exit(f"a read took {worst:.1f} s")
print(f"{n} reads exact, slowest {worst:.2f} s")
PY
wait "$MEMCACHED_PID" 2>/dev/null || true  # killed above
MEMCACHED_PID=""
[[ $(bounded 60 sha256sum "$MNT/other.bin" | cut -d' ' -f1) == $(sha256sum <"$S/other.bin" | cut -d' ' -f1) ]] ||
  fail "node 4: other.bin wrong after the tier died"
unmount_node
pass "memcached stalled then killed mid-read: every read exact"
# A node that starts with the tier dead must ask it (its own cache is
# empty): every byte from the Hub, and the errors counted. (Node 4 may have
# held both files before the tier stalled and asked it nothing more.)
mount_node n5
[[ $(bounded 60 sha256sum "$MNT/model.bin" | cut -d' ' -f1) == "$want" ]] ||
  fail "node 5: wrong bytes with the tier dead"
sleep 2.5
"$HUBFS" status >"$W/status.txt" 2>&1
grep -qE "shared: .* [1-9][0-9]* errors" "$W/status.txt" || fail "status: $(cat "$W/status.txt")"
unmount_node
pass "a node started with the tier dead reads every byte right; status counts the errors"

# Three servers, named as fstab would (mount.hubfs -o shared_cache=A+B+C).
# A run's chunks live on its xorb's server: 24 files (24 xorbs) spread over
# the three.
M=$W/many
mkdir -p "$M"
/usr/bin/python3 - "$M" <<'PY'
import random, sys
for i in range(24):
    open(f"{sys.argv[1]}/part-{i:02d}.bin", "wb").write(random.Random(100 + i).randbytes(600_000))
PY
e2e_import org/many "$M"
ports=()
for i in 1 2 3; do
  memcached_start "$W/memcached-$i.log" MC_PORT MC_PID || fail "memcached $i did not start"
  MC_PIDS+=("$MC_PID")
  ports+=("127.0.0.1:$MC_PORT")
done
tier3="memcached://${ports[0]}+${ports[1]}+${ports[2]}"
mount_helper_node() {
  bounded 30 "$MOUNT_HUBFS" org/many "$MNT" -o "ro,cache_dir=$W/cache-$1,io_timeout=10,shared_cache=$tier3" ||
    fail "mount.hubfs $1 failed"
}
check_many() {
  local f
  for f in "$M"/*.bin; do
    cmp -s "$f" "$MNT/$(basename "$f")" || fail "$1: $(basename "$f") differs"
  done
}
mount_helper_node h1
check_many h1
unmount_node
for i in 0 1 2; do
  items=$(memcached_items "${ports[$i]#127.0.0.1:}")
  ((items > 0)) || fail "server $((i + 1)) holds no items: the xorbs are not spread"
done
# Server 2 dies. A new node reads exact bytes; the live servers still hit, and
# only the dead server's share comes from the origin.
kill "${MC_PIDS[1]}"
wait "${MC_PIDS[1]}" 2>/dev/null || true
curl -sf -X DELETE "$HUBSIM_URL/admin/counters" >/dev/null || fail "counters reset"
mount_helper_node h2
check_many h2
h2_bytes=$(data_bytes)
sleep 2.5
"$HUBFS" status >"$W/status.txt" 2>&1
hits=$(sed -nE 's/.*shared: .*: ([0-9]+) hits.*/\1/p' "$W/status.txt")
((hits > 20)) || fail "h2: ${hits:-no} hits from the live servers: $(cat "$W/status.txt")"
grep -qE "shared: .*\(1 of 3 servers down, their keys bypassed\)" "$W/status.txt" ||
  fail "status: $(cat "$W/status.txt")"
((h2_bytes > 0 && h2_bytes < 24 * 600000 * 8 / 10)) ||
  fail "h2 fetched $h2_bytes bytes from the origin (want the dead server's share)"
unmount_node
pass "one of three servers killed: exact bytes, $hits hits from the other two, $h2_bytes of $((24 * 600000)) bytes from the origin"
