//! The scheduler's schema as sea-orm migrations. The same migrations run on PostgreSQL and
//! SQLite; each writes the DDL of its backend explicitly, so types and indexes are exactly
//! what the claim query and the API need.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_jobs;
mod m20261127_000001_runs_and_policies;

/// Lists the migrations in the order they apply.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_jobs::Migration),
            Box::new(m20261127_000001_runs_and_policies::Migration),
        ]
    }
}

/// Runs the statements written for the connection's backend, in order.
pub(crate) async fn run_for_backend(
    manager: &SchemaManager<'_>,
    postgres: &[&str],
    sqlite: &[&str],
) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        sea_orm_migration::sea_orm::DatabaseBackend::Postgres => postgres,
        sea_orm_migration::sea_orm::DatabaseBackend::Sqlite => sqlite,
        other => return Err(DbErr::Migration(format!("unsupported backend {other:?}"))),
    };
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}
