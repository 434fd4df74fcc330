//! The server's configuration: one typed struct, read from CLI flags mirrored by env vars.
//!
//! Over 500 lines for one reason: [`Config`] is the single list of settings, each with its
//! flag, env var, default and the help text clap prints; its `impl` holds only the checks
//! across settings. Splitting the list would make `--help` and the README table drift apart.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};
use scheduler_adapters::{default_worker_name, worker_name};
use scheduler_core::{DispatcherConfig, HostLimits, TenantLimits};

/// `scheduler-server [serve|migrate] [flags]`.
#[derive(Debug, Parser)]
#[command(
    name = "scheduler-server",
    version,
    about = "Cron job scheduler: REST API and Swagger UI"
)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by every command.
    #[command(flatten)]
    pub config: Config,
}

/// The subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Manage API keys directly in the database (`keys create|list|revoke`).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Show or rotate a tenant's delivery signing secrets (`signing show|rotate`).
    #[command(subcommand)]
    Signing(SigningCommand),
    /// Apply pending migrations, then serve the API (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Exit 0 when the server on `--bind`'s port answers `GET /health` with 200 (for container
    /// health checks in images without a shell or curl).
    Healthcheck,
}

/// `scheduler-server keys ...`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once (only its hash is stored). The way to make keys: on the
    /// server's host, straight on its database, for any tenant, the first key included. From
    /// elsewhere, a tenant's admin key makes keys for its own tenant over the API
    /// (`POST /scheduler/keys/`, which `schedulerctl keys create` sends), under the same rules.
    Create {
        /// The tenant whose jobs the key reaches.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// `read`, `write` or `admin`.
        #[arg(long, default_value = "admin")]
        scope: String,
        /// A name for the key (recorded as `created_by`/`updated_by` of the jobs it writes).
        #[arg(long, default_value = "admin")]
        name: String,
        /// `text`: the key alone on stdout; `json`: the key and its record as one object.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// List keys (never their secrets).
    List {
        /// Only this tenant's keys.
        #[arg(long)]
        tenant: Option<String>,
        /// `text`: a table; `json`: an array of key records (never secrets).
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Revoke a key by id; every replica refuses it within a second.
    Revoke {
        /// The key's id (from `keys list`).
        id: i64,
    },
}

/// `scheduler-server signing ...`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum SigningCommand {
    /// Print the tenant's valid secrets, current first (creating one if it has none).
    Show {
        /// The tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// `text`: one secret per line; `json`: an array of secret records.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Add a new current secret and print it; the old ones stay valid for the overlap.
    Rotate {
        /// The tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Hours the previous secrets stay valid (0 ends them now).
        #[arg(long, default_value_t = 24)]
        overlap_hours: u32,
        /// `text`: one secret per line; `json`: an array of secret records.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
}

/// How the `keys` and `signing` commands print their result on stdout (messages and logs
/// always go to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// For people, and for `KEY=$(...)`: the key or secrets alone, or a table.
    Text,
    /// For scripts: JSON.
    Json,
}

/// Who must present a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// Until the first key exists, loopback clients are served without one (and others
    /// refused); once one exists, every request needs a key.
    Auto,
    /// Every request needs a key.
    Keys,
    /// No key is needed: every client acts as the `default` tenant's admin.
    Off,
}

/// Every setting of the server. Each flag has an env var of the same meaning.
#[derive(Debug, Clone, Parser)]
pub struct Config {
    /// Database URL: `sqlite://path?mode=rwc` (embedded, single process) or
    /// `postgres://user@host:5432/db` (shared by replicas).
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "sqlite://scheduler.db?mode=rwc"
    )]
    pub database_url: String,

    /// Redis URL for a cache shared by replicas (`redis://127.0.0.1:6379`). Unset: an
    /// in-process cache on SQLite, no cache on PostgreSQL.
    #[arg(long, global = true, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key (lets deployments share a Redis).
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_REDIS_PREFIX",
        default_value = "scheduler:"
    )]
    pub redis_prefix: String,

    /// Longest wait for Redis before a read falls through to the database, in ms.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_REDIS_TIMEOUT_MS",
        default_value_t = 50
    )]
    pub redis_timeout_ms: u64,

    /// Consecutive Redis failures or timeouts after which the cache is bypassed (circuit
    /// breaker open) until a background probe gets an answer.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_REDIS_BREAKER_FAILURES",
        default_value_t = 3
    )]
    pub redis_breaker_failures: u32,

    /// With `REDIS_URL`: keep hot jobs and pages in this process too, dropped by Redis
    /// notices (pub/sub) the moment another replica writes, and not served at all while the
    /// notices cannot be trusted (subscription lost, or a ping unanswered for 300 ms).
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_LOCAL_CACHE",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub local_cache: bool,

    /// Address and port to listen on.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_BIND",
        default_value = "0.0.0.0:8000"
    )]
    pub bind: SocketAddr,

    /// Most pooled database connections.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_DB_MAX_CONNECTIONS",
        default_value_t = 10
    )]
    pub db_max_connections: u32,

    /// Most reads by id, and most inserts, in flight at once; concurrent calls beyond it
    /// share the next query.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_DB_BATCH_SLOTS",
        default_value_t = 2
    )]
    pub db_batch_slots: usize,

    /// How long a request waits for a pooled connection before answering 503, in ms.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_DB_ACQUIRE_TIMEOUT_MS",
        default_value_t = 3_000
    )]
    pub db_acquire_timeout_ms: u64,

    /// Longest a database statement may run, in ms (PostgreSQL `statement_timeout`; SQLite's
    /// wait for the write lock).
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_DB_STATEMENT_TIMEOUT_MS",
        default_value_t = 4_000
    )]
    pub db_statement_timeout_ms: u64,

    /// Longest a request may take, in ms: past it the request is abandoned and answered 503
    /// (a stuck database call cannot hold a client longer).
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_REQUEST_TIMEOUT_MS",
        default_value_t = 5_000
    )]
    pub request_timeout_ms: u64,

    /// Days of run history kept (by fire instant); older runs are deleted. 0 keeps them all.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_RUN_RETENTION_DAYS",
        default_value_t = 30
    )]
    pub run_retention_days: u32,

    /// Audit entries kept, in days (0: forever). Delivered and failed notifications are kept
    /// as long as run history (`SCHEDULER_RUN_RETENTION_DAYS`).
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_AUDIT_RETENTION_DAYS",
        default_value_t = 365
    )]
    pub audit_retention_days: u32,

    /// Who must present an API key: `auto` (loopback is served until the first key exists,
    /// then everyone needs one), `keys` (always) or `off` (never).
    #[arg(long, global = true, env = "SCHEDULER_AUTH", value_enum, default_value_t = AuthMode::Auto)]
    pub auth: AuthMode,

    /// Whether `/metrics` is served without a key (`true`), or needs a read key (`false`).
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_METRICS_PUBLIC",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub metrics_public: bool,

    /// Requests per second allowed per API key (shared by every replica through Redis when
    /// `REDIS_URL` is set); 0 turns the limit off. Requests served without a key are not
    /// limited.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_RATE_LIMIT",
        default_value_t = 100.0
    )]
    pub rate_limit: f64,

    /// Failed authentications (a wrong or revoked key, through the API or the dashboard's
    /// login) one client address may make per minute, all at once or spread; past it, every
    /// request from that address that brings a key answers 429 with `Retry-After`. Shared by
    /// the replicas through Redis when `REDIS_URL` is set. 0 turns it off.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_AUTH_FAILURES_PER_MINUTE",
        default_value_t = 20
    )]
    pub auth_failures_per_minute: u32,

    /// Longest a connection may take to send a request head (from its first byte, or from
    /// its opening), in milliseconds; past it the connection is closed (slowloris).
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_HEADER_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub header_timeout_ms: u64,

    /// Longest a keep-alive connection may stay silent between two requests, in milliseconds.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_KEEPALIVE_TIMEOUT_MS",
        default_value_t = 60_000
    )]
    pub keepalive_timeout_ms: u64,

    /// Most connections one client address may hold open at once (further ones are closed on
    /// arrival); trusted proxies are exempt. 0: no bound.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = 256
    )]
    pub max_connections_per_client: usize,

    /// Requests a key may send at once above the steady rate.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_RATE_BURST",
        default_value_t = 200
    )]
    pub rate_burst: u32,

    /// Internal targets runs may reach despite the SSRF guard: CIDRs (`10.0.0.0/8`),
    /// addresses (`127.0.0.1`) and host names (`hooks.internal`, `*.svc.cluster.local`),
    /// separated by commas. Unset: loopback, private, link-local, CGNAT, multicast and other
    /// non-public addresses are refused.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_TARGET_ALLOW",
        default_value = ""
    )]
    pub target_allow: String,

    /// Whether a target's host name is resolved when a job is written, to refuse a name that
    /// points at a forbidden address at once (runs check every address they dial either way).
    /// Skipped with an egress proxy, which resolves names itself.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_TARGET_RESOLVE",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub target_resolve: bool,

    /// An egress proxy every HTTP delivery goes through (`http://proxy:3128`). Proxy
    /// variables of the environment (`HTTP_PROXY`, ...) are ignored: set this instead.
    #[arg(long, global = true, env = "SCHEDULER_EGRESS_PROXY")]
    pub egress_proxy: Option<String>,

    /// The SMTP relay e-mail channels send through: `smtp://host:25` (plain, a local relay),
    /// `smtps://user:password@host` (TLS) or `smtp://host:587?tls=required` (STARTTLS).
    /// Unset: e-mail channels can be written, and their notifications fail naming this.
    #[arg(long, global = true, env = "SCHEDULER_SMTP_URL")]
    pub smtp_url: Option<String>,

    /// The sender of notification e-mails.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_SMTP_FROM",
        default_value = "Scheduler <scheduler@localhost>"
    )]
    pub smtp_from: String,

    /// Longest one notification may take to send (an SMTP step, a webhook's whole
    /// exchange); a channel that hangs costs this and delays no run.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_NOTIFY_TIMEOUT_SECONDS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=50)
    )]
    pub notify_timeout_seconds: u64,

    /// The server's address as users reach it (`https://scheduler.example.com`): the base of
    /// the links in notifications. Unset: links are paths.
    #[arg(long, global = true, env = "SCHEDULER_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Reverse proxies whose `X-Forwarded-*` and `Forwarded` headers are believed (CIDRs or
    /// addresses, separated by commas). From any other peer these headers are removed before
    /// anything reads them. Unset: no proxy is trusted.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_TRUSTED_PROXIES",
        default_value = ""
    )]
    pub trusted_proxies: String,

    /// Newest runs kept per job; older ones are deleted. 0: no cap.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_RUNS_PER_JOB",
        default_value_t = 1_000
    )]
    pub runs_per_job: u32,

    /// Longest one dispatcher tick (recover, retries, claim) may take, in ms, before it is
    /// abandoned (its transactions roll back) and retried.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_CLAIM_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub claim_timeout_ms: u64,

    /// How long cached jobs and pages live, in seconds.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_CACHE_TTL_SECONDS",
        default_value_t = 60
    )]
    pub cache_ttl_seconds: u64,

    /// Most jobs (and, separately, list pages) held by the in-process cache.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_CACHE_CAPACITY",
        default_value_t = 10_000
    )]
    pub cache_capacity: u64,

    /// `on`: this replica claims and executes runs; `off`: API only.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_DISPATCHER",
        default_value = "on",
        value_parser = ["on", "off"]
    )]
    pub dispatcher: String,

    /// Most in-process handler runs (jobs without a target) held at once in this replica,
    /// executing or waiting for their outcome to be stored.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_MAX_CONCURRENT_RUNS",
        default_value_t = 4_096
    )]
    pub max_concurrent_runs: usize,

    /// Most HTTP deliveries (jobs with a target) in flight at once in this replica (each
    /// holds a connection: keep the file-descriptor limit above it).
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_MAX_CONCURRENT_DELIVERIES",
        default_value_t = 4_096
    )]
    pub max_concurrent_deliveries: usize,

    /// Most deliveries in flight at once to one receiving host (`host:port` as written in the
    /// target URL); a host at its cap is left out of claims until one of its runs ends.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_MAX_DELIVERIES_PER_HOST",
        default_value_t = 1_024
    )]
    pub max_deliveries_per_host: usize,

    /// Limits for chosen receiving hosts, across every replica: entries separated by `;`,
    /// each a host key (`host` or `host:port` as in the URL) and `parallel=N` (deliveries
    /// running at once), `rate=N/s|N/min|N/h` and `burst=N`; e.g.
    /// `api.example.com parallel=4 rate=10/s burst=5; hooks.internal:8080 rate=120/min`.
    /// Fires past a limit stay due for a later claim.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_HOST_LIMITS",
        default_value = "",
        hide_default_value = true,
        value_parser = HostLimits::parse
    )]
    pub host_limits: HostLimits,

    /// Settings for chosen tenants, across every replica: entries separated by `;`, each a
    /// tenant and `weight=N` (its share of each claim while other tenants have due fires;
    /// 1 by default) and/or `running=N` (most of its runs executing at once); e.g.
    /// `payments weight=4; batch running=200`.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_TENANT_LIMITS",
        default_value = "",
        hide_default_value = true,
        value_parser = TenantLimits::parse
    )]
    pub tenant_limits: TenantLimits,

    /// Fires of each kind a claim asks for after a quiet spell; full claims double it up to
    /// `--claim-batch-max`.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_CLAIM_BATCH",
        default_value_t = 100
    )]
    pub claim_batch: u32,

    /// Most fires of each kind one claim asks for while a backlog lasts.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_CLAIM_BATCH_MAX",
        default_value_t = 1_000
    )]
    pub claim_batch_max: u32,

    /// Claims this replica runs at once while claims come back full.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_CLAIMS_IN_FLIGHT",
        default_value_t = 2
    )]
    pub claims_in_flight: usize,

    /// Longest time between two claims, in ms (how fast jobs made elsewhere are seen).
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_POLL_INTERVAL_MS",
        default_value_t = 1_000
    )]
    pub poll_interval_ms: u64,

    /// A running run whose worker sent no heartbeat for this long is run again, in seconds.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_LEASE_SECONDS",
        default_value_t = 30
    )]
    pub lease_seconds: u64,

    /// This replica's name on the runs it executes (default: host name and process id); at
    /// most 255 characters.
    #[arg(long, global = true, env = "SCHEDULER_WORKER_ID", value_parser = worker_name)]
    pub worker_id: Option<String>,

    /// A fire whose attempts were abandoned by dead workers this many times ends `failed`
    /// instead of running again (at least 1).
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_MAX_ABANDONED_ATTEMPTS",
        default_value_t = 3,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_abandoned_attempts: u32,

    /// Liveness (`GET /health`) fails when the dispatcher has completed no tick for this long,
    /// in seconds (it ticks at least every poll interval when healthy).
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_HEALTH_TICK_BOUND_SECONDS",
        default_value_t = 60
    )]
    pub health_tick_bound_seconds: u64,

    /// Log line format: `text` (human) or `json` (one JSON object per line).
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_LOG_FORMAT",
        default_value = "text",
        value_parser = ["text", "json"]
    )]
    pub log_format: String,

    /// On SIGTERM/SIGINT, how long in-flight requests and runs may take before the server
    /// exits, in seconds; runs still executing then are abandoned and released to other
    /// replicas at once. Must be shorter than `SCHEDULER_LEASE_SECONDS`.
    #[arg(
        long,
        global = true,
        env = "SCHEDULER_SHUTDOWN_GRACE_SECONDS",
        default_value_t = 25
    )]
    pub shutdown_grace_seconds: u64,
}

impl Config {
    /// The configuration from the environment variables alone, as the binary reads them
    /// without flags.
    ///
    /// # Errors
    /// A variable with an invalid value, named with the reason.
    pub fn from_env() -> Result<Self, clap::Error> {
        Config::try_parse_from(["scheduler-server"])
    }

    /// The defaults with another database and bind address (what tests start).
    pub fn for_database(database_url: impl Into<String>, bind: SocketAddr) -> Self {
        let mut config = Config::parse_from(["scheduler-server"]);
        config.database_url = database_url.into();
        config.bind = bind;
        config.redis_url = None;
        config
    }

    /// The notifier's settings: the send timeout, links under the public URL.
    pub fn notifier_config(&self) -> scheduler_core::NotifierConfig {
        scheduler_core::NotifierConfig {
            send_timeout: Duration::from_secs(self.notify_timeout_seconds),
            links: scheduler_core::Links {
                base: self.public_url.clone().unwrap_or_default(),
            },
            ..scheduler_core::NotifierConfig::default()
        }
    }

    /// What is kept of notifications and the audit trail.
    pub fn retention_config(&self) -> scheduler_core::RetentionConfig {
        let days = |n: u32| (n > 0).then(|| Duration::from_secs(u64::from(n) * 24 * 3600));
        scheduler_core::RetentionConfig {
            notifications: days(self.run_retention_days),
            audit: days(self.audit_retention_days),
            ..scheduler_core::RetentionConfig::default()
        }
    }

    /// The SMTP relay's settings, when one is configured.
    pub fn smtp_config(&self) -> Option<scheduler_adapters::SmtpConfig> {
        self.smtp_url
            .as_ref()
            .map(|url| scheduler_adapters::SmtpConfig {
                url: url.clone(),
                from: self.smtp_from.clone(),
                timeout: Duration::from_secs(self.notify_timeout_seconds),
            })
    }

    /// True for an embedded SQLite database (one process only).
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// True when this replica runs the dispatcher.
    pub fn dispatcher_enabled(&self) -> bool {
        self.dispatcher == "on"
    }

    /// The dispatcher's settings.
    pub fn dispatcher_config(&self) -> DispatcherConfig {
        let worker = self.worker_id.clone().unwrap_or_else(default_worker_name);
        let mut config = DispatcherConfig::new(worker);
        config.batch_size = self.claim_batch.max(1);
        config.max_batch_size = self.claim_batch_max.max(config.batch_size);
        config.claims_in_flight = self.claims_in_flight.max(1);
        config.max_concurrent_runs = self.max_concurrent_runs.max(1);
        config.max_concurrent_deliveries = self.max_concurrent_deliveries.max(1);
        config.max_deliveries_per_host = self.max_deliveries_per_host.max(1);
        config.host_limits = std::sync::Arc::new(self.host_limits.clone());
        config.tenant_limits = std::sync::Arc::new(self.tenant_limits.clone());
        config.poll_interval = Duration::from_millis(self.poll_interval_ms.max(10));
        config.lease = Duration::from_secs(self.lease_seconds.max(1));
        config.shutdown_grace = Duration::from_secs(self.shutdown_grace_seconds);
        config.max_abandoned_attempts = self.max_abandoned_attempts;
        config.tick_timeout = Duration::from_millis(self.claim_timeout_ms.max(100));
        config.retention = (self.run_retention_days > 0)
            .then(|| Duration::from_secs(u64::from(self.run_retention_days) * 24 * 3600));
        config.runs_per_job = (self.runs_per_job > 0).then_some(self.runs_per_job);
        config
    }

    /// Cache time-to-live.
    pub fn cache_ttl(&self) -> Duration {
        Duration::from_secs(self.cache_ttl_seconds)
    }

    /// How long the dispatcher may go without a completed tick before liveness fails.
    pub fn health_tick_bound(&self) -> Duration {
        Duration::from_secs(self.health_tick_bound_seconds.max(1))
    }

    /// Longest a request may take.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms.max(100))
    }

    /// True for JSON log lines.
    pub fn json_logs(&self) -> bool {
        self.log_format == "json"
    }
}

/// Reads a list of CIDRs or single addresses separated by commas or white space.
///
/// # Errors
/// The first entry that is neither, with the reason.
pub fn parse_networks(list: &str) -> Result<Vec<ipnet::IpNet>, String> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{entry:?} is neither a CIDR nor an IP address"))
        })
        .collect()
}
