//! `run_outputs`: what a run's target answered (or a handler returned), the first 64 KiB of
//! a text body, one row per run that had any; kept beside `job_runs` (not in it) so claims
//! and lists read narrow rows, and deleted with its run.

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// The table.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[r#"CREATE TABLE run_outputs (
        run_id        BIGINT PRIMARY KEY REFERENCES job_runs (id) ON DELETE CASCADE,
        content_type  VARCHAR(255) NULL,
        body          TEXT NOT NULL,
        truncated     BOOLEAN NOT NULL,
        size          BIGINT NOT NULL
    )"#];

const SQLITE_UP: &[&str] = &[r#"CREATE TABLE run_outputs (
        run_id        INTEGER PRIMARY KEY REFERENCES job_runs (id) ON DELETE CASCADE,
        content_type  TEXT NULL,
        body          TEXT NOT NULL,
        truncated     BOOLEAN NOT NULL,
        size          INTEGER NOT NULL
    )"#];

const DOWN: &[&str] = &["DROP TABLE run_outputs"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, DOWN, DOWN).await
    }
}
