#!/usr/bin/env bash
# Runs the client conformance script of the JS kit (tests/js/client_conformance.mjs,
# copied into KIT_DIR by scripts/setup-conformance.sh) against the hubsim in HUBSIM_URL.
#   tests/conformance/run_client_conformance.sh KIT_DIR
set -euo pipefail
cd "$1"
HF_ENDPOINT=$HUBSIM_URL HF_REPO=me/js-conformance HF_TOKEN=hf_test exec node client_conformance.mjs
