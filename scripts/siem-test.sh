#!/usr/bin/env bash
# Security events reach a SIEM, with real processes: `cubby demo` (its units as child processes) sends to rsyslog
# (Debian's, with rsyslog-gnutls) over TLS with octet-counted framing (RFC 5425), trusting a CA made for the test.
#
#  1. format=ocsf: a wrong password at the portal's sign-in (Authentication, 3002), a staff account created at the
#     console (Account Change, 3001), a tamper signal at a unit (Detection Finding, 2004, for the signal and for the
#     lockdown). Each record is validated: 2004 with py-ocsf-models, 3001 and 3002 with the JSON Schemas in
#     tests-siem/schemas/ (written from OCSF 1.5.0). Each names its leaf: the audit API puts that event at that
#     index of that log. No record is sent twice while nothing fails.
#  2. The server is stopped and started again with format=cef: it goes on from where it stopped (earlier records
#     are not sent again), and a new failed sign-in arrives as a CEF line.
# Needs rsyslog, rsyslog-gnutls, openssl, jq, curl and the PyPI packages py-ocsf-models and jsonschema.
# Usage: scripts/siem-test.sh [path-to-cubby-binary]   (default: .build/debug/cubby)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
bin="${1:-$repo/.build/debug/cubby}"
bin="$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")"
port="${CUBBY_SIEM_TEST_PORT:-18411}"
edge_port=$((port + 1))
kiosk=$((port + 2))
control=$((port + 4))
tls_port=$((port + 5))
work="$(mktemp -d)"
pid=""
rpid=""
cleanup() {
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    if [[ -n "$rpid" ]]; then kill "$rpid" 2>/dev/null || true; wait "$rpid" 2>/dev/null || true; fi
    pkill -9 -f "$work/cubby-data" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
[[ -n "${CUBBY_SIEM_TEST_KEEP:-}" ]] && trap - EXIT
fail() {
    echo "siem-test: FAIL: $*" >&2
    echo "--- server log ---" >&2; tail -n 30 "$work/server.log" >&2 || true
    echo "--- rsyslog ---" >&2; tail -n 20 "$work/rsyslog.log" >&2 || true
    echo "--- records ---" >&2; tail -n 10 "$work/records.log" >&2 2>/dev/null || true
    exit 1
}
command -v rsyslogd >/dev/null || fail "rsyslogd is not installed (apt-get install rsyslog rsyslog-gnutls)"
python3 -c 'import py_ocsf_models, jsonschema' 2>/dev/null || fail "py-ocsf-models and jsonschema are not installed"

# 1. A CA, and a certificate for 127.0.0.1 that it signed.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" -out "$work/ca.pem" \
    -subj "/CN=Cubby SIEM test CA" -days 2 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/server.key" -out "$work/server.csr" \
    -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$work/ext.cnf"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
    -out "$work/server.pem" -days 2 -extfile "$work/ext.cnf" 2>/dev/null

# 2. rsyslog listening on loopback over TLS, writing PRI, HOSTNAME, APP-NAME, MSGID and MSG of each record.
mkdir -p "$work/rsyslog"
cat >"$work/rsyslog.conf" <<CONF
global(workDirectory="$work/rsyslog" maxMessageSize="64k"
       DefaultNetstreamDriverCAFile="$work/ca.pem" DefaultNetstreamDriverCertFile="$work/server.pem"
       DefaultNetstreamDriverKeyFile="$work/server.key")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
template(name="fields" type="string" string="%pri%\t%hostname%\t%app-name%\t%msgid%\t%msg%\n")
ruleset(name="siem") { action(type="omfile" file="$work/records.log" template="fields") }
input(type="imtcp" address="127.0.0.1" port="$tls_port" ruleset="siem")
CONF
rsyslogd -n -f "$work/rsyslog.conf" -i "$work/rsyslog.pid" >>"$work/rsyslog.log" 2>&1 &
rpid=$!
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$tls_port") 2>/dev/null && break
    kill -0 "$rpid" 2>/dev/null || fail "rsyslogd exited"
    sleep 0.1
done

start() {  # $1 format
    (cd "$work" && CUBBY_SYSLOG_URL="tls://127.0.0.1:$tls_port?format=$1" CUBBY_SYSLOG_CA_FILE="$work/ca.pem" \
        CUBBY_SIEM_INTERVAL_MS=200 exec "$bin" demo --port "$port" --edge-port "$edge_port" --kiosk-port "$kiosk" \
        --control-port "$control" >>"$work/server.log" 2>&1) &
    pid=$!
    for _ in $(seq 1 300); do
        curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || fail "cubby demo exited early"
        sleep 0.1
    done
    fail "server did not answer /healthz"
}
stop() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
    pkill -f "$work/cubby-data/edge-unit" 2>/dev/null || true
}
S="http://127.0.0.1:$port"
checked() {  # $1 format; prints the checked records as JSON lines
    [[ -s "$work/records.log" ]] || return 0
    python3 "$repo/tests-siem/check_records.py" "$1" "$work/records.log"
}
wait_for() {  # $1 format, $2 jq condition over the slurped checked records, $3 what
    for _ in $(seq 1 150); do
        [[ "$(checked "$1" | jq -s "$2")" == true ]] && return 0
        sleep 0.1
    done
    checked "$1" >/dev/null || fail "a record does not validate"
    fail "timed out waiting for $3"
}
wrong_password() {  # a sign-in with a wrong password at the portal
    local jar="$work/jar" form csrf
    rm -f "$jar"
    form=$(curl -fs -c "$jar" -b "$jar" "$S/admin/sign-in")
    csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' <<<"$form" | head -n1)
    [[ -n "$csrf" ]] || fail "no anti-forgery token on the sign-in page"
    curl -s -o /dev/null -c "$jar" -b "$jar" -X POST "$S/admin/sign-in" -H "Origin: $S" \
        --data-urlencode "csrf=$csrf" --data-urlencode "email=admin@example.org" \
        --data-urlencode "password=not the password" --data-urlencode "code=000000"
}

# 3. OCSF.
start ocsf
M="$work/cubby-data/demo.json"
admin=$(jq -r .adminToken "$M")
for _ in $(seq 1 150); do curl -fs -m 2 "http://127.0.0.1:$control/status" >/dev/null 2>&1 && break; sleep 0.1; done
wrong_password
wait_for ocsf 'any(.msgid == "staff.sign_in_failed" and .class_uid == 3002 and .activity_id == 1)' "the failed sign-in"
(cd "$work" && "$bin" admin create --email "auditor2@example.org" --role auditor >/dev/null 2>&1) \
    || fail "cubby admin create failed"
wait_for ocsf 'any(.msgid == "staff.invited" and .class_uid == 3001 and .activity_id == 1)' "the new account"
curl -fs -X POST "http://127.0.0.1:$control/tamper" >/dev/null || fail "the unit's control endpoint refused the tamper signal"
wait_for ocsf 'any(.msgid == "unit.tamper" and .class_uid == 2004 and .severity == 2)' "the tamper finding"
wait_for ocsf 'any(.msgid == "unit.locked_down" and .class_uid == 2004)' "the lockdown finding"
[[ "$(checked ocsf | jq -s '[.[] | .event] | length == (unique | length)')" == true ]] || fail "a record arrived twice"
# No public URL is set: every record names this machine.
[[ "$(checked ocsf | jq -s '(map(.host) | unique | length == 1) and .[0].host != "-"')" == true ]] \
    || fail "the records do not all name one host"

# Each record's leaf is where the audit API says its event is.
while read -r event leaf log; do
    got=$(curl -fs "$S/api/v1/audit/events/$event" -H "Authorization: Bearer $admin") \
        || fail "the audit API does not know event $event"
    [[ "$(jq -r '.event.index' <<<"$got")" == "$leaf" ]] || fail "event $event is not at leaf $leaf: $got"
    [[ "$(jq -r '.origin' <<<"$got")" == "$log" ]] || fail "event $event is not in $log: $got"
done < <(checked ocsf | jq -r 'select(.msgid == "unit.tamper" or .msgid == "staff.sign_in_failed") | "\(.event) \(.leaf) \(.log)"')
ocsf_count=$(checked ocsf | wc -l)
echo "siem-test: $ocsf_count OCSF records arrived over TLS and validate; leaves match the audit log"

# 4. CEF after a restart: the cursor holds, nothing is sent twice.
stop
cp "$work/records.log" "$work/records-ocsf.log"
: >"$work/records.log"
start cef
wrong_password
wait_for cef 'any(.signature == "staff.sign_in_failed" and .cef_severity == 5)' "the failed sign-in as CEF"
sleep 1
old=$(comm -12 <(python3 "$repo/tests-siem/check_records.py" ocsf "$work/records-ocsf.log" | jq -r .event | sort) \
    <(checked cef | jq -r .event | sort) | wc -l)
[[ "$old" -eq 0 ]] || fail "$old records sent before the restart were sent again"
echo "siem-test: after a restart the forwarder went on from its cursor; CEF lines arrived and validate"
echo "siem-test: PASS"
