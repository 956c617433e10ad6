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
# Same stamp as tests/conformance/setup.sh (the ctest fixture that prepares
# the same folder), so whichever runs second has nothing to do.
stamp=node_modules/.hubfs-lock-sha
want=$(sha256sum "$DEST/package-lock.json" | cut -d' ' -f1)
if [[ -d "$DEST/node_modules/@huggingface/hub" && -f "$DEST/$stamp" &&
      $(cat "$DEST/$stamp") == "$want" ]]; then
  exit 0
fi
(cd "$DEST" && npm ci --no-audit --no-fund --loglevel=error)
echo "$want" >"$DEST/$stamp"
echo "setup-conformance: ready in $DEST"
