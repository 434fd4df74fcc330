//! `workers`: the dispatchers that joined with a presence (`scheduler_core::presence`) — on
//! PostgreSQL each holds a session advisory lock keyed by its name while its process lives.
//! A row whose lock is free is a lost worker: its running runs are recovered at once.

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// The table.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[r#"CREATE TABLE workers (
        id         VARCHAR(255) PRIMARY KEY,
        joined_at  TIMESTAMPTZ NOT NULL
    )"#];

const SQLITE_UP: &[&str] = &[r#"CREATE TABLE workers (
        id         TEXT PRIMARY KEY,
        joined_at  TEXT NOT NULL
    )"#];

const DOWN: &[&str] = &["DROP TABLE workers"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, DOWN, DOWN).await
    }
}
