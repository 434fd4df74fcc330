//! The sea-orm store: one code path for PostgreSQL and SQLite, chosen by the URL.

mod alerts;
mod audit;
mod audit_entity;
mod calendar_entity;
mod calendars;
mod coalesce;
pub(crate) mod entity;
mod flow;
pub mod job_list;
mod jobs;
mod keys;
mod new_run;
mod notify;
mod notify_entity;
mod pooler;
mod presence;
mod run_claim;
mod run_entity;
pub mod run_list;
mod run_output;
mod run_prune;
mod run_sql;
mod run_stats;
mod run_streak;
mod runs;
mod shared_secrets;
mod signing;

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use scheduler_core::{Conflict, RepositoryError};
use sea_orm::sqlx::error::{DatabaseError, ErrorKind};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr,
    SqlxSqliteError,
};

pub use audit::SeaOrmAuditLog;
pub use calendars::SeaOrmCalendarStore;
pub use jobs::SeaOrmJobRepository;
pub use keys::{CachedKeyStore, SeaOrmKeyStore};
pub use notify::{SeaOrmChannelStore, SeaOrmOutbox};
pub use pooler::{TRANSACTION_POOLING, refuse_transaction_pooling};
pub use presence::PgWorkerPresence;
pub use run_stats::SeaOrmRunStats;
pub use runs::SeaOrmRunStore;
pub use shared_secrets::cursor_key;
pub use signing::SeaOrmSigningStore;

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
    /// Longest a statement may run: PostgreSQL's `statement_timeout` on every connection;
    /// SQLite's busy timeout (the longest wait for the write lock).
    pub statement_timeout: Duration,
}

impl DatabaseConfig {
    /// Defaults suited to a small server: 10 connections, 5 s connect, 3 s acquire, 4 s per
    /// statement.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            min_connections: 1,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(4),
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
    let busy_timeout = config.statement_timeout;
    options.map_sqlx_sqlite_opts(move |sqlite| sqlite.busy_timeout(busy_timeout));
    // PostgreSQL: no startup parameters beyond the standard ones, so a pooler in front
    // (PgBouncer refuses `options` and `extra_float_digits` unless told to ignore them) needs
    // no configuration; the statement timeout is set on each new connection instead. Floats
    // travel in binary, so the server's default float text precision changes nothing.
    options.map_sqlx_postgres_opts(|pg| pg.extra_float_digits(None));
    let timeout_ms = config.statement_timeout.as_millis().max(1);
    options.map_sqlx_postgres_pool_opts(move |pool| {
        pool.after_connect(move |connection, _| {
            Box::pin(async move {
                let set = format!("SET statement_timeout = {timeout_ms}");
                sea_orm::sqlx::raw_sql(sea_orm::sqlx::AssertSqlSafe(set))
                    .execute(connection)
                    .await
                    .map(|_| ())
            })
        })
    });
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;")
            .await?;
    }
    Ok(db)
}

/// `scheme://user:***@host/...`: a database URL with its password masked, for messages
/// and logs (only the authority is read; an `@` in the path or query is left alone).
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            let masked = if credentials.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{scheme}://{masked}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// Why `url` cannot be connected to, from one direct connection attempt (at most `within`):
/// its error names the cause — "Connection refused", an unknown host, a failed password —
/// where a pool's error only says it timed out waiting. `None` when the attempt succeeds.
pub async fn connection_failure(url: &str, within: Duration) -> Option<String> {
    use sea_orm::sqlx::Connection;
    let attempt = async {
        if url.starts_with("sqlite:") {
            sea_orm::sqlx::SqliteConnection::connect(url)
                .await
                .map(|_| ())
        } else {
            sea_orm::sqlx::PgConnection::connect(url).await.map(|_| ())
        }
    };
    match tokio::time::timeout(within, attempt).await {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(_) => Some(format!("no answer within {} s", within.as_secs())),
    }
}

/// The connections of a pool, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConnections {
    /// Open connections, idle or in use.
    pub open: u32,
    /// Open connections waiting in the pool.
    pub idle: u32,
}

/// How many connections `db`'s pool holds and how many of them are idle.
pub fn pool_connections(db: &DatabaseConnection) -> PoolConnections {
    let (open, idle) = match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => (0, 0),
    };
    PoolConnections {
        open,
        idle: u32::try_from(idle).unwrap_or(open),
    }
}

/// Instants are stored at microsecond precision on both backends (PostgreSQL's resolution),
/// so what is written is exactly what is read back.
pub(crate) fn micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant.trunc_subsecs(6)
}

/// `text` with `%`, `_` and the backslash escaped for a `LIKE` pattern whose escape character
/// is the backslash (so they match literally).
pub(crate) fn like_literal(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Begins a transaction that will write. On SQLite the write lock is taken by the first
/// statement: a transaction that reads first and writes later fails with "database is
/// locked" when another connection committed in between, instead of waiting its turn.
pub(crate) async fn begin_write(
    db: &DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, RepositoryError> {
    use sea_orm::TransactionTrait;
    let txn = db.begin().await.map_err(repository_error)?;
    if db.get_database_backend() == DbBackend::Sqlite {
        txn.execute_unprepared("UPDATE jobs SET next_run = next_run WHERE id = -1")
            .await
            .map_err(repository_error)?;
    }
    Ok(txn)
}

/// An offset both databases accept: they bind it as a signed 64-bit integer, and an offset
/// past `i64::MAX` rows skips every row anyway.
pub(crate) fn bound_offset(offset: u64) -> u64 {
    offset.min(i64::MAX.unsigned_abs())
}

/// Translates a driver error into the port's vocabulary at the adapter edge.
///
/// - A unique violation is a `Conflict`, told apart by the constraint's name (PostgreSQL) or
///   the columns SQLite names: `jobs_tenant_name_key` / `jobs.tenant, jobs.name` is a
///   duplicate job name in a tenant,
///   `job_runs_fire_key` / `job_runs.job_id, ...` a second run of one fire.
/// - An error the database raised for the statement's *content* (PostgreSQL classes 22, data
///   exception, and 23, integrity violation; SQLite's constraint — checks and triggers too —,
///   too-big and mismatch errors) is `Rejected`: retrying the same values cannot succeed, but
///   other statements can.
/// - Everything else (connections, pool, timeouts, deadlocks, shutdown) is `Unavailable`.
pub(crate) fn repository_error(error: DbErr) -> RepositoryError {
    let database = match &error {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                sea_orm::sqlx::Error::Database(database) => Some(database),
                _ => None,
            }
        }
        _ => None,
    };
    match database {
        Some(database) => classify(database.as_ref()),
        None => RepositoryError::Unavailable(error.to_string()),
    }
}

/// The port error for an error the database itself raised.
fn classify(error: &dyn DatabaseError) -> RepositoryError {
    if error.kind() == ErrorKind::UniqueViolation {
        let name = error.constraint().unwrap_or_else(|| error.message());
        if name.contains("jobs_tenant_name_key")
            || name.contains("jobs.tenant, jobs.name")
            || name.contains("jobs_name_key")
            || name.contains("jobs.name")
        {
            return RepositoryError::Conflict(Conflict::JobName);
        }
        if name.contains("calendars_tenant_name_key") || name.contains("calendars.tenant") {
            return RepositoryError::Conflict(Conflict::CalendarName);
        }
        if name.contains("channels_tenant_name_key") || name.contains("channels.tenant") {
            return RepositoryError::Conflict(Conflict::ChannelName);
        }
        if name.contains("job_runs_fire_key") || name.contains("job_runs.job_id") {
            return RepositoryError::Conflict(Conflict::RunFire);
        }
    }
    let code = error.code().unwrap_or_default();
    let refused_content = if error.try_downcast_ref::<SqlxSqliteError>().is_some() {
        // An extended result code; its low byte is the primary one: SQLITE_TOOBIG (18),
        // SQLITE_CONSTRAINT (19, also raised by triggers) or SQLITE_MISMATCH (20).
        code.parse::<i32>()
            .is_ok_and(|code| matches!(code & 0xff, 18..=20))
    } else {
        // PostgreSQL SQLSTATE classes 22 (data exception) and 23 (integrity violation).
        error.kind() != ErrorKind::Other || code.starts_with("22") || code.starts_with("23")
    };
    if refused_content {
        RepositoryError::Rejected(error.message().to_string())
    } else {
        RepositoryError::Unavailable(error.message().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::mask_password;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_password("postgres://app:secret@db:5432/jobs"),
            "postgres://app:***@db:5432/jobs"
        );
        assert_eq!(
            mask_password("sqlite://jobs.db?mode=rwc"),
            "sqlite://jobs.db?mode=rwc"
        );
    }
}
