#!/usr/bin/env bash
# Load benchmark of the REST API with wrk against 127.0.0.1, on PostgreSQL (or another
# DATABASE_URL). Every run is bounded: DURATION seconds per scenario, 4 scenarios.
#
#   bash bench/api.sh                      # PostgreSQL at 127.0.0.1:5432, no cache
#   REDIS_URL=redis://127.0.0.1:6379 bash bench/api.sh   # with the shared Redis cache
#
# Needs wrk (Debian: apt-get install wrk) and a release build (built here unless SERVER_BIN
# names another binary, e.g. an earlier commit's, to compare):
#   SERVER_BIN=/path/to/old/scheduler-server bash bench/api.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
PG_SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
BENCH_DB=${BENCH_DB:-scheduler_bench}
# Loopback traffic to a database on the same host needs no TLS (sqlx's default, "prefer",
# encrypts when the server offers it). Set PG_PARAMS= to measure with TLS.
PG_PARAMS=${PG_PARAMS-?sslmode=disable}
SEED_JOBS=${SEED_JOBS:-1000}

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
SERVER_BIN=${SERVER_BIN:-}
if [ -z "$SERVER_BIN" ]; then
    cargo build --release -q -p scheduler-server
    SERVER_BIN=./target/release/scheduler-server
fi

if [ -z "${DATABASE_URL:-}" ]; then
    psql "$PG_SERVER/postgres" -q -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" -c "CREATE DATABASE $BENCH_DB"
    DATABASE_URL="$PG_SERVER/$BENCH_DB$PG_PARAMS"
    CREATED_BENCH_DB=1
fi
export DATABASE_URL
export SCHEDULER_BIND="127.0.0.1:$PORT"
export RUST_LOG=${RUST_LOG:-info}
LOG=$(mktemp /tmp/scheduler-bench-XXXX.log)

"$SERVER_BIN" serve >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT

for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
    sleep 0.2
done

echo "== seeding $SEED_JOBS jobs"
for i in $(seq 1 "$SEED_JOBS"); do
    printf '{"name": "seed-%d", "cron_expression": "0 0 1 1 *", "parameters": {"n": %d}}\n' "$i" "$i"
done | while read -r body; do
    curl -sf -o /dev/null --max-time 5 -X POST "http://127.0.0.1:$PORT/scheduler/jobs/" \
        -H 'Content-Type: application/json' -d "$body"
done

if [ -n "${CREATED_BENCH_DB:-}" ]; then
    # Fresh tables have no planner statistics until autovacuum's first pass (up to a minute
    # later); without them PostgreSQL seq-scans the 1,000 rows for `id IN (...)`. Take them
    # now, as a database in service already has them.
    psql "$PG_SERVER/$BENCH_DB" -q -c "ANALYZE jobs"
fi

run() { # label, wrk args...
    local label=$1; shift
    echo "== $label (wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s)"
    timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" \
        | grep -E 'Requests/sec|Latency  |  50%|  99%|Non-2xx|Socket errors'
}

export SEED_JOBS
echo "== warm-up (3 s, not reported: opens pooled connections, prepares statements)"
timeout 30 wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s bench/get_job.lua "http://127.0.0.1:$PORT/" >/dev/null
run "GET detail (random of $SEED_JOBS jobs)" -s bench/get_job.lua "http://127.0.0.1:$PORT/"
run "GET detail (one job)" "http://127.0.0.1:$PORT/scheduler/jobs/500/"
run "GET list (page of 50)" "http://127.0.0.1:$PORT/scheduler/jobs/?page_size=50"
run "POST create" -s bench/post_job.lua "http://127.0.0.1:$PORT/scheduler/jobs/"

echo "== server log: $(wc -l <"$LOG") lines in $LOG"
