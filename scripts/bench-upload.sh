#!/usr/bin/env bash
# Upload benchmark: `hubfs upload` vs the official clients, one run, against
# hubsim on loopback (not a test; see scripts/bench/bench_upload.py).
#   scripts/bench-upload.sh
#   BENCH_UPLOAD_MB=1024  BENCH_UPLOAD_FILES=1000  BENCH_UPLOAD_BIG_GB=8 (peak RSS row)
# Needs build/bin (scripts/build.sh) and the JS kit (scripts/setup-conformance.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
[[ -x $BUILD_DIR/bin/hubfs && -x $BUILD_DIR/bin/hubsim ]] || scripts/build.sh
[[ -d ${KIT:-$BUILD_DIR/conformance}/node_modules ]] ||
  scripts/setup-conformance.sh "${KIT:-$BUILD_DIR/conformance}"
exec /usr/bin/python3 scripts/bench/bench_upload.py
