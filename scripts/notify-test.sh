#!/usr/bin/env bash
# Recipients reached for real: `cubby demo` with email through aiosmtpd (STARTTLS and AUTH) and SMS through the
# recording gateway (scripts/sms-gateway.py, standing in for an SMS provider). A courier's drop-off sends an email
# whose QR image (decoded by zbarimg) opens the door, and a one-segment SMS with the same PIN; a recipient who
# switched SMS off for parcel-ready messages gets the email only. Then, against a second SMTP server: a relay that
# answers 451 to the first attempts produces exactly one email, and a server SIGKILLed while the relay holds its
# reply to DATA sends the email once more after a restart, with the same Message-ID, and only once more.
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

python3 "$repo/tests-mail/smtp_server.py" --tls starttls --dir "$work/mail" --make-certs >"$work/smtp.log" 2>&1 &
pids+=($!)
smtp_port=$(ready_port "$work/smtp.log")
python3 "$repo/scripts/sms-gateway.py" --token gw-token --record "$work/sms.jsonl" >"$work/sms.log" 2>&1 &
pids+=($!)
sms_port=$(ready_port "$work/sms.log")

# $1 SMTP port, $2 its CA file. A short retry base and lease let a refused or abandoned email go out again in seconds.
start_demo() {
    (cd "$work" && CUBBY_SMTP_URL="smtp://cubby:s3cret%3Ap%40ss@localhost:$1?tls=starttls" \
        CUBBY_SMTP_FROM="Cubby Lockers <lockers@example.org>" CUBBY_SMTP_CA_FILE="$2" \
        CUBBY_SMS_URL="http://127.0.0.1:$sms_port/messages" CUBBY_SMS_TOKEN=gw-token \
        CUBBY_OUTBOX_RETRY_BASE_MS=300 CUBBY_OUTBOX_LEASE_SECONDS=3 \
        exec "$bin" demo --port "$port" --database "sqlite:$work/cubby.sqlite" --keys "$work/keys.json" \
        --manifest "$work/demo.json" >>"$work/server.log" 2>&1) &
    demo_pid=$!
    pids+=("$demo_pid")
    for _ in $(seq 1 600); do [[ -s "$work/demo.json" ]] && curl -fs "$S/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -fs "$S/healthz" >/dev/null || fail "the demo did not start"
}
S="http://127.0.0.1:$port"
start_demo "$smtp_port" "$work/mail/ca.pem"
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

# A second relay: 451 to the end of DATA for its first two messages, and a reply held while $work/hold exists.
kill "$demo_pid" 2>/dev/null || true
wait "$demo_pid" 2>/dev/null || true
python3 "$repo/tests-mail/smtp_server.py" --tls starttls --dir "$work/mail2" --make-certs --refuse-first 2 \
    --hold-flag "$work/hold" >"$work/smtp2.log" 2>&1 &
pids+=($!)
smtp2_port=$(ready_port "$work/smtp2.log")
start_demo "$smtp2_port" "$work/mail2/ca.pem"
saved() { grep -c '^SAVED ' "$work/smtp2.log" || true; }

# (a) Refused twice, then accepted: exactly one email, and the refused attempts carried its Message-ID.
drop NOTIFY3 "$r1"
for _ in $(seq 1 150); do [[ "$(saved)" -ge 1 ]] && break; sleep 0.2; done
[[ "$(saved)" == 1 ]] || fail "the refused email never arrived: $(cat "$work/smtp2.log")"
sleep 2  # anything more the outbox would send
[[ "$(saved)" == 1 ]] || fail "more than one email arrived after the refusals: $(cat "$work/smtp2.log")"
mid3=$(sed -n 's/^SAVED 1 //p' "$work/smtp2.log")
[[ "$mid3" == "<"*"@example.org>" ]] || fail "the accepted email has no Message-ID of the outbox: '$mid3'"
[[ "$(grep -c '^REFUSED ' "$work/smtp2.log")" == 2 && "$(sed -n 's/^REFUSED //p' "$work/smtp2.log" | sort -u)" == "$mid3" ]] \
    || fail "the refused attempts were not of the accepted message: $(cat "$work/smtp2.log")"
python3 "$repo/tests-mail/check_message.py" "$work/mail2/1.eml" | jq -e '.text | contains("NOTIFY3")' >/dev/null \
    || fail "the accepted email is not about NOTIFY3"

# (b) The relay saves the next message and holds its reply; the server is SIGKILLed before it hears 250 (so it never
# records the delivery), restarted, and sends it again after the lease: at most one duplicate, same Message-ID.
touch "$work/hold"
drop NOTIFY4 "$r1"
for _ in $(seq 1 150); do grep -q '^HELD ' "$work/smtp2.log" && break; sleep 0.1; done
grep -q '^HELD 2 ' "$work/smtp2.log" || fail "the relay never held a reply: $(cat "$work/smtp2.log")"
mid4=$(sed -n 's/^HELD 2 //p' "$work/smtp2.log")
kill -9 "$demo_pid"
wait "$demo_pid" 2>/dev/null || true
rm -f "$work/hold"
start_demo "$smtp2_port" "$work/mail2/ca.pem"
for _ in $(seq 1 150); do [[ "$(saved)" -ge 3 ]] && break; sleep 0.2; done
[[ "$(saved)" == 3 ]] || fail "the email was not sent again after the SIGKILL: $(cat "$work/smtp2.log")"
sleep 4  # past another lease: no third copy
[[ "$(saved)" == 3 ]] || fail "more than one duplicate after the SIGKILL: $(cat "$work/smtp2.log")"
[[ "$(sed -n 's/^SAVED 3 //p' "$work/smtp2.log")" == "$mid4" && "$mid4" != "$mid3" ]] \
    || fail "the repeat does not keep the Message-ID $mid4: $(cat "$work/smtp2.log")"
python3 "$repo/tests-mail/check_message.py" "$work/mail2/3.eml" | jq -e '.text | contains("NOTIFY4")' >/dev/null \
    || fail "the repeated email is not about NOTIFY4"
echo "notify-test: ok (email over STARTTLS with a QR image that opens the door, SMS with the same PIN, preferences honoured; 451 twice then one email; SIGKILL before 250: one repeat with the same Message-ID)"
