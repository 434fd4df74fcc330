//! PostgreSQL behind a connection pooler (PgBouncer). Session pooling works: every client
//! connection keeps one server connection, so the worker presence's session advisory lock and
//! sqlx's prepared statements stay where they were made. Transaction pooling does not: the
//! presence lock would outlive its process on a server connection the pooler keeps (a dead
//! replica would never be seen lost), and a prepared statement may be missing on the next
//! transaction's server connection. [`refuse_transaction_pooling`] detects it at start.

use sea_orm::sqlx::{self, Row};
use sea_orm::{DatabaseConnection, DbBackend};

/// Why a database reached through a transaction pooler is refused, naming the setting.
pub const TRANSACTION_POOLING: &str = "this database is reached through a transaction-pooling \
     proxy (PgBouncer pool_mode = transaction): the scheduler needs one server connection per \
     client connection (its worker presence holds a session advisory lock, and prepared \
     statements live in a session). Use a pool with pool_mode = session, or PostgreSQL directly";

/// The server process of the next statement on `connection`, read with the simple query
/// protocol (no prepared statement a transaction pooler could lose).
async fn backend_pid(connection: &mut sqlx::PgConnection) -> Result<i32, sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe("SELECT pg_backend_pid() AS pid"))
        .fetch_one(connection)
        .await?
        .try_get("pid")
}

/// `Err` with [`TRANSACTION_POOLING`] when `db` (PostgreSQL) reaches its server through a
/// transaction pooler; `Ok` directly and through a session pooler (and always on SQLite).
///
/// Two client connections A and B (opened for the check, outside the pool): A asks for its server process, then B opens a
/// transaction and asks for its own, then A asks again. With a server connection per client
/// connection, B's differs from A's and A's stays the same. A transaction pooler hands A's
/// server connection, free between A's statements, to B (PgBouncer reuses the most recently
/// freed one), or gives A another one while B holds its own: either is seen.
///
/// # Errors
/// [`TRANSACTION_POOLING`], or the driver's error when the probe cannot run.
pub async fn refuse_transaction_pooling(db: &DatabaseConnection) -> Result<(), String> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    use sqlx::Connection as _;
    // Two connections of their own, with the pool's options: a pool of one could not hold
    // both, and the pool's are left untouched.
    let options = db.get_postgres_connection_pool().connect_options();
    let failed = |error: sqlx::Error| format!("cannot check how the database is pooled: {error}");
    let mut a = sqlx::PgConnection::connect_with(&options)
        .await
        .map_err(failed)?;
    let mut b = sqlx::PgConnection::connect_with(&options)
        .await
        .map_err(failed)?;
    let first = backend_pid(&mut a).await.map_err(failed)?;
    sqlx::raw_sql(sqlx::AssertSqlSafe("BEGIN"))
        .execute(&mut b)
        .await
        .map_err(failed)?;
    let held = backend_pid(&mut b).await;
    let again = backend_pid(&mut a).await;
    let ended = sqlx::raw_sql(sqlx::AssertSqlSafe("ROLLBACK"))
        .execute(&mut b)
        .await;
    let (held, again) = (held.map_err(failed)?, again.map_err(failed)?);
    ended.map_err(failed)?;
    let _ = a.close().await;
    let _ = b.close().await;
    if held == first || again != first {
        return Err(TRANSACTION_POOLING.to_string());
    }
    Ok(())
}
