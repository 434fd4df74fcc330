//! Opening what the server starts from: the database a [`Config`] names (checked, created
//! for SQLite when it serves, never created for a key command), and [`StartupError`], which
//! names the setting (env var and flag), its value and the cause of every start failure.

use std::net::SocketAddr;
use std::time::Duration;

use scheduler_adapters::{DatabaseConfig, connect, connection_failure, mask_password};
use sea_orm::DatabaseConnection;

use crate::config::Config;

/// The names of the settings startup errors point at: the env var, then the flag.
pub(crate) const DATABASE_URL: &str = "DATABASE_URL (--database-url)";
/// See [`DATABASE_URL`].
pub(crate) const REDIS_URL: &str = "REDIS_URL (--redis-url)";
/// See [`DATABASE_URL`].
pub(crate) const BIND: &str = "SCHEDULER_BIND (--bind)";
/// See [`DATABASE_URL`].
pub(crate) const RATE_LIMIT: &str = "SCHEDULER_RATE_LIMIT (--rate-limit) / SCHEDULER_RATE_BURST";
/// See [`DATABASE_URL`].
pub(crate) const TRUSTED_PROXIES: &str = "SCHEDULER_TRUSTED_PROXIES (--trusted-proxies)";
/// See [`DATABASE_URL`].
pub(crate) const TARGET_ALLOW: &str = "SCHEDULER_TARGET_ALLOW (--target-allow)";
/// The SMTP relay setting, as error messages name it.
pub(crate) const SMTP_URL: &str = "SCHEDULER_SMTP_URL (--smtp-url) / SCHEDULER_SMTP_FROM";
/// See [`DATABASE_URL`].
pub(crate) const AUTH_FAILURES: &str =
    "SCHEDULER_AUTH_FAILURES_PER_MINUTE (--auth-failures-per-minute)";
/// See [`DATABASE_URL`].
pub(crate) const SHUTDOWN_GRACE: &str =
    "SCHEDULER_SHUTDOWN_GRACE_SECONDS (--shutdown-grace-seconds)";

/// Why the server could not start. Each configuration or connection failure names the setting
/// (env var and flag), its value (passwords masked) and the underlying cause.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A setting is invalid, or what it points at cannot be reached.
    #[error("{setting} = {value}: {cause}")]
    Setting {
        /// The env var and flag.
        setting: &'static str,
        /// The value, with any password masked.
        value: String,
        /// What is wrong.
        cause: String,
    },
    /// A migration failed.
    #[error("cannot migrate the database {database}: {cause}")]
    Migration {
        /// The database URL, password masked.
        database: String,
        /// The database's error.
        cause: String,
    },
    /// The HTTP client for run targets could not be built (TLS initialisation).
    #[error("cannot build the HTTP client for run targets: {0}")]
    HttpClient(String),
    /// The server stopped on an I/O error of its listener.
    #[error("the listener on {addr} failed: {source}")]
    Serve {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// `host:port` of a URL, when it has one (for "cannot connect to ..." messages).
fn authority_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    (!host.is_empty()).then_some(host)
}

/// Checks what can be checked of a database URL without connecting: its scheme, and for
/// SQLite that the file's directory exists.
fn check_database_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("not a URL: use sqlite://path?mode=rwc or postgres://user@host:5432/db".into());
    };
    match scheme {
        "postgres" | "postgresql" => Ok(()),
        "sqlite" => {
            let path = rest.split('?').next().unwrap_or_default();
            let directory = std::path::Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty());
            match directory {
                Some(directory) if !directory.is_dir() => Err(format!(
                    "the directory {} does not exist (SQLite creates the file, not its directory)",
                    directory.display()
                )),
                _ => Ok(()),
            }
        }
        other => Err(format!(
            "unsupported scheme {other}://: use sqlite:// (embedded) or postgres:// (shared)"
        )),
    }
}

/// Opens the database pool described by `config` and applies pending migrations.
///
/// # Errors
/// `Setting` naming `DATABASE_URL` with the cause, or `Migration`.
pub async fn open_database(config: &Config) -> Result<DatabaseConnection, StartupError> {
    let url = &config.database_url;
    let failed = |cause: String| StartupError::Setting {
        setting: DATABASE_URL,
        value: mask_password(url),
        cause,
    };
    check_database_url(url).map_err(failed)?;
    let mut db_config = DatabaseConfig::new(url);
    db_config.max_connections = config.db_max_connections;
    db_config.acquire_timeout = Duration::from_millis(config.db_acquire_timeout_ms);
    db_config.statement_timeout = Duration::from_millis(config.db_statement_timeout_ms.max(1));
    let db = match connect(&db_config).await {
        Ok(db) => db,
        Err(pool_error) => {
            // The pool's error often only says it timed out; one direct attempt says why.
            let cause = connection_failure(url, db_config.connect_timeout)
                .await
                .unwrap_or_else(|| pool_error.to_string());
            let to = authority_of(url)
                .map(|a| format!(" to {a}"))
                .unwrap_or_default();
            return Err(failed(format!("cannot connect{to}: {cause}")));
        }
    };
    // Before the migrations, whose statements would fail obscurely behind such a pooler.
    scheduler_adapters::refuse_transaction_pooling(&db)
        .await
        .map_err(failed)?;
    scheduler_migration::migrate(&db)
        .await
        .map_err(|e| StartupError::Migration {
            database: mask_password(url),
            cause: e.to_string(),
        })?;
    Ok(db)
}

/// The file of a `sqlite://` URL (relative paths against the working directory), `None` for
/// other URLs and in-memory databases.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://")?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || rest.contains("mode=memory") {
        return None;
    }
    let path = std::path::Path::new(path);
    Some(if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|dir| dir.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    })
}

/// [`open_database`] for the one-shot commands that work on a server's data (`keys`,
/// `signing`): a SQLite file must already exist — the default URL is relative, so run from
/// another directory it would make a new, empty database whose keys no server reads. Says on
/// stderr which database it opened.
///
/// # Errors
/// `Setting` naming `DATABASE_URL` when the SQLite file does not exist, or what
/// [`open_database`] fails with.
pub async fn open_existing_database(
    config: &Config,
    command: &str,
) -> Result<DatabaseConnection, StartupError> {
    let url = &config.database_url;
    let described = match sqlite_file(url) {
        Some(file) if !file.is_file() => {
            return Err(StartupError::Setting {
                setting: DATABASE_URL,
                value: mask_password(url),
                cause: format!(
                    "there is no database at {}: `{command}` opens the server's existing \
                     database and never makes one. Run it in the directory the server runs in, \
                     or point DATABASE_URL (--database-url) at the server's database, e.g. \
                     sqlite:///absolute/path/scheduler.db or postgres://...",
                    file.display()
                ),
            });
        }
        Some(file) => format!("SQLite file {}", file.display()),
        None => mask_password(url),
    };
    let db = open_database(config).await?;
    eprintln!("scheduler-server {command}: using the database {described}");
    Ok(db)
}
