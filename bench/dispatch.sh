#!/usr/bin/env bash
# Dispatch at scale, side by side on one PostgreSQL database (one command, everything printed):
# the project's dispatch with a no-op handler (1 and 2 replicas; 10,000 and 100,000 fires due
# at one instant), the same claim protocol as plain SQL through pgbench (the limit), HTTP
# deliveries to a local receiver answering after DISPATCH_HTTP_DELAY_MS (200), dispatch while
# a 1M-row run history is pruned, and pruning by delete against dropping a partition. Every
# scenario is bounded (180 s) and the rounds are interleaved, so each "of limit" ratio
# compares runs made on the same machine minutes apart; the summary shows the spread.
#
#   bash bench/dispatch.sh                                  # 3 rounds, default scenarios
#   DISPATCH_ROUNDS=1 DISPATCH_SCENARIOS=sql:10000:4:500,ours:10000:2 bash bench/dispatch.sh
#
# Settings: BENCH_DATABASE_URL (a server URL, default postgres://postgres@127.0.0.1:5432/postgres;
# the bench creates and drops its own database bench_dispatch_<pid> there), DISPATCH_ROUNDS,
# DISPATCH_SCENARIOS (sql:<jobs>:<clients>:<batch>, ours:<jobs>:<replicas>,
#   tenants:<big>:<small>:<replicas> (the small tenant's lateness while the big one drains),
# http:<jobs>:<replicas>, prune:<jobs>:<replicas>:<history rows>), DISPATCH_HTTP_DELAY_MS,
# DISPATCH_PARTITION_ROWS (0 skips that experiment), PGBENCH, DISPATCH_CONFIG (dispatcher
# settings over the defaults, e.g. claims_in_flight=1,max_batch_size=500), and for a profile
# DISPATCH_LOG_STATEMENTS=1 (every statement and its duration in the server log) or
# DISPATCH_EXPLAIN_MS=<ms> (the plan of every statement slower than that). Needs pgbench (PostgreSQL's
# client tools; Debian: postgresql-client) and about 2 GB free in the database.
set -euo pipefail
cd "$(dirname "$0")/.."

export PGBENCH=${PGBENCH:-pgbench}
command -v "$PGBENCH" >/dev/null || {
    echo "pgbench is not installed (Debian: apt-get install postgresql-client)" >&2
    exit 1
}
# The replicas, the receiver and pgbench each open connections; the receiver takes up to
# one per in-flight delivery.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec cargo bench -q -p scheduler-adapters --bench dispatch
