#!/usr/bin/env bash
# No acknowledged change is lost when the server is killed: drop-offs are sent from several
# concurrent clients, `cubby serve` is SIGKILLed mid-stream, restarted on the same database, and
# every drop-off that was answered 201 must still be there (and the audit trail must hold its event).
# Usage: scripts/kill-test.sh [cubby-binary] [database]   (default: .build/debug/cubby, a fresh SQLite file)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
bin="${1:-$repo/.build/debug/cubby}"
bin="$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")"   # the server runs in another directory
work="$(mktemp -d)"
db="${2:-sqlite:$work/cubby.sqlite}"
port="${CUBBY_KILL_PORT:-18091}"
pid=""
cleanup() { [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "kill-test: FAIL: $*" >&2; tail -n 20 "$work/server.log" >&2 || true; exit 1; }

start() {
    (cd "$work" && exec "$bin" demo --port "$port" --database "$db" --keys "$work/keys.json" --manifest "$work/demo.json" >>"$work/server.log" 2>&1) &
    pid=$!
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "server did not start"
}

start
M="$work/demo.json"
S="http://127.0.0.1:$port"
courier=$(jq -r .courierToken "$M")
admin=$(jq -r .adminToken "$M")
client() {  # $1 = client number, $2 = unit index
    local unit i out
    unit=$(jq -r ".units[$2].id" "$M")
    for i in $(seq 1 12); do
        out=$(curl -s -m 5 -o - -w ' %{http_code}' -X POST "$S/api/v1/units/$unit/dropoffs" \
            -H "Authorization: Bearer $courier" -H 'Content-Type: application/json' \
            -d "{\"trackingNumber\":\"K$1-$i\",\"recipientId\":\"$(jq -r '.recipients[0].id' "$M")\",\"size\":\"S\"}") || true
        if [[ "$out" == *" 201" ]]; then jq -r .parcelId <<<"${out% 201}" >>"$work/acked.$1"; fi
    done
}
for c in 1 2 3 4; do client "$c" $(( c % 2 )) & done
sleep 1.5
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=""
wait
cat "$work"/acked.* >"$work/acked" 2>/dev/null || true
acked=$(wc -l <"$work/acked")
[[ "$acked" -gt 0 ]] || fail "no drop-off was acknowledged before the kill (raise the sleep)"

start
missing=0
for id in $(cat "$work/acked"); do
    state=$(curl -s "$S/api/v1/parcels/$id" -H "Authorization: Bearer $admin" | jq -r .state)
    if [[ "$state" == null || -z "$state" ]]; then missing=$((missing + 1)); echo "lost: $id" >&2; fi
done
events=$(curl -s "$S/api/v1/audit/events?limit=1000" -H "Authorization: Bearer $admin" | jq '[.events[] | select(.type == "parcel.reserved")] | length')
[[ "$missing" -eq 0 ]] || fail "$missing of $acked acknowledged drop-offs were lost"
[[ "$events" -ge "$acked" ]] || fail "only $events reservation events for $acked acknowledged drop-offs"
echo "kill-test: ok ($acked acknowledged drop-offs before SIGKILL, all present after restart; $events reservation events)"
