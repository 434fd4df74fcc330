#!/usr/bin/env bash
# Reads that must not slow down as jobs grow (issue #14), side by side in one run, on
# PostgreSQL (and Redis), wrk against 127.0.0.1, bounded: ROUNDS × 9 scenarios × DURATION s.
#
#   bash bench/reads.sh                       # 3 rounds of 10 s, 1,000,000 jobs
#   ROUNDS=1 DURATION=5 BIG_JOBS=200000 bash bench/reads.sh
#
# Servers (release build, dispatcher off, each on its own port):
#   small  1,000 jobs, no Redis                 big    1,000,000 jobs (+100,000 runs of job 1)
#   local  1,000 jobs, Redis + local tier       shared 1,000 jobs, Redis without the local tier
#   bare   examples/bare_job: a bare poem handler answering the same job's JSON from memory
# Jobs and runs are seeded by SQL (generate_series), then ANALYZEd.
#
# Scenarios (wrk -t2 -c32): the first list page of 50 at 1,000 and at 1,000,000 jobs, a
# cursor page in the middle of 1,000,000, the deepest numbered page reachable cheaply, a
# job's runs (first cursor page, a middle cursor page, numbered page 1 with its count), GET by
# id (random of 1,000) through the local tier, through Redis alone, and the bare handler.
# Prints each round, then the medians and the ratios the issue sets targets for. Finally
# bench/staleness.py measures 1,000 write-on-one, read-on-the-other pairs between two
# replicas with local tiers.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
BIG_JOBS=${BIG_JOBS:-1000000}
SMALL_JOBS=1000
JOB_RUNS=${JOB_RUNS:-100000}
PG_SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
PG_PARAMS=${PG_PARAMS-?sslmode=disable}
REDIS=${REDIS:-redis://127.0.0.1:6379}
PREFIX="bench-reads-$$:"
BASE_PORT=${BASE_PORT:-18100}
SERVER_BIN=${SERVER_BIN:-target/release/scheduler-server}
BARE_BIN=${BARE_BIN:-target/release/examples/bare_job}
PAIRS=${PAIRS:-1000}

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
if [ "$SERVER_BIN" = target/release/scheduler-server ]; then
    cargo build --release -q -p scheduler-server --bin scheduler-server && cargo build --release -q -p scheduler-examples --example bare_job
fi

OUT=$(mktemp -d /tmp/bench-reads-XXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for db in bench_reads_small bench_reads_big; do
        psql "$PG_SERVER/postgres" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
    done
    redis-cli -u "$REDIS" --scan --pattern "${PREFIX}*" | xargs -r redis-cli -u "$REDIS" del >/dev/null || true
}
trap cleanup EXIT

for db in bench_reads_small bench_reads_big; do
    psql "$PG_SERVER/postgres" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
done
SMALL_URL="$PG_SERVER/bench_reads_small$PG_PARAMS"
BIG_URL="$PG_SERVER/bench_reads_big$PG_PARAMS"

start() { # name, port, database URL, extra env...
    local name=$1 port=$2 url=$3; shift 3
    env DATABASE_URL="$url" SCHEDULER_BIND="127.0.0.1:$port" SCHEDULER_DISPATCHER=off \
        SCHEDULER_REDIS_PREFIX="$PREFIX" RUST_LOG=warn "$@" \
        "$SERVER_BIN" serve >"$OUT/$name.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null && return 0
        sleep 0.2
    done
    echo "server $name did not start; see $OUT/$name.log" >&2
    exit 1
}

SMALL=$((BASE_PORT + 1)); BIG=$((BASE_PORT + 2)); LOCAL=$((BASE_PORT + 3))
SHARED=$((BASE_PORT + 4)); BARE=$((BASE_PORT + 5)); LOCAL2=$((BASE_PORT + 6))
start small "$SMALL" "$SMALL_URL"
start big "$BIG" "$BIG_URL"

echo "== seeding $SMALL_JOBS and $BIG_JOBS jobs and $JOB_RUNS runs by SQL"
seed_jobs() { # database, count
    psql "$PG_SERVER/$1" -q -c "INSERT INTO jobs (name, cron_expression, timezone, start_time, \
        next_run, parameters, is_active, created_at, updated_at) \
        SELECT 'job-' || n, '0 0 1 1 *', 'UTC', now(), \
               CASE WHEN n % 10 = 0 THEN NULL ELSE now() + interval '1 year' + (n % 1000) * interval '1 minute' END, \
               jsonb_build_object('n', n)::text, n % 10 <> 3, now() - n * interval '1 second', now() \
        FROM generate_series(1, $2) AS n"
}
seed_jobs bench_reads_small "$SMALL_JOBS"
seed_jobs bench_reads_big "$BIG_JOBS"
psql "$PG_SERVER/bench_reads_big" -q -c "INSERT INTO job_runs (job_id, scheduled_for, trigger, \
    attempt, status, started_at, finished_at, heartbeat_at, worker) \
    SELECT 1, now() - n * interval '1 minute', 'schedule', 1, 'succeeded', now(), now(), now(), 'seed' \
    FROM generate_series(1, $JOB_RUNS) AS n"
for db in bench_reads_small bench_reads_big; do
    psql "$PG_SERVER/$db" -q -c "VACUUM ANALYZE jobs" -c "VACUUM ANALYZE job_runs"
done

start local "$LOCAL" "$SMALL_URL" REDIS_URL="$REDIS"
start local2 "$LOCAL2" "$SMALL_URL" REDIS_URL="$REDIS"
start shared "$SHARED" "$SMALL_URL" REDIS_URL="$REDIS" SCHEDULER_LOCAL_CACHE=false
curl -sf "http://127.0.0.1:$SMALL/scheduler/jobs/1/" >"$OUT/job.json"
BARE_BODY_FILE="$OUT/job.json" BARE_BIND="127.0.0.1:$BARE" "$BARE_BIN" >"$OUT/bare.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$BARE/scheduler/jobs/1/" >/dev/null && break; sleep 0.1; done

# Cursors in the middle of the big list and of job 1's runs, signed with the deployment's key
# as the server signs them (the format is in scheduler-core/src/cursor.rs).
KEY=$(psql "$PG_SERVER/bench_reads_big" -At -c "SELECT value FROM shared_secrets WHERE name = 'cursor_key'")
MID_JOB=$(psql "$PG_SERVER/bench_reads_big" -At -c "SELECT id FROM jobs ORDER BY id OFFSET $((BIG_JOBS / 2)) LIMIT 1")
MID_RUN=$(psql "$PG_SERVER/bench_reads_big" -At -c "SELECT id FROM job_runs WHERE job_id = 1 ORDER BY id DESC OFFSET $((JOB_RUNS / 2)) LIMIT 1")
cursor() { # scope, position (JSON)
    python3 - "$KEY" "$1" "$2" <<'PY'
import base64, hashlib, hmac, json, sys
key, scope, position = bytes.fromhex(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
payload = json.dumps([scope, "f", position], separators=(",", ":")).encode()
mac = hmac.new(key, b"default\0" + payload, hashlib.sha256).digest()[:12]
print(base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode())
PY
}
JOB_CURSOR=$(cursor "jobs:id" "[$MID_JOB]")
RUN_CURSOR=$(cursor "runs:job:1" "[$MID_RUN]")
for check in "http://127.0.0.1:$BIG/scheduler/jobs/?page_size=50&cursor=$JOB_CURSOR" \
             "http://127.0.0.1:$BIG/scheduler/jobs/1/runs/?page_size=50&cursor=$RUN_CURSOR"; do
    status=$(curl -s -o /dev/null -w '%{http_code}' "$check")
    [ "$status" = 200 ] || { echo "cursor check failed ($status): $check" >&2; exit 1; }
done

SCENARIOS=(
    "list@1k|http://127.0.0.1:$SMALL/scheduler/jobs/?page_size=50"
    "list@1M|http://127.0.0.1:$BIG/scheduler/jobs/?page_size=50"
    "cursor-mid@1M|http://127.0.0.1:$BIG/scheduler/jobs/?page_size=50&cursor=$JOB_CURSOR"
    "runs-cursor-first|http://127.0.0.1:$BIG/scheduler/jobs/1/runs/?page_size=50&cursor="
    "runs-cursor-mid|http://127.0.0.1:$BIG/scheduler/jobs/1/runs/?page_size=50&cursor=$RUN_CURSOR"
    "runs-page-1|http://127.0.0.1:$BIG/scheduler/jobs/1/runs/?page_size=50"
    "get-local|http://127.0.0.1:$LOCAL/|lua"
    "get-redis|http://127.0.0.1:$SHARED/|lua"
    "get-bare|http://127.0.0.1:$BARE/|lua"
)

run() { # label, url, [lua] -> "req/s p99"
    local args=(-t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency)
    [ "${3:-}" = lua ] && args+=(-s bench/get_job.lua)
    local out
    out=$(SEED_JOBS=$SMALL_JOBS timeout $((DURATION + 30)) wrk "${args[@]}" "$2")
    if echo "$out" | grep -q "Non-2xx"; then
        echo "$1: non-2xx answers" >&2; echo "$out" >&2; exit 1
    fi
    local rps p99
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    echo "$rps $p99"
}

echo "== warm-up"
for entry in "${SCENARIOS[@]}"; do
    IFS='|' read -r label url mode <<<"$entry"
    SEED_JOBS=$SMALL_JOBS timeout 20 wrk -t"$THREADS" -c"$CONNECTIONS" -d2s \
        ${mode:+-s bench/get_job.lua} "$url" >/dev/null
done

: >"$OUT/results"
for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round (wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s)"
    for entry in "${SCENARIOS[@]}"; do
        IFS='|' read -r label url mode <<<"$entry"
        result=$(run "$label" "$url" "$mode")
        read -r rps p99 <<<"$result"
        printf '%-18s %10s req/s  p99 %s\n' "$label" "$rps" "$p99"
        echo "$round $label $rps $p99" >>"$OUT/results"
    done
done

echo "== medians over $ROUNDS rounds, and the ratios"
python3 - "$OUT/results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
by = {}
for round_, label, rps, p99 in rows:
    by.setdefault(label, []).append((int(round_), float(rps), p99))
med = {label: statistics.median(r for _, r, _ in v) for label, v in by.items()}
for label, values in by.items():
    spread = ", ".join(f"{r:,.0f}" for _, r, _ in values)
    p99s = ", ".join(p for _, _, p in values)
    print(f"{label:18} median {med[label]:>10,.0f} req/s   rounds: {spread}   p99: {p99s}")
def ratio(a, b, target):
    per_round = []
    for (ra, xa, _), (rb, xb, _) in zip(by[a], by[b]):
        per_round.append(xa / xb)
    print(f"{a} / {b}: median {statistics.median(per_round):.2f} "
          f"(rounds {', '.join(f'{x:.2f}' for x in per_round)}; target >= {target})")
ratio("list@1M", "list@1k", 0.5)
ratio("cursor-mid@1M", "list@1k", 0.5)
ratio("runs-cursor-mid", "runs-cursor-first", 0.5)
ratio("get-local", "get-bare", 0.5)
ratio("get-redis", "get-bare", 0.0)
PY

echo "== staleness: $PAIRS writes on one replica, read on the other (both with local tiers)"
python3 bench/staleness.py "http://127.0.0.1:$LOCAL" "http://127.0.0.1:$LOCAL2" "$PAIRS"
echo "== logs in $OUT"
