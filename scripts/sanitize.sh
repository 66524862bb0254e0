#!/usr/bin/env bash
# The sanitizer runs scripts/test.sh does after the normal suite (docs/hardening.md):
#   asan  the whole test suite built with clang -fsanitize=address,undefined (build-asan/)
#   tsan  the concurrency tests (service, store, check-in) with -fsanitize=thread (build-tsan/)
#   fuzz  every libFuzzer target for TANDEM_FUZZ_SECONDS (default 4) seconds each
# Usage: bash scripts/sanitize.sh [asan|tsan|fuzz ...]   (default: all three)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
steps=("$@")
((${#steps[@]})) || steps=(asan tsan fuzz)
jobs=$(nproc)
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
      ctest --preset asan-ubsan -j"$jobs" | tail -n 15
      ;;
    tsan)
      echo "== tsan: build"
      build tsan
      echo "== tsan: ctest (concurrency tests)"
      ctest --preset tsan -j"$jobs" | tail -n 15
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
