#!/usr/bin/env bash
# The main job as it stands: build hubfs, generate a file, and print its Xet hash.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c $((64 << 20)) /dev/urandom > "$work/sample.bin"
echo "Xet file hash of a generated 64 MiB file:"
build/bin/hubfs xet hash "$work/sample.bin"
echo
echo "Same file with its chunk list (first 400 characters of the JSON):"
build/bin/hubfs xet hash --json "$work/sample.bin" | head -c 400; echo " ..."
