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
all=(normalizer_fuzz matcher_fuzz turn_fuzz intent_loader_fuzz dialog_loader_fuzz config_loader_fuzz)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

cmake --preset asan-ubsan >/dev/null
cmake --build build-asan -j"$(nproc)" --target fuzz_targets >/dev/null

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
