#!/usr/bin/env bash
# Runs the kiosk page's headless-browser test against a real unit: `cubby demo` in a temp directory
# starts its units (cubby edge run, simulated hardware, linked over TLS), a courier drops a parcel off
# at unit 1 through the API, and kiosk_test.py gets that parcel's PIN, the courier's credential and a
# recipient. The unit's kiosk returns to its start screen after 5 idle seconds for the idle checks.
# CUBBY_BIN: the binary to test (default: .build/debug/cubby in the repository root).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
bin="${CUBBY_BIN:-$repo/.build/debug/cubby}"
bin="$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")"
work="$(mktemp -d)"
port="${CUBBY_KIOSK_TEST_PORT:-18401}"
kiosk=$((port + 2)) control=$((port + 4))
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "run-kiosk: $*" >&2; tail -n 20 "$work/server.log" >&2 || true; exit 2; }
(cd "$work" && exec "$bin" demo --port "$port" --edge-port $((port + 1)) --kiosk-port "$kiosk" --control-port "$control" \
    --kiosk-idle-seconds 5 >"$work/server.log" 2>&1) &
pid=$!
for _ in $(seq 1 300); do
    [[ "$(curl -fs "http://127.0.0.1:$control/status" 2>/dev/null | jq -r .online 2>/dev/null)" == true ]] && break
    sleep 0.1
done
[[ "$(curl -fs "http://127.0.0.1:$control/status" | jq -r .online)" == true ]] || fail "unit 1 did not come online"
M="$work/cubby-data/demo.json"
out=$(curl -fs -X POST "http://127.0.0.1:$port/api/v1/units/$(jq -r '.units[0].id' "$M")/dropoffs" \
    -H "Authorization: Bearer $(jq -r .courierToken "$M")" -H 'Content-Type: application/json' \
    -d "{\"trackingNumber\":\"KIOSK1\",\"recipientId\":\"$(jq -r '.recipients[0].id' "$M")\",\"size\":\"S\"}") || fail "drop-off refused"
parcel=$(jq -r .parcelId <<<"$out")
for _ in $(seq 1 100); do grep -q "$parcel" "$work/cubby-data/notifications.jsonl" 2>/dev/null && break; sleep 0.1; done
pin=$(grep "$parcel" "$work/cubby-data/notifications.jsonl" | tail -n1 | jq -r .pin)
[[ -n "$pin" ]] || fail "no PIN for the parcel"
for _ in $(seq 1 100); do [[ "$(curl -fs "http://127.0.0.1:$control/status" | jq .liveCodes)" -ge 1 ]] && break; sleep 0.1; done
KIOSK_URL="http://127.0.0.1:$kiosk" KIOSK_GOOD_PIN="$pin" KIOSK_COURIER_TOKEN="$(jq -r .courierToken "$M")" \
KIOSK_RECIPIENT_ID="$(jq -r '.recipients[1].id' "$M")" KIOSK_IDLE_SECONDS=5 python3 "$here/kiosk_test.py" "$@"
