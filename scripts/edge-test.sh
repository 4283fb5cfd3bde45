#!/usr/bin/env bash
# Locker units keep working without the server and lose nothing when killed, tested with real processes:
#
#  1. `cubby demo` enrolls and starts its units (child processes, pinned TLS 1.3 link); it is stopped.
#  2. The server runs alone (`cubby demo --no-units`) and unit 1 runs on its own (`cubby edge run`).
#  3. Two parcels are dropped off through the API; their PINs reach the unit.
#  4. The server is SIGKILLed. PIN 1 opens its door at the kiosk; the unit is SIGKILLed right after
#     PIN 2 opens its door, restarted (server still down), and a burst of sensor events is cut by
#     more SIGKILLs.
#  5. The server comes back: every journaled event arrives exactly once (no gap, chain intact),
#     both parcels are picked up, and the PINs are dead on the API too.
#  6. Reports the idle unit's resident memory.
# Usage: scripts/edge-test.sh [cubby-binary]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
bin="${1:-$repo/.build/debug/cubby}"
bin="$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")"
work="$(mktemp -d)"
port="${CUBBY_EDGE_TEST_PORT:-18301}"
edge_port=$((port + 1))
kiosk=$((port + 2))
control=$((port + 4))
server_pid="" edge_pid="" socat_pid="" boards_pid=""
cleanup() {
    for p in $server_pid $edge_pid $boards_pid $socat_pid; do kill -9 "$p" 2>/dev/null || true; done
    pkill -9 -f "$work/cubby-data" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "edge-test: FAIL: $*" >&2
    tail -n 15 "$work/server.log" >&2 || true
    tail -n 15 "$work/cubby-data/edge-unit-1/edge.log" >&2 || true
    exit 1
}
wait_for() {  # $1 = what, $2.. = command that must succeed
    local what="$1"; shift
    for _ in $(seq 1 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    fail "timed out waiting for $what"
}
status() { curl -fs -m 2 "http://127.0.0.1:$control/status"; }
field() { status | jq -r ".$1"; }
online() { [[ "$(field online)" == "true" ]]; }
synced() { local s; s="$(status)"; [[ "$(jq -r .online <<<"$s")" == true && "$(jq -r .journalSeq <<<"$s")" == "$(jq -r .journalAcked <<<"$s")" ]]; }

start_server() {  # $@ = extra demo options
    (cd "$work" && exec "$bin" demo --port "$port" --edge-port "$edge_port" --kiosk-port "$kiosk" --control-port "$control" "$@" >>"$work/server.log" 2>&1) &
    server_pid=$!
    wait_for "the server" curl -fs "http://127.0.0.1:$port/healthz"
}
start_edge() {
    (cd "$work" && exec "$bin" edge run --state "$work/cubby-data/edge-unit-1" --kiosk-port "$kiosk" --control-port "$control" \
        --close-after-ms 300 >>"$work/cubby-data/edge-unit-1/edge.log" 2>&1) &
    edge_pid=$!
    wait_for "the unit's control endpoint" status
}
kiosk_pickup() {  # $1 = code; prints the page's heading
    curl -s -m 5 -X POST "http://127.0.0.1:$kiosk/pickup" -H "Origin: http://127.0.0.1:$kiosk" \
        --data-urlencode "code=$1" --data-urlencode "method=pin" | grep -o '<h1[^>]*>[^<]*</h1>' || true
}

echo "edge-test: enrolling the demo's units"
start_server
wait_for "unit 1 enrolled and online" online
kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true
wait_for "the demo's units to stop" bash -c "! curl -fs http://127.0.0.1:$control/status"

echo "edge-test: server and unit 1 as separate processes"
start_server --no-units
start_edge
wait_for "the link" online
M="$work/cubby-data/demo.json"
S="http://127.0.0.1:$port"
unit=$(jq -r '.units[0].id' "$M")
admin=$(jq -r .adminToken "$M")
device=$(jq -r '.units[0].deviceToken' "$M")
declare -a parcels pins
for n in 1 2; do
    out=$(curl -fs -X POST "$S/api/v1/units/$unit/dropoffs" -H "Authorization: Bearer $(jq -r .courierToken "$M")" \
        -H 'Content-Type: application/json' \
        -d "{\"trackingNumber\":\"EDGE$n\",\"recipientId\":\"$(jq -r '.recipients[0].id' "$M")\",\"size\":\"S\"}") || fail "drop-off $n"
    parcels[$n]=$(jq -r .parcelId <<<"$out")
    wait_for "parcel $n deposited" bash -c "grep -q '${parcels[$n]}' '$work/cubby-data/notifications.jsonl'"
    pins[$n]=$(grep "${parcels[$n]}" "$work/cubby-data/notifications.jsonl" | tail -n1 | jq -r .pin)
done
wait_for "both codes at the unit" bash -c "[[ \$(curl -fs http://127.0.0.1:$control/status | jq .liveCodes) -ge 2 ]]"

echo "edge-test: SIGKILL the server; pickups go on"
kill -9 "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
wait_for "the unit to notice" bash -c "[[ \$(curl -fs http://127.0.0.1:$control/status | jq -r .online) == false ]]"
[[ "$(kiosk_pickup 0000000000)" == *"not valid"* || "$(kiosk_pickup 0000000000)" == *"no"* ]] || true
h=$(kiosk_pickup "${pins[1]}"); [[ "$h" == *"open"* ]] || fail "PIN 1 did not open its door offline: $h"
h=$(kiosk_pickup "${pins[2]}"); [[ "$h" == *"open"* ]] || fail "PIN 2 did not open its door offline: $h"
kill -9 "$edge_pid"; wait "$edge_pid" 2>/dev/null || true; edge_pid=""
echo "edge-test: unit SIGKILLed right after a pickup; restarting it offline"
start_edge
h=$(kiosk_pickup "${pins[2]}"); [[ "$h" != *"is open"* ]] || fail "PIN 2 opened a second time after the restart"
for round in 1 2 3 4 5; do
    for i in $(seq 1 6); do curl -fs -X POST "http://127.0.0.1:$control/mains?on=$(( i % 2 ))" >/dev/null || true; done
    sleep "0.0$((RANDOM % 9 + 1))"
    kill -9 "$edge_pid"; wait "$edge_pid" 2>/dev/null || true; edge_pid=""
    start_edge
done
[[ "$(curl -fs "http://127.0.0.1:$control/journal/verify" | jq -r .intact)" == true ]] || fail "the journal's hash chain is broken"
seq_before=$(field journalSeq)
echo "edge-test: $seq_before events journaled while the server was down"

echo "edge-test: the server returns; everything arrives once"
start_server --no-units
wait_for "the journal to sync" synced
for n in 1 2; do
    state=$(curl -fs "$S/api/v1/parcels/${parcels[$n]}" -H "Authorization: Bearer $admin" | jq -r .state)
    [[ "$state" == picked_up ]] || fail "parcel $n is $state after the sync"
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$S/api/v1/units/$unit/pickups" -H "Authorization: Bearer $device" \
        -H 'Content-Type: application/json' -d "{\"code\":\"${pins[$n]}\"}")
    [[ "$code" == 403 ]] || fail "PIN $n still works on the API after the sync ($code)"
done
stored=$(sqlite3 "$work/cubby-data/cubby.sqlite" "SELECT COUNT(*), MIN(seq), MAX(seq) FROM device_events WHERE unit_id = '$unit'")
expected="$(field journalSeq)|1|$(field journalSeq)"
[[ "$stored" == "$expected" ]] || fail "the server holds events $stored, the unit journaled $expected"
gaps=$(sqlite3 "$work/cubby-data/cubby.sqlite" "SELECT COUNT(*) FROM alerts WHERE kind IN ('edge.sequence_gap','edge.chain_broken')")
[[ "$gaps" == 0 ]] || fail "$gaps gap or chain alerts"
pickups=$(sqlite3 "$work/cubby-data/cubby.sqlite" "SELECT COUNT(*) FROM device_events WHERE unit_id = '$unit' AND kind = 'pickup'")
[[ "$pickups" == 2 ]] || fail "$pickups pickups arrived, expected 2"

echo "edge-test: a forensic bundle carries the unit's stills and verifies offline"
kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
"$bin" audit bundle --database "sqlite:$work/cubby-data/cubby.sqlite" --keys "$work/cubby-data/keys.json" --from 0 \
    --out "$work/bundle.zip" >/dev/null || fail "no bundle"
"$bin" audit verify-bundle "$work/bundle.zip" >/dev/null || fail "the bundle did not verify"
stills=$(unzip -l "$work/bundle.zip" | grep -c 'evidence/' || true)
[[ "$stills" -ge 3 ]] || fail "the bundle holds $stills stills, expected the pickups' and rejected codes' at least"

sleep 5
rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$edge_pid/status")
echo "edge-test: idle unit resident memory: $rss MB (pid $edge_pid)"
events=$(field journalSeq)

echo "edge-test: the unit drives an RS-485 line (socat pseudo-terminal pair, emulated boards)"
kill -TERM "$edge_pid"; wait "$edge_pid" 2>/dev/null || true; edge_pid=""
socat pty,raw,echo=0,link="$work/bus" pty,raw,echo=0,link="$work/boards" 2>"$work/socat.log" &
socat_pid=$!
wait_for "the pseudo-terminal pair" test -e "$work/boards"
"$bin" edge emulate-boards --device "$work/boards" --boards 0,1 --auto-close-ms 400 >"$work/boards.log" 2>&1 &
boards_pid=$!
wait_for "the emulated boards" grep -q "emulating boards" "$work/boards.log"
start_server --no-units
(cd "$work" && exec "$bin" edge run --state "$work/cubby-data/edge-unit-1" --kiosk-port "$kiosk" --bus "serial:$work/bus" \
    --baud 9600 --reply-timeout-ms 150 --tries 3 >>"$work/cubby-data/edge-unit-1/edge.log" 2>&1) &
edge_pid=$!
out=$(curl -fs -X POST "$S/api/v1/units/$unit/dropoffs" -H "Authorization: Bearer $(jq -r .courierToken "$M")" \
    -H 'Content-Type: application/json' \
    -d "{\"trackingNumber\":\"SERIAL1\",\"recipientId\":\"$(jq -r '.recipients[0].id' "$M")\",\"size\":\"S\"}") || fail "serial drop-off"
label=$(jq -r .compartment.label <<<"$out")
# The server wires compartments in natural label order, 16 channels to a board.
index=$(sqlite3 "$work/cubby-data/cubby.sqlite" "SELECT label FROM compartments WHERE unit_id = '$unit'" | sort -V | grep -n -x "$label" | cut -d: -f1)
[[ -n "$index" ]] || fail "compartment $label not found"
expect_line="unlock board $(( (index - 1) / 16 )) channel $(( (index - 1) % 16 + 1 ))"
wait_for "'$expect_line' on the line for compartment $label" grep -q -x "$expect_line" "$work/boards.log"
echo "edge-test: compartment $label opened over the serial line ($expect_line)"
kill -TERM "$boards_pid" "$socat_pid" 2>/dev/null || true

echo "edge-test: PASS ($events events, each applied once; pickups offline and across SIGKILLs; a door opened over RS-485)"
