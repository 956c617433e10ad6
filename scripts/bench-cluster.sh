#!/usr/bin/env bash
# A cluster on one machine sharing a memcached chunk tier (not a test; see
# scripts/bench/bench_cluster.py): one or three memcached servers, hubsim
# counting origin bytes, N = 1, 2, 4, 8 mounts with separate cache dirs reading
# the same model folder one after another and all at once. Markdown table on
# stdout; JSON, data and PNG plot (gnuplot) in BENCH_OUT (build/bench). Root:
# it mounts.
#   scripts/bench-cluster.sh [BUILD_DIR]
#   env: BENCH_CLUSTER_SHARDS (4), BENCH_CLUSTER_SHARD_MB (32),
#        BENCH_CLUSTER_NODES ("1 2 4 8"), BENCH_CLUSTER_SERVERS ("1 3"),
#        BENCH_CLUSTER_MODES ("staggered simultaneous"),
#        BENCH_CLUSTER_LATENCY (latency per origin data request, e.g. 20ms; none),
#        BENCH_CLUSTER_RATE (bytes/s of each origin data answer, e.g. 50M; unbounded),
#        BENCH_OUT, TMPDIR (work files)
set -euo pipefail
cd "$(dirname "$0")/.."
export BUILD_DIR=${1:-${BUILD_DIR:-build}}
[[ -x $BUILD_DIR/bin/hubfs && -x $BUILD_DIR/bin/hubsim ]] ||
  { echo "bench-cluster: build hubfs and hubsim first (scripts/build.sh)" >&2; exit 1; }
command -v memcached >/dev/null || { echo "bench-cluster: memcached missing (scripts/install-deps.sh)" >&2; exit 1; }
exec /usr/bin/python3 scripts/bench/bench_cluster.py
