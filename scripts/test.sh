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
echo "== done in $(( $(date +%s) - start )) s"
