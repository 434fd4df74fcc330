//! `RedisGuard`: how every adapter reaches an optional Redis — one connection, each call
//! bounded by a timeout, a circuit breaker after consecutive failures, and a background probe
//! that reconnects and closes the breaker when Redis answers again. The job cache
//! ([`crate::redis_cache`]) and the shared rate limiter ([`crate::rate_limit`]) both go
//! through it; what each does while Redis is away (read the database, limit per replica) is
//! theirs, and so are the words of its log lines ([`GuardWording`]).
//!
//! Never an error for the caller: a call that fails, times out, finds no connection or meets
//! an open breaker answers `None`, and the adapter falls back. One warning is logged when an
//! outage starts and one line when it ends.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::Client;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use scheduler_core::lock;

use crate::breaker::{Breaker, Tripped};

/// Longest wait for a (re)connection to Redis, when starting or probing.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How a guard calls Redis.
#[derive(Debug, Clone, Copy)]
pub struct GuardSettings {
    /// Longest wait for any one call.
    pub timeout: Duration,
    /// Consecutive failures or timeouts that open the breaker.
    pub breaker_failures: u32,
    /// How often an open breaker probes Redis.
    pub probe_interval: Duration,
}

/// What the guard's log lines call the dependency and say the adapter does meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct GuardWording {
    /// The dependency as its user knows it, e.g. "Redis cache".
    pub name: &'static str,
    /// What happens during an outage, e.g. "reads go to the database until it answers".
    pub meanwhile: &'static str,
    /// Added when it answers again, e.g. "; the limit is shared again" (may be empty).
    pub restored: &'static str,
    /// A counter incremented each time the breaker opens, if any.
    pub trips_counter: Option<&'static str>,
}

/// One adapter's way to Redis (see the module documentation).
pub struct RedisGuard {
    client: Client,
    /// `None` until a connection was made (the manager then reconnects by itself).
    connection: Mutex<Option<ConnectionManager>>,
    settings: GuardSettings,
    wording: GuardWording,
    /// False during an outage (one warning when it turns false).
    healthy: AtomicBool,
    /// Opens after consecutive failures: calls then skip Redis until a probe succeeds.
    breaker: Breaker,
}

impl RedisGuard {
    /// A guard connected to `client` (the first connection in the foreground, bounded, so a
    /// healthy start serves at once). A Redis that does not answer is not an error: the guard
    /// starts degraded (breaker open, one warning) and its probe connects when it can. Must be
    /// called within a Tokio runtime.
    pub async fn start(
        client: Client,
        settings: GuardSettings,
        wording: GuardWording,
    ) -> Arc<Self> {
        let guard = Arc::new(Self {
            client,
            connection: Mutex::new(None),
            settings,
            wording,
            healthy: AtomicBool::new(true),
            breaker: Breaker::new(settings.breaker_failures),
        });
        if let Err(error) = guard.connect().await {
            guard.outage(&error);
            guard.open();
        }
        guard
    }

    /// The connection to call through, or `None` (the caller falls back) while the breaker is
    /// open or no connection was made yet.
    pub fn connection(self: &Arc<Self>) -> Option<ConnectionManager> {
        if self.breaker.is_open() {
            return None;
        }
        let connection = lock(&self.connection).clone();
        if connection.is_none() {
            self.failed("not connected");
        }
        connection
    }

    /// Awaits one call under the timeout: its value, or `None` after counting the failure or
    /// timeout towards the breaker.
    pub async fn bounded<T>(
        self: &Arc<Self>,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        match tokio::time::timeout(self.settings.timeout, call).await {
            Ok(Ok(value)) => {
                self.breaker.succeeded();
                self.recovered();
                Some(value)
            }
            Ok(Err(error)) => {
                self.failed(&error.to_string());
                None
            }
            Err(_) => {
                self.failed("timed out");
                None
            }
        }
    }

    /// A call failed or timed out, or there was no connection: counts towards the breaker,
    /// and when this failure opens it, starts the probe.
    fn failed(self: &Arc<Self>, error: &str) {
        self.outage(error);
        if self.breaker.failed() == Tripped::Now {
            self.tripped();
        }
    }

    /// True while calls skip Redis (breaker open) or the last call failed.
    pub fn is_degraded(&self) -> bool {
        self.breaker.is_open() || !self.healthy.load(Ordering::SeqCst)
    }

    /// Opens a connection (bounded). Errors say why not.
    async fn connect(&self) -> Result<ConnectionManager, String> {
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(self.settings.timeout))
            .set_number_of_retries(1);
        let attempt = ConnectionManager::new_with_config(self.client.clone(), manager_config);
        match tokio::time::timeout(CONNECT_TIMEOUT.saturating_mul(2), attempt).await {
            Ok(Ok(manager)) => {
                *lock(&self.connection) = Some(manager.clone());
                Ok(manager)
            }
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("connect timed out".into()),
        }
    }

    /// Opens the breaker at once (a start without Redis).
    fn open(self: &Arc<Self>) {
        for _ in 0..self.settings.breaker_failures.max(1) {
            if self.breaker.failed() == Tripped::Now {
                self.tripped();
            }
        }
    }

    /// This failure opened the breaker: say so and probe.
    fn tripped(self: &Arc<Self>) {
        if let Some(counter) = self.wording.trips_counter {
            metrics::counter!(counter).increment(1);
        }
        tracing::warn!(
            failures = self.settings.breaker_failures,
            probe_every_ms =
                u64::try_from(self.settings.probe_interval.as_millis()).unwrap_or(u64::MAX),
            "{} breaker open: Redis is skipped until a probe answers",
            self.wording.name
        );
        tokio::spawn(probe_until_answered(Arc::downgrade(self)));
    }

    fn outage(&self, error: &str) {
        if self.healthy.swap(false, Ordering::SeqCst) {
            tracing::warn!(
                %error,
                "{} unavailable; {}",
                self.wording.name,
                self.wording.meanwhile
            );
        }
    }

    fn recovered(&self) {
        if !self.healthy.swap(true, Ordering::SeqCst) {
            tracing::info!(
                "{} answers again{}",
                self.wording.name,
                self.wording.restored
            );
        }
    }
}

/// Every probe interval: connects if there is no connection yet, pings, and closes the
/// breaker when Redis answers. Ends then, or when the guard is dropped.
async fn probe_until_answered(guard: Weak<RedisGuard>) {
    loop {
        let interval = match guard.upgrade() {
            Some(guard) => guard.settings.probe_interval,
            None => return,
        };
        tokio::time::sleep(interval).await;
        let Some(guard) = guard.upgrade() else {
            return;
        };
        let existing = lock(&guard.connection).clone();
        let mut connection = match existing {
            Some(connection) => connection,
            None => match guard.connect().await {
                Ok(connection) => connection,
                Err(_) => continue,
            },
        };
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        if matches!(
            tokio::time::timeout(guard.settings.timeout, ping).await,
            Ok(Ok(_))
        ) {
            guard.breaker.close();
            guard.recovered();
            tracing::info!("{} breaker closed: Redis answers again", guard.wording.name);
            return;
        }
    }
}
