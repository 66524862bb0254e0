#!/usr/bin/env bash
# Command 2: install what is missing, build, and run every test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$(date +%s)
bash scripts/setup.sh
bash scripts/build.sh
echo "== tandem check"
./build/tandem check
echo "== ctest"
(cd build && ctest -j"$(nproc)" --output-on-failure --timeout 600)
# The whole suite under AddressSanitizer + UBSan (less the eval sets), the concurrency tests under ThreadSanitizer,
# and a short run of every fuzz target (docs/hardening.md). TANDEM_SANITIZERS=0 skips them
# (quick local runs); CI runs them.
if [[ ${TANDEM_SANITIZERS:-1} != 0 ]]; then
  bash scripts/sanitize.sh
fi
echo "== done in $(( $(date +%s) - start )) s"
