#!/usr/bin/env bash
# The fault matrix (not part of CI; ctest runs its --quick subset as
# e2e_fault_matrix): hubfs mounts against hubsim under 5xx/429 storms,
# resets and bodies cut mid-read, expired data URLs and Xet tokens, latency,
# a dead and a stalled server, hubsim restarted mid-read and mid-commit
# (and commit answers cut), Xet tokens and data URLs expiring mid-upload, an
# 8 MB tmpfs cache, a read-only cache dir, a 24 MB tmpfs staging disk that
# fills up under a --rw mount, and kill -9 of a --rw daemon at seeded random
# points of writes, uploads and commits, then a remount. Prints a markdown
# table: operations, wrong bytes returned, read(2) or sync calls past their
# bound (hangs), acknowledged writes lost, duplicate (no-op) commits, mounts
# left behind, and the seconds each case took.
#
#   scripts/faults.sh [--kill-points N] [--seed S] [--quick] [--only CASE,...] [--verbose]
#   HUBFS_BIN, HUBSIM_BIN  default build/bin/hubfs, build/bin/hubsim
#
# Needs root (tmpfs mounts) and /dev/fuse. Exit status 1 when a must-be-zero
# column is not zero or a case that must succeed did not.
set -euo pipefail
cd "$(dirname "$0")/.."
HUBFS=$(readlink -f "${HUBFS_BIN:-build/bin/hubfs}")
HUBSIM=$(readlink -f "${HUBSIM_BIN:-build/bin/hubsim}")
[[ -x $HUBFS && -x $HUBSIM ]] || { echo "build first (scripts/build.sh)" >&2; exit 2; }
exec /usr/bin/python3 tests/e2e/fault_matrix.py --hubfs "$HUBFS" --hubsim "$HUBSIM" "$@"
