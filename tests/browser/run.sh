#!/usr/bin/env bash
# Runs one browser test file (ctest calls this). Exits 77 (ctest: skipped) with a clear
# message only when Node.js, Debian's chromium or the npm packages are truly absent;
# `bash scripts/setup.sh` installs all three.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
file=${1:?usage: run.sh TEST_FILE.mjs}
skip() {
  echo "SKIPPED: $* (run: bash scripts/setup.sh)"
  exit 77
}
command -v node >/dev/null 2>&1 || skip "node is not installed"
chromium=${TANDEM_CHROMIUM:-/usr/bin/chromium}
[[ -x "$chromium" ]] || skip "$chromium is not installed (Debian package chromium)"
[[ -d "$here/node_modules/playwright-core" ]] || skip "tests/browser/node_modules is missing (npm ci)"
[[ -x "${TANDEM_BIN:-}" ]] || { echo "TANDEM_BIN must name the tandem binary" >&2; exit 2; }
cd "$here"
exec node --test --test-reporter=spec "$file"
