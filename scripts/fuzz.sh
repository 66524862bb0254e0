#!/usr/bin/env bash
# Builds the libFuzzer targets (the asan-ubsan preset, in build-asan/) and runs each one for
# SECONDS (default 4), seeded from the test fixtures and the shipped content. The corpus
# grows in build-asan/fuzz/corpus/<target>/ across runs; a crash is saved in
# build-asan/fuzz/artifacts/<target>/ and fails the script. docs/hardening.md has more.
#
#   bash scripts/fuzz.sh                 # the short run the test suite does (~25 s)
#   bash scripts/fuzz.sh 600             # ten minutes per target
#   bash scripts/fuzz.sh 60 turn_fuzz    # one target
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-4}
shift || true
all=(normalizer_fuzz matcher_fuzz turn_fuzz intent_loader_fuzz dialog_loader_fuzz config_loader_fuzz
  telegram_update_fuzz discord_interaction_fuzz widget_frame_fuzz http_request_fuzz)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

cmake --preset asan-ubsan >/dev/null
cmake --build build-asan -j"$(nproc)" --target "${targets[@]}" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
out=build-asan/fuzz
failed=()
for t in "${targets[@]}"; do
  corpus=$out/corpus/$t
  seeds=$out/seeds/$t
  artifacts=$out/artifacts/$t
  rm -rf "$seeds"
  mkdir -p "$corpus" "$seeds" "$artifacts"
  case $t in
    normalizer_fuzz | matcher_fuzz | turn_fuzz)
      # What users typed in the golden conversations, one file per conversation.
      for f in tests/conversations/*.txt tests/data/transcripts/*.txt; do
        sed -n 's/^> //p' "$f" >"$seeds/$(basename "$f")"
      done
      ;;
    intent_loader_fuzz)
      find tests/data/content/intents intents tests/data/invalid/intents -name '*.json' |
        while read -r f; do cp "$f" "$seeds/$(echo "$f" | tr / _)"; done
      ;;
    dialog_loader_fuzz)
      # "<dialog id>\n<file>": the file replaces that dialog in a copy of the fixture content.
      find tests/data/content/dialogs dialogs tests/data/invalid/dialogs -name '*.json' |
        while read -r f; do
          { basename "$f" .json; cat "$f"; } >"$seeds/$(echo "$f" | tr / _)"
        done
      ;;
    config_loader_fuzz)
      find config tests/data/content/config tests/data/content/resources.json \
        tests/data/invalid/resources -name '*.json' |
        while read -r f; do cp "$f" "$seeds/$(echo "$f" | tr / _)"; done
      ;;
    telegram_update_fuzz)
      cp tests/data/telegram/*.json "$seeds/"
      ;;
    discord_interaction_fuzz)
      cp tests/data/discord/*.json "$seeds/"
      ;;
    widget_frame_fuzz | http_request_fuzz)
      # The frames of the protocol (docs/widget.md), one per file; for the HTTP target
      # wrapped in requests to /widget/api and /widget/poll, plus the other routes.
      sid=AbCdEfGhIjKlMnOpQrStUvWxYz012345
      frames=('{"type":"start","language":"es"}' "{\"type\":\"resume\",\"session_id\":\"$sid\",\"last_seq\":3}"
        '{"type":"message","client_msg_id":"m1","text":"I feel smothered"}'
        '{"type":"message","client_msg_id":"m2","option_id":"partner"}'
        "{\"type\":\"message\",\"session_id\":\"$sid\",\"client_msg_id\":\"m3\",\"text\":\"hi\"}"
        '{"type":"forget"}' '{"type":"ping"}' "{\"type\":\"poll\",\"session_id\":\"$sid\",\"last_seq\":0}")
      i=0
      for f in "${frames[@]}"; do
        i=$((i + 1))
        if [[ $t == widget_frame_fuzz ]]; then
          printf '%s' "$f" >"$seeds/frame$i"
        else
          path=/widget/api
          [[ $f == *'"poll"'* ]] && path=/widget/poll
          printf 'POST %s HTTP/1.1\r\nHost: a\r\nOrigin: https://allowed.example\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
            "$path" "${#f}" "$f" >"$seeds/request$i"
        fi
      done
      if [[ $t == http_request_fuzz ]]; then
        printf 'GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n' >"$seeds/health"
        printf 'GET /widget.js HTTP/1.1\r\nHost: a\r\n\r\n' >"$seeds/asset"
        printf 'OPTIONS /widget/api HTTP/1.1\r\nHost: a\r\nOrigin: https://evil.example\r\n\r\n' >"$seeds/preflight"
        printf 'POST /widget/api HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n10\r\n{"type":"start"}\r\n0\r\n\r\n' >"$seeds/chunked"
      fi
      ;;
  esac
  log=$out/$t.log
  if ./build-asan/fuzz/"$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 \
    -dict=fuzz/tandem.dict -artifact_prefix="$artifacts/" -print_final_stats=1 \
    "$corpus" "$seeds" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz: $t: ${runs:-?} inputs in ${secs}s, $cov, corpus $(ls "$corpus" | wc -l) files"
  else
    echo "fuzz: $t FAILED; log $log, input saved in $artifacts/" >&2
    grep -E "ERROR|property violated|runtime error|SUMMARY" "$log" | head -5 >&2 || true
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: failures in ${failed[*]}" >&2
  exit 1
fi
