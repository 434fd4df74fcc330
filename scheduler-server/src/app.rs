//! Wiring: build the adapters and the service from a [`Config`], bind, serve until a shutdown
//! signal. Tests start the server exactly as `main` does, through [`Application`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::listener::{Acceptor, TcpAcceptor};
use poem::{EndpointExt, Server};
use scheduler_adapters::{
    DatabaseConfig, HttpExecutor, InMemoryJobCache, NoJobCache, RedisCacheConfig, RedisJobCache,
    SeaOrmJobRepository, SeaOrmRunStore, SystemClock, connect,
};
use scheduler_core::{
    ActionHandlers, Clock, Dispatcher, Job, JobCache, JobService, RoutingExecutor, Run, RunService,
    RunStore,
};
use sea_orm::DatabaseConnection;
use tokio::sync::watch;

use crate::config::Config;
use crate::middleware::{allow_header, limit_body, log_request, trim_path};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened.
    #[error("cannot open the database: {0}")]
    Database(String),
    /// The cache settings are invalid (a malformed `REDIS_URL`).
    #[error("invalid cache settings: {0}")]
    Cache(String),
    /// The HTTP client for run targets could not be built (TLS initialisation).
    #[error("cannot build the HTTP client for run targets: {0}")]
    HttpClient(String),
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
    migration::migrate(&db)
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

/// The handler every server registers: jobs without a target and without a registered
/// action are logged with their parameters and succeed (what the original service did).
pub fn default_handlers() -> ActionHandlers {
    let mut handlers = ActionHandlers::new();
    handlers.fallback(|job: Job, run: Run| async move {
        tracing::info!(
            target: "scheduler_server::job",
            job_id = %job.id,
            job_name = job.spec.name.as_str(),
            run_id = %run.id,
            parameters = %serde_json::Value::Object(job.spec.parameters.as_map().clone()),
            "executing job"
        );
        Ok(())
    });
    handlers
}

/// A built server, bound and ready to run.
pub struct Application {
    /// The bound listener (port 0 resolved).
    acceptor: TcpAcceptor,
    /// The address actually bound.
    local_addr: SocketAddr,
    /// The job use cases, shared by every handler.
    jobs: JobService,
    /// The run use cases.
    runs: RunService,
    /// The source of "now" for handlers.
    clock: Arc<dyn Clock>,
    /// Claims and executes runs (its loop only when enabled; manual runs always).
    dispatcher: Dispatcher,
    /// Whether this replica runs the dispatcher loop.
    dispatch: bool,
    /// How long in-flight requests may run after a shutdown signal.
    grace: Duration,
}

impl Application {
    /// Opens and migrates the database, wires the adapters and binds the listener.
    ///
    /// # Errors
    /// Any [`StartupError`].
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        Self::build_with_handlers(config, default_handlers()).await
    }

    /// [`Application::build`] with the action handlers of an embedding program.
    ///
    /// # Errors
    /// Any [`StartupError`].
    pub async fn build_with_handlers(
        config: &Config,
        handlers: ActionHandlers,
    ) -> Result<Self, StartupError> {
        let db = open_database(config).await?;
        let cache = choose_cache(config).await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let service = JobService::new(
            Arc::new(SeaOrmJobRepository::with_slots(
                db.clone(),
                config.db_batch_slots,
            )),
            cache.clone(),
            clock.clone(),
        );
        let http = HttpExecutor::new().map_err(|e| StartupError::HttpClient(e.to_string()))?;
        let executor = Arc::new(RoutingExecutor {
            http: Some(Arc::new(http)),
            actions: handlers,
        });
        let store: Arc<dyn RunStore> = Arc::new(SeaOrmRunStore::new(db));
        let dispatcher = Dispatcher::new(
            store.clone(),
            executor,
            cache,
            clock.clone(),
            config.dispatcher_config(),
        );
        let runs = RunService::new(service.clone(), store, dispatcher.clone());
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
            jobs: service,
            runs,
            clock,
            dispatcher,
            dispatch: config.dispatcher_enabled(),
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
        let (routes, allowed) = crate::api::routes(self.jobs, self.runs, self.clock);
        let allowed = Arc::new(allowed);
        let app = routes
            .around(move |next, request| allow_header(next, request, allowed.clone()))
            .around(trim_path)
            .around(limit_body)
            .around(log_request);
        // One shutdown signal, seen by the HTTP server and the dispatcher alike.
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let until_stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
        };
        let dispatcher = self.dispatch.then(|| {
            let dispatcher = self.dispatcher.clone();
            let signal = until_stopped(stopped.clone());
            tracing::info!(worker = dispatcher.worker(), "dispatcher started");
            tokio::spawn(async move { dispatcher.run(signal).await })
        });
        tracing::info!(addr = %self.local_addr, "listening");
        let served = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(app, until_stopped(stopped), Some(self.grace))
            .await;
        if let Some(dispatcher) = dispatcher {
            let _ = dispatcher.await;
        }
        served
    }

    /// The dispatcher (for tests that drive it or embedders that run manual runs).
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
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

/// True when `GET /health` on `127.0.0.1:port` answers 200 within 2 s.
pub async fn probe_health(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        stream
            .write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await
            .ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        Some(head.ends_with(b" 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), probe).await,
        Ok(Some(true))
    )
}
