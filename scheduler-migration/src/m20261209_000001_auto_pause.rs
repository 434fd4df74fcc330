//! Auto-pause: `jobs.pause_after_failures` (the policy, 0 = never), `jobs.failure_streak`
//! (consecutive failed runs with their retries exhausted, kept as outcomes are recorded) and
//! `jobs.pause_auto` (true while a job is paused by the scheduler itself rather than by a
//! key).

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// The three columns; every existing job never pauses itself and has no streak.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN pause_after_failures INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jobs ADD COLUMN failure_streak INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jobs ADD COLUMN pause_auto BOOLEAN NOT NULL DEFAULT false",
];

const DOWN: &[&str] = &[
    "ALTER TABLE jobs DROP COLUMN pause_auto",
    "ALTER TABLE jobs DROP COLUMN failure_streak",
    "ALTER TABLE jobs DROP COLUMN pause_after_failures",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, UP, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, DOWN, DOWN).await
    }
}
