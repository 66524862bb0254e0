#!/usr/bin/env bash
# Installs whatever tandem needs that is missing (Debian bookworm packages only).
# Idempotent: does nothing when everything is present. Run as root (or with sudo).
# Also installs the browser tests' npm packages (tests/browser, pinned by package-lock.json).
set -euo pipefail

packages=(
  g++ cmake make pkg-config git
  libboost1.81-dev libre2-dev nlohmann-json3-dev catch2
  libsqlite3-dev libssl-dev libedit-dev
  graphviz curl
)
# Extra packages a feature needs are listed in scripts/packages.d/*.txt (one per line).
# Lists given as arguments are added too (scripts/bench.sh passes packages.d/bench/*.txt,
# which the tests do not need).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lists=("$@")
if compgen -G "$here/packages.d/*.txt" >/dev/null; then
  lists+=("$here"/packages.d/*.txt)
fi
if ((${#lists[@]})); then
  while read -r p; do
    [[ -n "$p" && "$p" != \#* ]] && packages+=("$p")
  done < <(cat "${lists[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm (the browser tests): Debian's, unless some Node.js is already there.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages of the browser tests, exactly as package-lock.json pins them. Skipped when
# node_modules already matches the lock file. playwright-core never downloads a browser:
# the tests use Debian's chromium.
browser="$here/../tests/browser"
if [[ -f "$browser/package-lock.json" ]]; then
  stamp="$browser/node_modules/.tandem-lock.sha256"
  want=$(sha256sum "$browser/package-lock.json" | cut -d' ' -f1)
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "setup: npm ci in tests/browser" >&2
    (cd "$browser" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want" >"$stamp"
  fi
fi
