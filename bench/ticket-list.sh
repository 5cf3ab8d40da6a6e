#!/usr/bin/env bash
# Authenticated ticket list throughput of `portico serve` on SQLite over
# HTTPS, measured with wrk (Debian package `wrk`). Issue 4's target: a
# customer's ticket list with 50 tickets at over 2,000 requests/s on 2
# cores. Results go into docs/performance.md.
#
#   bench/ticket-list.sh                 # 30 s, 2 wrk threads, 64 connections
#   DURATION=10s CONNS=32 bench/ticket-list.sh
#
# The customer signs in with a password alone (the 1642mtl-web profile,
# where MFA is encouraged, not required), so curl can do it; every request
# then goes through the whole chain: TLS, session and context checks,
# authorization, 50 subject decryptions, render. wrk shares the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-30s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
UA="portico-bench"
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }

dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
CGO_ENABLED=0 go build -o "$dir/portico" ./cmd/portico
args=(--data-dir "$dir/data" --policy 1642mtl-web)
"$dir/portico" serve "${args[@]}" --addr 127.0.0.1:0 --log-level warn >"$dir/out" 2>"$dir/log" &
pid=$!
for _ in $(seq 1 100); do grep -q "running at" "$dir/out" && break; sleep 0.1; done
url=$(sed -n 's/^Portico is running at //p' "$dir/out")

pw="velvet-harbour-quietly-92-lanterns"
echo "$pw" | "$dir/portico" user create "${args[@]}" --email bench@example.com --role customer --password-stdin >/dev/null
c=(curl -sk -A "$UA" -H "Sec-Fetch-Site: same-origin" -b "$dir/jar" -c "$dir/jar")
"${c[@]}" -o /dev/null --data-urlencode email=bench@example.com --data-urlencode "password=$pw" "$url/login"
for i in $(seq 1 50); do
  "${c[@]}" -o /dev/null -F "subject=Ticket number $i about an invoice" -F "body=Please help." "$url/tickets"
done
cookie=$(awk '$6 == "__Host-portico-session" {print $7}' "$dir/jar")
[ -n "$cookie" ] || { echo "sign-in failed" >&2; exit 1; }
rows=$(curl -sk -A "$UA" -H "Cookie: __Host-portico-session=$cookie" "$url/tickets" | grep -c 'Ticket number' || true)
echo "$("$dir/portico" version) at $url; $(nproc) cores; $rows tickets on the page; wrk -t$THREADS -c$CONNS -d$DURATION"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "User-Agent: $UA" -H "Cookie: __Host-portico-session=$cookie" "$url/tickets" |
  sed -n '/Latency /p;/50%/p;/99%/p;/Requests\/sec/p;/Non-2xx/p;/Socket errors/p'
