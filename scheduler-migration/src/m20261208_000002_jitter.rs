//! Jitter: `jobs.jitter_seconds` (the most a fire is delayed), `jobs.next_fire` (the
//! schedule's instant of `next_run` when the job has jitter; `next_run` is its due time, what
//! the claim compares, so the due indexes stay as they are) and `job_runs.due_at` (when a
//! jittered fire was due; lateness is measured from it).

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// The three columns; every existing job has no jitter.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN jitter_seconds INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jobs ADD COLUMN next_fire TIMESTAMPTZ NULL",
    "ALTER TABLE job_runs ADD COLUMN due_at TIMESTAMPTZ NULL",
];

const SQLITE_UP: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN jitter_seconds INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jobs ADD COLUMN next_fire TEXT NULL",
    "ALTER TABLE job_runs ADD COLUMN due_at TEXT NULL",
];

const DOWN: &[&str] = &[
    "ALTER TABLE job_runs DROP COLUMN due_at",
    "ALTER TABLE jobs DROP COLUMN next_fire",
    "ALTER TABLE jobs DROP COLUMN jitter_seconds",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, DOWN, DOWN).await
    }
}
