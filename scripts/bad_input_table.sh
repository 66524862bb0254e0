#!/usr/bin/env bash
# Regenerates docs/bad-input.md: builds app_tests (Release, in build/) and runs the test
# that throws bad input at every entry point and writes the table of what it observed
# (tests/app/bad_input_test.cpp). The same test fails whenever the checked-in table differs
# from what it observes, so commit the regenerated file.
#
#   bash scripts/bad_input_table.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ ! -f build/CMakeCache.txt ]]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build -j"$(nproc)" --target app_tests tandem >/dev/null
TANDEM_UPDATE_DOCS=1 ./build/tests/app_tests "bad input: every entry point" >build/bad-input.log 2>&1 || {
  grep -v '^{' build/bad-input.log | tail -n 40 >&2
  echo "bad_input_table.sh: the bad-input test failed (full log: build/bad-input.log)" >&2
  exit 1
}
echo "bad_input_table.sh: wrote docs/bad-input.md ($(grep -c '^| [^-e]' docs/bad-input.md) rows)"
