#!/usr/bin/env bash
# Runs the portal's headless-browser tests against a built cubby binary.
# CUBBY_BIN: the binary to test (default: .build/debug/cubby in the repository root).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
bin="${CUBBY_BIN:-.build/debug/cubby}"
case "$bin" in
  /*) ;;
  *) if [[ -e "$bin" ]]; then bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"; else bin="$repo/$bin"; fi ;;
esac
export CUBBY_BIN="$bin"
exec python3 "$here/portal_test.py" "$@"
