#!/usr/bin/env bash
# What the front door costs: GET one job (random of SEED_JOBS) on two servers over the same
# PostgreSQL database, side by side in alternating rounds — one with SCHEDULER_AUTH=off, one
# with SCHEDULER_AUTH=keys and the per-key rate limit on (set high enough never to throttle,
# so every request pays the key lookup and the limiter's check). Prints req/s per round and
# the ratio keyed / off. Bounded: ROUNDS x 2 x DURATION seconds of load, 127.0.0.1 only.
#
#   bash bench/auth.sh
#   REDIS_URL=redis://127.0.0.1:6379 bash bench/auth.sh   # limiter (and cache) through Redis
set -euo pipefail
cd "$(dirname "$0")/.."

PG_SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
BENCH_DB=${BENCH_DB:-scheduler_bench_auth}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
SEED_JOBS=${SEED_JOBS:-1000}
OFF_PORT=${OFF_PORT:-18091}
KEYED_PORT=${KEYED_PORT:-18092}

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p scheduler-server
BIN=./target/release/scheduler-server

psql "$PG_SERVER/postgres" -q -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" -c "CREATE DATABASE $BENCH_DB"
export DATABASE_URL="$PG_SERVER/$BENCH_DB?sslmode=disable"
export RUST_LOG=warn SCHEDULER_DISPATCHER=off
$BIN migrate >/dev/null 2>&1

PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null || true' EXIT
start() { # port, extra env...
    local port=$1; shift
    env SCHEDULER_BIND="127.0.0.1:$port" "$@" $BIN serve >/dev/null 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 50); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null && return
        sleep 0.2
    done
    echo "server on $port did not start" >&2; exit 1
}
start "$OFF_PORT" SCHEDULER_AUTH=off
KEY=$($BIN keys create --tenant default --scope read --name bench 2>/dev/null)
start "$KEYED_PORT" SCHEDULER_AUTH=keys SCHEDULER_RATE_LIMIT=1000000 SCHEDULER_RATE_BURST=1000000

echo "== seeding $SEED_JOBS jobs"
for i in $(seq 1 "$SEED_JOBS"); do
    printf '{"name": "seed-%d", "cron_expression": "0 0 1 1 *"}\n' "$i"
done | while read -r body; do
    curl -sf -o /dev/null --max-time 5 -X POST "http://127.0.0.1:$OFF_PORT/scheduler/jobs/" \
        -H 'Content-Type: application/json' -d "$body"
done
psql "$PG_SERVER/$BENCH_DB" -q -c "ANALYZE jobs"
export SEED_JOBS

rps() { # port, extra wrk args... -> req/s (fails on any non-2xx answer)
    local port=$1; shift
    local out
    out=$(timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "$@" \
        -s bench/get_job_status.lua "http://127.0.0.1:$port/")
    if grep -q 'Non-2xx' <<<"$out"; then echo "non-2xx answers on $port: $out" >&2; exit 1; fi
    awk '/Requests\/sec/ {print $2}' <<<"$out"
}
# The keyed server must really refuse a request without the key, and serve one with it.
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$KEYED_PORT/scheduler/jobs/1/")" = 401 ]
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "http://127.0.0.1:$KEYED_PORT/scheduler/jobs/1/")" = 200 ]

echo "== warm-up (3 s each, not reported)"
DURATION=3 rps "$OFF_PORT" >/dev/null
DURATION=3 rps "$KEYED_PORT" -H "Authorization: Bearer $KEY" >/dev/null
echo "== GET detail, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds"
printf '%-6s %12s %12s %8s\n' round "auth off" "key+limit" ratio
for round in $(seq 1 "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then
        off=$(rps "$OFF_PORT"); keyed=$(rps "$KEYED_PORT" -H "Authorization: Bearer $KEY")
    else
        keyed=$(rps "$KEYED_PORT" -H "Authorization: Bearer $KEY"); off=$(rps "$OFF_PORT")
    fi
    printf '%-6s %12s %12s %8s\n' "$round" "$off" "$keyed" "$(awk -v a="$keyed" -v b="$off" 'BEGIN {printf "%.2f", a / b}')"
done
