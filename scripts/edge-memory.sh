#!/usr/bin/env bash
# The idle resident memory of a locker unit's program: `cubby demo` enrolls its units and stops, the
# server runs alone (`cubby demo --no-units`), and unit 1 runs as `cubby-edge run` (simulated hardware,
# kiosk page and control endpoint on, linked to the server over pinned TLS). After the link is up the
# kiosk's pages are fetched and a wrong PIN is entered, then the unit is left alone; its resident size is read from
# /proc/PID/status and smaps_rollup at 30 and 60 seconds.
# Usage: scripts/edge-memory.sh [cubby-binary] [cubby-edge-binary]
#   defaults: .build/debug/cubby and .build/release/cubby-edge
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
abs() { echo "$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")"; }
cubby="$(abs "${1:-$repo/.build/debug/cubby}")"
edge="$(abs "${2:-$repo/.build/release/cubby-edge}")"
work="$(mktemp -d)"
port="${CUBBY_EDGE_MEMORY_PORT:-18601}"
kiosk=$((port + 2)) control=$((port + 4))
server_pid="" edge_pid=""
cleanup() {
    for p in $server_pid $edge_pid; do kill -9 "$p" 2>/dev/null || true; done 2>/dev/null
    pkill -9 -f "$work/cubby-data" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "edge-memory: FAIL: $*" >&2; tail -n 15 "$work/server.log" "$work/edge.log" >&2 2>/dev/null || true; exit 1; }
wait_for() {
    local what="$1"; shift
    for _ in $(seq 1 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    fail "timed out waiting for $what"
}
online() { [[ "$(curl -fs -m 2 "http://127.0.0.1:$control/status" | jq -r .online)" == true ]]; }
start_server() {
    (cd "$work" && exec "$cubby" demo --port "$port" --edge-port $((port + 1)) --kiosk-port "$kiosk" --control-port "$control" "$@" \
        >>"$work/server.log" 2>&1) &
    server_pid=$!
    wait_for "the server" curl -fs "http://127.0.0.1:$port/healthz"
}

start_server
wait_for "unit 1 enrolled and online" online
kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true
wait_for "the demo's units to stop" bash -c "! curl -fs http://127.0.0.1:$control/status"
start_server --no-units
(exec "$edge" run --state "$work/cubby-data/edge-unit-1" --kiosk-port "$kiosk" --control-port "$control" >"$work/edge.log" 2>&1) &
edge_pid=$!
wait_for "the link" online
for page in / /courier /static/kiosk.css /static/idle.js; do
    curl -fs "http://127.0.0.1:$kiosk$page" >/dev/null || fail "the kiosk did not answer $page"
done
wrong=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$kiosk/pickup" -H "Origin: http://127.0.0.1:$kiosk" \
    --data-urlencode "code=00000000" --data-urlencode "method=pin")
[[ "$wrong" == 403 ]] || fail "a wrong PIN got $wrong, not 403"
echo "edge-memory: $edge (pid $edge_pid)"
echo "edge-memory: linked libraries: $(ldd "$edge" | awk '{print $1}' | grep -c .) ($(ldd "$edge" | grep -o 'lib[A-Za-z_]*Foundation[A-Za-z_]*' | sort -u | tr '\n' ' '))"
started=$SECONDS
for at in 30 60; do
    sleep $((at - (SECONDS - started)))
    online || fail "the unit went offline"
    rss=$(awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$edge_pid/status")
    roll=$(awk '/^(Pss|Shared_Clean|Private_Clean|Private_Dirty|Anonymous):/ {printf "%s %.1f MB; ", $1, $2/1024}' "/proc/$edge_pid/smaps_rollup")
    echo "edge-memory: ${at} s idle: resident $rss MB ($roll)"
done
echo "edge-memory: resident by mapping (KB, over 256):"
awk '/^[0-9a-f]+-[0-9a-f]+ / {name = ($6 == "" ? "[anonymous]" : $6)} /^Rss:/ {rss[name] += $2}
     END {for (n in rss) if (rss[n] > 256) printf "  %6d %s\n", rss[n], n}' "/proc/$edge_pid/smaps" | sort -rn
