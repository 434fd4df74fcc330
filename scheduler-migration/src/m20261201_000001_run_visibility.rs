//! Run visibility: each job keeps the status and error of its latest fire (`last_status`,
//! `last_error`, kept current by the dispatcher), and runs can be listed across jobs by fire
//! instant.

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// `jobs.last_status`, `jobs.last_error` and an index on `job_runs.scheduled_for`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN last_status VARCHAR(16) NULL, ADD COLUMN last_error TEXT NULL",
    "CREATE INDEX job_runs_scheduled_idx ON job_runs (scheduled_for)",
];

const SQLITE_UP: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN last_status TEXT NULL",
    "ALTER TABLE jobs ADD COLUMN last_error TEXT NULL",
    "CREATE INDEX job_runs_scheduled_idx ON job_runs (scheduled_for)",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX job_runs_scheduled_idx",
    "ALTER TABLE jobs DROP COLUMN last_status, DROP COLUMN last_error",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP INDEX job_runs_scheduled_idx",
    "ALTER TABLE jobs DROP COLUMN last_status",
    "ALTER TABLE jobs DROP COLUMN last_error",
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
