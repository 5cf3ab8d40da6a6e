#!/usr/bin/env bash
# Static-page throughput of `portico serve` on loopback, measured with wrk
# (Debian package `wrk`) over HTTPS with keep-alive. Issue 2's target: over
# 10,000 requests/s on 2 cores. Results go into docs/performance.md.
#
#   bench/static-rps.sh            # 30 s per path, 2 wrk threads, 64 connections
#   DURATION=10s CONNS=32 bench/static-rps.sh
#
# Portico and wrk share the machine's cores: the figure is what the server
# does while the load tool itself uses part of the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-30s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }

dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
CGO_ENABLED=0 go build -o "$dir/portico" ./cmd/portico
"$dir/portico" serve --data-dir "$dir/data" --addr 127.0.0.1:0 --log-level warn >"$dir/out" 2>"$dir/log" &
pid=$!
for _ in $(seq 1 100); do grep -q "running at" "$dir/out" && break; sleep 0.1; done
url=$(sed -n 's/^Portico is running at //p' "$dir/out")
css=$(curl -sk "$url/" | grep -o '/static/portico\.[0-9a-f]*\.css' | head -1)
echo "$("$dir/portico" version) at $url; $(nproc) cores; wrk -t$THREADS -c$CONNS -d$DURATION"
for path in "$css" /healthz /; do
  echo "== GET $path"
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$url$path" | sed -n '/Latency /p;/50%/p;/99%/p;/Requests\/sec/p;/Non-2xx/p;/Socket errors/p'
done
