#!/usr/bin/env bash
# Stop a cluster started by scripts/start-postgres.sh and remove its directory.
#
#   scripts/stop-postgres.sh [DIR]      (default: $CUBBY_PG_DIR)
#
# Only a directory that start-postgres.sh made (it holds the .cubby-pg marker) is removed.
set -euo pipefail

log() { printf 'stop-postgres: %s\n' "$*" >&2; }

dir="${1:-${CUBBY_PG_DIR:-}}"
if [[ -z "$dir" ]]; then
    log "error: give the cluster directory as an argument or in CUBBY_PG_DIR"
    exit 2
fi
if [[ ! -d "$dir" ]]; then
    log "$dir does not exist; nothing to stop"
    exit 0
fi
if [[ ! -f "$dir/.cubby-pg" ]]; then
    log "error: $dir was not made by start-postgres.sh (no .cubby-pg marker); leaving it alone"
    exit 1
fi

datadir="$dir/data"
if [[ -f "$datadir/postmaster.pid" ]]; then
    pg_ctl=""
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/pg_ctl" ]] || continue
        # The cluster's own major version, recorded by initdb, picks the matching pg_ctl.
        if [[ -f "$datadir/PG_VERSION" && "$d" == "/usr/lib/postgresql/$(cat "$datadir/PG_VERSION")/bin" ]]; then
            pg_ctl="$d/pg_ctl"
            break
        fi
        pg_ctl="$d/pg_ctl"
    done
    if [[ -z "$pg_ctl" ]]; then
        log "error: pg_ctl not found under /usr/lib/postgresql/*/bin"
        exit 1
    fi
    log "stopping the cluster in $datadir"
    if ! (cd "$dir" && runuser -u postgres -- "$pg_ctl" -D "$datadir" -m fast -w -t 60 stop) >&2; then
        log "fast stop failed; trying immediate stop"
        (cd "$dir" && runuser -u postgres -- "$pg_ctl" -D "$datadir" -m immediate -w -t 30 stop) >&2 || true
    fi
fi

rm -rf -- "$dir"
log "removed $dir"
