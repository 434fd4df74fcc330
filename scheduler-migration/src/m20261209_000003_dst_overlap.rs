//! The autumn-overlap choice of cron jobs: `jobs.dst_overlap`, `once` (fire at the first
//! occurrence of a doubled local time, the rule so far) or `twice`.

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// The column; every existing job keeps firing once.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const UP: &[&str] = &["ALTER TABLE jobs ADD COLUMN dst_overlap TEXT NOT NULL DEFAULT 'once'"];

const DOWN: &[&str] = &["ALTER TABLE jobs DROP COLUMN dst_overlap"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, UP, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, DOWN, DOWN).await
    }
}
