#!/usr/bin/env bash
# Runs the shared kit's e2e.mjs --external against the hubsim in HUBSIM_URL.
#   tests/conformance/run_e2e.sh KIT_DIR
set -euo pipefail
cd "$1"
HF_ENDPOINT=$HUBSIM_URL HF_REPO=test-user/peer-js HF_TOKEN=hf_test node e2e.mjs --external
