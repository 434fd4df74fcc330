//! Wiring: build the adapters and the service from a [`Config`], bind, serve until a shutdown
//! signal. Tests start the server exactly as `main` does, through [`Application`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use poem::listener::{Acceptor, TcpAcceptor};
use poem::middleware::{NormalizePath, TrailingSlash};
use poem::{EndpointExt, Server};
use scheduler_adapters::{
    DatabaseConfig, InMemoryJobCache, NoJobCache, RedisCacheConfig, RedisJobCache,
    SeaOrmJobRepository, SystemClock, connect,
};
use scheduler_core::{JobCache, JobService};
use sea_orm::DatabaseConnection;

use crate::config::Config;
use crate::middleware::{limit_body, log_request};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened.
    #[error("cannot open the database: {0}")]
    Database(String),
    /// The cache settings are invalid (a malformed `REDIS_URL`).
    #[error("invalid cache settings: {0}")]
    Cache(String),
    /// A migration failed.
    #[error("cannot migrate the database: {0}")]
    Migration(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Opens the database pool described by `config` and applies pending migrations.
///
/// # Errors
/// `Database` or `Migration`.
pub async fn open_database(config: &Config) -> Result<DatabaseConnection, StartupError> {
    let mut db_config = DatabaseConfig::new(&config.database_url);
    db_config.max_connections = config.db_max_connections;
    db_config.acquire_timeout = Duration::from_millis(config.db_acquire_timeout_ms);
    let db = connect(&db_config)
        .await
        .map_err(|e| StartupError::Database(e.to_string()))?;
    Migrator::up(&db, None)
        .await
        .map_err(|e| StartupError::Migration(e.to_string()))?;
    Ok(db)
}

/// Chooses the cache: Redis when configured; in-process only for a single process (SQLite);
/// none for a shared database without a shared cache, so replicas never serve each other
/// stale data.
async fn choose_cache(config: &Config) -> Result<Arc<dyn JobCache>, StartupError> {
    if let Some(url) = &config.redis_url {
        let mut redis = RedisCacheConfig::new(url);
        redis.prefix = config.redis_prefix.clone();
        redis.ttl = config.cache_ttl();
        redis.timeout = Duration::from_millis(config.redis_timeout_ms);
        let cache = RedisJobCache::new(redis)
            .await
            .map_err(|e| StartupError::Cache(e.to_string()))?;
        return Ok(Arc::new(cache));
    }
    Ok(if config.is_sqlite() {
        Arc::new(InMemoryJobCache::new(
            config.cache_capacity,
            config.cache_ttl(),
        ))
    } else {
        Arc::new(NoJobCache)
    })
}

/// A built server, bound and ready to run.
pub struct Application {
    /// The bound listener (port 0 resolved).
    acceptor: TcpAcceptor,
    /// The address actually bound.
    local_addr: SocketAddr,
    /// The job use cases, shared by every handler.
    service: JobService,
    /// How long in-flight requests may run after a shutdown signal.
    grace: Duration,
}

impl Application {
    /// Opens and migrates the database, wires the adapters and binds the listener.
    ///
    /// # Errors
    /// Any [`StartupError`].
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        let db = open_database(config).await?;
        let service = JobService::new(
            Arc::new(SeaOrmJobRepository::new(db)),
            choose_cache(config).await?,
            Arc::new(SystemClock),
        );
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|source| StartupError::Bind {
                addr: config.bind,
                source,
            })?;
        let acceptor = TcpAcceptor::from_tokio(listener).map_err(|source| StartupError::Bind {
            addr: config.bind,
            source,
        })?;
        let local_addr = acceptor
            .local_addr()
            .first()
            .and_then(|addr| addr.as_socket_addr().copied())
            .unwrap_or(config.bind);
        Ok(Self {
            acceptor,
            local_addr,
            service,
            grace: Duration::from_secs(config.shutdown_grace_seconds),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish within the
    /// grace period.
    ///
    /// # Errors
    /// I/O errors of the listener.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = crate::api::routes(self.service)
            .with(NormalizePath::new(TrailingSlash::Trim))
            .around(limit_body)
            .around(log_request);
        tracing::info!(addr = %self.local_addr, "listening");
        Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(app, shutdown, Some(self.grace))
            .await
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
