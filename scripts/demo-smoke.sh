#!/usr/bin/env bash
# End-to-end check of the README's first command with real processes: `cubby demo` in a fresh
# directory, a courier drop-off and a kiosk pickup over HTTP with curl, then a second start that
# must reuse the data (same manifest, no second organization).
# Usage: scripts/demo-smoke.sh [path-to-cubby-binary]   (default: .build/debug/cubby)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
bin="${1:-$repo/.build/debug/cubby}"
bin="$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")"   # the server runs in another directory
port="${CUBBY_SMOKE_PORT:-18090}"
work="$(mktemp -d)"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "demo-smoke: FAIL: $*" >&2; echo "--- server log ---" >&2; tail -n 30 "$work/server.log" >&2 || true; exit 1; }

start() {
    (cd "$work" && exec "$bin" demo --port "$port" >>"$work/server.log" 2>&1) &
    pid=$!
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || fail "cubby demo exited early"
        sleep 0.1
    done
    fail "server did not answer /healthz"
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

start
M="$work/cubby-data/demo.json"
[[ -f "$M" ]] || fail "no demo.json"
for key in server organizationId siteId courierToken; do
    [[ "$(jq -r ".$key" "$M")" != null ]] || fail "demo.json lacks $key"
done
[[ "$(jq '.units | length' "$M")" == 2 ]] || fail "expected two units"
[[ "$(jq '.recipients | length' "$M")" == 3 ]] || fail "expected three recipients"
S="http://127.0.0.1:$port"
U=$(jq -r '.units[0].id' "$M")
R=$(jq -r '.recipients[0].id' "$M")
drop=$(curl -s -X POST "$S/api/v1/units/$U/dropoffs" -H "Authorization: Bearer $(jq -r .courierToken "$M")" \
    -H 'Content-Type: application/json' -d "{\"trackingNumber\":\"SMOKE1\",\"recipientId\":\"$R\",\"size\":\"M\"}")
[[ "$(jq -r .state <<<"$drop")" == reserved ]] || fail "drop-off answered $drop"
for _ in $(seq 1 50); do [[ -s "$work/cubby-data/notifications.jsonl" ]] && break; sleep 0.1; done
pin=$(tail -n1 "$work/cubby-data/notifications.jsonl" | jq -r .pin)
[[ "$pin" =~ ^[0-9]{10}$ ]] || fail "no PIN in the notification"
pick=$(curl -s -X POST "$S/api/v1/units/$U/pickups" -H "Authorization: Bearer $(jq -r '.units[0].deviceToken' "$M")" \
    -H 'Content-Type: application/json' -d "{\"code\":\"$pin\"}")
[[ "$(jq -r .parcelId <<<"$pick")" == "$(jq -r .parcelId <<<"$drop")" ]] || fail "pickup answered $pick"
grep -q "$pin" "$work/cubby-data/cubby.sqlite"* && fail "the PIN appears in the database files"
org=$(jq -r .organizationId "$M")
stop

start
[[ "$(jq -r .organizationId "$M")" == "$org" ]] || fail "the second start wrote a new manifest"
count=$(curl -s "$S/api/v1/audit/events?limit=1000" -H "Authorization: Bearer $(jq -r .adminToken "$M")" | jq '[.events[] | select(.type == "organization.created")] | length')
[[ "$count" == 1 ]] || fail "seeded $count times"
stop
echo "demo-smoke: ok (seed, drop-off, deposit, PIN pickup, restart reuses the data)"
