#!/usr/bin/env bash
# Writes a database as a version with one audit log for the whole deployment left it (schema 14): two
# organizations with sites, a witness state, a forensic bundle, and events committed after the last checkpoint.
# The upgrade tests open copies of it. Run with the binary of that version:
#   scripts/make-audit-fixture.sh OLD-CUBBY-BINARY OUT-DIR [postgres-url]
# With a PostgreSQL URL it also writes postgres.sql (pg_dump of that database, which must be empty).
set -euo pipefail
bin="$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")"
out="$(mkdir -p "$2" && cd "$2" && pwd -P)"
pg="${3:-}"
work="$(mktemp -d)"
port=18191
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
if [[ -n "$pg" ]]; then db="$pg"; else db="sqlite:$work/cubby.sqlite"; fi
[[ -f "$out/keys.json" ]] && cp "$out/keys.json" "$work/keys.json"
cli() { (cd "$work" && "$bin" "$@" --database "$db" --keys "$work/keys.json"); }

cli setup --organization "Harbor Property Group" --admin-email ops@harbor.example >/dev/null
cli organization create --name "Lakeside Living" --admin-email ops@lakeside.example >/dev/null
harbor=$(cli organization list | awk '/Harbor/ {print $1}')
lakeside=$(cli organization list | awk '/Lakeside/ {print $1}')
cli site create --organization "$harbor" --name "Harbor Point" --address "1 Harbor Way, Boston" --time-zone America/New_York >/dev/null
north=$(cli site create --organization "$lakeside" --name "Lakeside North" --address "9 Shore Rd, Chicago" --time-zone America/Chicago | tail -n1)
token=$(cli credential issue --organization "$harbor" --kind auditor --label "fixture witness" | tail -n1)

(cd "$work" && exec "$bin" serve --port "$port" --database "$db" --keys "$work/keys.json" >"$work/server.log" 2>&1) &
pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
"$bin" audit witness --server "http://127.0.0.1:$port" --state "$work/witness.json" --token "$token"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""

cli site create --organization "$harbor" --name "Harbor Annex" --address "3 Harbor Way, Boston" --time-zone America/New_York >/dev/null
cli audit bundle --out "$work/bundle.zip" >/dev/null
# Committed after the last checkpoint: still waiting for a leaf index when the version changes.
cli carrier create --organization "$lakeside" --name "Lakeside Couriers" --sites "$north" >/dev/null

cp "$work/keys.json" "$work/witness.json" "$work/bundle.zip" "$out/"
printf '%s\n' "$harbor" >"$out/harbor.id"
printf '%s\n' "$lakeside" >"$out/lakeside.id"
if [[ -n "$pg" ]]; then
    pg_dump --no-owner --no-privileges --dbname "$pg" >"$out/postgres.sql"
else
    cp "$work/cubby.sqlite" "$out/cubby.sqlite"
fi
echo "fixture written to $out"
