#!/usr/bin/env bash
# Prepares the JavaScript test kit: the official @huggingface/hub client pinned
# by tests/js/package-lock.json, installed with `npm ci`, next to our scripts
# that drive it (tests/js/*.mjs: the client driver, the client conformance run
# and the xet-core chunker oracle).
#   scripts/setup-conformance.sh [DEST]     default: ${BUILD_DIR:-build}/conformance
# Idempotent: the scripts are always refreshed; npm ci runs again only when
# the lock file changed (a stamp in node_modules records its SHA-256).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=tests/js
DEST=${1:-${BUILD_DIR:-build}/conformance}
command -v node >/dev/null || { echo "setup-conformance: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "setup-conformance: npm is not installed" >&2; exit 1; }
mkdir -p "$DEST"
for f in "$SRC"/package.json "$SRC"/package-lock.json "$SRC"/*.mjs; do
  install -m 0644 "$f" "$DEST/$(basename "$f")"
done
stamp=node_modules/.hubfs-lock-sha
want=$(sha256sum "$DEST/package-lock.json" | cut -d' ' -f1)
if [[ -d "$DEST/node_modules/@huggingface/hub" && -f "$DEST/$stamp" &&
      $(cat "$DEST/$stamp") == "$want" ]]; then
  exit 0
fi
(cd "$DEST" && npm ci --no-audit --no-fund --loglevel=error)
echo "$want" >"$DEST/$stamp"
echo "setup-conformance: ready in $DEST"
