//! Job ownership: `jobs.source` says whether a job was created through the API (`api`) or is
//! declared by a program in code (`code`), which reconciles it at every start and may prune
//! it when the program no longer declares it. A partial index keeps the `code` list cheap.

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// `jobs.source` (default `api` for every existing job) and its partial index.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN source VARCHAR(16) NOT NULL DEFAULT 'api'",
    "CREATE INDEX jobs_code_source_idx ON jobs (id) WHERE source = 'code'",
];

const SQLITE_UP: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN source TEXT NOT NULL DEFAULT 'api'",
    "CREATE INDEX jobs_code_source_idx ON jobs (id) WHERE source = 'code'",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX jobs_code_source_idx",
    "ALTER TABLE jobs DROP COLUMN source",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP INDEX jobs_code_source_idx",
    "ALTER TABLE jobs DROP COLUMN source",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES_DOWN, SQLITE_DOWN).await
    }
}
