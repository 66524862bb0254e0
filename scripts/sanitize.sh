#!/usr/bin/env bash
# The sanitizer runs scripts/test.sh does after the normal suite (docs/hardening.md):
#   asan  the whole test suite built with clang -fsanitize=address,undefined (build-asan/),
#         except the eval sets' content measurements (label eval-set; the normal run has them)
#   tsan  the concurrency tests (service, store, check-in) with -fsanitize=thread (build-tsan/)
#   fuzz  every libFuzzer target for TANDEM_FUZZ_SECONDS (default 4) seconds each
# Usage: bash scripts/sanitize.sh [asan|tsan|fuzz ...]   (default: all three)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
steps=("$@")
((${#steps[@]})) || steps=(asan tsan fuzz)
jobs=$(nproc)
# Runs a ctest preset, keeps the whole output in build-logs/, prints the summary, and on
# failure prints the output of each failed test too (so CI shows which check failed).
run_ctest() {
  local log=build-logs/ctest-$1.log
  local rc=0
  ctest --preset "$1" -j"$jobs" --output-on-failure >"$log" 2>&1 || rc=$?
  tail -n 15 "$log"
  if ((rc != 0)); then
    echo "== $1: output of the failed tests (whole log: $log)"
    grep -n -A 40 -E "\*\*\*Failed|\(Failed\)|Exception|Timeout|SEGFAULT" "$log" | head -n 400
    exit "$rc"
  fi
}
# Builds a preset quietly; on failure shows the end of the log and stops.
build() {
  mkdir -p build-logs
  local log=build-logs/$1.log
  cmake --preset "$1" >"$log" 2>&1 && cmake --build --preset "$1" -j"$jobs" >>"$log" 2>&1 || {
    tail -n 60 "$log" >&2
    echo "sanitize.sh: the $1 build failed (log: $log)" >&2
    exit 1
  }
}
for s in "${steps[@]}"; do
  t0=$(date +%s)
  case $s in
    asan)
      echo "== asan-ubsan: build"
      build asan-ubsan
      echo "== asan-ubsan: ctest"
      run_ctest asan-ubsan
      ;;
    tsan)
      echo "== tsan: build"
      build tsan
      echo "== tsan: ctest (concurrency tests)"
      run_ctest tsan
      ;;
    fuzz)
      echo "== fuzz"
      bash scripts/fuzz.sh "${TANDEM_FUZZ_SECONDS:-4}"
      ;;
    *)
      echo "sanitize.sh: unknown step $s (asan, tsan or fuzz)" >&2
      exit 2
      ;;
  esac
  echo "== $s done in $(($(date +%s) - t0)) s"
done
