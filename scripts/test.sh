#!/usr/bin/env bash
# Installs missing dependencies, builds, and runs every test through ctest.
#   scripts/test.sh [ctest args...]     e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
scripts/setup-conformance.sh "${BUILD_DIR:-build}/conformance"
scripts/setup-python.sh "${BUILD_DIR:-build}/pyenv"
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 -j "$(nproc)" "$@"
# Unit tests and the fuzz corpora's replays again under clang + ASan/UBSan
# (build-asan/).
cd "$OLDPWD"
scripts/sanitize.sh
