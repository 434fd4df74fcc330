//! The due jobs by tenant, for the fair claim on PostgreSQL (`run_sql::lock_due`): the
//! tenants with due jobs of each kind are found by a skip scan of these indexes, and each
//! tenant's share is read from them earliest first. SQLite (one process) claims earliest
//! first without them.

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// The indexes.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[
    "CREATE INDEX jobs_due_handler_tenant_idx ON jobs (tenant, next_run, id) \
     WHERE is_active AND target IS NULL",
    "CREATE INDEX jobs_due_delivery_tenant_idx ON jobs (tenant, next_run, id) \
     WHERE is_active AND target IS NOT NULL",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX jobs_due_delivery_tenant_idx",
    "DROP INDEX jobs_due_handler_tenant_idx",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES_UP, &[]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES_DOWN, &[]).await
    }
}
