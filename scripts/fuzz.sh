#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/*_fuzz.cc) with clang, ASan and
# UBSan into build-fuzz/, then runs each one.
#   scripts/fuzz.sh [SECONDS] [--merge]   fuzz every target SECONDS (default 60) on a
#                                         scratch copy of its corpus; --merge adds the
#                                         new interesting inputs to the committed corpus
#   scripts/fuzz.sh --replay              run every committed corpus once (CI)
# Crashing inputs are kept in build-fuzz/fuzz-artifacts/<name>/; add each one to
# tests/fuzz/corpus/<name>/ as a regression once it is fixed.
#   FUZZ_BUILD_DIR=... JOBS=N FUZZ_TARGETS="shard ..." override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=60
MERGE=0
REPLAY=0
for arg in "$@"; do
  case "$arg" in
    --merge) MERGE=1 ;;
    --replay) REPLAY=1 ;;
    ''|*[!0-9]*) echo "usage: $0 [SECONDS] [--merge] | --replay" >&2; exit 2 ;;
    *) SECS=$arg ;;
  esac
done
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-$(nproc)}

if [[ -n "${FUZZ_TARGETS:-}" ]]; then
  names=($FUZZ_TARGETS)
else
  names=()
  for src in tests/fuzz/*_fuzz.cc; do
    n=$(basename "$src" .cc)
    names+=("${n%_fuzz}")
  done
fi
targets=()
for n in "${names[@]}"; do targets+=("${n}_fuzz"); done

# RelWithDebInfo without NDEBUG: optimized, symbolized, asserts on.
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g" \
  -DHUBFS_FUZZ=ON -DHUBFS_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for n in "${names[@]}"; do
  bin="$BUILD/bin/${n}_fuzz"
  corpus="tests/fuzz/corpus/$n"
  if [[ ! -d "$corpus" ]] || [[ -z "$(ls -A "$corpus")" ]]; then
    echo "fuzz: $n has no seed corpus in $corpus" >&2
    failed+=("$n")
    continue
  fi
  if [[ $REPLAY == 1 ]]; then
    # Files as arguments: each runs once and nothing is written anywhere.
    mapfile -t files < <(find "$corpus" -type f | sort)
    if "$bin" -runs=0 "${files[@]}" >"$BUILD/replay-$n.log" 2>&1; then
      echo "fuzz replay: $n: ${#files[@]} inputs ok"
    else
      echo "fuzz replay: $n FAILED (log: $BUILD/replay-$n.log)" >&2
      tail -30 "$BUILD/replay-$n.log" >&2
      failed+=("$n")
    fi
    continue
  fi
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  cp -r "$corpus/." "$scratch/"
  artifacts="$BUILD/fuzz-artifacts/$n"
  mkdir -p "$artifacts"
  marker="$BUILD/fuzz-$n.start"
  touch "$marker"
  log="$BUILD/fuzz-$n.log"
  echo "fuzz: $n for ${SECS}s (log: $log)"
  if "$bin" "$scratch" -max_total_time="$SECS" -artifact_prefix="$artifacts/" \
      -print_final_stats=1 >"$log" 2>&1; then
    grep -E "^stat::number_of_executed_units|^#[0-9]+.*DONE" "$log" | tail -2 || true
  else
    echo "fuzz: $n FOUND A FAILURE; new inputs in $artifacts/:" >&2
    find "$artifacts" -type f -newer "$marker" >&2
    grep -E "ERROR|SUMMARY|==[0-9]+==" "$log" | head -10 >&2 || true
    failed+=("$n")
  fi
  if [[ $MERGE == 1 ]]; then
    "$bin" -merge=1 "$corpus" "$scratch" >>"$log" 2>&1
    echo "fuzz: merged into $corpus ($(ls "$corpus" | wc -l) files)"
  fi
  rm -rf "$scratch"
  trap - EXIT
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: failures in: ${failed[*]}" >&2
  exit 1
fi
