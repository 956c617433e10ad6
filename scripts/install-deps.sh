#!/usr/bin/env bash
# Installs the Debian 12 packages that hubfs needs to build, test and benchmark
# (fio: scripts/bench.sh; python3-venv: scripts/setup-python.sh; memcached: the
# shared chunk tier's tests and scripts/bench-cluster.sh; gnuplot-nox: its plot;
# bsdutils: script(1), a terminal for the mount-from-a-terminal test).
# Idempotent: packages already present are not reinstalled, and apt is only
# consulted when something is missing. Node.js 20 and npm come with the machine.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  clang libclang-rt-14-dev llvm
  libfuse3-dev fuse3
  libcurl4-openssl-dev
  liblmdb-dev lmdb-utils
  nlohmann-json3-dev
  libzstd-dev zstd
  liblz4-dev lz4
  libssl-dev
  libmemcached-dev memcached
  gnuplot-nox
  libgtest-dev libgmock-dev
  libbenchmark-dev
  librust-blake3-dev b3sum
  libcpp-httplib-dev
  python3-numpy python3-venv
  util-linux bsdutils procps curl attr
  fio
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
