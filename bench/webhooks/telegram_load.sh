#!/usr/bin/env bash
# Loopback load test of POST /webhooks/telegram: `tandem serve` (SQLite store in a temporary
# folder) with the fake Bot API absorbing every reply, driven by wrk (Debian package, see
# scripts/packages.d/bench.txt). Prints wrk's report (requests/s, latency percentiles), how
# many replies reached the fake Bot API, and the server's own turn-latency metrics.
#
#   bash bench/webhooks/telegram_load.sh            # 20 s, 2 wrk threads, 16 connections
#   DURATION=60s CONNECTIONS=64 bash bench/webhooks/telegram_load.sh
#   CONTENT=tests/data/content bash bench/webhooks/telegram_load.sh   # other content
#
# Needs a build (bash scripts/build.sh, or cmake --build build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
build=${BUILD_DIR:-build}
duration=${DURATION:-20s}
connections=${CONNECTIONS:-16}
threads=${THREADS:-2}
content=${CONTENT:-.}
for tool in wrk "$build/tandem" "$build/tests/adapters/fake_platform_api"; do
  command -v "$tool" >/dev/null || { echo "telegram_load: $tool is missing" >&2; exit 1; }
done

out=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT

"$build/tests/adapters/fake_platform_api" >"$out/fake.txt" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do [[ -s "$out/fake.txt" ]] && break; sleep 0.1; done
api_base=$(head -1 "$out/fake.txt")

c="$root/$content"
[[ "$content" = /* ]] && c="$content"
resources="$c/config/resources.json"
[[ -f "$resources" ]] || resources="$c/resources.json"
mkdir -p "$out/config"
cat >"$out/config/tandem.json" <<JSON
{
  "schema_version": 1,
  "data_dir": "data",
  "content": { "intents_dir": "$c/intents", "dialogs_dir": "$c/dialogs",
               "resources_file": "$resources" },
  "store": { "kind": "sqlite" },
  "core": { "threads": 2 },
  "log": { "level": "info" },
  "discord": { "enabled": false }
}
JSON

export TELEGRAM_BOT_TOKEN=1:BENCH TELEGRAM_WEBHOOK_SECRET=bench_secret TELEGRAM_API_BASE=$api_base
"$build/tandem" serve --config "$out/config/tandem.json" --listen 127.0.0.1:0 2>"$out/serve.log" &
serve=$!
pids+=($serve)
port=""
for _ in $(seq 200); do
  port=$(grep -o '"event":"http.listening"[^}]*' "$out/serve.log" 2>/dev/null |
    grep -o '"port":[0-9]*' | head -1 | cut -d: -f2 || true)
  [[ -n "$port" ]] && break
  kill -0 "$serve" 2>/dev/null || { cat "$out/serve.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "telegram_load: tandem serve did not start" >&2; exit 1; }

echo "== wrk -t$threads -c$connections -d$duration, POST /webhooks/telegram"
wrk -t"$threads" -c"$connections" -d"$duration" --latency \
  -s bench/webhooks/telegram_update.lua "http://127.0.0.1:$port/webhooks/telegram"

# Let the queued turns finish (SIGTERM drains), then read what reached the Bot API.
sleep 1
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^tandem_(turn_seconds_(count|sum)|http_requests_total|events_total)' || true
kill -TERM "$serve"
wait "$serve" || true
kill -TERM "${pids[0]}"
wait "${pids[0]}" || true
echo "== replies received by the fake Bot API: $(tail -1 "$out/fake.txt" | cut -d' ' -f2)"
