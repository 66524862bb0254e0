#!/usr/bin/env bash
# Command 1: install what is missing, build, and open the console chat on the shipped
# content. Arguments go to `tandem chat` (e.g. --json).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/build.sh
./build/tandem check
exec ./build/tandem chat "$@"
