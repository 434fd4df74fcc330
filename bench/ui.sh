#!/usr/bin/env bash
# Server time of every dashboard page on PostgreSQL with 100,000 jobs and 1,000,000 runs.
#
#   bash bench/ui.sh                 # seeds bench_ui (kept for the next run), release build
#   RESEED=1 bash bench/ui.sh        # seed again
#   SERVER_BIN=target/debug/scheduler-server bash bench/ui.sh
#
# Seeding is plain SQL (generate_series): 100,000 jobs of the `default` tenant (a tenth
# paused), 10 runs per job spread over the last 30 days (statuses mixed, about 1 in 10
# failed), and the last hour's runs. The server runs with the dispatcher off (it must not fire
# the seeded jobs during the measurement) and logs one line per request with its latency
# (`latency_us`, measured around the whole handler by the log middleware); each page is
# requested REQUESTS times after WARMUP requests, one at a time, and the script prints the
# server-side min / median / p95 / max per page from that log. The budget is 50 ms.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
BENCH_DB=${BENCH_DB:-bench_ui}
PORT=${PORT:-18181}
REQUESTS=${REQUESTS:-40}
WARMUP=${WARMUP:-5}
JOBS=${JOBS:-100000}
RUNS_PER_JOB=${RUNS_PER_JOB:-10}
SERVER_BIN=${SERVER_BIN:-}
BUDGET_MS=${BUDGET_MS:-50}

if [ -z "$SERVER_BIN" ]; then
    cargo build --release -q -p scheduler-server
    SERVER_BIN=target/release/scheduler-server
fi
DATABASE_URL="$PG_SERVER/$BENCH_DB?sslmode=disable"
export DATABASE_URL

exists=$(psql "$PG_SERVER/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$BENCH_DB'")
if [ -n "${RESEED:-}" ] || [ "$exists" != "1" ]; then
    echo "== seeding $BENCH_DB: $JOBS jobs, $((JOBS * RUNS_PER_JOB)) runs"
    psql "$PG_SERVER/postgres" -q -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" \
        -c "CREATE DATABASE $BENCH_DB"
    "$SERVER_BIN" migrate >/dev/null
    started=$(date +%s)
    psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO jobs (name, description, cron_expression, timezone, start_time, next_run,
                  last_run, last_status, parameters, is_active, created_at, updated_at)
SELECT 'job-' || lpad(i::text, 6, '0'), 'seeded', '*/5 * * * *', 'UTC',
       now() - interval '30 days',
       CASE WHEN i % 10 = 0 THEN NULL
            ELSE date_trunc('hour', now()) + interval '1 hour' + (i % 60) * interval '1 minute' END,
       now() - (i % 3600) * interval '1 second',
       CASE WHEN i % 10 = 3 THEN 'failed' ELSE 'succeeded' END,
       jsonb_build_object('n', i)::text, i % 10 <> 0, now() - interval '30 days', now()
FROM generate_series(1, $JOBS) AS i;

INSERT INTO job_runs (job_id, scheduled_for, trigger, attempt, retries, status, started_at,
                      finished_at, heartbeat_at, error, worker)
SELECT j, at, 'schedule', 1, 0,
       CASE WHEN (j + k) % 10 = 3 THEN 'failed' WHEN (j + k) % 97 = 5 THEN 'timed_out'
            ELSE 'succeeded' END,
       at, at + interval '250 milliseconds', at,
       CASE WHEN (j + k) % 10 = 3 THEN 'HTTP 500 from the receiver' END,
       'bench'
FROM generate_series(1, $JOBS) AS j,
     generate_series(1, $RUNS_PER_JOB) AS k,
     LATERAL (SELECT now() - ((j * 7919 + k * 104729) % (30 * 86400)) * interval '1 second' AS at) t;

-- Runs inserted in id order by job are not in time order; the newest ids are the last
-- hour's, as on a live system.
INSERT INTO job_runs (job_id, scheduled_for, trigger, attempt, retries, status, started_at,
                      finished_at, heartbeat_at, error, worker)
SELECT 1 + (i * 37) % $JOBS, now() - i * interval '1 second', 'schedule', 2, 0,
       CASE WHEN i % 10 = 3 THEN 'failed' ELSE 'succeeded' END,
       now() - i * interval '1 second', now() - i * interval '1 second' + interval '1 second',
       now(), CASE WHEN i % 10 = 3 THEN 'connection refused' END, 'bench'
FROM generate_series(1, 3600) AS i;
VACUUM ANALYZE jobs;
VACUUM ANALYZE job_runs;
SQL
    echo "   seeded in $(( $(date +%s) - started )) s"
fi
psql "$DATABASE_URL" -tAc "SELECT 'jobs: ' || (SELECT count(*) FROM jobs) || ', runs: ' || (SELECT count(*) FROM job_runs)"

KEY=$(psql "$DATABASE_URL" -tAc "SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1")
if [ "$KEY" != "1" ] || [ ! -s "target/bench-ui.key" ]; then
    "$SERVER_BIN" keys create --tenant default --scope admin --name bench-ui 2>/dev/null \
        | grep -E "^sk_" | tail -n 1 >target/bench-ui.key
fi
KEY=$(cat target/bench-ui.key)

LOG=$(mktemp /tmp/scheduler-bench-ui-XXXX.log)
SCHEDULER_BIND="127.0.0.1:$PORT" SCHEDULER_DISPATCHER=off SCHEDULER_LOG_FORMAT=json \
    SCHEDULER_RATE_LIMIT=0 RUST_LOG=info "$SERVER_BIN" serve >>"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
    sleep 0.1
done

# The second page of a table, by the cursor in its "Next" link.
next_of() {
    curl -s -H "Cookie: scheduler_key=$KEY" "http://127.0.0.1:$PORT$1" \
        | grep -o 'href="[^"]*" rel="next"' | head -n 1 | sed 's/^href="//; s/" rel="next"$//; s/&amp;/\&/g'
}
JOB_ID=$(psql "$DATABASE_URL" -tAc "SELECT id FROM jobs ORDER BY id LIMIT 1 OFFSET 4242")
JOBS_NEXT=$(next_of "/ui/")
RUNS_NEXT=$(next_of "/ui/runs")
[ -n "$JOBS_NEXT" ] && [ -n "$RUNS_NEXT" ] || { echo "no Next link on /ui/ or /ui/runs" >&2; exit 1; }
PAGES=(
    "/ui/"
    "/ui/?state=paused"
    "$JOBS_NEXT"
    "/ui/?name=job-0543"
    "/ui/jobs/$JOB_ID"
    "/ui/jobs/$JOB_ID?status=failed"
    "/ui/jobs/$JOB_ID/edit"
    "/ui/jobs/new"
    "/ui/runs"
    "/ui/runs?status=failed"
    "/ui/runs?status=failed&since=24h"
    "/ui/runs?since=1h"
    "$RUNS_NEXT"
    "/ui/preview?cron_expression=0+9+*+*+1&timezone=Europe%2FLondon"
)
for page in "${PAGES[@]}"; do
    for i in $(seq 1 $((WARMUP + REQUESTS))); do
        # The log is written by a background thread: let it catch up before the mark.
        if [ "$i" -eq $((WARMUP + 1)) ]; then sleep 0.3; echo "MARK $page" >>"$LOG"; fi
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: scheduler_key=$KEY" \
            "http://127.0.0.1:$PORT$page")
        [ "$code" = 200 ] || { echo "$page answered $code" >&2; exit 1; }
    done
    sleep 0.3; echo "END" >>"$LOG"
done
sleep 0.3
kill $SERVER; wait $SERVER 2>/dev/null || true; trap - EXIT

python3 - "$LOG" "$BUDGET_MS" <<'PY'
import json, sys
log, budget = sys.argv[1], float(sys.argv[2])
current, samples, order = None, {}, []
for line in open(log):
    if line.startswith("MARK "):
        current = line[5:].strip(); order.append(current); samples[current] = []
        continue
    if line.startswith("END"):
        current = None
        continue
    try:
        entry = json.loads(line)
    except ValueError:
        continue
    fields = entry.get("fields", entry)
    if current and fields.get("message") == "request" and "latency_us" in fields:
        samples[current].append(fields["latency_us"] / 1000)
worst = 0.0
print(f"{'page':58} {'n':>3} {'min':>7} {'median':>7} {'p95':>7} {'max':>7}  (server ms)")
for page in order:
    s = sorted(samples[page])
    if not s:
        print(f"{page:58} no samples"); continue
    p95 = s[min(len(s) - 1, int(len(s) * 0.95))]
    worst = max(worst, p95)
    print(f"{page:58} {len(s):>3} {s[0]:7.2f} {s[len(s)//2]:7.2f} {p95:7.2f} {s[-1]:7.2f}")
print(f"worst p95: {worst:.2f} ms (budget {budget:.0f} ms)")
sys.exit(0 if worst <= budget else 1)
PY
