//! Jobs applied from files: `jobs.managed_by` names the owner of the file set that manages a
//! job (`schedulerctl apply`), which may update it and prune it; none for every other job.
//! An index on (tenant, managed_by) keeps reading one owner's set cheap.

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// `jobs.managed_by` (null for every existing job) and its index.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN managed_by VARCHAR(64)",
    "CREATE INDEX jobs_managed_by_idx ON jobs (tenant, managed_by) WHERE managed_by IS NOT NULL",
];

const SQLITE_UP: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN managed_by TEXT",
    "CREATE INDEX jobs_managed_by_idx ON jobs (tenant, managed_by) WHERE managed_by IS NOT NULL",
];

const DOWN: &[&str] = &[
    "DROP INDEX jobs_managed_by_idx",
    "ALTER TABLE jobs DROP COLUMN managed_by",
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
