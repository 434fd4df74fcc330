//! One current signing secret per tenant, decided by the database: a partial unique index on
//! `signing_secrets (tenant) WHERE expires_at IS NULL`. The first use of a tenant's secrets
//! inserts with `ON CONFLICT DO NOTHING` against it, so racing first uses (several jobs due at
//! one instant, several replicas) store one secret instead of one each with the others
//! expired at once — deliveries signed with those could never be verified.
//!
//! Rows from before: where a tenant has several current secrets (two rotations that raced),
//! the newest stays current and the older ones expire a day later on PostgreSQL (the default
//! rotation overlap), at the newest one's creation on SQLite (one process: such rows come only
//! from a database copied from elsewhere).

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// `signing_secrets_one_current`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[
    r#"UPDATE signing_secrets AS older SET expires_at = now() + interval '1 day'
       WHERE older.expires_at IS NULL
         AND EXISTS (SELECT 1 FROM signing_secrets AS newer
                     WHERE newer.tenant = older.tenant AND newer.expires_at IS NULL
                       AND newer.id > older.id)"#,
    "CREATE UNIQUE INDEX signing_secrets_one_current ON signing_secrets (tenant) \
     WHERE expires_at IS NULL",
];

const SQLITE_UP: &[&str] = &[
    r#"UPDATE signing_secrets SET expires_at =
           (SELECT max(newer.created_at) FROM signing_secrets AS newer
            WHERE newer.tenant = signing_secrets.tenant AND newer.expires_at IS NULL)
       WHERE expires_at IS NULL
         AND EXISTS (SELECT 1 FROM signing_secrets AS newer
                     WHERE newer.tenant = signing_secrets.tenant AND newer.expires_at IS NULL
                       AND newer.id > signing_secrets.id)"#,
    "CREATE UNIQUE INDEX signing_secrets_one_current ON signing_secrets (tenant) \
     WHERE expires_at IS NULL",
];

const DOWN: &[&str] = &["DROP INDEX signing_secrets_one_current"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, DOWN, DOWN).await
    }
}
