-- The claim protocol of the dispatcher as plain SQL, for pgbench (bench/dispatch.sh runs it
-- beside the dispatcher on the same database): the limit a client of this database can reach
-- with the same statements and the same indexes. One pgbench transaction is one claim of up
-- to :batch due jobs without a target, then one statement finishing them as succeeded.
--
--   BEGIN; lock the due rows (FOR UPDATE SKIP LOCKED, earliest first);
--   one write: advance the jobs (next yearly fire, last_run, last_status, run_count) and
--   insert their runs; COMMIT;
--   one write: mark those runs succeeded and set the jobs' last_status.
--
-- Runs are read by primary key, as the dispatcher reads them: `(status = 'running') IS TRUE`
-- keeps the planner off the partial index of running runs, whose statistics predate the burst.
--
-- The dispatcher additionally reads every column of the locked rows, validates them,
-- computes next_run with the cron rules, executes the runs and records their outcomes in
-- batches of whatever finished meanwhile.
BEGIN;
SELECT coalesce(array_agg(id), '{}') AS ids FROM (
    SELECT id FROM jobs
    WHERE is_active AND target IS NULL AND next_run <= now()
    ORDER BY next_run, id LIMIT :batch
    FOR UPDATE SKIP LOCKED
) AS due \gset
WITH advanced AS (
    UPDATE jobs SET last_run = next_run, next_run = next_run + interval '1 year',
        last_status = 'running', last_error = NULL, run_count = run_count + 1
    WHERE id = ANY(:ids::bigint[])
    RETURNING id, last_run
), inserted AS (
    INSERT INTO job_runs (job_id, scheduled_for, trigger, attempt, retries, status,
        started_at, heartbeat_at, worker)
    SELECT id, last_run, 'schedule', 1, 0, 'running', clock_timestamp(), clock_timestamp(),
        'pgbench'
    FROM advanced
    RETURNING id
)
SELECT coalesce(array_agg(id), '{}') AS runs FROM inserted \gset
COMMIT;
WITH finished AS (
    UPDATE job_runs SET status = 'succeeded', finished_at = clock_timestamp()
    WHERE id = ANY(:runs::bigint[]) AND (status = 'running') IS TRUE
    RETURNING job_id, scheduled_for
)
UPDATE jobs SET last_status = 'succeeded', last_error = NULL
FROM finished WHERE jobs.id = finished.job_id AND jobs.last_run = finished.scheduled_for;
