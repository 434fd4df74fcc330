//! The server: [`Application`] wires the pieces a [`Config`] asks for (opened by
//! [`crate::startup`], built by [`crate::parts`], joined by the shared
//! `scheduler::wiring::wire`), binds, and serves until a shutdown signal. Tests start the
//! server exactly as `main` does, through [`Application`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::endpoint::BoxEndpoint;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::{Endpoint, EndpointExt, Server};
use scheduler::wiring::{Parts, Wired, wire};
use scheduler_adapters::{
    ChannelSenders, DnsResolver, HttpExecutor, MetricsTelemetry, RateLimiter, SeaOrmAuditLog,
    SystemClock, mask_password,
};
use scheduler_core::{
    ActionHandlers, Clock, Dispatcher, JobService, Notifier, Retention, RoutingExecutor,
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

use crate::parts::{
    choose_cache, default_handlers, failed_auth_throttle, key_service, rate_limiter,
    signing_service,
};
use crate::startup::{
    BIND, DATABASE_URL, SHUTDOWN_GRACE, SMTP_URL, StartupError, TARGET_ALLOW, TRUSTED_PROXIES,
    open_database,
};

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
    /// Sends the notifications of the outbox (its loop runs with the dispatcher's).
    notifier: Notifier,
    /// Deletes old notifications and audit entries (its loop runs with the dispatcher's).
    retention: Retention,
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
        let senders =
            ChannelSenders::new(http.clone(), config.smtp_config().as_ref()).map_err(|cause| {
                StartupError::Setting {
                    setting: SMTP_URL,
                    value: config
                        .smtp_url
                        .as_deref()
                        .map(mask_password)
                        .unwrap_or_default(),
                    cause,
                }
            })?;
        let resolver = (config.target_resolve && config.egress_proxy.is_none())
            .then(|| Arc::new(DnsResolver) as Arc<dyn scheduler_core::HostResolver>);
        let Wired {
            jobs: service,
            runs,
            dispatcher,
            outbox,
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
        let retention = Retention::new(
            outbox.clone(),
            Arc::new(SeaOrmAuditLog::new(db.clone())),
            clock.clone(),
            config.retention_config(),
        );
        let notifier = Notifier::new(
            outbox,
            Arc::new(senders),
            clock.clone(),
            Arc::new(MetricsTelemetry),
            config.notifier_config(),
        );
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
            notifier,
            retention,
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
        let notifier = self.dispatch.then(|| {
            let notifier = self.notifier.clone();
            let signal = until_stopped(stopped.clone());
            tokio::spawn(async move { notifier.run(signal).await })
        });
        if self.dispatch {
            let retention = self.retention.clone();
            let signal = until_stopped(stopped.clone());
            tokio::spawn(async move { retention.run(signal).await });
        }
        tracing::info!(addr = %self.local_addr, "listening");
        let served = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(app, until_stopped(stopped), Some(self.grace))
            .await;
        if let Some(dispatcher) = dispatcher {
            let _ = dispatcher.await;
        }
        if let Some(notifier) = notifier {
            let _ = notifier.await;
        }
        served
    }

    /// The dispatcher (for tests that drive it or embedders that run manual runs).
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// The notifier (for tests that drive it).
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
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
