//! Catch-up: `jobs.catch_up_window_seconds`, how far back a job with misfire policy
//! `catch_up` runs its missed fires (the policy itself is a value of `misfire_policy`).

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// The column; every existing job gets the default window of an hour.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const UP: &[&str] =
    &["ALTER TABLE jobs ADD COLUMN catch_up_window_seconds INTEGER NOT NULL DEFAULT 3600"];

const DOWN: &[&str] = &["ALTER TABLE jobs DROP COLUMN catch_up_window_seconds"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, UP, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, DOWN, DOWN).await
    }
}
