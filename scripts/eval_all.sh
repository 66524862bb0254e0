#!/usr/bin/env bash
# Runs every enforced eval set (tests/eval, tests/eval/es) with the bars ctest applies and
# prints one summary per set; exits 1 if any falls short. Content authors run it after an
# edit; `TANDEM=path/to/tandem` picks the binary (default build/tandem).
# Usage: bash scripts/eval_all.sh [extra.jsonl ...]  (extra English sets are measured, not judged)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=${TANDEM:-build/tandem}
rc=0
judge() { # file min_accuracy [--language es]
  local file=$1 min=$2
  shift 2
  local out
  if out=$("$bin" eval "$file" "$@" --min-accuracy "$min" --min-safety-recall 1.0 \
    --max-safety-false-positives 0 2>&1); then
    echo "ok    $file: $(grep -E '^lines' <<<"$out" | sed 's/  */ /g') | $(grep -E '^safety recall' <<<"$out")"
  else
    rc=1
    echo "SHORT $file: $(grep -E '^lines' <<<"$out" | sed 's/  */ /g') | $(grep -E '^safety recall' <<<"$out")"
  fi
}
judge tests/eval/labeled.jsonl 0.92
for f in tests/eval/set-*.jsonl tests/eval/plain-statements.jsonl; do judge "$f" 0.95; done
judge tests/eval/benign-probes.jsonl 0.80  # no safety lines: 0 false alarms is the bar
judge tests/eval/benign-blind.jsonl 0.88  # blind benign set B2, no safety lines
judge tests/eval/risk-beside-benign.jsonl 1.0  # every line safety: guards the excludes
judge tests/eval/clause-risk.jsonl 1.0     # clause-mix: harmless idiom beside a disclosure
judge tests/eval/clause-benign.jsonl 0.93  # clause-mix: harmless only
judge tests/eval/es/labeled.jsonl 0.92 --language es
for f in tests/eval/es/set-*.jsonl tests/eval/es/plain-statements.jsonl; do judge "$f" 0.95 --language es; done
judge tests/eval/es/benign-probes.jsonl 0.90 --language es
judge tests/eval/es/benign-blind.jsonl 0.77 --language es
judge tests/eval/es/clause-risk.jsonl 1.0 --language es
judge tests/eval/es/clause-benign.jsonl 0.90 --language es
judge tests/eval/es/risk-beside-benign.jsonl 1.0 --language es
[[ -f ../shared/eval/dev-utterances.jsonl ]] && judge ../shared/eval/dev-utterances.jsonl 0.95
exit $rc
