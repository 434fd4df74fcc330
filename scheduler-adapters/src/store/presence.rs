//! [`WorkerPresence`] on PostgreSQL: a worker is present while a connection of its own holds
//! the session advisory lock `(PRESENCE_LOCK_CLASS, hashtext(worker))`. PostgreSQL releases
//! it the moment that connection ends — the process killed, the machine gone — so the others
//! see the worker lost in their next check (`pg_locks`, one query over the small `workers`
//! table) instead of a lease later.
//!
//! The connection is taken from the pool and detached from it (`PoolConnection::detach`), so
//! the pool neither recycles it (which would drop the lock) nor counts it. It runs one
//! `SELECT 1` per check; when that fails the worker joins again on a new connection, and the
//! dispatcher is told (`keep` answers `true`). SQLite has no presence: one process, and the
//! lease.

use std::time::Duration;

use async_trait::async_trait;
use scheduler_core::{RepositoryError, WorkerPresence};
use sea_orm::sqlx::{self, postgres::PgConnection};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::sync::Mutex;

use super::repository_error;

/// The first key of every presence lock (`"schd"` in ASCII), so no other advisory lock of
/// the scheduler — all single-key (`bigint`) locks — can take a worker's.
const PRESENCE_LOCK_CLASS: i32 = 0x7363_6864;

/// The longest a check of the own connection may take before it counts as unanswered.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Presence by PostgreSQL session advisory locks (see the module).
pub struct PgWorkerPresence {
    /// The pool: the `workers` table is read and written through it.
    db: DatabaseConnection,
    /// The connection holding this worker's lock, once joined.
    session: Mutex<Option<PgConnection>>,
}

impl PgWorkerPresence {
    /// Presence over `db`, a PostgreSQL pool; `None` for any other backend (SQLite: the
    /// lease alone).
    pub fn new(db: DatabaseConnection) -> Option<Self> {
        (db.get_database_backend() == DbBackend::Postgres).then(|| Self {
            db,
            session: Mutex::new(None),
        })
    }

    /// A connection of its own holding `worker`'s lock, and `worker` recorded as joined.
    async fn open_session(&self, worker: &str) -> Result<PgConnection, RepositoryError> {
        let pool = self.db.get_postgres_connection_pool();
        let mut session = pool.acquire().await.map_err(unavailable)?.detach();
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .bind(PRESENCE_LOCK_CLASS)
            .bind(worker)
            .fetch_one(&mut session)
            .await
            .map_err(unavailable)?;
        if !locked {
            return Err(RepositoryError::Rejected(format!(
                "worker name {worker:?} is held by another live process: give each replica \
                 its own SCHEDULER_WORKER_ID"
            )));
        }
        // The lock first, the row second: a row is never seen without its lock by a check.
        self.db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO workers (id, joined_at) VALUES ($1, now()) \
                 ON CONFLICT (id) DO UPDATE SET joined_at = excluded.joined_at",
                [worker.to_string().into()],
            ))
            .await
            .map_err(repository_error)?;
        Ok(session)
    }
}

fn unavailable(error: sqlx::Error) -> RepositoryError {
    RepositoryError::Unavailable(error.to_string())
}

/// The condition "worker `w.id` holds no presence lock" (`$1` is the lock class). Advisory
/// locks belong to a database (`pg_locks` lists the whole server's): a worker of the same
/// name in another database of the server is another worker.
const NOT_PRESENT: &str = "NOT EXISTS (SELECT 1 FROM pg_locks AS l \
     WHERE l.locktype = 'advisory' AND l.classid = $1::int4::oid \
     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
     AND l.objid = hashtext(w.id)::oid AND l.objsubid = 2 AND l.granted)";

#[async_trait]
impl WorkerPresence for PgWorkerPresence {
    async fn join(&self, worker: &str) -> Result<(), RepositoryError> {
        let mut session = self.session.lock().await;
        if session.is_none() {
            *session = Some(self.open_session(worker).await?);
        }
        Ok(())
    }

    async fn keep(&self, worker: &str) -> Result<bool, RepositoryError> {
        let mut session = self.session.lock().await;
        if let Some(connection) = session.as_mut() {
            let check = sqlx::query("SELECT 1").execute(&mut *connection);
            match tokio::time::timeout(CHECK_TIMEOUT, check).await {
                Ok(Ok(_)) => return Ok(false),
                // Slow, not known lost: the connection (and its lock) is kept.
                Err(_) => {
                    return Err(RepositoryError::Unavailable(
                        "the presence check did not answer".to_string(),
                    ));
                }
                Ok(Err(_)) => {}
            }
        }
        // Lost (or never joined): the old connection is dropped, a new one takes the lock.
        *session = None;
        *session = Some(self.open_session(worker).await?);
        Ok(true)
    }

    async fn lost(&self, worker: &str) -> Result<Vec<String>, RepositoryError> {
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!("SELECT w.id FROM workers AS w WHERE w.id <> $2 AND {NOT_PRESENT}"),
                [PRESENCE_LOCK_CLASS.into(), worker.to_string().into()],
            ))
            .await
            .map_err(repository_error)?;
        rows.iter()
            .map(|row| row.try_get::<String>("", "id").map_err(repository_error))
            .collect()
    }

    async fn forget(&self, workers: &[String]) -> Result<(), RepositoryError> {
        if workers.is_empty() {
            return Ok(());
        }
        let names = super::run_sql::json_text(workers);
        self.db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!(
                    "DELETE FROM workers AS w \
                     WHERE w.id IN (SELECT json_array_elements_text($2::json)) AND {NOT_PRESENT} \
                     AND NOT EXISTS (SELECT 1 FROM job_runs AS r \
                        WHERE r.worker = w.id AND r.status = 'running')"
                ),
                [PRESENCE_LOCK_CLASS.into(), names.into()],
            ))
            .await
            .map_err(repository_error)?;
        Ok(())
    }

    async fn leave(&self, worker: &str) -> Result<(), RepositoryError> {
        self.db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "DELETE FROM workers WHERE id = $1",
                [worker.to_string().into()],
            ))
            .await
            .map_err(repository_error)?;
        // Closing the connection ends the session and so releases the lock.
        if let Some(session) = self.session.lock().await.take() {
            use sea_orm::sqlx::Connection;
            let _ = session.close().await;
        }
        Ok(())
    }
}
