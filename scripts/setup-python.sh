#!/usr/bin/env bash
# Creates the pinned Python test environment: a venv made by Debian's python3
# (3.11, python3-venv) with exactly the packages of tests/python/requirements.txt,
# every one checked against its hash (pip install --require-hashes).
#   scripts/setup-python.sh [DEST]     default: ${BUILD_DIR:-build}/pyenv
# Idempotent: a stamp holds the sha256 of the requirements file and the
# interpreter version; when both match, it returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."
REQ=tests/python/requirements.txt
DEST=${1:-${BUILD_DIR:-build}/pyenv}
PY=${HUBFS_PYTHON:-/usr/bin/python3}
[[ -x "$PY" ]] || { echo "setup-python: $PY not found (scripts/install-deps.sh)" >&2; exit 1; }
stamp="$DEST/.hubfs-requirements-sha"
want="$(sha256sum "$REQ" | cut -d' ' -f1) $("$PY" -c 'import sys; print(sys.version.split()[0])')"
if [[ -x "$DEST/bin/python" && -f "$stamp" && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
rm -rf "$DEST"
"$PY" -m venv "$DEST"
if [[ -z ${PIP_CERT:-} && -f /etc/ssl/certs/ca-certificates.crt ]]; then
  PIP_CERT=/etc/ssl/certs/ca-certificates.crt
fi
# Only PyPI, only the pinned files: no local wheel folders or user config.
PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= "$DEST/bin/pip" install --quiet \
  --disable-pip-version-check --no-input --require-hashes --only-binary=:all: \
  ${PIP_CERT:+--cert "$PIP_CERT"} -r "$REQ"
"$DEST/bin/python" -c 'import huggingface_hub, hf_xet, fsspec, safetensors, numpy, pytest'
echo "$want" >"$stamp"
echo "setup-python: ready in $DEST (huggingface_hub $("$DEST/bin/python" -c 'import huggingface_hub as h; print(h.__version__)'))"
