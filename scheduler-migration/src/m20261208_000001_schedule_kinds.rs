//! Schedules beyond cron: `jobs.interval_seconds` (every N seconds from `start_time`) and
//! `jobs.run_at` (once), `jobs.max_runs` (complete after N fires) and `jobs.fire_count` (the
//! scheduled fires that ran, what `max_runs` is compared with).
//!
//! `cron_expression` stays `NOT NULL`: a job of another kind stores `''` there. SQLite cannot
//! drop a `NOT NULL` without rebuilding the table, and one rule for both backends is simpler
//! to read; the entity reads the kind from which column is set, and refuses a row with none
//! or two.

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// The four columns; every existing job is a cron job with no limit and a count of 0.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN interval_seconds INTEGER NULL",
    "ALTER TABLE jobs ADD COLUMN run_at TIMESTAMPTZ NULL",
    "ALTER TABLE jobs ADD COLUMN max_runs INTEGER NULL",
    "ALTER TABLE jobs ADD COLUMN fire_count BIGINT NOT NULL DEFAULT 0",
];

const SQLITE_UP: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN interval_seconds INTEGER NULL",
    "ALTER TABLE jobs ADD COLUMN run_at TEXT NULL",
    "ALTER TABLE jobs ADD COLUMN max_runs INTEGER NULL",
    "ALTER TABLE jobs ADD COLUMN fire_count INTEGER NOT NULL DEFAULT 0",
];

const DOWN: &[&str] = &[
    "ALTER TABLE jobs DROP COLUMN fire_count",
    "ALTER TABLE jobs DROP COLUMN max_runs",
    "ALTER TABLE jobs DROP COLUMN run_at",
    "ALTER TABLE jobs DROP COLUMN interval_seconds",
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
