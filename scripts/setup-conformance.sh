#!/usr/bin/env bash
# Prepares a writable copy of ../shared/conformance (the official xet-core
# chunker oracle, chunk.mjs) with its npm dependencies installed.
#   scripts/setup-conformance.sh [DEST]     default: ${BUILD_DIR:-build}/conformance
# Idempotent: when DEST already has node_modules for the same package-lock.json
# it only refreshes the scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${HUBFS_SHARED_DIR:-../shared}/conformance
DEST=${1:-${BUILD_DIR:-build}/conformance}
if [[ ! -f "$SRC/package-lock.json" ]]; then
  echo "setup-conformance: $SRC/package-lock.json not found" >&2
  exit 1
fi
command -v node >/dev/null || { echo "setup-conformance: node is not installed" >&2; exit 1; }
mkdir -p "$DEST"
# The source folder is read-only: copy the files, not their permissions.
for f in "$SRC"/*; do
  [[ -f "$f" ]] || continue
  install -m 0644 "$f" "$DEST/$(basename "$f")"
done
if [[ -d "$DEST/node_modules/@huggingface/hub" && -f "$DEST/node_modules/.hubfs-lock" ]] &&
   cmp -s "$DEST/package-lock.json" "$DEST/node_modules/.hubfs-lock"; then
  exit 0
fi
(cd "$DEST" && npm ci --no-audit --no-fund --loglevel=error)
cp "$DEST/package-lock.json" "$DEST/node_modules/.hubfs-lock"
echo "setup-conformance: ready in $DEST"
