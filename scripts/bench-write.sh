#!/usr/bin/env bash
# Writable-mount benchmark: cp into a --rw mount vs hubfs upload vs the JS
# client, cp -r of many small files, an in-place 1 MiB edit, close-to-commit
# latency (not a test; see scripts/bench/bench_write.py). Root (FUSE).
#   scripts/bench-write.sh      BENCH_WRITE_MB=1024  BENCH_WRITE_FILES=1000  BENCH_WRITE_EDITS=5
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
[[ -x $BUILD_DIR/bin/hubfs && -x $BUILD_DIR/bin/hubsim ]] || scripts/build.sh
[[ -d ${KIT:-$BUILD_DIR/conformance}/node_modules ]] ||
  scripts/setup-conformance.sh "${KIT:-$BUILD_DIR/conformance}"
exec /usr/bin/python3 scripts/bench/bench_write.py
