#!/usr/bin/env bash
# hubfs vs the official Python client (huggingface_hub with hf_xet) in one run
# against hubsim on loopback (not a test; see scripts/bench/bench_peers.py):
# cold hf_hub_download / snapshot_download of a file and of a sharded model
# folder vs cp (-r) from a cold mount vs `hubfs cat`, HfFileSystem's
# sequential read, and loading every tensor with safetensors from a cold mount
# vs snapshot_download + the same load. Root: it mounts and drops the page
# cache. Markdown table on stdout, JSON and table in BENCH_OUT (build/bench).
#   scripts/bench-peers.sh [BUILD_DIR]
#   env: BENCH_PEERS_FILE_MB (1024), BENCH_PEERS_SHARDS (4), BENCH_PEERS_SHARD_MB (256),
#        BENCH_PEERS_REPEAT (1: runs of each row, the median counts),
#        BENCH_OUT, TMPDIR (work files: ~4 x the file + 4 x the folder of disk)
#   quick run (< 2 min): BENCH_PEERS_FILE_MB=128 BENCH_PEERS_SHARDS=2 BENCH_PEERS_SHARD_MB=64 scripts/bench-peers.sh
# Needs build/bin (scripts/build.sh) and build/pyenv (scripts/setup-python.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export BUILD_DIR=${1:-${BUILD_DIR:-build}}
[[ -x $BUILD_DIR/bin/hubfs && -x $BUILD_DIR/bin/hubsim ]] ||
  { echo "bench-peers: build hubfs and hubsim first (scripts/build.sh)" >&2; exit 1; }
[[ -x ${PYENV:-$BUILD_DIR/pyenv/bin/python} ]] || scripts/setup-python.sh "$BUILD_DIR/pyenv"
exec /usr/bin/python3 scripts/bench/bench_peers.py
