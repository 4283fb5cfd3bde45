#!/usr/bin/env bash
# SCIM 2.0 against an outside implementation: scim2-tester (pinned below) with the tags discovery, crud and patch
# against a fresh `cubby demo` on a loopback port, with a scim credential issued by `cubby credential issue` on the
# demo's database. Fails when any check fails or the server logs an internal error.
#
# Usage: scripts/scim-test.sh [path-to-cubby-binary]   (default: .build/debug/cubby)
# Environment: CUBBY_SCIM_PORT (default 18300), CUBBY_SCIM_VENV (default /tmp/cubby-scim2-tester-0.5.2).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
bin="${1:-$repo/.build/debug/cubby}"
bin="$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")"   # the server runs in another directory
port="${CUBBY_SCIM_PORT:-18300}"
version="0.5.2"
venv="${CUBBY_SCIM_VENV:-/tmp/cubby-scim2-tester-$version}"

# scim2-tester in a virtual environment of its own; its HTTP engine needs httpx2.
py="$venv/bin/python"
if ! [[ -x "$py" ]] || ! "$py" -c "import importlib.metadata as m, httpx2; assert m.version('scim2-tester') == '$version'" 2>/dev/null; then
    echo "scim: installing scim2-tester==$version and httpx2 into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$py" -m pip install -q --disable-pip-version-check "scim2-tester==$version" httpx2
fi

work="$(mktemp -d)"
pid=""
cleanup() {
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

(cd "$work" && exec "$bin" demo --no-units --port "$port" >>"$work/server.log" 2>&1) &
pid=$!
up=0
for _ in $(seq 1 150); do
    if curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
done
manifest="$work/cubby-data/demo.json"
if [[ $up -ne 1 || ! -f "$manifest" ]]; then
    echo "scim: cubby demo did not start" >&2
    tail -n 30 "$work/server.log" >&2 || true
    exit 1
fi
site="$(jq -r .siteId "$manifest")"
# The console issues the credential on the running demo's database, as an operator would.
token="$(cd "$work" && "$bin" credential issue --kind scim --sites "$site" --label "scim2-tester" --days 1 | tail -n 1)"
[[ "$token" == cby_scim_* ]] || { echo "scim: no scim credential was issued: $token" >&2; exit 1; }

status=0
(cd "$work" && timeout 300 "$py" "$repo/tests-scim/check.py" "http://127.0.0.1:$port/scim/v2" "$token") || status=$?
# A 500 is a bug even where a check passed: the server logs each as "request failed".
if grep -q 'request failed' "$work/server.log"; then
    echo "scim: the server logged internal errors:" >&2
    grep 'request failed' "$work/server.log" | tail -n 20 >&2
    [[ $status -eq 0 ]] && status=1
fi
if [[ $status -ne 0 ]]; then
    echo "scim: FAIL (exit $status)"
    exit "$status"
fi
echo "scim: ok (scim2-tester $version, tags discovery, crud, patch)"
