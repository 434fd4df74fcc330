//! Who paused a job and why: `jobs.paused_by` (the key's name), `jobs.pause_note` and
//! `jobs.paused_at`, kept while the job is paused and cleared when it resumes.

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// The three columns; a job paused before them has no note.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN paused_by TEXT NULL",
    "ALTER TABLE jobs ADD COLUMN pause_note TEXT NULL",
    "ALTER TABLE jobs ADD COLUMN paused_at TIMESTAMPTZ NULL",
];

const SQLITE_UP: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN paused_by TEXT NULL",
    "ALTER TABLE jobs ADD COLUMN pause_note TEXT NULL",
    "ALTER TABLE jobs ADD COLUMN paused_at TEXT NULL",
];

const DOWN: &[&str] = &[
    "ALTER TABLE jobs DROP COLUMN paused_at",
    "ALTER TABLE jobs DROP COLUMN pause_note",
    "ALTER TABLE jobs DROP COLUMN paused_by",
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
