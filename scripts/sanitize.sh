#!/usr/bin/env bash
# Builds the unit tests and the fuzz targets' corpus replays with clang +
# AddressSanitizer/UndefinedBehaviorSanitizer (HUBFS_SANITIZE=ON, build-asan/)
# and runs them through ctest: every committed fuzz input runs once under both
# sanitizers, in the same build as the unit tests (scripts/fuzz.sh builds the
# libFuzzer binaries, for fuzzing). A Debug build
# (assertions on) at -O1, as AddressSanitizer's documentation advises: the unit
# tests ran 630 s at -O0 and 45 s at -O1 on 2 cores, for 3-4 more minutes of
# compiling.
#   scripts/sanitize.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${SANITIZE_BUILD_DIR:-build-asan}
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Debug -DHUBFS_SANITIZE=ON \
  "-DCMAKE_C_FLAGS_DEBUG=-g -O1" "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" -DHUBFS_BENCH=OFF >/dev/null
targets=(unit_common_tests unit_chunkstore_tests unit_hub_tests unit_fs_content_tests unit_fs_upload_tests
         unit_fs_write_tests unit_fs_vfs_tests unit_fs_fuse_tests unit_cli_tests fuzz_targets)
cmake --build "$BUILD_DIR" -j "$(nproc)" --target "${targets[@]}"
cd "$BUILD_DIR"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --output-on-failure --timeout 600 -j "$(nproc)" -L '^(unit|fuzz)$' \
  -R '^((common|chunkstore|hub|fs|cli)\.|fuzz_replay_)' "$@"
