//! Per-host flow control. `job_runs.throttles` counts the attempts at a fire that ran again
//! because the receiver answered 429/503 with `Retry-After` (they use no retry,
//! `scheduler_core::plan::MAX_THROTTLES`); `host_holds` keeps, per receiving host, the
//! instant before which claims leave its deliveries alone (a throttle, or a host limit that
//! made fires wait); `host_rates` keeps each rate-limited host's GCRA state (its theoretical
//! arrival time, `scheduler_core::host_limit`) — all shared by every replica.

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// The column and the tables.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE job_runs ADD COLUMN throttles INTEGER NOT NULL DEFAULT 0",
    r#"CREATE TABLE host_holds (
        host   VARCHAR(2048) PRIMARY KEY,
        until  TIMESTAMPTZ NOT NULL
    )"#,
    r#"CREATE TABLE host_rates (
        host   VARCHAR(2048) PRIMARY KEY,
        tat    TIMESTAMPTZ NULL
    )"#,
];

const SQLITE_UP: &[&str] = &[
    "ALTER TABLE job_runs ADD COLUMN throttles INTEGER NOT NULL DEFAULT 0",
    r#"CREATE TABLE host_holds (
        host   TEXT PRIMARY KEY,
        until  TEXT NOT NULL
    )"#,
    r#"CREATE TABLE host_rates (
        host   TEXT PRIMARY KEY,
        tat    TEXT NULL
    )"#,
];

const DOWN: &[&str] = &[
    "DROP TABLE host_rates",
    "DROP TABLE host_holds",
    "ALTER TABLE job_runs DROP COLUMN throttles",
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
