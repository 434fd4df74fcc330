//! The raw SQL of the dispatch path, where one statement does what sea-orm's builder would
//! need one statement per row (or per distinct value) for. Batches travel as one JSON
//! parameter (`json_to_recordset` on PostgreSQL, `json_each` on SQLite): one statement shape
//! whatever the batch size, NULLs included, and no statement-cache churn.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{DbBackend, Statement, Value};

/// An instant as both databases read it from JSON text (microseconds, `Z`).
pub(super) fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A PostgreSQL array literal of ids (`{1,2,3}`), bound as text and cast in SQL.
pub(super) fn id_array(ids: impl IntoIterator<Item = i64>) -> String {
    let mut text = String::from("{");
    for (n, id) in ids.into_iter().enumerate() {
        if n > 0 {
            text.push(',');
        }
        text.push_str(&id.to_string());
    }
    text.push('}');
    text
}

/// The claim's condition that a job's receiving host is not held: a throttled delivery
/// (`scheduler_core::HostHold`) left a row in `host_holds` until its `Retry-After` ends. `$1`
/// is the claim's instant on PostgreSQL; SQLite binds it as the one `?`.
pub(super) const HELD_HOSTS: &str =
    "coalesce(target_host, '') NOT IN (SELECT host FROM host_holds WHERE until > $1)";

/// Claim step 1 on PostgreSQL: locks up to `$2` due jobs without a target and up to `$3`
/// with one (rows held by other claims skipped), leaving out jobs whose `target_host` is in
/// the JSON array `$4` or held ([`HELD_HOSTS`]) — **shared fairly between tenants**: each
/// tenant with due jobs of a kind gets an equal share of that kind's budget first (its
/// earliest), and what the shares left unused goes to the earliest due jobs of any tenant.
/// One tenant's 100,000 fires at an instant thus take at most half of each claim while
/// another tenant has due fires, instead of every claim until they are drained.
///
/// The tenants with due jobs are found by a skip scan of `jobs_due_*_tenant_idx`
/// (`(tenant, next_run, id)`): two index probes per tenant with active jobs of the kind,
/// whatever the number of jobs.
///
/// With `weights` (tenant → weight, 1 when missing), a tenant's share is
/// `ceil(budget × weight / sum of the weights of the tenants with due jobs)` instead.
pub(super) fn lock_due(
    now: DateTime<Utc>,
    handlers: u32,
    deliveries: u32,
    saturated_hosts: &[String],
    weights: &BTreeMap<&str, u32>,
) -> Statement {
    // The host key is the core's, stored with the job; a row written without it (by an
    // older replica) counts as no host rather than as every host.
    let host_filter = if saturated_hosts.is_empty() {
        format!("AND {HELD_HOSTS}")
    } else {
        format!(
            "AND {HELD_HOSTS} \
             AND coalesce(target_host, '') NOT IN (SELECT json_array_elements_text($4::json))"
        )
    };
    // The weights' parameter comes after the others.
    let weights_param = if saturated_hosts.is_empty() { 4 } else { 5 };
    let weight =
        |tenant: &str| format!("coalesce((${weights_param}::jsonb ->> {tenant})::numeric, 1)");
    let share = |name: &str, limit: &str| {
        if weights.is_empty() {
            format!("SELECT ceil({limit}::numeric / greatest(count(*), 1)) FROM {name}_due")
        } else {
            format!(
                "SELECT ceil({limit}::numeric * {} / greatest(sum({}), 1)) \
                 FROM {name}_due AS u",
                weight("d.tenant"),
                weight("u.tenant")
            )
        }
    };
    let kind = |name: &str, target: &str, filter: &str, limit: &str| {
        let share = share(name, limit);
        format!(
            "{name}_tenants(tenant) AS (\
                (SELECT tenant FROM jobs WHERE is_active AND {target} ORDER BY tenant LIMIT 1) \
                UNION ALL \
                SELECT (SELECT j.tenant FROM jobs AS j \
                    WHERE j.is_active AND j.{target} AND j.tenant > t.tenant \
                    ORDER BY j.tenant LIMIT 1) \
                FROM {name}_tenants AS t WHERE t.tenant IS NOT NULL\
             ), {name}_due AS (\
                SELECT t.tenant FROM {name}_tenants AS t \
                WHERE t.tenant IS NOT NULL AND EXISTS (SELECT 1 FROM jobs AS j \
                    WHERE j.tenant = t.tenant AND j.is_active AND j.{target} \
                    AND j.next_run <= $1)\
             ), {name}_fair AS (\
                SELECT x.* FROM {name}_due AS d CROSS JOIN LATERAL (\
                    SELECT * FROM jobs AS j \
                    WHERE j.tenant = d.tenant AND j.is_active AND j.{target} \
                        AND j.next_run <= $1 {filter} \
                    ORDER BY j.next_run, j.id \
                    LIMIT ({share})::bigint \
                    FOR UPDATE OF j SKIP LOCKED) AS x\
             ), {name}_fill AS (\
                SELECT * FROM jobs \
                WHERE is_active AND {target} AND next_run <= $1 {filter} \
                    AND id NOT IN (SELECT id FROM {name}_fair) \
                ORDER BY next_run, id \
                LIMIT greatest({limit} - (SELECT count(*) FROM {name}_fair), 0) \
                FOR UPDATE SKIP LOCKED\
             )"
        )
    };
    let sql = format!(
        "WITH RECURSIVE {}, {} \
         SELECT * FROM handlers_fair UNION ALL SELECT * FROM handlers_fill \
         UNION ALL SELECT * FROM deliveries_fair UNION ALL SELECT * FROM deliveries_fill",
        kind("handlers", "target IS NULL", "", "$2"),
        kind("deliveries", "target IS NOT NULL", &host_filter, "$3"),
    );
    let mut values: Vec<Value> = vec![
        now.into(),
        i64::from(handlers).into(),
        i64::from(deliveries).into(),
    ];
    if !saturated_hosts.is_empty() {
        values.push(json_text(&serde_json::json!(saturated_hosts)).into());
    }
    if !weights.is_empty() {
        values.push(json_text(&serde_json::json!(weights)).into());
    }
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// Claim step 3 on PostgreSQL: which of these jobs have a run `running` now — for each job
/// asked, a probe of the partial index `job_runs_running_job_idx`. (Written as
/// `job_id = ANY($1::text::bigint[])`, the planner, with statistics from before a burst,
/// scanned every running run and parsed the whole id list again for each: 41 s for 8,000
/// ids against 100,000 running runs, measured; as a hash join, 24 ms.)
pub(super) fn running_jobs(job_ids: &[i64]) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT DISTINCT r.job_id FROM unnest($1::text::bigint[]) AS asked(job_id) \
         JOIN job_runs AS r ON r.job_id = asked.job_id \
         WHERE r.status = 'running'",
        [id_array(job_ids.iter().copied()).into()],
    )
}

/// One planned fire, as the claim's write statement reads it.
#[derive(serde::Serialize)]
pub(super) struct PlannedFire {
    /// The job.
    pub(super) job_id: i64,
    /// The fire served.
    pub(super) scheduled_for: String,
    /// When it was due, for a job with jitter.
    pub(super) due_at: Option<String>,
    /// The job's next fire (its due time).
    pub(super) next_run: Option<String>,
    /// Its schedule instant, for a job with jitter.
    pub(super) next_fire: Option<String>,
    /// The job's `last_run` afterwards.
    pub(super) last_run: Option<String>,
    /// `running` or `skipped` (the run's status and the job's `last_status`).
    pub(super) status: &'static str,
    /// Why it was skipped.
    pub(super) error: Option<String>,
    /// The job's count of scheduled fires that ran, as the core computed it (the row is
    /// locked by the claim).
    pub(super) fire_count: i64,
}

/// Claim steps 4 and 5 on PostgreSQL in one statement: advances every planned job
/// (`next_run`, `next_fire`, `last_run`, `last_status`, `last_error`, `run_count + 1`,
/// `fire_count`) and inserts its
/// run (`running` for `$3` at `$2`, or `skipped`); returns each run's `id` and `job_id`.
/// The planner sees the JSON as 100 rows of unknown ids: joined on `j.id` alone it hashes a
/// sequential scan of `jobs` when the table is small (10,000 rows: 2 ms of a 25 ms claim of
/// 500), so the ids are also given as an array, which it reads from the primary key.
pub(super) fn write_fires(fires: &[PlannedFire], now: DateTime<Utc>, worker: &str) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        "WITH planned AS (\
            SELECT * FROM json_to_recordset($1::json) AS p(\
                job_id bigint, scheduled_for timestamptz, due_at timestamptz, \
                next_run timestamptz, next_fire timestamptz, last_run timestamptz, \
                status text, error text, fire_count bigint)\
         ), advanced AS (\
            UPDATE jobs AS j SET next_run = p.next_run, next_fire = p.next_fire, \
                last_run = p.last_run, \
                last_status = p.status, last_error = p.error, run_count = j.run_count + 1, \
                fire_count = p.fire_count \
            FROM planned AS p \
            WHERE j.id = p.job_id AND j.id = ANY(ARRAY(SELECT job_id FROM planned))\
         ) \
         INSERT INTO job_runs (job_id, scheduled_for, due_at, trigger, attempt, retries, \
             status, started_at, finished_at, heartbeat_at, error, worker) \
         SELECT p.job_id, p.scheduled_for, p.due_at, 'schedule', 1, 0, p.status, $2::timestamptz, \
             CASE WHEN p.status = 'running' THEN NULL ELSE $2::timestamptz END, \
             $2::timestamptz, p.error, $3 \
         FROM planned AS p \
         RETURNING id, job_id",
        [
            json_text(fires).into(),
            now.into(),
            worker.to_string().into(),
        ],
    )
}

/// One outcome, as the finish statement reads it.
#[derive(serde::Serialize, Default)]
pub(super) struct Outcome {
    /// The run.
    pub(super) id: i64,
    /// Its final status.
    pub(super) status: &'static str,
    /// Why it failed.
    pub(super) error: Option<String>,
    /// When it ended.
    pub(super) finished_at: String,
    /// When it is retried.
    pub(super) retry_at: Option<String>,
    /// Whether the job shows this outcome (the core's rule: the latest attempt at the latest
    /// fire of each job in the batch).
    pub(super) job_status: bool,
    /// What the target answered, when anything is kept: content type, text, truncated, size.
    pub(super) output_type: Option<String>,
    /// The text kept (`None`: no output row).
    pub(super) output_body: Option<String>,
    /// Whether more was answered than kept.
    pub(super) output_truncated: Option<bool>,
    /// The answer's size.
    pub(super) output_size: Option<i64>,
}

impl Outcome {
    /// The output columns of `output`.
    pub(super) fn with_output(mut self, output: Option<&scheduler_core::RunOutput>) -> Self {
        if let Some(output) = output {
            self.output_type.clone_from(&output.content_type);
            self.output_body = Some(output.body.clone());
            self.output_truncated = Some(output.truncated);
            self.output_size = Some(i64::try_from(output.size).unwrap_or(i64::MAX));
        }
        self
    }
}

/// `RunStore::finish_many` on PostgreSQL in one statement: every `running` run of the batch
/// gets its outcome; the outcomes marked `job_status` (chosen by the core) set their job's
/// `last_status`/`last_error` when their run was stored here and their fire is still the
/// job's `last_run`. (Two replicas' batches
/// touching the same jobs in opposite orders could deadlock; PostgreSQL then fails one, which
/// the dispatcher retries. Locking the job rows in id order first cost as much again as the
/// update, measured.) The runs are read by primary key: written `r.status = 'running'`,
/// the condition lets the planner read the partial index of running runs instead, which its
/// statistics (taken before the burst) show as a few rows, while during a burst it holds an
/// entry for every run started since the last vacuum — each batch read all of them, so a
/// 100,000-fire burst cost 148 µs of database CPU per fire against 106 for the same
/// protocol by primary key (`bench/dispatch.sh`). `(...) IS TRUE` is the same test that the
/// planner cannot match to the index's predicate. Answers the jobs (`job_id`) of stored
/// successes that have an open alert streak (`job_alerts`, nearly always none): the caller
/// weighs those successes next (a `recovered` message).
pub(super) fn finish_runs(outcomes: &[Outcome]) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "{FINISH_RUNS}, shown AS ({FINISH_JOB_STATUS}) \
             SELECT DISTINCT a.job_id FROM job_alerts AS a \
             JOIN finished AS f ON f.job_id = a.job_id WHERE f.status = 'succeeded'"
        ),
        [json_text(outcomes).into()],
    )
}

/// [`finish_runs`], answering the id of every run it stored (`id`): for a batch with
/// outcomes of jobs that pause themselves, whose failure streaks follow the stored outcomes
/// only.
pub(super) fn finish_runs_returning(outcomes: &[Outcome]) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("{FINISH_RUNS}, shown AS ({FINISH_JOB_STATUS}) SELECT id FROM finished"),
        [json_text(outcomes).into()],
    )
}

/// The outcomes (`$1`, a JSON array of [`Outcome`]), the runs they stored (`finished`) and
/// the outputs kept for those runs (`kept`).
const FINISH_RUNS: &str = "WITH done AS (\
        SELECT * FROM json_to_recordset($1::json) AS d(\
            id bigint, status text, error text, finished_at timestamptz, \
            retry_at timestamptz, job_status boolean, output_type text, output_body text, \
            output_truncated boolean, output_size bigint)\
     ), finished AS (\
        UPDATE job_runs AS r SET status = d.status, error = d.error, \
            finished_at = d.finished_at, retry_at = d.retry_at \
        FROM done AS d \
        WHERE r.id = d.id AND r.id = ANY(ARRAY(SELECT id FROM done)) \
            AND (r.status = 'running') IS TRUE \
        RETURNING r.id, r.job_id, r.scheduled_for, d.status, d.error, d.job_status\
     ), kept AS (\
        INSERT INTO run_outputs (run_id, content_type, body, truncated, size) \
        SELECT d.id, d.output_type, d.output_body, d.output_truncated, d.output_size \
        FROM done AS d JOIN finished AS f ON f.id = d.id WHERE d.output_body IS NOT NULL \
        ON CONFLICT (run_id) DO NOTHING\
     )";

/// The jobs' status from the stored outcomes the core chose.
const FINISH_JOB_STATUS: &str = "UPDATE jobs AS j SET last_status = f.status, last_error = f.error \
     FROM finished AS f \
     WHERE f.job_status AND j.id = f.job_id AND j.last_run = f.scheduled_for";

/// `RunStore::heartbeat` on PostgreSQL: one statement for any number of runs, read by
/// primary key (see [`finish_runs`] for the `IS TRUE`; the id list is read once, as an
/// init plan, not again for each row). A run whose row is locked is
/// skipped: its outcome is being stored this moment, and waiting for it deadlocked with
/// that batch (the two lock the same runs in different orders; PostgreSQL then fails one
/// after a second, measured in `bench/dispatch.sh`).
pub(super) fn heartbeat(ids: &[i64], now: DateTime<Utc>) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        "WITH live AS (\
            SELECT r.id FROM job_runs AS r \
            WHERE r.id = ANY(ARRAY(SELECT unnest($2::text::bigint[]))) \
                AND (r.status = 'running') IS TRUE \
            FOR UPDATE OF r SKIP LOCKED\
         ) \
         UPDATE job_runs AS r SET heartbeat_at = $1 FROM live WHERE r.id = live.id",
        [now.into(), id_array(ids.iter().copied()).into()],
    )
}

/// Deletes the runs chosen by the `victims` CTE (a `SELECT id ...`) and lowers their jobs'
/// `run_count` in the same statement; answers `deleted`.
fn delete_victims(victims: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "WITH victims AS ({victims}), \
             gone AS (DELETE FROM job_runs WHERE id IN (SELECT id FROM victims) RETURNING job_id), \
             counted AS (SELECT job_id, count(*) AS n FROM gone GROUP BY job_id), \
             adjusted AS (\
                UPDATE jobs AS j SET run_count = greatest(j.run_count - c.n, 0) \
                FROM counted AS c WHERE j.id = c.job_id) \
             SELECT coalesce(sum(n), 0)::bigint AS deleted FROM counted"
        ),
        values,
    )
}

/// Prune by age on PostgreSQL: at most `$2` ended runs fired before `$1`, oldest first (the
/// `job_runs_scheduled_idx` range, so the cost follows what is deleted).
pub(super) fn prune_older_than(cutoff: DateTime<Utc>, batch: u32) -> Statement {
    delete_victims(
        "SELECT id FROM job_runs \
         WHERE scheduled_for < $1 AND status <> 'running' AND retry_at IS NULL \
         ORDER BY scheduled_for LIMIT $2",
        vec![cutoff.into(), i64::from(batch).into()],
    )
}

/// Prune by the per-job cap on PostgreSQL: for each job with more than `$1` runs
/// (`jobs.run_count`), its oldest `run_count - $1` runs (read in order from the fire key
/// index) except running ones and ones awaiting a retry, at most `$2` in all.
pub(super) fn prune_over_cap(keep: u32, batch: u32) -> Statement {
    delete_victims(
        "SELECT r.id FROM jobs AS o \
         CROSS JOIN LATERAL (\
            SELECT id, status, retry_at FROM job_runs WHERE job_id = o.id \
            ORDER BY scheduled_for, attempt LIMIT o.run_count - $1) AS r \
         WHERE o.run_count > $1 AND r.status <> 'running' AND r.retry_at IS NULL \
         LIMIT $2",
        vec![i64::from(keep).into(), i64::from(batch).into()],
    )
}

/// The earliest `next_run` of an active job (both due indexes), as `earliest`.
pub(super) fn next_due(backend: DbBackend) -> Statement {
    let handlers = "(SELECT min(next_run) FROM jobs WHERE is_active AND target IS NULL)";
    let deliveries = "(SELECT min(next_run) FROM jobs WHERE is_active AND target IS NOT NULL)";
    let sql = match backend {
        DbBackend::Postgres => format!("SELECT LEAST({handlers}, {deliveries}) AS earliest"),
        // SQLite's two-argument min is NULL when either is.
        _ => format!(
            "SELECT min(coalesce({handlers}, {deliveries}), coalesce({deliveries}, {handlers})) \
             AS earliest"
        ),
    };
    Statement::from_string(backend, sql)
}

/// How many active jobs are due at `now` (both due indexes), as `due`.
pub(super) fn due_backlog(backend: DbBackend, now: DateTime<Utc>) -> Statement {
    let p = match backend {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    let sql = format!(
        "SELECT (SELECT count(*) FROM jobs WHERE is_active AND target IS NULL AND next_run <= {p}) \
         + (SELECT count(*) FROM jobs WHERE is_active AND target IS NOT NULL AND next_run <= {p}) \
         AS due"
    );
    let values: Vec<Value> = match backend {
        DbBackend::Postgres => vec![now.into()],
        _ => vec![now.into(), now.into()],
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Each tenant's count of active jobs due at `now` (both due indexes, then the rows for
/// their tenant), as `tenant`, `due`.
pub(super) fn due_by_tenant(backend: DbBackend, now: DateTime<Utc>) -> Statement {
    let p = match backend {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    let sql = format!(
        "SELECT tenant, CAST(sum(n) AS BIGINT) AS due FROM (\
            SELECT tenant, count(*) AS n FROM jobs \
            WHERE is_active AND target IS NULL AND next_run <= {p} GROUP BY tenant \
            UNION ALL \
            SELECT tenant, count(*) AS n FROM jobs \
            WHERE is_active AND target IS NOT NULL AND next_run <= {p} GROUP BY tenant\
         ) AS kinds GROUP BY tenant ORDER BY tenant"
    );
    let values: Vec<Value> = match backend {
        DbBackend::Postgres => vec![now.into()],
        _ => vec![now.into(), now.into()],
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// JSON text of a value the dispatch path made (plain structs and strings: serializing
/// them cannot fail; an empty array stands in should it ever).
pub(super) fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_string())
}

#[cfg(test)]
mod tests {
    // Tests: a broken expectation is a failure.
    #![allow(clippy::unwrap_used)]
    use super::*;
    use scheduler_migration::{Migrator, MigratorTrait};
    use sea_orm::ConnectionTrait;

    /// The plan PostgreSQL makes for `statement`, as text.
    async fn plan(db: &sea_orm::DatabaseConnection, statement: Statement) -> String {
        let explain = Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("EXPLAIN {}", statement.sql),
            statement.values.map(|v| v.0).unwrap_or_default(),
        );
        let rows = db.query_all_raw(explain).await.unwrap();
        rows.iter()
            .map(|row| row.try_get_by_index::<String>(0).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// At the start of a burst the statistics of `job_runs` are from before it (here: taken
    /// of an empty table), while the table holds thousands of running runs. The outcome
    /// batch and the heartbeat must still read runs by primary key, not through the partial
    /// indexes of running runs (which hold every run started since the last vacuum), and
    /// the check for running runs must not parse its id list once per row.
    #[tokio::test]
    async fn dispatch_statements_read_runs_by_key_with_statistics_from_before_a_burst() {
        let Some(pg) = scheduler_test_support::postgres().await else {
            return;
        };
        let db = crate::connect(&crate::DatabaseConfig::new(&pg.url))
            .await
            .unwrap();
        Migrator::up(&db, None).await.unwrap();
        for sql in [
            "INSERT INTO jobs (name, cron_expression, timezone, start_time, next_run, \
             parameters, is_active, created_at, updated_at) \
             SELECT 'job-' || n, '0 0 1 1 *', 'UTC', now(), now(), '{}', true, now(), now() \
             FROM generate_series(1, 20000) AS n",
            "ANALYZE jobs",
            "ANALYZE job_runs",
            "INSERT INTO job_runs (job_id, scheduled_for, trigger, attempt, status, \
             started_at, heartbeat_at, worker) \
             SELECT id, now(), 'schedule', 1, 'running', now(), now(), 'w' FROM jobs",
        ] {
            db.execute_unprepared(sql).await.unwrap();
        }
        let now = Utc::now();
        let ids: Vec<i64> = (1..=100).collect();
        let outcomes: Vec<Outcome> = ids
            .iter()
            .map(|id| Outcome {
                id: *id,
                status: "succeeded",
                error: None,
                finished_at: instant(now),
                retry_at: None,
                job_status: true,
                ..Outcome::default()
            })
            .collect();
        for (what, statement) in [
            ("outcome batch", finish_runs(&outcomes)),
            ("heartbeat", heartbeat(&ids, now)),
        ] {
            let plan = plan(&db, statement).await;
            assert!(plan.contains("job_runs_pkey"), "{what}:\n{plan}");
            assert!(!plan.contains("job_runs_running"), "{what}:\n{plan}");
        }
        let plan = plan(&db, running_jobs(&ids)).await;
        assert!(!plan.contains("Filter: (job_id = ANY"), "{plan}");
    }

    #[test]
    fn id_arrays_are_postgres_array_literals() {
        assert_eq!(id_array([]), "{}");
        assert_eq!(id_array([1, -2, 30]), "{1,-2,30}");
    }
}
