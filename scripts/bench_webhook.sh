#!/usr/bin/env bash
# The webhook part of the bench (scripts/bench.sh runs it after tandem_bench): the Telegram
# webhook end to end under wrk on loopback (bench/webhooks/telegram_load.sh: `tandem serve`
# with the SQLite store, the fake Bot API absorbing every reply, every request a new update
# in one of 50 000 chats), next to nginx answering a fixed JSON reply to the same requests:
# the practical HTTP ceiling of this machine. RUNS runs of each (default 3), alternating;
# medians, at each connection count of CONNECTIONS (the target is judged at 64). Prints a
# markdown section on stdout; WEBHOOK_DAT=FILE also writes the figures for the plot.
#   CONNECTIONS="16 64 128" DURATION=10s RUNS=3 bash scripts/bench_webhook.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
connections=${CONNECTIONS:-16 64 128}
duration=${DURATION:-10s}
runs=${RUNS:-3}
build=${BUILD_DIR:-build}
cmake --build "$build" -j"$(nproc)" --target tandem fake_platform_api >/dev/null
command -v nginx >/dev/null || { echo "bench_webhook: nginx is missing (nginx-light)" >&2; exit 1; }

work=$(mktemp -d)
nginx_pid=""
cleanup() {
  [[ -n $nginx_pid ]] && kill "$nginx_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# nginx: one worker per core, keep-alive as wrk uses it, a fixed JSON answer for any path.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log crit;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_buffer_size 16k;
  server {
    listen 127.0.0.1:$port;
    location / { default_type application/json; return 200 '{"ok":true}'; }
  }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" &
nginx_pid=$!
for _ in $(seq 50); do curl -s "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done

# "<req/s> <p50 ms> <p99 ms> <errors>" from a wrk report.
parse() {
  python3 -c '
import re, sys
t = sys.stdin.read()
def ms(v, u): return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[u]
rps = float(re.search(r"Requests/sec:\s*([\d.]+)", t).group(1))
p = {k: ms(v, u) for k, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", t, re.M)}
err = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses:\s*(\d+)", t))
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
err += sum(map(int, m.groups())) if m else 0
print(rps, p.get("50", 0), p.get("99", 0), err)'
}

lua=bench/webhooks/telegram_update.lua
for c in $connections; do
  : >"$work/nginx-$c.txt"
  : >"$work/tandem-$c.txt"
  for r in $(seq "$runs"); do
    echo "bench_webhook: $c connections, run $r/$runs: nginx" >&2
    wrk -t2 -c"$c" -d"$duration" --latency -s "$lua" \
      "http://127.0.0.1:$port/webhooks/telegram" | parse >>"$work/nginx-$c.txt"
    echo "bench_webhook: $c connections, run $r/$runs: tandem serve" >&2
    CONNECTIONS=$c DURATION=$duration THREADS=2 BUILD_DIR=$build \
      bash bench/webhooks/telegram_load.sh >"$work/load.txt" 2>&1
    parse <"$work/load.txt" >>"$work/tandem-$c.txt"
  done
done

python3 - "$work" "$duration" "$runs" "${WEBHOOK_DAT:-}" $connections <<'PY'
import statistics, sys
work, dur, runs, dat = sys.argv[1:5]
conns = sys.argv[5:]
def med(path):
    rows = [list(map(float, l.split())) for l in open(path) if l.strip()]
    return [statistics.median(c) for c in zip(*rows)], sum(r[3] for r in rows)
print(f"Telegram webhook end to end, wrk -t2 -d{dur} on loopback by connection count (wrk, the "
      f"server, the fake Bot API and nginx share the 2 cores), median of {runs} runs each; "
      "the target is judged at 64 connections:\n")
print("| connections | nginx-light, fixed `{\"ok\":true}` (the HTTP ceiling here): req/s, p50, p99 | "
      "`tandem serve` (parse the update, whole turn, SQLite commit, reply to the fake Bot API): "
      "req/s, p50, p99 | errors (nginx / tandem) | tandem vs nginx | target | status |")
print("|---|---|---|---|---|---|---|")
lines = []
for c in conns:
    (n_rps, n50, n99, _), n_err = med(f"{work}/nginx-{c}.txt")
    (t_rps, t50, t99, _), t_err = med(f"{work}/tandem-{c}.txt")
    ratio = t_rps / n_rps if n_rps else 0
    judged = c == "64"
    ok = ratio >= 0.5 and t99 < 10
    status = ("**pass**" if ok else "**short**") if judged else "–"
    target = "≥0.5× nginx, p99 <10 ms" if judged else "–"
    print(f"| {c} | {n_rps:,.0f}, {n50:.2f} ms, {n99:.2f} ms | {t_rps:,.0f}, {t50:.2f} ms, "
          f"{t99:.2f} ms | {int(n_err)} / {int(t_err)} | {ratio:.2f}× | {target} | {status} |")
    lines.append(f"{c} {n_rps} {n99} {t_rps} {t99}\n")
if dat:
    with open(dat, "w") as f:
        f.write("# connections nginx_rps nginx_p99_ms tandem_rps tandem_p99_ms\n")
        f.writelines(lines)
PY
