#!/usr/bin/env bash
# Recipients reached for real: `cubby demo` with email through aiosmtpd (STARTTLS and AUTH) and SMS through the
# recording gateway (scripts/sms-gateway.py, standing in for an SMS provider). A courier's drop-off sends an email
# whose QR image (decoded by zbarimg) opens the door, and a one-segment SMS with the same PIN; a recipient who
# switched SMS off for parcel-ready messages gets the email only. Then the SMTP server refuses a message twice
# (451) before it takes it: exactly one email arrives. Then it holds its reply to a message while `cubby demo` is
# SIGKILLed and started again: the email comes once more, with the same Message-ID, and no more.
# Needs python3 with aiosmtpd, openssl, zbarimg, jq, curl. Usage: scripts/notify-test.sh [cubby-binary]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
bin="${1:-$repo/.build/debug/cubby}"
bin="$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")"
work="$(mktemp -d)"
port="${CUBBY_NOTIFY_PORT:-18095}"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "notify-test: FAIL: $*" >&2; tail -n 30 "$work/server.log" >&2 2>/dev/null || true; exit 1; }
ready_port() {  # $1 = log file of a helper that prints "READY <port>"
    for _ in $(seq 1 100); do
        grep -q '^READY ' "$1" 2>/dev/null && { sed -n 's/^READY //p' "$1" | head -n1; return 0; }
        sleep 0.1
    done
    fail "$1 never got ready"
}

echo '{}' >"$work/control.json"
python3 "$repo/tests-mail/smtp_server.py" --tls starttls --dir "$work/mail" --make-certs --control "$work/control.json" \
    >"$work/smtp.log" 2>&1 &
pids+=($!)
smtp_port=$(ready_port "$work/smtp.log")
python3 "$repo/scripts/sms-gateway.py" --token gw-token --record "$work/sms.jsonl" >"$work/sms.log" 2>&1 &
pids+=($!)
sms_port=$(ready_port "$work/sms.log")

# A short retry base and lease: a refused message is tried again within a second or two, and one held by a killed
# server is taken up again within seconds.
demo_pid=""
start_demo() {
    (cd "$work" && CUBBY_SMTP_URL="smtp://cubby:s3cret%3Ap%40ss@localhost:$smtp_port?tls=starttls" \
        CUBBY_SMTP_FROM="Cubby Lockers <lockers@example.org>" CUBBY_SMTP_CA_FILE="$work/mail/ca.pem" \
        CUBBY_SMS_URL="http://127.0.0.1:$sms_port/messages" CUBBY_SMS_TOKEN=gw-token \
        CUBBY_OUTBOX_RETRY_BASE_MS=400 CUBBY_OUTBOX_LEASE_SECONDS=4 \
        exec "$bin" demo --no-units --port "$port" --database "sqlite:$work/cubby.sqlite" --keys "$work/keys.json" \
        --manifest "$work/demo.json" >>"$work/server.log" 2>&1) &
    demo_pid=$!
    pids+=("$demo_pid")
    for _ in $(seq 1 600); do [[ -s "$work/demo.json" ]] && curl -fs "$S/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -fs "$S/healthz" >/dev/null || fail "the demo did not start"
}
S="http://127.0.0.1:$port"
start_demo
M="$work/demo.json"
admin=$(jq -r .adminToken "$M"); courier=$(jq -r .courierToken "$M")
unit=$(jq -r '.units[0].id' "$M"); device=$(jq -r '.units[0].deviceToken' "$M")
r1=$(jq -r '.recipients[0].id' "$M"); r2=$(jq -r '.recipients[1].id' "$M")
for r in "$r1" "$r2"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH "$S/api/v1/recipients/$r" -H "Authorization: Bearer $admin" \
        -H 'Content-Type: application/json' -d '{"phone": "+16175550123"}')
    [[ "$code" == 200 ]] || fail "could not give recipient $r a phone number ($code)"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$S/api/v1/recipients/$r2/preferences" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' -d '{"preferences": {"parcel_ready": {"sms": false}}}')
[[ "$code" == 200 ]] || fail "could not switch SMS off for the second recipient ($code)"

drop() {  # $1 tracking, $2 recipient
    local a
    a=$(curl -s -w ' %{http_code}' -X POST "$S/api/v1/units/$unit/dropoffs" -H "Authorization: Bearer $courier" \
        -H 'Content-Type: application/json' -d "{\"trackingNumber\":\"$1\",\"recipientId\":\"$2\",\"size\":\"S\"}")
    [[ "${a##* }" == 201 ]] || fail "drop-off $1 answered $a"
}
drop NOTIFY1 "$r1"
drop NOTIFY2 "$r2"

for _ in $(seq 1 300); do [[ -f "$work/mail/2.eml" && -s "$work/sms.jsonl" ]] && break; sleep 0.2; done
[[ -f "$work/mail/2.eml" ]] || fail "two emails did not arrive: $(ls "$work/mail")"
sleep 2  # anything more the outbox would send
[[ ! -f "$work/mail/3.eml" ]] || fail "more than two emails arrived"
[[ "$(wc -l <"$work/sms.jsonl")" == 1 ]] || fail "expected one SMS (the second recipient switched SMS off): $(cat "$work/sms.jsonl")"

first=""
for f in "$work"/mail/*.eml; do
    parsed=$(python3 "$repo/tests-mail/check_message.py" "$f")
    if jq -e '.text | contains("NOTIFY1")' <<<"$parsed" >/dev/null; then first="$parsed"; fi
done
[[ -n "$first" ]] || fail "no email is about NOTIFY1"
[[ "$(jq -r .to <<<"$first")" == *resident1@example.org* ]] || fail "the email went to $(jq -r .to <<<"$first")"
pin=$(jq -r .text <<<"$first" | grep -oE '[0-9]{10}' | head -n1)
qr=$(jq -r '.images[0].qr' <<<"$first")
[[ -n "$pin" && "$qr" != null && -n "$qr" ]] || fail "the email carries no PIN or no decodable QR code: $first"
sms=$(head -n1 "$work/sms.jsonl")
[[ "$(jq -r .to <<<"$sms")" == "+16175550123" ]] || fail "the SMS went to $(jq -r .to <<<"$sms")"
jq -r .text <<<"$sms" | grep -q "$pin" || fail "the SMS does not carry the email's PIN: $sms"

# The QR image from the email opens the compartment.
a=$(curl -s -w ' %{http_code}' -X POST "$S/api/v1/units/$unit/pickups" -H "Authorization: Bearer $device" \
    -H 'Content-Type: application/json' -d "{\"code\":\"$qr\"}")
[[ "${a##* }" == 200 ]] || fail "the QR code from the email did not open the door: $a"
echo "notify-test: email over STARTTLS with a QR image that opens the door, SMS with the same PIN, preferences honoured"

emails_about() {  # $1 tracking number; prints the Message-ID of each saved email about it
    local f
    for f in "$work"/mail/*.eml; do
        grep -q "$1" "$f" && grep -i '^Message-ID:' "$f" | head -n1 | tr -d '\r' | sed 's/^[^:]*: *//'
    done
    return 0
}

# A relay that refuses twice, then takes the message: exactly one email.
echo '{"refuse": 2}' >"$work/control.json"
drop NOTIFY3 "$r2"
for _ in $(seq 1 150); do [[ -n "$(emails_about NOTIFY3)" ]] && break; sleep 0.2; done
[[ "$(cat "$work/mail/refused.count" 2>/dev/null)" == 2 ]] || fail "the relay did not refuse twice"
sleep 2
[[ "$(emails_about NOTIFY3 | wc -l)" == 1 ]] || fail "expected exactly one email after two refusals: $(emails_about NOTIFY3)"
echo "notify-test: refused twice, then taken: exactly one email"

# The relay holds its reply while the server is SIGKILLed: after a restart the email comes once more, same id.
echo '{"hold": 8}' >"$work/control.json"
drop NOTIFY4 "$r2"
for _ in $(seq 1 150); do [[ -n "$(emails_about NOTIFY4)" ]] && break; sleep 0.1; done
[[ -n "$(emails_about NOTIFY4)" ]] || fail "the held email never reached the relay"
kill -9 "$demo_pid"
wait "$demo_pid" 2>/dev/null || true
start_demo
for _ in $(seq 1 200); do [[ "$(emails_about NOTIFY4 | wc -l)" -ge 2 ]] && break; sleep 0.1; done
sleep 3
ids=$(emails_about NOTIFY4)
count=$(wc -l <<<"$ids")
[[ "$count" -ge 1 && "$count" -le 2 ]] || fail "expected the email at most twice after the SIGKILL: $ids"
[[ "$(sort -u <<<"$ids" | wc -l)" == 1 ]] || fail "the repeated email has another Message-ID: $ids"
echo "notify-test: SIGKILLed between sending and recording: $count copies, one Message-ID"
echo "notify-test: ok"
