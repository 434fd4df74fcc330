//! `jobs.parameters` as text on PostgreSQL, as it already is on SQLite. `jsonb` keeps a
//! number's value as `numeric`, which has no negative zero and prints in plain notation:
//! `-0.0` came back `0.0`, `1e400` as 401 digits, `1e-400` as 400 zeros and a one. The column
//! now holds the object exactly as the server writes it (serde_json with
//! `arbitrary_precision`), so every number comes back as sent. Nothing queries inside
//! parameters, so nothing is lost.
//!
//! The type change rewrites the table under an exclusive lock: about a second per 100,000
//! jobs here. Rows written before keep `jsonb`'s rendering of their numbers.

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// `jobs.parameters TEXT`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE jobs ALTER COLUMN parameters DROP DEFAULT",
    "ALTER TABLE jobs ALTER COLUMN parameters TYPE TEXT USING parameters::text",
    "ALTER TABLE jobs ALTER COLUMN parameters SET DEFAULT '{}'",
];

const POSTGRES_DOWN: &[&str] = &[
    "ALTER TABLE jobs ALTER COLUMN parameters DROP DEFAULT",
    "ALTER TABLE jobs ALTER COLUMN parameters TYPE JSONB USING parameters::jsonb",
    "ALTER TABLE jobs ALTER COLUMN parameters SET DEFAULT '{}'::jsonb",
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
