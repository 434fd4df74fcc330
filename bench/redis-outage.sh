#!/usr/bin/env bash
# GET detail while Redis is cut or black-holed, beside the same server configured without
# Redis, in one run (PostgreSQL at 127.0.0.1:5432, Redis at 127.0.0.1:6379, all local):
#
#   bash bench/redis-outage.sh
#
# The Redis server is reached through bench/relay.py, whose mode is switched between `pass`,
# `cut` (connections closed and refused) and `hole` (accepted, never answered). The target:
# with Redis cut or black-holed, at least 80% of the no-Redis throughput (the breaker bypasses
# Redis instead of every read waiting the 50 ms timeout).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18081}
RELAY_PORT=${RELAY_PORT:-16390}
PG_SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
BENCH_DB=${BENCH_DB:-scheduler_outage_bench}
SEED_JOBS=${SEED_JOBS:-1000}
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p scheduler-server

psql "$PG_SERVER/postgres" -q -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" -c "CREATE DATABASE $BENCH_DB"
export DATABASE_URL="$PG_SERVER/$BENCH_DB?sslmode=disable"
export SCHEDULER_BIND="127.0.0.1:$PORT" SCHEDULER_DISPATCHER=off RUST_LOG=warn
MODE_FILE=$(mktemp /tmp/relay-mode-XXXX)
echo pass >"$MODE_FILE"
python3 bench/relay.py "$RELAY_PORT" 127.0.0.1:6379 "$MODE_FILE" >/dev/null 2>&1 &
RELAY=$!
SERVER=
stop_server() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; SERVER=; fi
}
trap 'stop_server; kill $RELAY 2>/dev/null; rm -f "$MODE_FILE"' EXIT

start_server() { # extra env assignments...
    env "$@" ./target/release/scheduler-server serve >/dev/null 2>&1 &
    SERVER=$!
    for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && return; sleep 0.2; done
    echo "server did not start" >&2; exit 1
}

measure() { # label
    local rps
    rps=$(timeout $((DURATION + 30)) wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/get_job.lua \
        "http://127.0.0.1:$PORT/" | awk '/Requests\/sec/ {print $2}')
    printf '%-28s %10s req/s\n' "$1" "$rps" >&2
    echo "$rps"
}

start_server
echo "== seeding $SEED_JOBS jobs" >&2
for i in $(seq 1 "$SEED_JOBS"); do
    curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/scheduler/jobs/" -H 'Content-Type: application/json' \
        -d "{\"name\": \"seed-$i\", \"cron_expression\": \"0 0 1 1 *\"}"
done
psql "$PG_SERVER/$BENCH_DB" -q -c "ANALYZE jobs"
export SEED_JOBS
timeout 30 wrk -t2 -c"$CONNECTIONS" -d3s -s bench/get_job.lua "http://127.0.0.1:$PORT/" >/dev/null
none=$(measure "no Redis configured")
stop_server

start_server REDIS_URL="redis://127.0.0.1:$RELAY_PORT" SCHEDULER_REDIS_PREFIX="outage-bench-$$:"
timeout 30 wrk -t2 -c"$CONNECTIONS" -d3s -s bench/get_job.lua "http://127.0.0.1:$PORT/" >/dev/null
healthy=$(measure "Redis answering")
echo cut >"$MODE_FILE"; sleep 1
cut=$(measure "Redis cut")
echo pass >"$MODE_FILE"; sleep 3
echo hole >"$MODE_FILE"; sleep 1
hole=$(measure "Redis black-holed")
echo pass >"$MODE_FILE"; sleep 3
back=$(measure "Redis back")
stop_server
python3 - "$none" "$healthy" "$cut" "$hole" "$back" <<'PY'
import sys
none, healthy, cut, hole, back = map(float, sys.argv[1:])
print(f"ratio to no Redis: answering {healthy/none:.2f}, cut {cut/none:.2f}, black-holed {hole/none:.2f}, back {back/none:.2f} (target >= 0.80 cut and black-holed)")
PY
