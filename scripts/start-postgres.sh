#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for Cubby's tests and benchmarks.
#
#   eval "$(scripts/start-postgres.sh [DIR])"
#
# DIR (default: a new temporary directory) holds the cluster, its log and its socket, and must be
# empty or absent. The port is $CUBBY_PG_PORT (default 54329); the server listens on 127.0.0.1 only
# and trusts every local connection, so never point this at anything but a test machine.
#
# The only line written to stdout is the export line below; everything else goes to stderr.
#   export CUBBY_TEST_POSTGRES_URL=postgres://cubby@127.0.0.1:PORT/cubby_test CUBBY_PG_DIR=DIR
# Stop it and remove DIR with scripts/stop-postgres.sh DIR.
set -euo pipefail

# Keep the real stdout on fd 3 for the final line; send all other output to stderr.
exec 3>&1 1>&2

log() { printf 'start-postgres: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

port="${CUBBY_PG_PORT:-54329}"
[[ "$port" =~ ^[0-9]+$ ]] && (( port > 0 && port < 65536 )) || die "CUBBY_PG_PORT is not a port: $port"
db_user=cubby
db_name=cubby_test

newest_bindir() {
    local d best=""
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] || continue
        if [[ -z "$best" ]] || [[ "$(printf '%s\n%s\n' "$best" "$d" | sort -V | tail -n1)" == "$d" ]]; then
            best="$d"
        fi
    done
    printf '%s' "$best"
}

bindir="$(newest_bindir)"
if [[ -z "$bindir" ]]; then
    log "PostgreSQL binaries not found; installing the Debian postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql
    bindir="$(newest_bindir)"
    [[ -n "$bindir" ]] || die "no initdb/pg_ctl under /usr/lib/postgresql/*/bin after installing postgresql"
fi
id -u postgres >/dev/null 2>&1 || die "the system user 'postgres' does not exist"
log "using $bindir"

# Fail early and clearly if something already listens on the port.
if (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port on 127.0.0.1 is already in use (set CUBBY_PG_PORT to another port)"
fi

created_dir=0
if [[ $# -ge 1 && -n "$1" ]]; then
    mkdir -p -- "$1"
    dir="$(cd -- "$1" && pwd -P)"
    [[ -z "$(ls -A -- "$dir")" ]] || die "$dir is not empty"
else
    dir="$(mktemp -d "${TMPDIR:-/tmp}/cubby-pg.XXXXXXXX")"
    created_dir=1
fi
datadir="$dir/data"
logfile="$dir/postgres.log"

started=0
cleanup_on_error() {
    local rc=$?
    [[ $rc -eq 0 ]] && return
    if [[ -f "$logfile" ]]; then
        log "last lines of $logfile:"
        tail -n 30 "$logfile" >&2 || true
    fi
    if [[ $started -eq 1 ]]; then
        as_postgres pg_ctl -D "$datadir" -m immediate -w stop >&2 || true
    fi
    if [[ $created_dir -eq 1 ]]; then
        rm -rf -- "$dir"
    fi
}
trap cleanup_on_error EXIT

# PostgreSQL refuses to run as root: run its tools as the postgres user, from a directory it can read.
as_postgres() {
    local tool="$1"
    shift
    # 3>&-: the server must not inherit the caller's stdout, or `$(start-postgres.sh)` never returns.
    (cd "$dir" && runuser -u postgres -- "$bindir/$tool" "$@") 3>&-
}

# Marks the directory as one this script made, so stop-postgres.sh may delete it.
printf 'cubby throwaway PostgreSQL cluster, port %s\n' "$port" >"$dir/.cubby-pg"
chown postgres: "$dir"
chmod 0700 "$dir"
runuser -u postgres -- test -w "$dir" || die "the postgres user cannot write to $dir (check the parent directories' permissions)"

log "initdb in $datadir"
as_postgres initdb -D "$datadir" --auth=trust --username="$db_user" -E UTF8 --locale=C >&2

cat >>"$datadir/postgresql.conf" <<CONF

# Added by scripts/start-postgres.sh for Cubby's tests.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = on
synchronous_commit = on
# Every test world is a database of its own with a small pool, and a few hundred run side by side.
max_connections = 1000
CONF

log "starting on 127.0.0.1:$port"
started=1
as_postgres pg_ctl -D "$datadir" -l "$logfile" -w -t 60 start >&2

log "creating database $db_name"
as_postgres createdb -h 127.0.0.1 -p "$port" -U "$db_user" "$db_name"

trap - EXIT
log "ready: postgres://$db_user@127.0.0.1:$port/$db_name (cluster in $dir)"
printf 'export CUBBY_TEST_POSTGRES_URL=postgres://%s@127.0.0.1:%s/%s CUBBY_PG_DIR=%q\n' \
    "$db_user" "$port" "$db_name" "$dir" >&3
