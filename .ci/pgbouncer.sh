#!/usr/bin/env bash
# Starts two PgBouncers (Debian's pgbouncer package, installed when missing) in front of the
# local PostgreSQL for the tests: session pooling on 127.0.0.1:6432, transaction pooling on
# 127.0.0.1:6433, trust authentication for the `postgres` user, every database forwarded to
# 127.0.0.1:5432, stock settings otherwise (no ignore_startup_parameters: the server must not
# need it). Already running ones (their pid files alive) are left as they are. Prints the
# variables the tests read:
#   SCHEDULER_TEST_PGBOUNCER_SESSION_URL=postgres://postgres@127.0.0.1:6432
#   SCHEDULER_TEST_PGBOUNCER_TRANSACTION_URL=postgres://postgres@127.0.0.1:6433
set -euo pipefail

dir=${PGBOUNCER_DIR:-/tmp/scheduler-pgbouncer}
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
    echo "pgbouncer: installing Debian's pgbouncer" >&2
    export DEBIAN_FRONTEND=noninteractive
    { timeout 300 apt-get update -qq && timeout 300 apt-get install -y -qq pgbouncer; } >&2
fi
PATH=$PATH:/usr/sbin
mkdir -p "$dir"
echo '"postgres" ""' >"$dir/users.txt"
for mode in session transaction; do
    port=6432
    [ "$mode" = transaction ] && port=6433
    if [ -f "$dir/$mode.pid" ] && kill -0 "$(cat "$dir/$mode.pid")" 2>/dev/null; then
        continue
    fi
    cat >"$dir/$mode.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = $mode
max_client_conn = 1000
default_pool_size = 20
logfile = $dir/$mode.log
pidfile = $dir/$mode.pid
INI
    # PgBouncer refuses to run as root: -u drops to the postgres user.
    chown -R postgres "$dir" 2>/dev/null || true
    if [ "$(id -u)" = 0 ]; then
        pgbouncer -d -u postgres "$dir/$mode.ini" >&2
    else
        pgbouncer -d "$dir/$mode.ini" >&2
    fi
done
for port in 6432 6433; do
    for _ in $(seq 1 50); do
        pg_isready -q -h 127.0.0.1 -p "$port" -U postgres && break
        sleep 0.1
    done
    pg_isready -q -h 127.0.0.1 -p "$port" -U postgres || { echo "pgbouncer on $port does not answer" >&2; exit 1; }
done
echo "SCHEDULER_TEST_PGBOUNCER_SESSION_URL=postgres://postgres@127.0.0.1:6432"
echo "SCHEDULER_TEST_PGBOUNCER_TRANSACTION_URL=postgres://postgres@127.0.0.1:6433"
