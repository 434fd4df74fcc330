//! The sea-orm store: one code path for PostgreSQL and SQLite, chosen by the URL.

mod coalesce;
pub(crate) mod entity;
mod jobs;
mod run_entity;
mod runs;

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use scheduler_core::RepositoryError;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, SqlErr,
};

pub use jobs::SeaOrmJobRepository;
pub use runs::SeaOrmRunStore;

/// How to reach the database and size its pool.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `postgres://...` or `sqlite://path?mode=rwc`.
    pub url: String,
    /// Most pooled connections.
    pub max_connections: u32,
    /// Connections kept open when idle.
    pub min_connections: u32,
    /// How long to wait for a new connection to open.
    pub connect_timeout: Duration,
    /// How long a request waits for a free pooled connection before failing `Unavailable`.
    pub acquire_timeout: Duration,
}

impl DatabaseConfig {
    /// Defaults suited to a small server: 10 connections, 5 s connect, 3 s acquire.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            min_connections: 1,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

/// Opens the pool. On SQLite it also turns on WAL and foreign keys, so readers never wait on
/// the single writer.
///
/// # Errors
/// The driver's error when the database cannot be opened.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(config.url.clone());
    options
        .max_connections(config.max_connections)
        .min_connections(config.min_connections)
        .connect_timeout(config.connect_timeout)
        .acquire_timeout(config.acquire_timeout)
        // Pinging on every checkout doubles the round trips of a point read; ping only
        // connections idle long enough to have been dropped by the server or a proxy.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .sqlx_logging(false);
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;")
            .await?;
    }
    Ok(db)
}

/// Instants are stored at microsecond precision on both backends (PostgreSQL's resolution),
/// so what is written is exactly what is read back.
pub(crate) fn micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant.trunc_subsecs(6)
}

/// Translates a driver error into the port's vocabulary at the adapter edge.
pub(crate) fn repository_error(error: DbErr) -> RepositoryError {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => RepositoryError::Conflict {
            field: "name".to_string(),
        },
        _ => RepositoryError::Unavailable(error.to_string()),
    }
}
