#!/usr/bin/env bash
# A building set up from an empty database with real processes, then used: `cubby setup`, an admin API key,
# a site, a locker unit from a layout file, a carrier with a courier credential, 200 recipients imported from a
# CSV after a dry run that reports two bad rows, then a courier drops a parcel off for one of them and the PIN
# sent to them opens the door. Ends by checking the audit trail and its proofs.
# Usage: scripts/provision-test.sh [cubby-binary] [database]   (default: .build/debug/cubby, a fresh SQLite file)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
bin="${1:-$repo/.build/debug/cubby}"
bin="$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")"   # the server runs in another directory
work="$(mktemp -d)"
db="${2:-sqlite:$work/cubby.sqlite}"
port="${CUBBY_PROVISION_PORT:-18093}"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "provision-test: FAIL: $*" >&2; echo "--- server log ---" >&2; tail -n 30 "$work/server.log" >&2 || true; exit 1; }
# The key file is sealed under a key-encryption key kept in a file of its own (docs/operations.md).
head -c 32 /dev/urandom >"$work/kek" && chmod 600 "$work/kek"
export CUBBY_KEK_FILE="$work/kek"
cli() { (cd "$work" && "$bin" "$@" --database "$db" --keys "$work/keys.json"); }
S="http://127.0.0.1:$port"
api() {  # $1 method, $2 path, $3 body (optional), $4 content type (optional); prints "BODY STATUS"
    local args=(-s -o - -w ' %{http_code}' -X "$1" "$S$2" -H "Authorization: Bearer $admin")
    [[ $# -ge 3 ]] && args+=(-H "Content-Type: ${4:-application/json}" --data-binary "$3")
    curl "${args[@]}"
}
expect() {  # $1 answer ("BODY STATUS"), $2 status wanted, $3 what; prints BODY
    [[ "${1##* }" == "$2" ]] || fail "$3 answered ${1##* } (wanted $2): ${1% *}"
    printf '%s' "${1% *}"
}

# 1. From an empty database: the organization and its first super-administrator, once.
out=$(cli setup --organization "Harbor Property Group" --admin-email ops@harbor.example) || fail "cubby setup failed"
grep -q '/admin/enroll?token=' <<<"$out" || fail "cubby setup printed no enrollment link: $out"
if cli setup --organization "Second" --admin-email other@harbor.example >/dev/null 2>&1; then
    fail "cubby setup ran twice"
fi
[[ "$(cli organization list | wc -l)" == 1 ]] || fail "a second setup left an organization behind"

# 2. An organization-wide admin key for the scripted setup.
admin=$(cli credential issue --kind admin --label "setup script" | tail -n1)
[[ "$admin" == cby_admin_* ]] || fail "no admin key: $admin"

(cd "$work" && exec "$bin" serve --port "$port" --database "$db" --keys "$work/keys.json" \
    --notify-file "$work/notifications.jsonl" >>"$work/server.log" 2>&1) &
pid=$!
for _ in $(seq 1 100); do
    curl -fs "$S/healthz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || fail "cubby serve exited early"
    sleep 0.1
done
curl -fs "$S/healthz" >/dev/null || fail "server did not answer /healthz"

# 3. A site, a unit from the example layout, a carrier serving the site, a courier and the unit's device key.
site=$(expect "$(api POST /api/v1/sites '{"name":"Harbor Point","address":"1 Harbor Way, Boston, MA 02110","timeZone":"America/New_York","languages":["en","es"]}')" 201 "creating a site" | jq -r .id)
unit_json=$(expect "$(api POST "/api/v1/sites/$site/units" "@$repo/docs/examples/unit-layout.json")" 201 "creating a unit")
unit=$(jq -r .id <<<"$unit_json")
[[ "$(jq '.compartments | length' <<<"$unit_json")" -ge 10 ]] || fail "the unit has too few compartments: $unit_json"
carrier=$(expect "$(api POST /api/v1/carriers "{\"name\":\"Harbor Express\",\"siteIds\":[\"$site\"]}")" 201 "creating a carrier" | jq -r .id)
courier=$(cli credential issue --kind courier --carrier "$carrier" --label "Sam (Harbor Express)" | tail -n1)
device=$(cli credential issue --kind device --unit "$unit" --label "Harbor Point kiosk" | tail -n1)
[[ "$courier" == cby_courier_* && "$device" == cby_device_* ]] || fail "no courier or device key"

# 4. 200 residents from a property-management export: a dry run reports the two bad rows and writes nothing.
csv="$work/residents.csv"
{
    printf 'Resident ID,First Name,Last Name,Email Address,Mobile Phone,Unit,Language\r\n'
    for i in $(seq 1 200); do
        printf 'R%04d,Resident,"Number %d",resident%d@harbor.example,+1617555%04d,%d%02d,%s\r\n' \
            "$i" "$i" "$i" "$i" $(( i / 20 + 1 )) $(( i % 20 )) "$([[ $((i % 3)) == 0 ]] && echo es || echo en)"
    done
} >"$csv"
bad="$work/residents-bad.csv"
cp "$csv" "$bad"
printf 'R9001,Bad,Phone,bad.phone@harbor.example,555-0100,101,en\r\n' >>"$bad"
printf 'R9002,Same,Email,resident7@harbor.example,+16175559002,102,en\r\n' >>"$bad"
report=$(expect "$(api POST "/api/v1/recipients/import?siteId=$site&dryRun=true" "@$bad" text/csv)" 422 "the dry run of a file with two bad rows")
[[ "$(jq '.rejected' <<<"$report")" == 2 && "$(jq '[.results[] | select(.outcome == "rejected")] | length' <<<"$report")" == 2 ]] \
    || fail "the dry run did not report two bad rows: $report"
[[ "$(jq -r '.committed' <<<"$report")" == false ]] || fail "the dry run says it wrote"
found=$(expect "$(api GET "/api/v1/recipients?email=resident7@harbor.example")" 200 "a lookup after the dry run")
[[ "$(jq '.recipients | length' <<<"$found")" == 0 ]] || fail "the dry run wrote recipients"
# The command line's dry run says the same.
if cli recipient import "$bad" --site "$site" --dry-run >"$work/cli-report.txt" 2>&1; then fail "the CLI dry run accepted bad rows"; fi
grep -q "rejected" "$work/cli-report.txt" || fail "the CLI dry run printed no rejected rows"
report=$(expect "$(api POST "/api/v1/recipients/import?siteId=$site" "@$csv" text/csv)" 200 "the import")
[[ "$(jq '.created' <<<"$report")" == 200 && "$(jq -r '.committed' <<<"$report")" == true ]] || fail "the import did not create 200 recipients: $(jq -c 'del(.results)' <<<"$report")"
again=$(expect "$(api POST "/api/v1/recipients/import?siteId=$site&dryRun=true" "@$csv" text/csv)" 200 "a second dry run")
[[ "$(jq '.unchanged' <<<"$again")" == 200 ]] || fail "a second dry run of the same file changes something: $(jq -c 'del(.results)' <<<"$again")"

# 5. A parcel for one of them: drop-off, the door closes (simulated), the PIN arrives, the PIN opens it.
found=$(expect "$(api GET "/api/v1/recipients?email=RESIDENT42@harbor.example")" 200 "a lookup by email")
recipient=$(jq -r '.recipients[0].id' <<<"$found")
[[ "$recipient" =~ ^[0-9a-f-]{36}$ ]] || fail "no recipient found by email: $found"
drop=$(curl -s -X POST "$S/api/v1/units/$unit/dropoffs" -H "Authorization: Bearer $courier" \
    -H 'Content-Type: application/json' -d "{\"trackingNumber\":\"1ZHARBOR42\",\"recipientId\":\"$recipient\",\"size\":\"S\"}")
[[ "$(jq -r .state <<<"$drop")" == reserved ]] || fail "drop-off answered $drop"
for _ in $(seq 1 100); do grep -q "\"$recipient\"" "$work/notifications.jsonl" 2>/dev/null && break; sleep 0.1; done
pin=$(grep "\"$recipient\"" "$work/notifications.jsonl" | tail -n1 | jq -r .pin)
[[ "$pin" =~ ^[0-9]{10}$ ]] || fail "no PIN reached the recipient"
pick=$(curl -s -X POST "$S/api/v1/units/$unit/pickups" -H "Authorization: Bearer $device" \
    -H 'Content-Type: application/json' -d "{\"code\":\"$pin\"}")
[[ "$(jq -r .parcelId <<<"$pick")" == "$(jq -r .parcelId <<<"$drop")" ]] || fail "pickup answered $pick"

# 6. Every step is in the audit trail.
types=$(curl -s "$S/api/v1/audit/events?limit=1000" -H "Authorization: Bearer $admin" | jq -r '.events[].type' | sort | uniq -c)
for t in organization.created staff.invited site.created unit.created carrier.created recipient.created \
    parcel.reserved parcel.deposited pickup.succeeded; do
    grep -q " $t\$" <<<"$types" || fail "no $t event in the audit trail"
done
[[ "$(awk '$2 == "recipient.created" {print $1}' <<<"$types")" == 200 ]] || fail "not 200 recipient.created events"
echo "provision-test: ok (setup once, admin key, site, unit from a layout, carrier and courier, 200 recipients after a dry run with two bad rows, drop-off and PIN pickup; $db)"
