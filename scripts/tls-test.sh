#!/usr/bin/env bash
# The server's TLS listeners against testssl.sh (Debian): `cubby serve` with HTTPS on the main port (a certificate
# made here) and its edge listener (its own self-signed certificate, pinned by units). Fails on any finding of
# severity MEDIUM or above, except those about the test certificates themselves, which no deployment shares:
#   cert_chain_of_trust (self-signed), cert_revocation (no CRL or OCSP address), cert_validityPeriod (the edge
#   certificate is made for ten years: units pin its key, not a CA), cert_expirationStatus and cert_notAfter.
# Usage: scripts/tls-test.sh [path-to-cubby-binary]   (default: .build/debug/cubby)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
bin="${1:-$repo/.build/debug/cubby}"
bin="$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")"
port="${CUBBY_TLS_TEST_PORT:-18521}"
edge_port=$((port + 1))
work="$(mktemp -d)"
pid=""
cleanup() {
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "tls-test: FAIL: $*" >&2
    tail -n 20 "$work/server.log" >&2 || true
    exit 1
}
command -v testssl >/dev/null || fail "testssl is not installed (apt-get install testssl.sh)"
# The key file is sealed under a key-encryption key kept in a file of its own (docs/operations.md).
head -c 32 /dev/urandom >"$work/kek" && chmod 600 "$work/kek"
export CUBBY_KEK_FILE="$work/kek"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" -days 90 2>/dev/null
(cd "$work" && CUBBY_EDGE_PORT="$edge_port" exec "$bin" serve --port "$port" --tls-cert cert.pem --tls-key key.pem \
    >>"$work/server.log" 2>&1) &
pid=$!
for _ in $(seq 1 150); do
    curl -fsk "https://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || fail "cubby serve exited early"
    sleep 0.1
done
curl -fsk "https://127.0.0.1:$port/healthz" >/dev/null || fail "no HTTPS answer on the main port"
[[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz" || true)" != 200 ]] \
    || fail "the main port answered plain HTTP"

allowed='["cert_chain_of_trust","cert_revocation","cert_validityPeriod","cert_expirationStatus","cert_notAfter"]'
status=0
for target in "main:$port" "edge:$edge_port"; do
    name="${target%%:*}"
    p="${target##*:}"
    timeout 600 testssl --quiet --color 0 --warnings off --severity MEDIUM --jsonfile "$work/$name.json" \
        "https://127.0.0.1:$p" >"$work/$name.txt" 2>&1 || true
    [[ -s "$work/$name.json" ]] || fail "testssl wrote no report for the $name listener: $(tail -n 5 "$work/$name.txt")"
    findings=$(jq --argjson allowed "$allowed" \
        '[.[] | select(.severity == "MEDIUM" or .severity == "HIGH" or .severity == "CRITICAL")
              | select(.id as $id | $allowed | index($id) | not)]' "$work/$name.json")
    if [[ "$(jq length <<<"$findings")" -ne 0 ]]; then
        echo "tls-test: the $name listener has findings:" >&2
        jq -r '.[] | "  \(.severity) \(.id): \(.finding)"' <<<"$findings" >&2
        status=1
    else
        echo "tls-test: the $name listener: no finding of severity MEDIUM or above beyond the test certificate's"
    fi
done
[[ $status -eq 0 ]] || fail "testssl findings above"
echo "tls-test: PASS"
