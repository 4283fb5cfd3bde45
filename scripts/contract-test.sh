#!/usr/bin/env bash
# The API against its OpenAPI document: schemathesis (pinned below, every check, the configuration in
# tests-contract/schemathesis.toml) once for each kind of bearer credential — admin, courier, carrier, device,
# auditor, scim — each against a fresh `cubby demo` on a loopback port, with that kind's token from the demo's
# manifest (the scim credential is issued for the demo's site with `cubby credential issue`).
# Fails when any run reports a failure or an error.
#
# Usage: scripts/contract-test.sh [path-to-cubby-binary]   (default: .build/debug/cubby)
# Environment: CUBBY_CONTRACT_PORT (default 18290), CUBBY_CONTRACT_KINDS (default: all five),
#              CUBBY_CONTRACT_VENV (where schemathesis is installed; default /tmp/cubby-schemathesis-4.32.5).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
bin="${1:-$repo/.build/debug/cubby}"
bin="$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")"   # the server runs in another directory
port="${CUBBY_CONTRACT_PORT:-18290}"
kinds="${CUBBY_CONTRACT_KINDS:-admin courier carrier device auditor scim}"
version="4.32.5"
venv="${CUBBY_CONTRACT_VENV:-/tmp/cubby-schemathesis-$version}"
config="$repo/tests-contract/schemathesis.toml"
# A run of one kind stops here at the latest; six stay within the stage's twelve minutes.
per_kind_seconds="${CUBBY_CONTRACT_SECONDS:-110}"

# schemathesis in a virtual environment of its own: nothing is installed into the system's Python.
st="$venv/bin/schemathesis"
if ! [[ -x "$st" ]] || [[ "$("$st" --version 2>/dev/null)" != *"$version"* ]]; then
    echo "contract: installing schemathesis==$version into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "schemathesis==$version"
fi
"$st" --version

work=""
pid=""
cleanup() {
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    if [[ -n "$work" ]]; then rm -rf "$work"; fi
    pid=""
    work=""
}
trap cleanup EXIT

token_key() {
    case "$1" in
        admin) echo .adminToken ;;
        courier) echo .courierToken ;;
        carrier) echo .carrierToken ;;
        auditor) echo .auditorToken ;;
        device) echo '.units[0].deviceToken' ;;
        scim) echo scim ;;
        *) echo "contract: unknown credential kind $1" >&2; exit 2 ;;
    esac
}

failed=""
summary=""
for kind in $kinds; do
    work="$(mktemp -d)"
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
        echo "contract: cubby demo did not start for $kind" >&2
        tail -n 30 "$work/server.log" >&2 || true
        failed+="${failed:+, }$kind (server did not start)"
        cleanup
        continue
    fi
    if [[ "$kind" == scim ]]; then
        token="$(cd "$work" && "$bin" credential issue --kind scim --sites "$(jq -r .siteId "$manifest")" \
            --label "schemathesis" --days 1 2>/dev/null | tail -n 1)"
    else
        token="$(jq -r "$(token_key "$kind")" "$manifest")"
    fi
    export CUBBY_CONTRACT_UNIT_ID
    CUBBY_CONTRACT_UNIT_ID="$(jq -r '.units[0].id' "$manifest")"
    echo
    echo "---- schemathesis as $kind (http://127.0.0.1:$port, a fresh demo database) ----"
    started=$SECONDS
    status=0
    # Run from the scratch directory: whatever schemathesis or Hypothesis leave behind goes with it.
    (cd "$work" && timeout --signal=INT --kill-after=10 "$per_kind_seconds" \
        "$st" --config-file "$config" run "http://127.0.0.1:$port/api/v1/openapi.yaml" \
        --url "http://127.0.0.1:$port" --checks all --no-color \
        -H "Authorization: Bearer $token") || status=$?
    elapsed=$((SECONDS - started))
    if [[ $status -eq 124 || $status -eq 130 ]]; then
        echo "contract: schemathesis as $kind did not finish within ${per_kind_seconds}s" >&2
    fi
    # A 500 is a bug even where the document would allow it: the server logs each as "request failed".
    if grep -q 'request failed' "$work/server.log"; then
        echo "contract: the server logged internal errors as $kind:" >&2
        grep 'request failed' "$work/server.log" | tail -n 20 >&2
        [[ $status -eq 0 ]] && status=1
    fi
    summary+="  $kind: exit $status in ${elapsed}s"$'\n'
    [[ $status -eq 0 ]] || failed+="${failed:+, }$kind (exit $status)"
    cleanup
done

echo
echo "contract: schemathesis $version, $(grep -E '^seed' "$config")"
printf '%s' "$summary"
if [[ -n "$failed" ]]; then
    echo "contract: FAIL: $failed"
    exit 1
fi
echo "contract: ok (no failures for: $kinds)"
