#!/usr/bin/env bash
# Command 3: builds tandem_bench (Release) and runs it. Prints the results as markdown; a
# full run (not --quick) also writes them into docs/performance.md, between the
# "bench:begin" and "bench:end" marks, with the plot docs/performance-concurrency.png.
# Arguments go to tandem_bench: --content auto|shipped|fixture|DIR, --runs N, --quick,
# --held N, --turns N, --threads N (see bench/tandem_bench.cpp); --no-webhook skips the
# webhook-under-wrk part (scripts/bench_webhook.sh: CONNECTIONS, DURATION, RUNS).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh scripts/packages.d/bench/*.txt
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target tandem_bench >/dev/null
quick=0
webhook=1
args=()
for a in "$@"; do
  case $a in
    --quick) quick=1 args+=("$a") ;;
    --no-webhook) webhook=0 ;;
    *) args+=("$a") ;;
  esac
done
out=build/bench
./build/bench/tandem_bench "${args[@]}" --markdown "$out/results.md" --csv "$out/concurrency.dat"
((quick)) && exit 0
if ((webhook)); then
  # The Telegram webhook under wrk next to nginx (needs the HTTP server: adapters/http).
  WEBHOOK_DAT="$out/webhook.dat" bash scripts/bench_webhook.sh | tee "$out/webhook.md"
  { echo; cat "$out/webhook.md"; } >>"$out/results.md"
fi

rows=1
((webhook)) && [[ -s $out/webhook.dat ]] && rows=2
{
cat <<GP
set terminal pngcairo size 900,$((420 * rows)) font "DejaVu Sans,10"
set output "docs/performance-concurrency.png"
set multiplot layout $rows,2 title "tandem: throughput and p99 by concurrency ($(date -u +%Y-%m-%d))"
set logscale x 2
set xlabel "clients, one turn in flight each"
set grid
set key top left
set ylabel "turns per second"
set yrange [0:*]
plot "$out/concurrency.dat" using 1:2 with linespoints title "in-memory store", \
     "" using 1:4 with linespoints title "SQLite (WAL)"
set ylabel "p99 latency (ms)"
set key top left
plot "$out/concurrency.dat" using 1:3 with linespoints title "in-memory store", \
     "" using 1:5 with linespoints title "SQLite (WAL)"
GP
if ((rows == 2)); then
cat <<GP
set xlabel "wrk connections (Telegram webhook, loopback)"
set ylabel "requests per second"
plot "$out/webhook.dat" using 1:2 with linespoints title "nginx-light, fixed reply", \
     "" using 1:4 with linespoints title "tandem serve (SQLite)"
set ylabel "p99 latency (ms)"
plot "$out/webhook.dat" using 1:3 with linespoints title "nginx-light, fixed reply", \
     "" using 1:5 with linespoints title "tandem serve (SQLite)"
GP
fi
echo "unset multiplot"
} | gnuplot

# Splice the results into docs/performance.md.
python3 - "$out/results.md" <<'PY'
import re, sys, datetime
results = open(sys.argv[1]).read()
path = "docs/performance.md"
doc = open(path).read()
stamp = "Measured " + datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") + \
        " by `bash scripts/bench.sh`.\n\n"
block = "<!-- bench:begin -->\n" + stamp + results.rstrip() + \
        "\n\n![throughput and p99 by concurrency](performance-concurrency.png)\n<!-- bench:end -->"
new, n = re.subn(r"<!-- bench:begin -->.*?<!-- bench:end -->", lambda m: block, doc, flags=re.S)
if n != 1:
    sys.exit("bench.sh: docs/performance.md has no bench:begin/bench:end block")
open(path, "w").write(new)
print("bench.sh: wrote the results into docs/performance.md and docs/performance-concurrency.png")
PY
