//! `RedisJobCache`: the `JobCache` port over Redis, shared by every replica.
//!
//! # Never stale
//! Two counters live in Redis: `gen`, bumped by every invalidation, and `epoch`, part of every
//! job key. A lookup returns the value and the `gen` it saw (one Lua script, one round trip);
//! a `put` stores only if `gen` is still that value (checked inside Redis, atomically), so a
//! reader that raced a writer cannot store the old row. List pages are keyed by `gen`, so
//! one `INCR` retires every page without `KEYS` or `SCAN`.
//!
//! # Never failing, never slowing
//! Every call is bounded by a short timeout (50 ms by default). Redis slow or down: lookups
//! miss (the service reads the database) and writes are dropped; one warning is logged when an
//! outage starts and one line when it ends; the connection manager reconnects by itself.
//! After 3 consecutive failures or timeouts a circuit breaker opens: calls skip Redis at once
//! (reads go to the database at full speed instead of each waiting the timeout) while a
//! background probe pings Redis every 500 ms and closes the breaker when it answers.
//! Invalidations that could not be delivered are kept and delivered first once Redis answers
//! again; until then a replica that can still reach Redis may serve the pre-write value for
//! at most the TTL — the one residual window, and only under a partition.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::{Client, Script};
use scheduler_core::{
    CacheLookup, CacheReport, CacheStatus, CacheTicket, Direction, Job, JobCache, JobId, JobPage,
    JobPosition, JobSlice, Window,
};
use serde::{Deserialize, Serialize};

use crate::counters::CacheCounters;
use crate::redis_guard::{GuardSettings, GuardWording, RedisGuard};

/// The channel (after the prefix) on which every invalidation is published: `*`, or the
/// job ids separated by commas.
pub const INVALIDATION_CHANNEL: &str = "invalidations";

/// Times the Redis cache breaker opened.
pub const BREAKER_TRIPS_TOTAL: &str = "scheduler_cache_breaker_trips_total";
use crate::store::entity::Model;
use scheduler_core::lock;

/// A ticket no `gen` value ever equals: issued when Redis did not answer.
const NO_TICKET: CacheTicket = CacheTicket::at(u64::MAX);

/// Settings of the Redis cache.
#[derive(Debug, Clone)]
pub struct RedisCacheConfig {
    /// `redis://host:port[/db]`.
    pub url: String,
    /// Prefix of every key (several deployments or tests can share one Redis).
    pub prefix: String,
    /// Lifetime of cached jobs and pages.
    pub ttl: Duration,
    /// Longest wait for any Redis call before falling through to the database.
    pub timeout: Duration,
    /// Consecutive failures or timeouts that open the circuit breaker.
    pub breaker_failures: u32,
    /// How often an open breaker probes Redis.
    pub probe_interval: Duration,
}

impl RedisCacheConfig {
    /// Defaults: prefix `scheduler:`, TTL 60 s, timeout 50 ms, breaker after 3 failures,
    /// probed every 500 ms.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "scheduler:".into(),
            ttl: Duration::from_secs(60),
            timeout: Duration::from_millis(50),
            breaker_failures: 3,
            probe_interval: Duration::from_millis(500),
        }
    }
}

/// A cached list page: rows as the database returned them.
#[derive(Serialize, Deserialize)]
struct CachedPage {
    total: Option<u64>,
    items: Vec<Model>,
    more: bool,
}

/// The Lua scripts, loaded once per connection by EVALSHA (re-sent after a Redis restart).
struct Scripts {
    ping: Script,
    get_job: Script,
    put_job: Script,
    get_list: Script,
    put_list: Script,
    invalidate: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            ping: Script::new("return 1"),
            get_job: Script::new(
                r"local gen = redis.call('GET', ARGV[1]..'gen') or '0'
                  local epoch = redis.call('GET', ARGV[1]..'epoch') or '0'
                  return {gen, redis.call('GET', ARGV[1]..'job:'..epoch..':'..ARGV[2]) or false}",
            ),
            put_job: Script::new(
                r"if (redis.call('GET', ARGV[1]..'gen') or '0') ~= ARGV[3] then return 0 end
                  local epoch = redis.call('GET', ARGV[1]..'epoch') or '0'
                  redis.call('SET', ARGV[1]..'job:'..epoch..':'..ARGV[2], ARGV[4], 'PX', ARGV[5])
                  return 1",
            ),
            get_list: Script::new(
                r"local gen = redis.call('GET', ARGV[1]..'gen') or '0'
                  return {gen, redis.call('GET', ARGV[1]..'list:'..gen..':'..ARGV[2]) or false}",
            ),
            put_list: Script::new(
                r"local gen = redis.call('GET', ARGV[1]..'gen') or '0'
                  if gen ~= ARGV[3] then return 0 end
                  redis.call('SET', ARGV[1]..'list:'..gen..':'..ARGV[2], ARGV[4], 'PX', ARGV[5])
                  return 1",
            ),
            // ARGV[2] = '*' retires every job (new epoch); otherwise ARGV[2..] are job ids.
            // The same script tells every replica's local tier (INVALIDATION_CHANNEL), so the
            // notice cannot be lost between the change and its announcement.
            invalidate: Script::new(
                r"redis.call('INCR', ARGV[1]..'gen')
                  if ARGV[2] == '*' then
                    redis.call('INCR', ARGV[1]..'epoch')
                    redis.call('PUBLISH', ARGV[1]..'invalidations', '*')
                    return 1
                  end
                  local epoch = redis.call('GET', ARGV[1]..'epoch') or '0'
                  for i = 2, #ARGV do redis.call('DEL', ARGV[1]..'job:'..epoch..':'..ARGV[i]) end
                  redis.call('PUBLISH', ARGV[1]..'invalidations', table.concat(ARGV, ',', 2))
                  return 1",
            ),
        }
    }
}

/// Invalidations Redis has not received yet.
#[derive(Default)]
struct Pending {
    /// Job ids to drop.
    ids: BTreeSet<i64>,
    /// Too many ids piled up: retire every job instead.
    everything: bool,
}

impl Pending {
    /// Past this many undelivered ids, a whole-cache retirement is cheaper and as correct.
    const MAX_IDS: usize = 10_000;

    fn add(&mut self, ids: &[JobId]) {
        self.ids.extend(ids.iter().map(|id| id.0));
        if self.ids.len() > Self::MAX_IDS {
            self.ids.clear();
            self.everything = true;
        }
    }

    fn is_empty(&self) -> bool {
        self.ids.is_empty() && !self.everything
    }
}

struct Inner {
    /// The connection, its timeout, breaker and probe.
    guard: Arc<RedisGuard>,
    config: RedisCacheConfig,
    scripts: Scripts,
    pending: Mutex<Pending>,
    counters: CacheCounters,
}

/// The job cache shared by replicas through Redis.
#[derive(Clone)]
pub struct RedisJobCache {
    inner: Arc<Inner>,
}

/// What the guard's log lines say about the cache.
const WORDING: GuardWording = GuardWording {
    name: "Redis cache",
    meanwhile: "reads go to the database until it answers",
    restored: "",
    trips_counter: Some(BREAKER_TRIPS_TOTAL),
};

impl RedisJobCache {
    /// A cache for `config`. Never fails for an unreachable server (it connects in the
    /// background and serves misses meanwhile).
    ///
    /// # Errors
    /// A malformed URL.
    pub async fn new(config: RedisCacheConfig) -> Result<Self, redis::RedisError> {
        let client = Client::open(config.url.as_str())?;
        let settings = GuardSettings {
            timeout: config.timeout,
            breaker_failures: config.breaker_failures,
            probe_interval: config.probe_interval,
        };
        // First connection in the foreground (bounded), so a healthy start serves hits at once.
        let guard = RedisGuard::start(client, settings, WORDING).await;
        Ok(Self {
            inner: Arc::new(Inner {
                guard,
                config,
                scripts: Scripts::new(),
                pending: Mutex::new(Pending::default()),
                counters: CacheCounters::default(),
            }),
        })
    }

    /// Hit/miss counters.
    pub fn counters(&self) -> &CacheCounters {
        &self.inner.counters
    }

    /// One trivial call through the same path as every other (pending invalidations are
    /// delivered first, the breaker and health updated); true when Redis answered. For a
    /// caller that answers reads without Redis (the local tier), so outages still end and
    /// invalidations written during one still reach the other replicas.
    pub async fn check(&self) -> bool {
        let invocation = self.inner.scripts.ping.prepare_invoke();
        self.call::<i64>(invocation).await.is_some()
    }

    /// The settings it runs with.
    pub fn config(&self) -> &RedisCacheConfig {
        &self.inner.config
    }

    /// Runs one script call under the guard, delivering pending invalidations first.
    async fn call<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Option<T> {
        let mut connection = self.inner.guard.connection()?;
        if !self.deliver_pending(&mut connection).await {
            return None;
        }
        self.inner
            .guard
            .bounded(invocation.invoke_async(&mut connection))
            .await
    }

    /// Sends invalidations that failed earlier. False when Redis still does not take them.
    async fn deliver_pending(&self, connection: &mut ConnectionManager) -> bool {
        let pending = {
            let mut pending = lock(&self.inner.pending);
            if pending.is_empty() {
                return true;
            }
            std::mem::take(&mut *pending)
        };
        let mut invocation = self.inner.scripts.invalidate.prepare_invoke();
        invocation.arg(&self.inner.config.prefix);
        if pending.everything {
            invocation.arg("*");
        } else {
            for id in &pending.ids {
                invocation.arg(*id);
            }
        }
        let delivered = self
            .inner
            .guard
            .bounded(invocation.invoke_async::<i64>(connection))
            .await
            .is_some();
        if !delivered {
            let mut kept = lock(&self.inner.pending);
            kept.everything |= pending.everything;
            let ids: Vec<JobId> = pending.ids.iter().map(|id| JobId(*id)).collect();
            kept.add(&ids);
        }
        delivered
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.inner.config.ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// The key of a list page: every part of the slice, as a JSON array (so no text in a
    /// search can make two slices share a key).
    fn list_key(slice: &JobSlice) -> String {
        let window = match &slice.window {
            Window::Offset { offset, limit } => serde_json::json!(["offset", offset, limit]),
            Window::Keyset { keyset, limit } => serde_json::json!([
                if keyset.direction == Direction::Forward {
                    "after"
                } else {
                    "before"
                },
                keyset.from.as_ref().map(JobPosition::to_value),
                limit
            ]),
        };
        serde_json::json!([
            slice.filter.tenant.as_ref().map(|t| t.as_str()),
            slice.filter.is_active,
            slice.filter.search,
            slice.ordering.as_wire(),
            window
        ])
        .to_string()
    }
}

fn ticket_of(gen_text: &str) -> CacheTicket {
    gen_text.parse().map(CacheTicket::at).unwrap_or(NO_TICKET)
}

#[async_trait]
impl JobCache for RedisJobCache {
    async fn get_job(&self, id: JobId) -> CacheLookup<Job> {
        let mut invocation = self.inner.scripts.get_job.prepare_invoke();
        invocation.arg(&self.inner.config.prefix).arg(id.0);
        let found = match self.call::<(String, Option<String>)>(invocation).await {
            None => return self.inner.counters.lookup(None, NO_TICKET),
            Some(found) => found,
        };
        let (gen_text, value) = found;
        let job = value
            .and_then(|text| serde_json::from_str::<Model>(&text).ok())
            .and_then(|row| row.into_job().ok());
        self.inner.counters.lookup(job, ticket_of(&gen_text))
    }

    async fn put_job(&self, job: &Job, ticket: CacheTicket) {
        if ticket == NO_TICKET {
            return;
        }
        let Ok(value) = serde_json::to_string(&Model::from_job(job)) else {
            return;
        };
        let mut invocation = self.inner.scripts.put_job.prepare_invoke();
        invocation
            .arg(&self.inner.config.prefix)
            .arg(job.id.0)
            .arg(ticket.generation)
            .arg(value)
            .arg(self.ttl_ms());
        let _: Option<i64> = self.call(invocation).await;
    }

    async fn invalidate_job(&self, id: JobId) {
        self.invalidate_jobs(&[id]).await;
    }

    async fn invalidate_jobs(&self, ids: &[JobId]) {
        let mut invocation = self.inner.scripts.invalidate.prepare_invoke();
        invocation.arg(&self.inner.config.prefix);
        for id in ids {
            invocation.arg(id.0);
        }
        if self.call::<i64>(invocation).await.is_none() {
            lock(&self.inner.pending).add(ids);
        }
    }

    async fn get_list(&self, slice: &JobSlice) -> CacheLookup<JobPage> {
        let mut invocation = self.inner.scripts.get_list.prepare_invoke();
        invocation
            .arg(&self.inner.config.prefix)
            .arg(Self::list_key(slice));
        let Some((gen_text, value)) = self.call::<(String, Option<String>)>(invocation).await
        else {
            return self.inner.counters.lookup(None, NO_TICKET);
        };
        let page = value
            .and_then(|text| serde_json::from_str::<CachedPage>(&text).ok())
            .and_then(|cached| {
                let items = cached
                    .items
                    .into_iter()
                    .map(Model::into_job)
                    .collect::<Result<Vec<_>, _>>()
                    .ok()?;
                Some(JobPage {
                    total: cached.total,
                    items,
                    more: cached.more,
                })
            });
        self.inner.counters.lookup(page, ticket_of(&gen_text))
    }

    async fn put_list(&self, slice: &JobSlice, page: &JobPage, ticket: CacheTicket) {
        if ticket == NO_TICKET {
            return;
        }
        let cached = CachedPage {
            total: page.total,
            items: page.items.iter().map(Model::from_job).collect(),
            more: page.more,
        };
        let Ok(value) = serde_json::to_string(&cached) else {
            return;
        };
        let mut invocation = self.inner.scripts.put_list.prepare_invoke();
        invocation
            .arg(&self.inner.config.prefix)
            .arg(Self::list_key(slice))
            .arg(ticket.generation)
            .arg(value)
            .arg(self.ttl_ms());
        let _: Option<i64> = self.call(invocation).await;
    }

    fn report(&self) -> CacheReport {
        let status = if self.inner.guard.is_degraded() {
            CacheStatus::Degraded
        } else {
            CacheStatus::Ok
        };
        self.inner.counters.report(status)
    }
}
