//! `RateLimiter`: a per-key request rate limit (GCRA), in-process or shared by every replica
//! through Redis.
//!
//! # The algorithm
//! GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp per key): each
//! key has a theoretical arrival time (TAT). A request at `now` is allowed when
//! `max(TAT, now) + T - now <= T × burst` (with `T = 1 / per_second`), and then moves the TAT
//! to `max(TAT, now) + T`; otherwise it is limited, and may retry after the excess. So `burst`
//! requests pass at once, then one every `T`, and over any window of length `w` at most
//! `burst + per_second × w` are allowed.
//!
//! # Shared through Redis
//! [`RateLimiter::redis`]: one Lua script per request — or, at high rates, per lease of up to
//! 10 ms of the rate (a quarter of the burst at most), spent locally (see `lease_size`;
//! measured: one round trip per request cost a third of the throughput at 20k requests/s) —
//! (one round trip, atomic in Redis) reads
//! the key's TAT, takes `now` from the Redis server's `TIME` (so replicas whose clocks disagree
//! still share one timeline), stores the new TAT with an expiry at the moment it stops
//! mattering (no key outlives its state), and answers allowed or limited with the wait.
//! Scripts calling `TIME` before a write need effects replication: the default since Redis 5,
//! the only mode in Redis 7. Every replica must use the same [`RateLimitConfig`] and prefix.
//!
//! # Never failing, never slowing
//! Each Redis call is bounded by the configured timeout. A Redis error or timeout is answered
//! by the in-process limiter instead (the limit degrades to per-replica: with `n` replicas up
//! to `n` times the budget passes during an outage); one warning is logged when an outage
//! starts and one line when it ends. After 3 consecutive failures the circuit breaker
//! ([`crate::redis_guard::RedisGuard`], shared with the cache) opens: requests skip Redis at once instead of each waiting
//! out the timeout, while a background probe pings Redis every 500 ms and closes it when
//! Redis answers. A Redis that cannot be reached when the limiter is built is not an error
//! either: the limiter starts degraded (breaker open) and the probe connects when it can.
//!
//! # In process
//! [`RateLimiter::local`], and the fallback of the shared one: `governor`'s keyed GCRA over a
//! mutex-guarded map. Keys whose state is back to fresh are dropped every
//! [`LOCAL_SWEEP_EVERY`] checks, so memory holds only the keys seen in the last
//! `burst / per_second` seconds (plus at most that many newer ones).

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::Quota;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use redis::{Client, Script};

use crate::redis_guard::{GuardSettings, GuardWording, RedisGuard};
use scheduler_core::lock;

/// Consecutive Redis failures or timeouts that open the breaker.
const BREAKER_FAILURES: u32 = 3;
/// How often an open breaker probes Redis.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// What the guard's log lines say about the limiter.
const WORDING: GuardWording = GuardWording {
    name: "Redis rate limiter",
    meanwhile: "each replica enforces the limit on its own until it answers",
    restored: "; the limit is shared again",
    trips_counter: None,
};
/// The in-process limiter drops keys back at their fresh state once per this many checks.
pub const LOCAL_SWEEP_EVERY: u64 = 4096;
/// The slowest rate [`RateLimiter::local`] clamps to (one request per ~11.6 days).
pub const MIN_PER_SECOND: f64 = 1e-6;
/// The fastest rate [`RateLimiter::local`] clamps to (the GCRA clock counts nanoseconds).
pub const MAX_PER_SECOND: f64 = 1e9;

/// Requests per second and burst allowed per key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitConfig {
    /// Sustained rate, requests per second (fractions allowed: 0.5 is one every 2 s).
    pub per_second: f64,
    /// Requests allowed at once by a key that has been idle.
    pub burst: u32,
}

impl RateLimitConfig {
    /// Checks the settings: `per_second` finite within
    /// [`MIN_PER_SECOND`]..=[`MAX_PER_SECOND`], `burst` at least 1.
    ///
    /// # Errors
    /// Which setting is out of range.
    pub fn validate(&self) -> Result<(), String> {
        if !(MIN_PER_SECOND..=MAX_PER_SECOND).contains(&self.per_second) {
            return Err(format!(
                "rate limit per second must be within {MIN_PER_SECOND}..={MAX_PER_SECOND}, got {}",
                self.per_second
            ));
        }
        if self.burst == 0 {
            return Err("rate limit burst must be at least 1".into());
        }
        Ok(())
    }

    /// The settings brought into range (NaN counts as the slowest rate).
    fn normalized(self) -> Self {
        let per_second = if self.per_second.is_nan() {
            MIN_PER_SECOND
        } else {
            self.per_second.clamp(MIN_PER_SECOND, MAX_PER_SECOND)
        };
        Self {
            per_second,
            burst: self.burst.max(1),
        }
    }

    /// `T`: the time one request costs (at least 1 ns). Normalized settings only.
    fn emission_interval(self) -> Duration {
        Duration::try_from_secs_f64(1.0 / self.per_second)
            .unwrap_or(Duration::MAX)
            .max(Duration::from_nanos(1))
    }
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Serve it.
    Allowed,
    /// Over the limit: answer 429; the same request would be allowed after `retry_after`.
    Limited {
        /// How long until one more request fits the budget.
        retry_after: Duration,
    },
}

impl RateDecision {
    /// The `Retry-After` header value for a limited request: whole seconds, rounded up, at
    /// least 1 (a client told 0 would retry at once and be limited again). `None` when allowed.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Allowed => None,
            Self::Limited { retry_after } => {
                let whole = retry_after.as_secs();
                let rounded = if retry_after.subsec_nanos() > 0 {
                    whole.saturating_add(1)
                } else {
                    whole
                };
                Some(rounded.max(1))
            }
        }
    }
}

/// `governor`'s keyed GCRA with its std clock (`Instant`) and mutex-guarded `HashMap` store.
type KeyedGcra = governor::RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// The in-process limiter.
struct Local {
    gcra: KeyedGcra,
    /// Checks so far, to sweep idle keys every [`LOCAL_SWEEP_EVERY`].
    checks: AtomicU64,
}

impl Local {
    fn new(config: RateLimitConfig) -> Self {
        let config = config.normalized();
        let burst = NonZeroU32::new(config.burst).unwrap_or(NonZeroU32::MIN);
        // `with_period` is `None` only for a zero period, which `emission_interval` excludes.
        let quota = Quota::with_period(config.emission_interval())
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            gcra: KeyedGcra::keyed(quota),
            checks: AtomicU64::new(0),
        }
    }

    fn check(&self, key: &str) -> RateDecision {
        if self.checks.fetch_add(1, Ordering::Relaxed) % LOCAL_SWEEP_EVERY == LOCAL_SWEEP_EVERY - 1
        {
            self.gcra.retain_recent();
            self.gcra.shrink_to_fit();
        }
        match self.gcra.check_key(&key.to_owned()) {
            Ok(()) => RateDecision::Allowed,
            Err(not_until) => RateDecision::Limited {
                retry_after: not_until.wait_time_from(self.gcra.clock().now()),
            },
        }
    }
}

/// GCRA in Redis, in microseconds of the server's clock, taking up to `ARGV[3]` cells at once.
/// `KEYS[1]`: the key's TAT; `ARGV[1]`: `T` in µs (may be fractional); `ARGV[2]`: burst;
/// `ARGV[3]`: cells wanted (≥ 1). Returns `{granted, 0}` with `granted ≥ 1` cells booked, or
/// `{0, wait_µs}` when not even one fits. Limited requests change nothing.
const GCRA_SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now) or now
if tat < now then tat = now end
local fit = math.floor((now + interval * burst - tat) / interval)
if fit < 1 then
  return {0, math.ceil(tat + interval - now - interval * burst)}
end
local granted = math.min(wanted, fit)
local new_tat = tat + interval * granted
redis.call('SET', KEYS[1], string.format('%.0f', new_tat),
  'PX', string.format('%.0f', math.max(1, math.ceil((new_tat - now) / 1000))))
return {granted, 0}
";

/// How long cells taken from Redis ahead of use may wait in a replica before they are
/// dropped, and the span of the rate one lease may take: 10 ms.
const LEASE_SPAN: Duration = Duration::from_millis(10);

/// Cells one call to Redis takes: 10 ms of the rate, at most a quarter of the burst, at
/// least one. With the defaults (100/s, burst 200) that is one: every request asks Redis.
/// At high rates a replica asks once per lease instead of once per request; a key may then
/// pass at most one lease of 10 ms above its budget per replica (cells are booked in Redis
/// when taken, used within `LEASE_SPAN`).
fn lease_size(config: RateLimitConfig) -> u32 {
    let by_rate = config.per_second * LEASE_SPAN.as_secs_f64();
    let by_burst = f64::from(config.burst / 4);
    let cells = by_rate.min(by_burst).floor();
    if cells >= 1.0 && cells < f64::from(u32::MAX) {
        // In range: checked just above.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let cells = cells as u32;
        cells
    } else {
        1
    }
}

/// Cells a replica took from Redis and has not used yet.
#[derive(Debug, Clone, Copy)]
struct Lease {
    /// Cells left.
    remaining: u32,
    /// When the unused ones are dropped.
    until: std::time::Instant,
}

/// The Redis side of a shared limiter.
struct Shared {
    /// The connection, its timeout, breaker and probe.
    guard: Arc<RedisGuard>,
    script: Script,
    /// Namespace of the keys: `{prefix}rate:{key}`.
    prefix: String,
    /// `T` in µs, as the script's argument.
    interval_micros: String,
    burst: u32,
    /// Cells taken per call ([`lease_size`]).
    lease: u32,
    /// Cells taken and not used yet, by key.
    leases: Mutex<std::collections::HashMap<String, Lease>>,
}

impl Shared {
    /// The decision from Redis, or `None` when Redis did not give one in time.
    async fn check(&self, key: &str) -> Option<RateDecision> {
        if self.lease > 1 && self.spend_lease(key) {
            return Some(RateDecision::Allowed);
        }
        let mut connection = self.guard.connection()?;
        let redis_key = format!("{}rate:{key}", self.prefix);
        let mut invocation = self.script.key(redis_key);
        invocation
            .arg(&self.interval_micros)
            .arg(self.burst)
            .arg(self.lease);
        let (granted, wait_micros) = self
            .guard
            .bounded(invocation.invoke_async::<(i64, i64)>(&mut connection))
            .await?;
        Some(if granted >= 1 {
            if granted > 1 {
                self.keep_lease(key, u32::try_from(granted - 1).unwrap_or(0));
            }
            RateDecision::Allowed
        } else {
            RateDecision::Limited {
                retry_after: Duration::from_micros(u64::try_from(wait_micros).unwrap_or(0)),
            }
        })
    }

    /// Uses one cell of `key`'s lease, if it has one left in time.
    fn spend_lease(&self, key: &str) -> bool {
        let mut leases = lock(&self.leases);
        match leases.get_mut(key) {
            Some(lease) if lease.remaining > 0 && std::time::Instant::now() < lease.until => {
                lease.remaining -= 1;
                true
            }
            _ => false,
        }
    }

    /// Keeps `cells` taken ahead for `key`, for [`LEASE_SPAN`].
    fn keep_lease(&self, key: &str, cells: u32) {
        let now = std::time::Instant::now();
        let mut leases = lock(&self.leases);
        if leases.len() > 10_000 {
            leases.retain(|_, lease| lease.until > now);
        }
        leases.insert(
            key.to_owned(),
            Lease {
                remaining: cells,
                until: now + LEASE_SPAN,
            },
        );
    }
}

/// Per-key limiter: in-process, or shared through Redis with an in-process fallback.
#[derive(Clone)]
pub struct RateLimiter {
    /// Answers for a local limiter, and for a shared one whenever Redis does not.
    local: Arc<Local>,
    shared: Option<Arc<Shared>>,
}

impl RateLimiter {
    /// An in-process limiter (one replica, or each replica on its own). Out-of-range settings
    /// are clamped (see [`RateLimitConfig::validate`] to reject them instead).
    pub fn local(config: RateLimitConfig) -> Self {
        Self {
            local: Arc::new(Local::new(config)),
            shared: None,
        }
    }

    /// A limiter shared with every replica through the Redis at `url`.
    ///
    /// `prefix` namespaces the Redis keys (e.g. "scheduler:"); `timeout` bounds each Redis call
    /// (e.g. 50 ms). An unreachable Redis is not an error: the limiter starts degraded
    /// (in-process limit, breaker open, one warning) and a background probe connects it once
    /// Redis answers. Must be called within a Tokio runtime.
    ///
    /// # Errors
    /// Settings out of range ([`RateLimitConfig::validate`]) or a malformed URL.
    pub async fn redis(
        config: RateLimitConfig,
        url: &str,
        prefix: &str,
        timeout: Duration,
    ) -> Result<Self, String> {
        config.validate()?;
        let client = Client::open(url).map_err(|error| format!("Redis URL: {error}"))?;
        let micros = config.emission_interval().as_secs_f64() * 1e6;
        let settings = GuardSettings {
            timeout,
            breaker_failures: BREAKER_FAILURES,
            probe_interval: PROBE_INTERVAL,
        };
        let guard = RedisGuard::start(client, settings, WORDING).await;
        let shared = Arc::new(Shared {
            guard,
            script: Script::new(GCRA_SCRIPT),
            prefix: prefix.to_owned(),
            interval_micros: format!("{micros}"),
            burst: config.burst,
            lease: lease_size(config),
            leases: Mutex::new(std::collections::HashMap::new()),
        });
        Ok(Self {
            local: Arc::new(Local::new(config)),
            shared: Some(shared),
        })
    }

    /// Counts one request of `key` and says whether to serve it.
    pub async fn check(&self, key: &str) -> RateDecision {
        if let Some(shared) = &self.shared
            && let Some(decision) = shared.check(key).await
        {
            return decision;
        }
        self.local.check(key)
    }

    /// True while a shared limiter cannot reach Redis (each replica limits on its own);
    /// always false for a local one.
    pub fn is_degraded(&self) -> bool {
        self.shared
            .as_ref()
            .is_some_and(|shared| shared.guard.is_degraded())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_secs_rounds_up_to_at_least_one() {
        let limited = |ms| RateDecision::Limited {
            retry_after: Duration::from_millis(ms),
        };
        assert_eq!(RateDecision::Allowed.retry_after_secs(), None);
        assert_eq!(limited(0).retry_after_secs(), Some(1));
        assert_eq!(limited(1).retry_after_secs(), Some(1));
        assert_eq!(limited(1000).retry_after_secs(), Some(1));
        assert_eq!(limited(1001).retry_after_secs(), Some(2));
    }

    #[test]
    fn leases_are_ten_ms_of_the_rate_within_a_quarter_of_the_burst() {
        let at = |per_second, burst| lease_size(RateLimitConfig { per_second, burst });
        assert_eq!(at(100.0, 200), 1);
        assert_eq!(at(20.0, 5), 1);
        assert_eq!(at(10_000.0, 20_000), 100);
        assert_eq!(at(1_000_000.0, 1_000_000), 10_000);
        assert_eq!(at(1_000_000.0, 8), 2);
        assert_eq!(at(1e9, 1), 1);
    }

    #[test]
    fn validate_rejects_what_local_clamps() {
        let ok = RateLimitConfig {
            per_second: 10.0,
            burst: 5,
        };
        assert!(ok.validate().is_ok());
        for bad in [
            RateLimitConfig { burst: 0, ..ok },
            RateLimitConfig {
                per_second: 0.0,
                ..ok
            },
            RateLimitConfig {
                per_second: f64::NAN,
                ..ok
            },
            RateLimitConfig {
                per_second: f64::INFINITY,
                ..ok
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
            assert!(bad.normalized().validate().is_ok(), "{bad:?}");
        }
    }
}
