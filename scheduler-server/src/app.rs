//! Wiring: build the adapters and the service from a [`Config`], bind, serve until a shutdown
//! signal. Tests start the server exactly as `main` does, through [`Application`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::endpoint::BoxEndpoint;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::{Endpoint, EndpointExt, Server};
use scheduler::wiring::{Parts, Wired, default_cache, wire};
use scheduler_adapters::{
    CachedKeyStore, DatabaseConfig, DnsResolver, HttpExecutor, LocalTierConfig, OsEntropy,
    RateLimitConfig, RateLimiter, RedisCacheConfig, RedisJobCache, SeaOrmKeyStore,
    SeaOrmSigningStore, SystemClock, TieredJobCache, connect, connection_failure, mask_password,
};
use scheduler_core::{
    ActionHandlers, Clock, Dispatcher, Job, JobCache, JobService, KeyService, RoutingExecutor, Run,
    RunService, SigningService, TargetGuard,
};
use sea_orm::DatabaseConnection;
use tokio::sync::watch;

use crate::api::ApiParts;
use crate::api::health::HealthApi;
use crate::api::openapi::RouteTable;
use crate::auth::{Auth, authenticate, rate_limit};
use crate::config::{AuthMode, Config};
use crate::connections::{ConnectionLimits, GuardedAcceptor};
use crate::middleware::{
    allow_header, catch_panics, deadline, limit_body, log_request, refuse_duplicate_keys,
    request_id, trim_path, untrusted_forwarding,
};
use crate::telemetry::HttpMetrics;

/// The names of the settings startup errors point at: the env var, then the flag.
const DATABASE_URL: &str = "DATABASE_URL (--database-url)";
/// See [`DATABASE_URL`].
const REDIS_URL: &str = "REDIS_URL (--redis-url)";
/// See [`DATABASE_URL`].
const BIND: &str = "SCHEDULER_BIND (--bind)";
/// See [`DATABASE_URL`].
const RATE_LIMIT: &str = "SCHEDULER_RATE_LIMIT (--rate-limit) / SCHEDULER_RATE_BURST";
/// See [`DATABASE_URL`].
const TRUSTED_PROXIES: &str = "SCHEDULER_TRUSTED_PROXIES (--trusted-proxies)";
/// See [`DATABASE_URL`].
const TARGET_ALLOW: &str = "SCHEDULER_TARGET_ALLOW (--target-allow)";
/// See [`DATABASE_URL`].
const AUTH_FAILURES: &str = "SCHEDULER_AUTH_FAILURES_PER_MINUTE (--auth-failures-per-minute)";
/// See [`DATABASE_URL`].
const SHUTDOWN_GRACE: &str = "SCHEDULER_SHUTDOWN_GRACE_SECONDS (--shutdown-grace-seconds)";

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
    migration::migrate(&db)
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

/// The per-key limiter `config` asks for: shared through Redis when `REDIS_URL` is set (an
/// unreachable Redis degrades it to per-replica, never fails a request), in-process
/// otherwise; `None` when `SCHEDULER_RATE_LIMIT` is 0.
async fn rate_limiter(config: &Config) -> Result<Option<Arc<RateLimiter>>, StartupError> {
    if config.rate_limit <= 0.0 {
        return Ok(None);
    }
    let limit = RateLimitConfig {
        per_second: config.rate_limit,
        burst: config.rate_burst,
    };
    let invalid = |cause: String| StartupError::Setting {
        setting: RATE_LIMIT,
        value: format!("{} (burst {})", config.rate_limit, config.rate_burst),
        cause,
    };
    limit.validate().map_err(invalid)?;
    let limiter = match &config.redis_url {
        Some(url) => RateLimiter::redis(
            limit,
            url,
            &config.redis_prefix,
            Duration::from_millis(config.redis_timeout_ms.max(1)),
        )
        .await
        .map_err(invalid)?,
        None => RateLimiter::local(limit),
    };
    Ok(Some(Arc::new(limiter)))
}

/// The throttle on failed authentications `config` asks for (`None` when it is 0): a budget
/// of `SCHEDULER_AUTH_FAILURES_PER_MINUTE` failures per client address, all at once or spread
/// over the minute, shared through Redis when `REDIS_URL` is set.
async fn failed_auth_throttle(
    config: &Config,
) -> Result<Option<crate::auth::FailedAuth>, StartupError> {
    if config.auth_failures_per_minute == 0 {
        return Ok(None);
    }
    let limit = RateLimitConfig {
        per_second: f64::from(config.auth_failures_per_minute) / 60.0,
        burst: config.auth_failures_per_minute,
    };
    let limiter = match &config.redis_url {
        Some(url) => RateLimiter::redis(
            limit,
            url,
            &format!("{}auth-failures:", config.redis_prefix),
            Duration::from_millis(config.redis_timeout_ms.max(1)),
        )
        .await
        .map_err(|cause| StartupError::Setting {
            setting: AUTH_FAILURES,
            value: config.auth_failures_per_minute.to_string(),
            cause,
        })?,
        None => RateLimiter::local(limit),
    };
    Ok(Some(crate::auth::FailedAuth::new(limiter)))
}

/// The signing use cases over `db`.
pub fn signing_service(db: &DatabaseConnection, clock: Arc<dyn Clock>) -> SigningService {
    SigningService::new(
        Arc::new(SeaOrmSigningStore::new(db.clone())),
        clock,
        Arc::new(OsEntropy),
    )
}

/// How long a key lookup is remembered: a revoked key is refused by every replica within it.
pub const KEY_CACHE_TTL: Duration = Duration::from_millis(500);

/// The key use cases over `db`, lookups cached for [`KEY_CACHE_TTL`].
pub fn key_service(db: &DatabaseConnection, clock: Arc<dyn Clock>) -> KeyService {
    let store = Arc::new(SeaOrmKeyStore::new(db.clone()));
    KeyService::new(
        Arc::new(CachedKeyStore::new(store, KEY_CACHE_TTL)),
        clock,
        Arc::new(OsEntropy),
    )
}

/// Chooses the cache: Redis when configured; in-process only for a single process (SQLite);
/// none for a shared database without a shared cache, so replicas never serve each other
/// stale data.
async fn choose_cache(
    config: &Config,
    db: &DatabaseConnection,
) -> Result<Arc<dyn JobCache>, StartupError> {
    if let Some(url) = &config.redis_url {
        let mut redis = RedisCacheConfig::new(url);
        redis.prefix = config.redis_prefix.clone();
        redis.ttl = config.cache_ttl();
        redis.timeout = Duration::from_millis(config.redis_timeout_ms);
        redis.breaker_failures = config.redis_breaker_failures;
        let invalid = |cause: String| StartupError::Setting {
            setting: REDIS_URL,
            value: mask_password(url),
            cause,
        };
        if config.local_cache {
            let local = LocalTierConfig {
                capacity: config.cache_capacity,
                ttl: config.cache_ttl(),
                ..LocalTierConfig::new()
            };
            let cache = TieredJobCache::new(redis, local)
                .await
                .map_err(|e| invalid(e.to_string()))?;
            return Ok(Arc::new(cache));
        }
        let cache = RedisJobCache::new(redis)
            .await
            .map_err(|e| invalid(e.to_string()))?;
        return Ok(Arc::new(cache));
    }
    Ok(default_cache(db, config.cache_capacity, config.cache_ttl()))
}

/// The handler every server registers: jobs without a target and without a registered
/// action are logged with their parameters and succeed (what the original service did).
pub fn default_handlers() -> ActionHandlers {
    let mut handlers = ActionHandlers::new();
    add_logging_fallback(&mut handlers);
    handlers
}

/// Makes jobs whose action has no handler log their parameters and succeed (the server's
/// built-in behaviour for jobs without a target).
pub fn add_logging_fallback(handlers: &mut ActionHandlers) {
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
}

/// A built server, bound and ready to run.
pub struct Application {
    /// The bound listener (port 0 resolved), with the connection bounds.
    acceptor: GuardedAcceptor,
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
    /// The pool (for its metrics).
    db: DatabaseConnection,
    /// Longest time without a dispatcher tick before liveness fails.
    tick_bound: Duration,
    /// Longest a request may take.
    request_timeout: Duration,
    /// Whether this replica runs the dispatcher loop.
    dispatch: bool,
    /// How long in-flight requests may run after a shutdown signal.
    grace: Duration,
    /// Peers whose forwarding headers are believed.
    trusted_proxies: Vec<ipnet::IpNet>,
    /// The front door: modes and key lookups.
    auth: Arc<Auth>,
    /// The tenants' delivery signing secrets.
    signing: SigningService,
    /// The per-key rate limit, when on.
    limiter: Option<Arc<RateLimiter>>,
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
        config
            .dispatcher_config()
            .check()
            .map_err(|cause| StartupError::Setting {
                setting: SHUTDOWN_GRACE,
                value: format!(
                    "{} (SCHEDULER_LEASE_SECONDS = {})",
                    config.shutdown_grace_seconds, config.lease_seconds
                ),
                cause,
            })?;
        let trusted_proxies =
            crate::config::parse_networks(&config.trusted_proxies).map_err(|cause| {
                StartupError::Setting {
                    setting: TRUSTED_PROXIES,
                    value: config.trusted_proxies.clone(),
                    cause,
                }
            })?;
        let db = open_database(config).await?;
        let cache = choose_cache(config, &db).await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let guard = TargetGuard::from_allow_list(&config.target_allow).map_err(|cause| {
            StartupError::Setting {
                setting: TARGET_ALLOW,
                value: config.target_allow.clone(),
                cause,
            }
        })?;
        let signing = signing_service(&db, clock.clone());
        let http = match &config.egress_proxy {
            None => HttpExecutor::with_guard(guard.clone()),
            Some(proxy) => HttpExecutor::with_egress_proxy(guard.clone(), proxy),
        }
        .map_err(|e| StartupError::HttpClient(e.to_string()))?
        .with_signing(signing.clone());
        let resolver = (config.target_resolve && config.egress_proxy.is_none())
            .then(|| Arc::new(DnsResolver) as Arc<dyn scheduler_core::HostResolver>);
        let Wired {
            jobs: service,
            runs,
            dispatcher,
        } = wire(Parts {
            db: db.clone(),
            cache,
            clock: clock.clone(),
            executor: Arc::new(RoutingExecutor {
                http: Some(Arc::new(http)),
                actions: handlers,
            }),
            dispatcher: config.dispatcher_config(),
            batch_slots: Some(config.db_batch_slots),
            target_guard: Some((guard, resolver)),
        })
        .await
        // One key for every replica, so a `next` link made by one is followed on another.
        .map_err(|e| StartupError::Setting {
            setting: DATABASE_URL,
            value: mask_password(&config.database_url),
            cause: format!("cannot read the shared cursor key: {e}"),
        })?;
        let keys = key_service(&db, clock.clone());
        let limiter = rate_limiter(config).await?;
        let failures = failed_auth_throttle(config).await?;
        if config.auth == AuthMode::Off && !config.bind.ip().is_loopback() {
            tracing::warn!(
                bind = %config.bind,
                "SCHEDULER_AUTH=off on a non-loopback address: anyone who reaches this port \
                 can read, change and delete every job"
            );
        }
        let cannot_listen = |source: std::io::Error| StartupError::Setting {
            setting: BIND,
            value: config.bind.to_string(),
            cause: format!("cannot listen: {source}"),
        };
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(cannot_listen)?;
        let tcp = TcpAcceptor::from_tokio(listener).map_err(cannot_listen)?;
        let acceptor = GuardedAcceptor::new(
            tcp,
            ConnectionLimits {
                per_client: config.max_connections_per_client,
                exempt: trusted_proxies.clone(),
                head_timeout: Duration::from_millis(config.header_timeout_ms.max(1)),
                idle_timeout: Duration::from_millis(config.keepalive_timeout_ms.max(1)),
            },
        );
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
            db,
            tick_bound: config.health_tick_bound(),
            request_timeout: config.request_timeout(),
            dispatch: config.dispatcher_enabled(),
            grace: Duration::from_secs(config.shutdown_grace_seconds),
            trusted_proxies,
            limiter,
            signing,
            auth: Arc::new(Auth {
                mode: config.auth,
                keys,
                metrics_public: config.metrics_public,
                failures,
                refusal_page: crate::ui::session::refusal,
            }),
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
        let health = HealthApi {
            service: self.jobs.clone(),
            dispatcher: self.dispatch.then(|| self.dispatcher.clone()),
            tick_bound: self.tick_bound,
            db: self.db,
        };
        let dashboard = crate::ui::routes(crate::ui::Ui {
            jobs: self.jobs.clone(),
            runs: self.runs.clone(),
            clock: self.clock.clone(),
            dispatcher: self.dispatch.then(|| self.dispatcher.clone()),
            tick_bound: self.tick_bound,
            auth: self.auth.clone(),
        });
        let (routes, table) = crate::api::routes(ApiParts {
            jobs: self.jobs,
            runs: self.runs,
            clock: self.clock,
            health,
            keys: self.auth.keys.clone(),
            signing: self.signing,
        });
        let table = Arc::new(table);
        let routes = poem::Route::new().nest("/ui", dashboard).nest("/", routes);
        // The metrics recorder, before the first request or run records anything.
        crate::telemetry::exporter();
        crate::telemetry::spawn_upkeep();
        let app = http_app(
            routes,
            &table,
            self.request_timeout,
            self.auth,
            self.limiter,
            Arc::new(self.trusted_proxies),
        );
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

/// The routes behind every cross-cutting layer, outermost first: forwarding headers dropped
/// unless from a trusted proxy, the request id, the log line and metrics (with the path as
/// sent), the front door (who: keys; what a caller may do is decided by each endpoint after
/// routing, see [`crate::auth`]), the per-key rate limit, the panic catcher, the deadline,
/// the body limit, JSON bodies that repeat a key refused, the optional trailing slash (repeated slashes merged) and `Allow` on a
/// 405. Built outside the generic `run_until_stopped` and boxed twice: the
/// nested middleware types otherwise outgrow the compiler's limits.
fn http_app(
    routes: impl Endpoint<Output = poem::Response> + 'static,
    table: &Arc<RouteTable>,
    request_timeout: Duration,
    auth: Arc<Auth>,
    limiter: Option<Arc<RateLimiter>>,
    proxies: Arc<Vec<ipnet::IpNet>>,
) -> BoxEndpoint<'static> {
    let metrics = Arc::new(HttpMetrics::new(table.clone()));
    let allowed = table.clone();
    routes
        .around(move |next, request| allow_header(next, request, allowed.clone()))
        .around(trim_path)
        .around(refuse_duplicate_keys)
        .around(limit_body)
        .around(move |next, request| deadline(next, request, request_timeout))
        .with(catch_panics())
        .around(move |next, request| rate_limit(next, request, limiter.clone()))
        .around(move |next, request| authenticate(next, request, auth.clone()))
        .boxed()
        .around(move |next, request| log_request(next, request, metrics.clone()))
        .around(request_id)
        .around(move |next, request| untrusted_forwarding(next, request, proxies.clone()))
        .boxed()
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
