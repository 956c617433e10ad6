# shellcheck shell=bash
# Shared pieces of the benchmark scripts (sourced, not run). Callers set
# HUBSIM (the hubsim binary) and PY (/usr/bin/python3) first.
#   bench_workdir PREFIX              a work dir T (under TMPDIR) with a mount point
#                                     MNT in it, and an EXIT trap that unmounts MNT,
#                                     stops hubsim (BENCH_HUBSIM_PID) and removes T
#                                     (kept when MNT could not be unmounted); needs
#                                     HUBFS and a `say` function
#   bench_check_mounting              dies (the caller's `die`) unless HUBFS and HUBSIM are
#                                     built, this runs as root and /dev/fuse exists
#   bench_now                         monotonic-enough wall clock in ns
#   bench_ms START_NS END_NS          milliseconds between two bench_now values
#   bench_drop_caches [--no-server]   sync + drop page, dentry and inode caches (root),
#                                     then reads the server's store back in when
#                                     bench_server_in_memory named one, unless the
#                                     next row asks nothing of hubsim (--no-server)
#   bench_server_in_memory DIR        the store hubsim serves (its data dir): kept in
#                                     memory across every bench_drop_caches
#   bench_start_hubsim DATA LOG [ARGS...]
#                                     hubsim serve on loopback; sets BENCH_HUB and
#                                     BENCH_HUBSIM_PID (the caller kills it)
#   bench_wait_exit PID               waits (up to 30 s) for a daemon to exit after its
#                                     unmount: it may still write its cache dir for a
#                                     moment, so removing or measuring that dir waits
#   bench_counters_reset / bench_requests ORIGINS...
#                                     hubsim's counters; bench_requests prints the
#                                     request count over the given origins
#                                     (hub, cas, data), admin routes excluded
#   bench_data_bytes                  bytes hubsim's data origin served since the last reset
#   bench_peak_rss_anon DAEMON PID    prints DAEMON's peak RssAnon (KiB, sampled every
#                                     50 ms) until PID has ended (the caller waits for it)
#   bench_xet_ranges TYPE/NS/NAME REV PATH OUT
#                                     writes "START-END URL" per data range of
#                                     the file's reconstruction plan; prints the
#                                     bytes those ranges hold
#   bench_curl_ranges RANGES          fetches them with curl, 8 at a time
#   bench_js_download KIT NS/NAME PATH SIZE
#                                     the official JS client's downloadFile of a
#                                     model repo file, streamed and length-checked

source "$(dirname "${BASH_SOURCE[0]}")/../tests/lib/hubsim.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../tests/lib/mount_record.sh"

bench_workdir() {
  T=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  MNT=$T/mnt
  mkdir -p "$MNT"
  BENCH_HUBSIM_PID=
  trap bench_cleanup EXIT
}
bench_cleanup() {
  local rc=$?
  set +e
  if grep -qF " $MNT " /proc/self/mountinfo; then
    "$HUBFS" unmount "$MNT" >/dev/null 2>&1 || fusermount3 -uz "$MNT" 2>/dev/null || umount -l "$MNT"
  fi
  [[ -n $BENCH_HUBSIM_PID ]] && { kill "$BENCH_HUBSIM_PID" 2>/dev/null; wait "$BENCH_HUBSIM_PID" 2>/dev/null; }
  if grep -qF " $MNT " /proc/self/mountinfo; then
    say "$MNT still mounted; leaving $T"
  else
    rm -rf "$T"
  fi
  exit $rc
}
bench_check_mounting() {
  [[ -x $HUBFS && -x $HUBSIM ]] || die "build hubfs and hubsim first (scripts/build.sh)"
  [[ $(id -u) -eq 0 ]] || die "run as root: it mounts and drops the page cache"
  [[ -e /dev/fuse ]] || die "/dev/fuse is missing"
  bench_check_page_reporting
}

# In a VM with free page reporting (virtio-balloon), pages the guest frees
# (dropping the page cache frees gigabytes) go back to the hypervisor and
# their next first touch is many times slower: every cold row then measures
# the hypervisor as much as the code, and more so for whatever fills the page
# cache (the mount) than for what does not (curl to /dev/null). Said, not
# changed: raising page_reporting_order past the largest order (11) stops it
# until reboot, for a run that measures the code.
bench_check_page_reporting() {
  local f=/sys/module/page_reporting/parameters/page_reporting_order
  [[ -r $f ]] || return 0
  local order
  order=$(cat "$f")
  ((order >= 11)) && return 0
  echo "note: free page reporting is on (page_reporting_order=$order): pages freed by dropping" \
    "the page cache return to the hypervisor and are slow to touch again; cold rows include" \
    "that. For figures of the code alone: echo 11 > $f (until reboot), then touch the memory once." >&2
}
bench_now() { date +%s%N; }
bench_ms() { echo $((($2 - $1) / 1000000)); }

# "Cold" is nothing cached on the client side, the server's store in memory
# as a CDN's would be (design §8): dropping the page cache drops hubsim's
# files too, and a cold read would then wait for hubsim's disk reads (which
# share the disk with the chunk cache's writes) as much as for the code.
BENCH_SERVER_STORE=
bench_server_in_memory() { BENCH_SERVER_STORE=$1; }
bench_drop_caches() {
  sync
  echo 3 >/proc/sys/vm/drop_caches
  if [[ -n $BENCH_SERVER_STORE && ${1:-} != --no-server ]]; then
    find "$BENCH_SERVER_STORE" -type f -exec cat {} + >/dev/null
  fi
}

bench_start_hubsim() {
  hubsim_start "$@" || return 1
  BENCH_HUBSIM_PID=$HUBSIM_PID
  BENCH_HUB=$HUBSIM_URL
}

bench_wait_exit() {
  local i
  for i in $(seq 1 600); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.05
  done
  return 1
}

bench_peak_rss_anon() {
  local peak=0 a
  while kill -0 "$2" 2>/dev/null; do
    a=$(awk '/^RssAnon:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)
    ((a > peak)) && peak=$a
    sleep 0.05
  done
  echo "$peak"
}

bench_counters_reset() { curl -fsS -X DELETE "$BENCH_HUB/admin/counters" >/dev/null; }

bench_requests() {
  curl -fsS "$BENCH_HUB/admin/counters" | "$PY" -c '
import json, sys
c = json.load(sys.stdin)
print(sum(v["requests"] for o in sys.argv[1:] for k, v in c.get(o, {}).items() if k != "admin"))' "$@"
}

bench_data_bytes() {
  curl -fsS "$BENCH_HUB/admin/counters" |
    "$PY" -c 'import json,sys; print(sum(v["bytes"] for v in json.load(sys.stdin).get("data", {}).values()))'
}

bench_xet_ranges() {
  local repo=$1 rev=$2 path=$3 out=$4 api tok cas access xet
  case $repo in
    datasets/* | spaces/* | models/*) api=$BENCH_HUB/api/$repo ;;
    *) api=$BENCH_HUB/api/models/$repo ;;
  esac
  tok=$(curl -fsS "$api/xet-read-token/$rev") || return 1
  cas=$(echo "$tok" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["casUrl"])')
  access=$(echo "$tok" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')
  xet=$(curl -fsS -X POST -H 'Content-Type: application/json' -d "{\"paths\": [\"$path\"]}" \
          "$api/paths-info/$rev" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["xetHash"])') ||
    return 1
  curl -fsS -H "Authorization: Bearer $access" "$cas/v2/reconstructions/$xet" >"$out.json" || return 1
  "$PY" - "$out.json" "$out" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
total = 0
with open(sys.argv[2], "w") as out:
    for entries in r["xorbs"].values():
        for e in entries:
            for rg in e["ranges"]:
                a, b = rg["bytes"]["start"], rg["bytes"]["end"]
                total += b - a + 1
                out.write(f"{a}-{b} {e['url']}\n")
print(total)
PYEOF
}

bench_curl_ranges() {
  xargs -P 8 -L 1 sh -c 'curl -fsS -o /dev/null -H "Range: bytes=$0" "$1"' <"$1"
}

bench_js_download() {
  local kit=$1 repo=$2 path=$3 size=$4 script
  script=$(mktemp "${TMPDIR:-/tmp}/hubfs-bench-dl-XXXXXX.mjs")
  cat >"$script" <<JSEOF
const hub = await import("$(realpath "$kit")/node_modules/@huggingface/hub/dist/index.mjs");
const blob = await hub.downloadFile({ hubUrl: "$BENCH_HUB", repo: "$repo", path: "$path" });
let n = 0;
for await (const part of blob.stream()) n += part.length;
if (n !== $size) { console.error("downloadFile: got", n, "bytes, want $size"); process.exit(1); }
JSEOF
  node "$script"
  local rc=$?
  rm -f "$script"
  return $rc
}
