#!/usr/bin/env bash
# Steady dispatch (issue #29, point 4): JOBS jobs (1,000,000) every PERIOD seconds (3,600),
# their fires spread evenly over the period (interval schedules whose start times are
# PERIOD/JOBS apart), so JOBS/PERIOD fires are due every second (≈ 278/s) — dispatched by
# REPLICAS (2) processes of the release server (the real binary and its built-in handler,
# RUST_LOG=warn) on one PostgreSQL database, for WINDOW seconds (300) of the hour. Bounded:
# ROUNDS × (seeding + WINDOW + 30 s).
#
#   bash bench/steady.sh                          # 3 rounds of 300 s, 1,000,000 jobs
#   ROUNDS=1 WINDOW=60 JOBS=200000 PERIOD=720 bash bench/steady.sh
#
# Per round: the fires of the window (after WARMUP s, 10) that ran, each exactly once; their
# lateness (started_at − scheduled_for, from the database) p50/p99/max; fires/s achieved
# against JOBS/PERIOD; each replica's resident memory: the most sampled each second under
# load (VmRSS) and its high-water mark (VmHWM) — beside the reference, the same binary's RSS
# idle on the same database before the window opens.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-1000000}
PERIOD=${PERIOD:-3600}
WINDOW=${WINDOW:-300}
WARMUP=${WARMUP:-10}
ROUNDS=${ROUNDS:-3}
REPLICAS=${REPLICAS:-2}
LEAD=${LEAD:-15}
PG_SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
PG_PARAMS=${PG_PARAMS-?sslmode=disable}
BASE_PORT=${BASE_PORT:-18300}
SERVER_BIN=${SERVER_BIN:-target/release/scheduler-server}
DB=bench_steady
export PGOPTIONS="-c client_min_messages=warning"

if [ "$SERVER_BIN" = target/release/scheduler-server ]; then
    cargo build --release -q -p scheduler-server --bin scheduler-server
fi

OUT=$(mktemp -d /tmp/bench-steady-XXXX)
PIDS=()
stop_servers() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}
cleanup() {
    stop_servers
    psql "$PG_SERVER/postgres" -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
}
trap cleanup EXIT

URL="$PG_SERVER/$DB$PG_PARAMS"
sql() { psql "$PG_SERVER/$DB" -At -q -c "$1"; }
mib() { awk -v v="$1" 'BEGIN { print v / 1024 }'; }
kib() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$2/status" 2>/dev/null || echo 0; }

echo "steady dispatch: $JOBS jobs every ${PERIOD}s ($(python3 -c "print(round($JOBS/$PERIOD, 1))") fires/s), $REPLICAS replicas, window ${WINDOW}s, $ROUNDS round(s); logs in $OUT"
printf '%-6s %9s %9s %8s %8s %8s %9s %9s %11s %11s %11s\n' round expected ran dup p50_ms p99_ms max_ms fires/s idle_MiB load_MiB hwm_MiB
RESULTS="$OUT/results"
: >"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
    psql "$PG_SERVER/postgres" -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    DATABASE_URL="$URL" "$SERVER_BIN" migrate >"$OUT/migrate.log" 2>&1
    # The first fire LEAD s from now (after seeding), one every PERIOD/JOBS s after it.
    T0=$(python3 -c "import time; print(int(time.time()) + $LEAD + $JOBS // 20000)")
    sql "INSERT INTO jobs (name, cron_expression, timezone, start_time, next_run, parameters, \
            is_active, created_at, updated_at, interval_seconds) \
         SELECT 'steady-' || n, '', 'UTC', s, s, '{}', true, now(), now(), $PERIOD \
         FROM (SELECT n, to_timestamp($T0) + (n - 1) * ($PERIOD::float8 / $JOBS) * interval '1 second' AS s \
               FROM generate_series(1, $JOBS) AS n) AS f"
    sql "VACUUM ANALYZE jobs"
    for i in $(seq 1 "$REPLICAS"); do
        env DATABASE_URL="$URL" SCHEDULER_BIND="127.0.0.1:$((BASE_PORT + i))" RUST_LOG=warn \
            SCHEDULER_WORKER_ID="steady-$i" "$SERVER_BIN" serve >"$OUT/replica-$i.log" 2>&1 &
        PIDS+=($!)
    done
    for i in $(seq 1 "$REPLICAS"); do
        for _ in $(seq 1 100); do
            curl -sf "http://127.0.0.1:$((BASE_PORT + i))/health" >/dev/null && break
            sleep 0.2
        done
    done
    # Idle: started, nothing due yet.
    now=$(date +%s)
    [ "$now" -lt "$T0" ] || { echo "seeding took past the first fire; raise LEAD" >&2; exit 1; }
    sleep $((T0 - now > 2 ? T0 - now - 2 : 0))
    idle=0
    for pid in "${PIDS[@]}"; do idle=$(( $(kib VmRSS "$pid") > idle ? $(kib VmRSS "$pid") : idle )); done
    # The window: the most resident memory of any replica, sampled each second.
    peak=0
    end=$((T0 + WINDOW))
    while [ "$(date +%s)" -lt "$end" ]; do
        for pid in "${PIDS[@]}"; do
            rss=$(kib VmRSS "$pid")
            [ "$rss" -gt "$peak" ] && peak=$rss
        done
        sleep 1
    done
    hwm=0
    for pid in "${PIDS[@]}"; do hwm=$(( $(kib VmHWM "$pid") > hwm ? $(kib VmHWM "$pid") : hwm )); done
    sleep 3
    stop_servers
    # The fires of [T0 + WARMUP, T0 + WINDOW - 5): each due once, started how late.
    FROM="to_timestamp($T0 + $WARMUP)"
    TO="to_timestamp($T0 + $WINDOW - 5)"
    expected=$(sql "SELECT count(*) FROM jobs WHERE start_time >= $FROM AND start_time < $TO")
    read -r ran dup p50 p99 max <<<"$(sql "SELECT count(DISTINCT job_id), count(*) - count(DISTINCT job_id), \
        round(percentile_cont(0.5) WITHIN GROUP (ORDER BY late)::numeric, 1), \
        round(percentile_cont(0.99) WITHIN GROUP (ORDER BY late)::numeric, 1), round(max(late)::numeric, 1) \
        FROM (SELECT job_id, extract(epoch FROM started_at - scheduled_for) * 1000 AS late FROM job_runs \
              WHERE scheduled_for >= $FROM AND scheduled_for < $TO AND attempt = 1) AS r" | tr '|' ' ')"
    rate=$(python3 -c "print(round($ran / ($WINDOW - 5 - $WARMUP), 1))")
    row=$(printf '%-6s %9s %9s %8s %8s %8s %8s %9s %11.1f %11.1f %11.1f' "$round" "$expected" "$ran" "$dup" \
        "$p50" "$p99" "$max" "$rate" "$(mib "$idle")" "$(mib "$peak")" "$(mib "$hwm")")
    echo "$row"
    echo "$row" >>"$RESULTS"
done
echo
echo "spread over $ROUNDS round(s) (min / median / max):"
python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
names = ["expected", "ran", "dup", "p50_ms", "p99_ms", "max_ms", "fires/s", "idle_MiB", "load_MiB", "hwm_MiB"]
for i, name in enumerate(names, start=1):
    values = sorted(float(r[i]) for r in rows)
    print(f"  {name:9} {values[0]:>10.1f} {statistics.median(values):>10.1f} {values[-1]:>10.1f}")
PY
