//! Pauses that end by themselves: `jobs.resume_at`, the instant a paused job resumes (`NULL`
//! for a pause without an end), with a partial index the dispatcher's once-a-second look for
//! ended pauses reads (it holds only the jobs paused until an instant).

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// The column and its index.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN resume_at TIMESTAMPTZ NULL",
    "CREATE INDEX jobs_resume_at_idx ON jobs (resume_at) WHERE resume_at IS NOT NULL",
];

const SQLITE_UP: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN resume_at TEXT NULL",
    "CREATE INDEX jobs_resume_at_idx ON jobs (resume_at) WHERE resume_at IS NOT NULL",
];

const DOWN: &[&str] = &[
    "DROP INDEX jobs_resume_at_idx",
    "ALTER TABLE jobs DROP COLUMN resume_at",
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
