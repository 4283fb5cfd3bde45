#!/usr/bin/env bash
# Email and SMS against real receivers: the SMTP client and the parcel-ready email against aiosmtpd (STARTTLS,
# implicit TLS, AUTH PLAIN and LOGIN, refusals, timeouts), each message read back with Python's email package and
# its QR image decoded with zbarimg; the SMS adapter against scripts/sms-gateway.py.
#
# Installs nothing: it needs python3 with aiosmtpd (PyPI), openssl and zbarimg (Debian zbar-tools), and a built
# test bundle (`swift build --build-tests`). Runs the mail suites with CUBBY_TEST_MAIL=1; with
# CUBBY_TEST_POSTGRES_URL set, the end-to-end test also runs on PostgreSQL.
#
# Usage: scripts/mail-test.sh
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$repo"

missing=""
python3 -c "import aiosmtpd" 2>/dev/null || missing+=" aiosmtpd (pip install aiosmtpd)"
command -v openssl >/dev/null || missing+=" openssl"
command -v zbarimg >/dev/null || missing+=" zbarimg (apt-get install zbar-tools)"
if [[ -n "$missing" ]]; then
    echo "mail test: missing:$missing" >&2
    exit 2
fi

CUBBY_TEST_MAIL=1 swift test --skip-build \
    --filter 'CubbyMailTests|ParcelReadyMailDeliveryTests|ParcelReadyMessageTests|PNGImageTests|SMSTextTests'
