//! Secrets every replica of a deployment shares, kept in the database (`shared_secrets`): the
//! first process to ask inserts one, every later one reads the same value.

use scheduler_core::{CursorKey, RepositoryError};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};

use super::repository_error;

/// The name of the cursor-signing key.
const CURSOR_KEY: &str = "cursor_key";

/// The value named `name`: `candidate` if no process stored one before, else the stored one.
/// Two processes asking at once get the same answer (the insert does nothing on a conflict,
/// and the read that follows sees the row that won).
async fn shared_value(
    db: &DatabaseConnection,
    name: &str,
    candidate: &str,
) -> Result<String, RepositoryError> {
    let backend = db.get_database_backend();
    let (insert, select) = match backend {
        DbBackend::Postgres => (
            "INSERT INTO shared_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            "SELECT value FROM shared_secrets WHERE name = $1",
        ),
        _ => (
            "INSERT INTO shared_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            "SELECT value FROM shared_secrets WHERE name = ?",
        ),
    };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        insert,
        [Value::from(name), Value::from(candidate)],
    ))
    .await
    .map_err(repository_error)?;
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            select,
            [Value::from(name)],
        ))
        .await
        .map_err(repository_error)?
        .ok_or_else(|| RepositoryError::Unavailable(format!("shared secret {name} vanished")))?;
    row.try_get("", "value").map_err(repository_error)
}

/// The key that signs list cursors, the same in every replica using this database.
///
/// # Errors
/// `Unavailable` when the database does not answer, or the system has no random source for
/// the first key; `Rejected` when the stored value is not a key (edited by hand).
pub async fn cursor_key(db: &DatabaseConnection) -> Result<CursorKey, RepositoryError> {
    let candidate = CursorKey::random(&crate::OsEntropy)
        .map_err(|error| RepositoryError::Unavailable(format!("no random source: {error}")))?;
    let stored = shared_value(db, CURSOR_KEY, &candidate.to_hex()).await?;
    CursorKey::from_hex(&stored).ok_or_else(|| {
        RepositoryError::Rejected("shared_secrets.cursor_key is not 64 hex digits".to_string())
    })
}
