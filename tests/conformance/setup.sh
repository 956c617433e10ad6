#!/usr/bin/env bash
# Prepares a writable copy of the shared conformance kit (read-only in CI) in
# DEST and installs its pinned npm dependencies there. Idempotent: npm ci runs
# again only when package-lock.json changed.
#   tests/conformance/setup.sh SHARED_CONFORMANCE_DIR DEST
set -euo pipefail
src=$1
dest=$2
mkdir -p "$dest"
cp -r "$src"/. "$dest"/
chmod -R u+w "$dest"
cd "$dest"
stamp=node_modules/.hubfs-lock-sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
