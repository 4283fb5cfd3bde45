#!/usr/bin/env bash
# Webhooks against a real receiver: `cubby demo` (real process) and tests-webhooks/receiver.py, which verifies every
# delivery with the `standardwebhooks` package (the system's, or standardwebhooks==1.3.0 installed into a venv of
# its own). An administrator subscribes, a courier drops a parcel off and the recipient picks it up; each event
# arrives signed and verifies, the receiver answers 500 to an event's first attempt and the retry carries the same
# webhook-id; after a secret rotation a delivery carries two signatures that verify each with its own secret; an
# endpoint answering 410 is disabled; a server SIGKILLed between sending and recording sends the delivery once more
# after a restart, with the same webhook-id.
# Usage: scripts/webhook-test.sh [path-to-cubby-binary]   (default: .build/debug/cubby)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
bin="${1:-$repo/.build/debug/cubby}"
bin="$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")"   # the server runs in another directory
port="${CUBBY_WEBHOOK_TEST_PORT:-18095}"
rport="${CUBBY_WEBHOOK_RECEIVER_PORT:-18096}"
work="$(mktemp -d)"
pid=""
rpid=""
cleanup() {
    # A killed child's status (143) must not become the script's: errexit still applies here.
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    if [[ -n "$rpid" ]]; then kill "$rpid" 2>/dev/null || true; wait "$rpid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "webhook-test: FAIL: $*" >&2
    echo "--- server log ---" >&2; tail -n 30 "$work/server.log" >&2 || true
    echo "--- received ---" >&2; cat "$work/received.jsonl" >&2 2>/dev/null || true
    exit 1
}
# standardwebhooks (pinned) in a virtual environment of its own unless the system's Python already has it.
python=python3
if ! python3 -c 'import standardwebhooks' 2>/dev/null; then
    venv="${CUBBY_WEBHOOK_VENV:-/tmp/cubby-standardwebhooks-1.3.0}"
    if ! "$venv/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
        echo "webhook-test: installing standardwebhooks==1.3.0 into $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check "standardwebhooks==1.3.0" \
            || fail "could not install standardwebhooks"
    fi
    python="$venv/bin/python"
fi

echo '{}' >"$work/secrets.json"
"$python" "$repo/tests-webhooks/receiver.py" --port "$rport" --secrets "$work/secrets.json" --log "$work/received.jsonl" \
    >>"$work/receiver.log" 2>&1 &
rpid=$!
# The receiver listens on loopback over plain http: the deployment allows private addresses for this test only.
# A short retry base lets the retry of a refused first attempt come within a second; a short lease lets a delivery
# held by a killed server be taken up again within seconds.
start() {
    (cd "$work" && CUBBY_WEBHOOK_ALLOW_PRIVATE=true CUBBY_OUTBOX_RETRY_BASE_MS=400 CUBBY_OUTBOX_INTERVAL_MS=100 \
        CUBBY_OUTBOX_LEASE_SECONDS=4 exec "$bin" demo --no-units --port "$port" >>"$work/server.log" 2>&1) &
    pid=$!
    for _ in $(seq 1 150); do
        curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || fail "cubby demo exited early"
        sleep 0.1
    done
    fail "server did not answer /healthz"
}
start
M="$work/cubby-data/demo.json"
S="http://127.0.0.1:$port"
R="http://127.0.0.1:$rport"
admin=$(jq -r .adminToken "$M")
courier=$(jq -r .courierToken "$M")
U=$(jq -r '.units[0].id' "$M")
device=$(jq -r '.units[0].deviceToken' "$M")
api() {  # $1 method, $2 path, $3 body (optional); prints "BODY STATUS"
    local args=(-s -o - -w ' %{http_code}' -X "$1" "$S$2" -H "Authorization: Bearer $admin")
    [[ $# -ge 3 ]] && args+=(-H "Content-Type: application/json" --data-binary "$3")
    curl "${args[@]}"
}
expect() {  # $1 answer ("BODY STATUS"), $2 status wanted, $3 what; prints BODY
    [[ "${1##* }" == "$2" ]] || fail "$3 answered ${1##* } (wanted $2): ${1% *}"
    printf '%s' "${1% *}"
}
secrets() {  # $1 name, then its secrets
    local name="$1"; shift
    jq --arg n "$name" '.[$n] = $ARGS.positional' "$work/secrets.json" --args "$@" >"$work/secrets.tmp"
    mv "$work/secrets.tmp" "$work/secrets.json"
}
received() {  # $1 jq filter over the received entries (slurped); prints its value
    [[ -s "$work/received.jsonl" ]] || { echo null; return; }
    jq -s "$1" "$work/received.jsonl"
}
wait_for() {  # $1 jq condition over the received entries, $2 what
    for _ in $(seq 1 150); do
        [[ "$(received "$1")" == true ]] && return 0
        sleep 0.1
    done
    fail "timed out waiting for $2"
}
dropoff() {  # $1 tracking number, $2 recipient index; prints the parcel id
    local r
    r=$(jq -r ".recipients[$2].id" "$M")
    curl -s -X POST "$S/api/v1/units/$U/dropoffs" -H "Authorization: Bearer $courier" -H 'Content-Type: application/json' \
        -d "{\"trackingNumber\":\"$1\",\"recipientId\":\"$r\",\"size\":\"S\"}" | jq -r .parcelId
}

# 1. A subscription to every parcel event; the secret is shown once.
sub=$(expect "$(api POST /api/v1/webhooks "{\"url\":\"$R/flaky/main\",\"events\":[\"parcel.reserved\",\"parcel.deposited\",\"parcel.picked_up\"]}")" 201 "subscribing")
id=$(jq -r .id <<<"$sub")
secret1=$(jq -r .secret <<<"$sub")
[[ "$secret1" == whsec_* ]] || fail "no whsec_ secret: $sub"
[[ "$(expect "$(api GET "/api/v1/webhooks/$id")" 200 "reading the subscription" | jq 'has("secret")')" == false ]] \
    || fail "the secret was shown twice"
secrets main "$secret1"

# 2. A drop-off and a pickup: reserved, deposited, picked_up, each refused once and then delivered, signed.
parcel=$(dropoff WEBHOOK1 0)
[[ "$parcel" =~ ^[0-9a-f-]{36}$ ]] || fail "the drop-off failed"
for _ in $(seq 1 50); do [[ -s "$work/cubby-data/notifications.jsonl" ]] && break; sleep 0.1; done
pin=$(tail -n1 "$work/cubby-data/notifications.jsonl" | jq -r .pin)
[[ "$pin" =~ ^[0-9]{10}$ ]] || fail "no PIN in the notification"
pick=$(curl -s -X POST "$S/api/v1/units/$U/pickups" -H "Authorization: Bearer $device" -H 'Content-Type: application/json' \
    -d "{\"code\":\"$pin\"}")
[[ "$(jq -r .parcelId <<<"$pick")" == "$parcel" ]] || fail "the pickup answered $pick"
wait_for '[.[] | select(.name == "main" and .status == 204) | .type] | sort == ["parcel.deposited","parcel.picked_up","parcel.reserved"]' \
    "three events delivered"
[[ "$(received '[.[] | select(.name == "main")] | all(.verified == [true])')" == true ]] \
    || fail "a delivery did not verify with standardwebhooks"
[[ "$(received '[.[] | select(.name == "main")] | group_by(.id) | all(length == 2 and .[0].status == 500 and .[1].status == 204)')" == true ]] \
    || fail "a retry did not keep its webhook-id"
[[ "$(received "[.[] | select(.name == \"main\") | .data.parcelId] | unique == [\"$parcel\"]")" == true ]] \
    || fail "an event names another parcel"
received '.[].body' | grep -q "$pin" && fail "a webhook carried the PIN"
received '.[].body' | grep -q 'cby1\.' && fail "a webhook carried a QR token"

# 3. A rotation: the next delivery carries two signatures, each verifying with one of the secrets.
rot=$(expect "$(api POST "/api/v1/webhooks/$id/rotate-secret")" 200 "rotating the secret")
secret2=$(jq -r .secret <<<"$rot")
[[ "$secret2" == whsec_* && "$secret2" != "$secret1" ]] || fail "no new secret: $rot"
secrets main "$secret1" "$secret2"
parcel2=$(dropoff WEBHOOK2 1)
wait_for "[.[] | select(.name == \"main\" and .status == 204 and .data.parcelId == \"$parcel2\")] | length >= 1" \
    "the event after the rotation"
[[ "$(received "[.[] | select(.data.parcelId == \"$parcel2\")] | all(.signatures == 2 and .verified == [true, true])")" == true ]] \
    || fail "after the rotation a delivery did not carry two signatures that verify"

# 4. An endpoint answering 410 Gone is disabled at once.
gone=$(expect "$(api POST /api/v1/webhooks "{\"url\":\"$R/gone/gone\",\"events\":[\"parcel.reserved\"]}")" 201 "subscribing the gone endpoint")
gid=$(jq -r .id <<<"$gone")
dropoff WEBHOOK3 2 >/dev/null
wait_for '[.[] | select(.name == "gone")] | length >= 1' "the gone endpoint's delivery"
for _ in $(seq 1 50); do
    [[ "$(expect "$(api GET "/api/v1/webhooks/$gid")" 200 "reading the gone subscription" | jq .enabled)" == false ]] && break
    sleep 0.1
done
state=$(expect "$(api GET "/api/v1/webhooks/$gid")" 200 "reading the gone subscription")
[[ "$(jq .enabled <<<"$state")" == false ]] || fail "the 410 endpoint was not disabled: $state"
[[ "$(expect "$(api GET /api/v1/alerts)" 200 "reading alerts" | jq '[.alerts[] | select(.kind == "webhook.disabled")] | length')" == 1 ]] \
    || fail "no alert for the disabled subscription"
audit=$(expect "$(api GET "/api/v1/audit/events?limit=1000")" 200 "reading the audit log")
[[ "$(jq '[.events[] | select(.type | startswith("webhook."))] | map(.type)' -c <<<"$audit")" == '["webhook.created","webhook.secret_rotated","webhook.created","webhook.disabled"]' ]] \
    || fail "the audit log lacks the subscription's events: $(jq -c '[.events[] | select(.type | startswith("webhook.")) | .type]' <<<"$audit")"

# 5. The server SIGKILLed while a receiver holds its request, between sending and recording: after a restart and the
# lease, the delivery is sent once more with the same webhook-id, and only once.
kill_sub=$(expect "$(api POST /api/v1/webhooks "{\"url\":\"$R/hold/kill\",\"events\":[\"parcel.reserved\"]}")" 201 "subscribing the held endpoint")
kid=$(jq -r .id <<<"$kill_sub")
secrets kill "$(jq -r .secret <<<"$kill_sub")"
parcel4=$(dropoff WEBHOOK4 0)
wait_for '[.[] | select(.name == "kill")] | length >= 1' "the held delivery"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=""
start
wait_for '[.[] | select(.name == "kill")] | length >= 2' "the delivery again after the restart"
for _ in $(seq 1 100); do
    [[ "$(expect "$(api GET "/api/v1/webhooks/$kid/deliveries")" 200 "listing deliveries" | jq -r '.deliveries[0].state')" == delivered ]] && break
    sleep 0.1
done
deliveries=$(expect "$(api GET "/api/v1/webhooks/$kid/deliveries")" 200 "listing deliveries")
[[ "$(jq -r '.deliveries[0].state' <<<"$deliveries")" == delivered ]] || fail "the held delivery was not delivered after the restart: $deliveries"
sleep 1
[[ "$(received "[.[] | select(.name == \"kill\")] | length == 2 and (map(.id) | unique | length == 1) and all(.verified == [true]) and all(.data.parcelId == \"$parcel4\")")" == true ]] \
    || fail "after the SIGKILL the delivery did not come exactly twice with one webhook-id"
echo "webhook-test: ok (signed with standardwebhooks, same webhook-id across a retry, two signatures in a rotation, 410 disables, one repeat with the same id after a SIGKILL)"
