#!/usr/bin/env bash
# A database written by the version with one deployment-wide audit log (schema 14), opened by this one:
# the frozen log, its old checkpoints, witness state and forensic bundle keep verifying; each organization
# gets its own log whose genesis names the frozen one; a witness and a bundle are bound to one organization.
# Usage: scripts/audit-upgrade-test.sh [cubby-binary] [postgres-server-url]
#   With a PostgreSQL URL (e.g. postgres://cubby@127.0.0.1:5432/cubby_test) the PostgreSQL fixture is restored
#   into a new database on that server with psql; without one, the SQLite fixture is copied.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
bin="${1:-$repo/.build/debug/cubby}"
bin="$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")"
pg="${2:-}"
work="$(mktemp -d)"
port="${CUBBY_UPGRADE_PORT:-18094}"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "audit-upgrade-test: FAIL: $*" >&2; tail -n 20 "$work/server.log" >&2 2>/dev/null || true; exit 1; }
if [[ -n "$pg" ]]; then
    fixture="$repo/Tests/Fixtures/audit-before-organization-logs/postgres"
    name="cubby_upgrade_$$"
    psql "$pg" -qc "CREATE DATABASE $name" || fail "cannot create a database on $pg"
    db="${pg%/*}/$name"
    psql "$db" -q -v ON_ERROR_STOP=1 -f "$fixture/postgres.sql" >/dev/null || fail "cannot restore the PostgreSQL fixture"
else
    fixture="$repo/Tests/Fixtures/audit-before-organization-logs/sqlite"
    cp "$fixture/cubby.sqlite" "$work/cubby.sqlite"
    db="sqlite:$work/cubby.sqlite"
fi
cp "$fixture/keys.json" "$work/keys.json"
# The key file is sealed under a key-encryption key kept in a file of its own (docs/operations.md): the
# fixture's version-2 file in clear is sealed at the first start.
head -c 32 /dev/urandom >"$work/kek" && chmod 600 "$work/kek"
export CUBBY_KEK_FILE="$work/kek"
cp "$fixture/witness.json" "$work/witness-old.json"
harbor=$(cat "$fixture/harbor.id")
lakeside=$(cat "$fixture/lakeside.id")
old_key=$(jq -r .key "$fixture/witness.json")
frozen_origin="${old_key%%+*}"
cli() { (cd "$work" && "$bin" "$@" --database "$db" --keys "$work/keys.json"); }

# 1. Before the new version ever runs, the old log verifies, and so does the old bundle against the old key.
out=$(cli audit verify) || fail "verify before the first start: $out"
[[ "$out" == *"$frozen_origin (the frozen deployment-wide log): ok — 8 leaves"* ]] || fail "verify did not name the frozen log: $out"
"$bin" audit verify-bundle "$fixture/bundle.zip" --key "$old_key" >/dev/null || fail "the old bundle no longer verifies"

# 2. The first start migrates, seals the frozen log and opens the logs of the organizations.
(cd "$work" && exec "$bin" serve --port "$port" --database "$db" --keys "$work/keys.json" >>"$work/server.log" 2>&1) &
pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || fail "the upgraded server did not start"
[[ "$(jq .version "$work/keys.json")" == 3 && "$(jq -r .provider "$work/keys.json")" == file ]] \
    || fail "the version-2 key file was not sealed at the first start"
S="http://127.0.0.1:$port"
harbor_token=$(cli credential issue --organization "$harbor" --kind auditor --label "harbor auditor" | tail -n1)
lakeside_token=$(cli credential issue --organization "$lakeside" --kind auditor --label "lakeside auditor" | tail -n1)

# 3. The old witness state: the frozen log's final checkpoint extends it; the organization's log is another log.
"$bin" audit witness --server "$S" --state "$work/witness-old.json" --token "$harbor_token" --frozen \
    || fail "the old witness state does not extend to the frozen log's final checkpoint"
[[ "$(jq .size "$work/witness-old.json")" == 8 ]] || fail "the frozen log's final size is not 8"
set +e
"$bin" audit witness --server "$S" --state "$fixture/witness.json" --token "$harbor_token" >/dev/null 2>&1
status=$?
set -e
[[ $status -eq 1 ]] || fail "a witness of the old log took the organization's log for it (exit $status)"

# 4. Each organization's log: a witness follows it and refuses another organization's.
"$bin" audit witness --server "$S" --state "$work/harbor.json" --token "$harbor_token" --organization "$harbor" \
    || fail "the witness of Harbor's log"
set +e
"$bin" audit witness --server "$S" --state "$work/other.json" --token "$harbor_token" --organization "$lakeside" >/dev/null 2>&1
status=$?
set -e
[[ $status -ne 0 ]] || fail "the witness followed Harbor's log as Lakeside's"
h_size=$(curl -fs "$S/api/v1/audit/checkpoint" -H "Authorization: Bearer $harbor_token" | sed -n 2p)
l_size=$(curl -fs "$S/api/v1/audit/checkpoint" -H "Authorization: Bearer $lakeside_token" | sed -n 2p)
[[ -n "$h_size" && -n "$l_size" ]] || fail "no checkpoint for an organization"
events=$(curl -fs "$S/api/v1/audit/events?limit=1000" -H "Authorization: Bearer $lakeside_token")
[[ "$(jq -r '.events[0].type' <<<"$events")" == log.genesis ]] || fail "Lakeside's log does not begin with its genesis: $events"
[[ "$(jq -r '.events[0].detail.frozenOrigin' <<<"$events")" == "$frozen_origin" ]] || fail "the genesis does not name the frozen log"
[[ "$(jq -r '.events[0].detail.frozenSize' <<<"$events")" == 8 ]] || fail "the genesis names another frozen size"
[[ "$(jq -r '[.events[].organizationId] | unique | join(",")' <<<"$events")" == "$lakeside" ]] || fail "Lakeside sees other events"
[[ "$(jq -r '[.events[].type] | index("carrier.created")' <<<"$events")" != null ]] || fail "the event queued at the upgrade is not in Lakeside's log"
frozen_events=$(curl -fs "$S/api/v1/audit/events?log=frozen&limit=1000" -H "Authorization: Bearer $lakeside_token")
[[ "$(jq -r '[.events[].organizationId] | unique | join(",")' <<<"$frozen_events")" == "$lakeside" ]] \
    || fail "Lakeside reads other organizations' events in the frozen log: $frozen_events"
harbor_leaf=$(jq -r '.events[0].index' <<<"$(curl -fs "$S/api/v1/audit/events?log=frozen" -H "Authorization: Bearer $harbor_token")")
code=$(curl -s -o /dev/null -w '%{http_code}' "$S/api/v1/audit/proof/inclusion?log=frozen&index=$harbor_leaf&size=8" -H "Authorization: Bearer $lakeside_token")
[[ "$code" == 404 ]] || fail "Lakeside got a proof of Harbor's leaf in the frozen log ($code)"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""

# 5. Every log verifies, named one by one; a bundle is bound to its organization.
out=$(cli audit verify) || fail "verify after the upgrade: $out"
echo "$out"
for origin in "$frozen_origin" "/$harbor" "/$lakeside"; do
    grep -q -- "$origin.*: ok" <<<"$out" || fail "verify did not check the log $origin"
done
cli audit bundle --organization "$harbor" --out "$work/harbor.zip" >/dev/null || fail "no bundle of Harbor's log"
"$bin" audit verify-bundle "$work/harbor.zip" --organization "$harbor" >/dev/null || fail "Harbor's bundle did not verify"
set +e
"$bin" audit verify-bundle "$work/harbor.zip" --organization "$lakeside" >/dev/null
status=$?
set -e
[[ $status -eq 1 ]] || fail "Harbor's bundle passed as Lakeside's (exit $status)"
cli audit export --organization "$lakeside" --format jsonl --out "$work/lakeside.jsonl" 2>/dev/null
[[ "$(head -n1 "$work/lakeside.jsonl" | jq -r .type)" == log.genesis ]] || fail "the export does not start at the genesis"
kind=SQLite; [[ -n "$pg" ]] && kind=PostgreSQL
echo "audit-upgrade-test: ok ($kind: frozen log, old witness and bundle verify; one log per organization)"
