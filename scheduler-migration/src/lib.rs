//! The scheduler's schema as sea-orm migrations. The same migrations run on PostgreSQL and
//! SQLite; each writes the DDL of its backend explicitly, so types and indexes are exactly
//! what the claim query and the API need.

pub use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DatabaseBackend, DatabaseConnection, TransactionTrait};

mod m20261126_000001_create_jobs;
mod m20261127_000001_runs_and_policies;
mod m20261201_000001_run_visibility;
mod m20261202_000001_job_source;
mod m20261203_000001_api_keys;
mod m20261203_000002_tenants;
mod m20261203_000003_signing_secrets;
mod m20261204_000001_list_indexes_and_counts;
mod m20261205_000001_index_due_fires;
mod m20261206_000001_index_job_names;
mod m20261207_000001_one_current_signing_secret;
mod m20261207_000002_parameters_as_text;
mod m20261207_000003_target_host;
mod m20261208_000001_schedule_kinds;
mod m20261208_000002_jitter;
mod m20261208_000003_catch_up;
mod m20261208_000004_pause_note;
mod m20261209_000001_auto_pause;
mod m20261209_000002_pause_until;
mod m20261209_000003_dst_overlap;
mod m20261210_000001_calendars;
mod m20261210_000002_audit_log;
mod m20261210_000003_replay;
mod m20261211_000001_notifications;
mod m20261211_000002_run_outputs;
mod m20261212_000001_workers;
mod m20261212_000002_due_by_tenant;
mod m20261213_000001_host_flow;
mod m20261214_000001_job_owner;

/// Lists the migrations in the order they apply.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_jobs::Migration),
            Box::new(m20261127_000001_runs_and_policies::Migration),
            Box::new(m20261201_000001_run_visibility::Migration),
            Box::new(m20261202_000001_job_source::Migration),
            Box::new(m20261203_000001_api_keys::Migration),
            Box::new(m20261203_000002_tenants::Migration),
            Box::new(m20261203_000003_signing_secrets::Migration),
            Box::new(m20261204_000001_list_indexes_and_counts::Migration),
            Box::new(m20261205_000001_index_due_fires::Migration),
            Box::new(m20261206_000001_index_job_names::Migration),
            Box::new(m20261207_000001_one_current_signing_secret::Migration),
            Box::new(m20261207_000002_parameters_as_text::Migration),
            Box::new(m20261207_000003_target_host::Migration),
            Box::new(m20261208_000001_schedule_kinds::Migration),
            Box::new(m20261208_000002_jitter::Migration),
            Box::new(m20261208_000003_catch_up::Migration),
            Box::new(m20261208_000004_pause_note::Migration),
            Box::new(m20261209_000001_auto_pause::Migration),
            Box::new(m20261209_000002_pause_until::Migration),
            Box::new(m20261209_000003_dst_overlap::Migration),
            Box::new(m20261210_000001_calendars::Migration),
            Box::new(m20261210_000002_audit_log::Migration),
            Box::new(m20261210_000003_replay::Migration),
            Box::new(m20261211_000001_notifications::Migration),
            Box::new(m20261211_000002_run_outputs::Migration),
            Box::new(m20261212_000001_workers::Migration),
            Box::new(m20261212_000002_due_by_tenant::Migration),
            Box::new(m20261213_000001_host_flow::Migration),
            Box::new(m20261214_000001_job_owner::Migration),
        ]
    }
}

/// The PostgreSQL advisory lock key that serializes migrations across processes ("sched-mig"
/// in ASCII). Any fixed number works; it only has to be the same in every replica.
pub const MIGRATION_LOCK_KEY: i64 = 0x7363_6865_642d_6d69;

/// Applies every pending migration, safely when several processes start at once.
///
/// On PostgreSQL the whole run is one transaction holding a transaction-level advisory lock
/// (`pg_advisory_xact_lock`), taken before anything is read: a second process waits for the
/// first to commit, then finds nothing pending. Without it, two replicas starting together
/// both create `seaql_migrations` or the same table, and one dies with a duplicate-key error
/// on the catalog. PostgreSQL DDL is transactional, so a failed run leaves nothing behind.
/// SQLite is single-process: its migrations run as they are.
///
/// # Errors
/// The database's error; nothing is applied then (PostgreSQL).
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let txn = db.begin().await?;
            txn.execute_unprepared(&format!(
                "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
            ))
            .await?;
            Migrator::up(&txn, None).await?;
            txn.commit().await
        }
        _ => Migrator::up(db, None).await,
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
