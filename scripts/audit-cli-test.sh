#!/usr/bin/env bash
# The audit log's command line against real processes: a witness that follows a growing log and
# catches a rewritten one, `cubby audit verify` on an intact and on a hand-edited SQLite file, and a
# forensic bundle that verifies offline and fails once altered.
# Usage: scripts/audit-cli-test.sh [cubby-binary]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
bin="${1:-$repo/.build/debug/cubby}"
bin="$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")"
port="${CUBBY_AUDIT_PORT:-18092}"
work="$(mktemp -d)"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "audit-cli-test: FAIL: $*" >&2; tail -n 20 "$work/server.log" >&2 || true; exit 1; }
S="http://127.0.0.1:$port"

start() {  # $1 = database file
    (cd "$work" && exec "$bin" demo --port "$port" --database "sqlite:$1" --keys "$work/keys.json" --manifest "$work/demo-$(basename "$1").json" >>"$work/server.log" 2>&1) &
    pid=$!
    for _ in $(seq 1 100); do curl -fs "$S/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
    fail "server did not start"
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
dropoffs() {  # $1 = manifest, $2 = count, $3 = tag
    local M="$1" i
    for i in $(seq 1 "$2"); do
        curl -s -o /dev/null -X POST "$S/api/v1/units/$(jq -r '.units[0].id' "$M")/dropoffs" -H "Authorization: Bearer $(jq -r .courierToken "$M")" \
            -H 'Content-Type: application/json' -d "{\"trackingNumber\":\"$3$i\",\"recipientId\":\"$(jq -r '.recipients[0].id' "$M")\",\"size\":\"S\"}"
    done
}
wait_checkpoint_above() {  # $1 = token, $2 = size
    for _ in $(seq 1 50); do
        size=$(curl -s "$S/api/v1/audit/checkpoint" -H "Authorization: Bearer $1" | sed -n 2p)
        [[ -n "$size" && "$size" -gt "$2" ]] && return 0
        sleep 0.2
    done
    fail "no checkpoint above $2"
}

# 1. A witness follows the log as it grows.
start "$work/a.sqlite"
M="$work/demo-a.sqlite.json"
A=$(jq -r .auditorToken "$M")
dropoffs "$M" 3 W
wait_checkpoint_above "$A" 3
"$bin" audit witness --server "$S" --state "$work/witness.json" --token "$A" || fail "first witness run"
first=$(jq .size "$work/witness.json")
dropoffs "$M" 3 X
wait_checkpoint_above "$A" "$first"
"$bin" audit witness --server "$S" --state "$work/witness.json" --token "$A" || fail "witness after growth"
grown=$(jq .size "$work/witness.json")
[[ "$grown" -gt "$first" ]] || fail "the witness state did not advance"

# 1b. The signing keys rotate while the server runs: the witness takes the new key through the rotation the
# old key vouched for, and a bundle made later still verifies from the first key.
first_key=$(jq -r .key "$work/witness.json")
"$bin" keys rotate-signing --database "sqlite:$work/a.sqlite" --keys "$work/keys.json" --overlap 1h >"$work/rotate.out" \
    || fail "keys rotate-signing"
grep -q "rotated the checkpoint key" "$work/rotate.out" || fail "no checkpoint key rotated: $(cat "$work/rotate.out")"
grep -q "rotated the qr key" "$work/rotate.out" || fail "no QR key rotated"
dropoffs "$M" 2 R
wait_checkpoint_above "$A" "$grown"
out=$("$bin" audit witness --server "$S" --state "$work/witness.json" --token "$A") || fail "witness after the rotation: $out"
[[ "$out" == *"rotated at leaf"* ]] || fail "the witness did not follow the rotation: $out"
[[ "$(jq -r .key "$work/witness.json")" != "$first_key" ]] || fail "the witness kept the old key"
stop

# 2. The same key signs another history (a fresh database): the witness must refuse it.
start "$work/b.sqlite"
MB="$work/demo-b.sqlite.json"
B=$(jq -r .auditorToken "$MB")
dropoffs "$MB" 12 Y
wait_checkpoint_above "$B" "$grown"
set +e
"$bin" audit witness --server "$S" --state "$work/witness.json" --token "$B"
status=$?
set -e
[[ $status -eq 1 ]] || fail "the witness accepted a rewritten history (exit $status)"
stop

# 3. verify on the intact database, then on a hand-edited one.
"$bin" audit verify --database "sqlite:$work/a.sqlite" --keys "$work/keys.json" || fail "verify of an intact log"

# 4. A forensic bundle verifies offline; an altered one does not.
"$bin" audit bundle --database "sqlite:$work/a.sqlite" --keys "$work/keys.json" --out "$work/bundle.zip" --from 1 --to 6
"$bin" audit verify-bundle "$work/bundle.zip" || fail "an intact bundle did not verify"
"$bin" audit verify-bundle "$work/bundle.zip" --key "$first_key" || fail "the bundle did not verify from the first key"
mkdir "$work/x"
# The first event's readable type is changed, whatever it is: which events come first depends on how
# fast the units enroll, so no particular type can be counted on.
(cd "$work/x" && unzip -q ../bundle.zip \
    && sed -i '1s/"type":"/"type":"forged./' events.jsonl \
    && zip -q -r ../bad.zip .)
grep -q '"type":"forged\.' "$work/x/events.jsonl" || fail "the bundle's first event could not be altered"
set +e
"$bin" audit verify-bundle "$work/bad.zip"
status=$?
set -e
[[ $status -eq 1 ]] || fail "an altered bundle verified (exit $status)"

sqlite3 "$work/a.sqlite" "DROP TRIGGER audit_events_no_update; UPDATE audit_events SET canonical = CAST(REPLACE(CAST(canonical AS TEXT), '\"type\":\"', '\"type\":\"x') AS BLOB) WHERE seq = 5;"
set +e
out=$("$bin" audit verify --database "sqlite:$work/a.sqlite" --keys "$work/keys.json")
status=$?
set -e
echo "$out"
[[ $status -eq 1 ]] || fail "verify missed an edited event (exit $status)"
[[ "$out" == *"leaf "* ]] || fail "verify did not name the bad leaf"
echo "audit-cli-test: ok (witness follows growth and a key rotation and refuses a rewrite; verify and bundles catch edits)"
