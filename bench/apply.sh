#!/usr/bin/env bash
# `schedulerctl apply` of N jobs (default 1,000) in one request, on SQLite and on PostgreSQL,
# beside the reference: the same N jobs created one POST at a time over one kept-alive
# connection (curl, one process). Bounded: ROUNDS × (4 applies + N POSTs) per backend.
#
#   bash bench/apply.sh                  # 3 rounds, 1,000 jobs, release builds
#   ROUNDS=1 JOBS=200 bash bench/apply.sh
#
# Each round on a fresh database: apply (N creates), apply again (N unchanged), apply with
# every description changed (N updates), diff (dry run), then the reference's N POSTs into an
# empty tenant of the same server (a second database). Prints seconds per step per round,
# the medians, and apply's ratio to the reference.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
JOBS=${JOBS:-1000}
PG_SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
PORT=${PORT:-18300}
PROFILE=${PROFILE:-release}
if [ "$PROFILE" = release ]; then
    cargo build --release -q -p scheduler-server --bin scheduler-server
    cargo build --release -q -p schedulerctl
fi
SERVER_BIN=target/$PROFILE/scheduler-server
CTL=target/$PROFILE/schedulerctl

OUT=$(mktemp -d /tmp/bench-apply-XXXX)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    for db in bench_apply bench_apply_ref; do
        psql "$PG_SERVER/postgres" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" 2>/dev/null || true
    done
}
trap cleanup EXIT

# The file: N jobs, a third each cron, interval and HTTP target.
python3 - "$JOBS" "$OUT/jobs.yaml" "$OUT/curl.cfg" "$PORT" <<'PY'
import json, sys
n, path, cfg, port = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
jobs = []
for i in range(n):
    job = {"name": f"job-{i:05d}", "description": "nightly work", "parameters": {"n": i}}
    if i % 3 == 0:
        job["cron_expression"] = f"{i % 60} {i % 24} * * *"
        job["timezone"] = "Europe/London"
    elif i % 3 == 1:
        job["interval_seconds"] = 60 + i
    else:
        job["cron_expression"] = "*/5 * * * *"
        job["target"] = {"type": "http", "url": "http://127.0.0.1:9/hook",
                         "headers": {"Authorization": "Bearer x"}}
    jobs.append(job)
with open(path, "w") as f:
    f.write("owner: bench\njobs:\n")
    for job in jobs:
        f.write("  - " + json.dumps(job) + "\n")  # JSON is YAML: one flow mapping per job
with open(cfg, "w") as f:
    for k, job in enumerate(jobs):
        if k:
            f.write("next\n")
        f.write(f'url = "http://127.0.0.1:{port}/scheduler/jobs/"\n')
        f.write('header = "Content-Type: application/json"\n')
        f.write(f"data = {json.dumps(json.dumps(job))}\n")
        f.write('output = "/dev/null"\n')
PY
sed 's/nightly work/changed work/' "$OUT/jobs.yaml" >"$OUT/changed.yaml"

start() { # database URL
    env DATABASE_URL="$1" SCHEDULER_BIND="127.0.0.1:$PORT" SCHEDULER_DISPATCHER=off \
        SCHEDULER_TARGET_ALLOW=127.0.0.1 RUST_LOG=warn "$SERVER_BIN" serve >>"$OUT/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && return 0
        sleep 0.1
    done
    echo "the server did not start; see $OUT/server.log" >&2
    exit 1
}
stop() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }
seconds() { # command... → elapsed seconds on stdout, the command's output in $OUT/last
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >"$OUT/last" 2>&1 || { cat "$OUT/last" >&2; exit 1; }
    t1=$(date +%s.%N)
    python3 -c "print(f'{$t1 - $t0:.3f}')"
}
ctl() { "$CTL" --url "http://127.0.0.1:$PORT" --timeout 120s "$@"; }
reference() { curl -sf --config "$OUT/curl.cfg"; }

printf '%-10s %-6s %8s %8s %8s %8s %8s\n' backend round create unchanged update diff posts | tee "$OUT/table"
for backend in sqlite postgres; do
    for round in $(seq 1 "$ROUNDS"); do
        if [ "$backend" = sqlite ]; then
            rm -f "$OUT"/apply.db* "$OUT"/ref.db*
            main="sqlite://$OUT/apply.db?mode=rwc" ref="sqlite://$OUT/ref.db?mode=rwc"
        else
            for db in bench_apply bench_apply_ref; do
                psql "$PG_SERVER/postgres" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
            done
            main="$PG_SERVER/bench_apply?sslmode=disable" ref="$PG_SERVER/bench_apply_ref?sslmode=disable"
        fi
        start "$main"
        create=$(seconds ctl apply -f "$OUT/jobs.yaml")
        grep -q "Applied bench: $JOBS created" "$OUT/last" || { cat "$OUT/last" >&2; exit 1; }
        unchanged=$(seconds ctl apply -f "$OUT/jobs.yaml")
        grep -q "$JOBS unchanged" "$OUT/last" || { cat "$OUT/last" >&2; exit 1; }
        update=$(seconds ctl apply -f "$OUT/changed.yaml")
        grep -q "$JOBS updated" "$OUT/last" || { cat "$OUT/last" >&2; exit 1; }
        diff=$(seconds ctl diff -f "$OUT/changed.yaml")
        stop
        start "$ref"
        posts=$(seconds reference)
        count=$(curl -sf "http://127.0.0.1:$PORT/scheduler/jobs/?page_size=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
        [ "$count" = "$JOBS" ] || { echo "the reference stored $count jobs, not $JOBS" >&2; exit 1; }
        stop
        printf '%-10s %-6s %8s %8s %8s %8s %8s\n' "$backend" "$round" "$create" "$unchanged" "$update" "$diff" "$posts" | tee -a "$OUT/table"
    done
done

python3 - "$OUT/table" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]).read().splitlines()[1:]]
for backend in ("sqlite", "postgres"):
    mine = [r for r in rows if r[0] == backend]
    cols = {name: [float(r[i]) for r in mine] for i, name in enumerate(["create", "unchanged", "update", "diff", "posts"], start=2)}
    med = {k: statistics.median(v) for k, v in cols.items()}
    spread = {k: f"{min(v):.2f}-{max(v):.2f}" for k, v in cols.items()}
    print(f"{backend}: median s (spread) " + ", ".join(f"{k} {med[k]:.2f} ({spread[k]})" for k in cols))
    print(f"{backend}: apply of N creates / N single POSTs = {med['create'] / med['posts']:.2f}")
PY
