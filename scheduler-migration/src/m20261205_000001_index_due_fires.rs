//! Dispatch at scale: the claim's indexes match its queries exactly, and each job counts its
//! runs for the per-job history cap.
//!
//! - `jobs_due_idx (next_run) WHERE is_active` becomes two indexes on `(next_run, id)`, one
//!   for jobs without a target (handler runs) and one for jobs with one (HTTP deliveries): a
//!   claim takes each kind up to its own capacity, earliest first with ties by id, straight
//!   from the index. On `(next_run)` alone, `ORDER BY next_run, id LIMIT n` had to read and
//!   sort every due row for each claim, so a burst of N due fires cost O(N²).
//! - `job_runs_running_job_idx (job_id) WHERE status = 'running'`: the `forbid` check ("is a
//!   run of this job running?") reads a handful of entries instead of the job's history.
//! - `jobs.run_count`: runs of the job, kept by the run store with every insert and delete;
//!   the per-job cap looks only at jobs over it, instead of ranking the whole history.

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// Due indexes by kind, the running-by-job index and `jobs.run_count`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[
    "DROP INDEX jobs_due_idx",
    "CREATE INDEX jobs_due_handler_idx ON jobs (next_run, id) WHERE is_active AND target IS NULL",
    "CREATE INDEX jobs_due_delivery_idx ON jobs (next_run, id) \
     WHERE is_active AND target IS NOT NULL",
    "CREATE INDEX job_runs_running_job_idx ON job_runs (job_id) WHERE status = 'running'",
    "ALTER TABLE jobs ADD COLUMN run_count BIGINT NOT NULL DEFAULT 0",
    "UPDATE jobs SET run_count = counted.n \
     FROM (SELECT job_id, count(*) AS n FROM job_runs GROUP BY job_id) AS counted \
     WHERE jobs.id = counted.job_id",
];

const SQLITE_UP: &[&str] = &[
    "DROP INDEX jobs_due_idx",
    "CREATE INDEX jobs_due_handler_idx ON jobs (next_run, id) WHERE is_active AND target IS NULL",
    "CREATE INDEX jobs_due_delivery_idx ON jobs (next_run, id) \
     WHERE is_active AND target IS NOT NULL",
    "CREATE INDEX job_runs_running_job_idx ON job_runs (job_id) WHERE status = 'running'",
    "ALTER TABLE jobs ADD COLUMN run_count INTEGER NOT NULL DEFAULT 0",
    "UPDATE jobs SET run_count = (SELECT count(*) FROM job_runs WHERE job_runs.job_id = jobs.id)",
];

const POSTGRES_DOWN: &[&str] = &[
    "ALTER TABLE jobs DROP COLUMN run_count",
    "DROP INDEX job_runs_running_job_idx",
    "DROP INDEX jobs_due_delivery_idx",
    "DROP INDEX jobs_due_handler_idx",
    "CREATE INDEX jobs_due_idx ON jobs (next_run) WHERE is_active",
];

const SQLITE_DOWN: &[&str] = &[
    "ALTER TABLE jobs DROP COLUMN run_count",
    "DROP INDEX job_runs_running_job_idx",
    "DROP INDEX jobs_due_delivery_idx",
    "DROP INDEX jobs_due_handler_idx",
    "CREATE INDEX jobs_due_idx ON jobs (next_run) WHERE is_active",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES_DOWN, SQLITE_DOWN).await
    }
}
