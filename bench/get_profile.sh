#!/usr/bin/env bash
# GET of one job against a bare poem handler, side by side (issue #29, point 5), and where the
# server's time goes: release servers on PostgreSQL + Redis (with the local tier, and Redis
# alone), and examples/bare_job answering the same job's JSON from memory; wrk -t2 -c32 on
# random ids of 1,000 jobs, ROUNDS (3) interleaved rounds of DURATION s (10). Then, unless
# PROFILE=0, one more run of the local-tier server under `perf record` and its flat profile
# (self time by symbol, and summed by crate) — the investigation the issue asks for.
#
#   bash bench/get_profile.sh
#   ROUNDS=5 DURATION=5 PROFILE=0 bash bench/get_profile.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
PROFILE=${PROFILE:-1}
JOBS=1000
PG_SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
PG_PARAMS=${PG_PARAMS-?sslmode=disable}
REDIS=${REDIS:-redis://127.0.0.1:6379}
PREFIX="bench-get-$$:"
BASE_PORT=${BASE_PORT:-18400}
SERVER_BIN=${SERVER_BIN:-target/release/scheduler-server}
BARE_BIN=${BARE_BIN:-target/release/examples/bare_job}
DB=bench_get

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
if [ "$SERVER_BIN" = target/release/scheduler-server ]; then
    cargo build --release -q -p scheduler-server --bin scheduler-server
    cargo build --release -q -p scheduler-examples --example bare_job
fi

OUT=$(mktemp -d /tmp/bench-get-XXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$PG_SERVER/postgres" -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
    redis-cli -u "$REDIS" --scan --pattern "${PREFIX}*" | xargs -r redis-cli -u "$REDIS" del >/dev/null || true
}
trap cleanup EXIT

psql "$PG_SERVER/postgres" -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
URL="$PG_SERVER/$DB$PG_PARAMS"
DATABASE_URL="$URL" "$SERVER_BIN" migrate >"$OUT/migrate.log" 2>&1
psql "$PG_SERVER/$DB" -q -c "INSERT INTO jobs (name, cron_expression, timezone, start_time, \
    next_run, parameters, is_active, created_at, updated_at) \
    SELECT 'job-' || n, '0 0 1 1 *', 'UTC', now(), now() + interval '1 year', \
           jsonb_build_object('n', n)::text, true, now(), now() \
    FROM generate_series(1, $JOBS) AS n" -c "VACUUM ANALYZE jobs"

start() { # name, port, extra env...
    local name=$1 port=$2; shift 2
    env DATABASE_URL="$URL" SCHEDULER_BIND="127.0.0.1:$port" SCHEDULER_DISPATCHER=off \
        REDIS_URL="$REDIS" SCHEDULER_REDIS_PREFIX="$PREFIX" RUST_LOG=warn "$@" \
        "$SERVER_BIN" serve >"$OUT/$name.log" 2>&1 &
    PIDS+=($!)
    eval "PID_$name=$!"
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null && return 0
        sleep 0.2
    done
    echo "server $name did not start; see $OUT/$name.log" >&2
    exit 1
}
LOCAL=$((BASE_PORT + 1)); SHARED=$((BASE_PORT + 2)); BARE=$((BASE_PORT + 3))
start local "$LOCAL"
start shared "$SHARED" SCHEDULER_LOCAL_CACHE=false
curl -sf "http://127.0.0.1:$LOCAL/scheduler/jobs/1/" >"$OUT/job.json"
BARE_BODY_FILE="$OUT/job.json" BARE_BIND="127.0.0.1:$BARE" "$BARE_BIN" >"$OUT/bare.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$BARE/scheduler/jobs/1/" >/dev/null && break; sleep 0.1; done

SCENARIOS=("get-local|$LOCAL" "get-redis|$SHARED" "get-bare|$BARE")
wrk_run() { # port, seconds -> "req/s p99"
    local out
    out=$(SEED_JOBS=$JOBS timeout $(($2 + 30)) wrk -t2 -c32 -d"$2s" --latency -s bench/get_job.lua "http://127.0.0.1:$1/")
    if echo "$out" | grep -q "Non-2xx"; then echo "non-2xx answers on port $1" >&2; echo "$out" >&2; exit 1; fi
    echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "$out" | awk '$1 == "99%" {print $2}')"
}
for entry in "${SCENARIOS[@]}"; do wrk_run "${entry#*|}" 2 >/dev/null; done

: >"$OUT/results"
for round in $(seq 1 "$ROUNDS"); do
    for entry in "${SCENARIOS[@]}"; do
        label=${entry%|*}
        read -r rps p99 <<<"$(wrk_run "${entry#*|}" "$DURATION")"
        printf 'round %s %-10s %10s req/s  p99 %s\n' "$round" "$label" "$rps" "$p99"
        echo "$round $label $rps" >>"$OUT/results"
    done
done
python3 - "$OUT/results" <<'PY'
import statistics, sys
by = {}
for line in open(sys.argv[1]):
    round_, label, rps = line.split()
    by.setdefault(label, []).append(float(rps))
for label in ("get-local", "get-redis"):
    ratios = [a / b for a, b in zip(by[label], by["get-bare"])]
    print(f"{label} / get-bare: median {statistics.median(ratios):.2f} "
          f"(rounds {', '.join(f'{r:.2f}' for r in ratios)})")
PY

if [ "$PROFILE" = 1 ] && command -v perf >/dev/null; then
    echo "== perf: the local-tier server's CPU by symbol during ${DURATION}s of wrk (self time)"
    # Stacks unwound from .eh_frame (the release build has no debug info, nor frame pointers).
    # shellcheck disable=SC2154 # set by start()
    perf record -q -F 299 --call-graph dwarf,16384 -p "$PID_local" -o "$OUT/perf.data" \
        -- sleep "$DURATION" >/dev/null 2>&1 &
    PERF=$!
    wrk_run "$LOCAL" "$DURATION" >/dev/null
    wait "$PERF" || true
    report() { perf report -i "$OUT/perf.data" --no-children --stdio "$@" 2>/dev/null; }
    report --sort dso -g none | grep -v '^#' | awk 'NF && NR <= 40' | cut -c1-120
    report --sort symbol -g none | grep -v '^#' | awk 'NF' | awk 'NR <= 30' | cut -c1-150 | sed 's/ *$//'
    for symbol in __memmove_avx512_unaligned_erms _mi_page_malloc_zero; do
        echo "== who calls $symbol (callers, heaviest first)"
        report --sort symbol --symbols "$symbol" -g caller,0.5,callee,function,percent \
            | grep -v '^#' | awk 'NF' | awk 'NR <= 45' | cut -c1-170 | sed 's/ *$//'
    done
fi
echo "== logs in $OUT"
