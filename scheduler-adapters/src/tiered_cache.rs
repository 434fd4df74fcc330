//! `TieredJobCache`: an in-process copy of hot jobs and list pages in front of the shared
//! Redis cache, kept fresh by Redis, so that most reads cost no network round trip.
//!
//! # Never stale beyond one notice
//! Every invalidation runs one Redis script that bumps the shared generation, drops the keys
//! and `PUBLISH`es the job ids on `<prefix>invalidations` (see `redis_cache`). Each replica
//! keeps one subscription open; a notice drops the named jobs and every list page from the
//! local tier and bumps its local generation, so a read that raced the write cannot store
//! the old value locally either (the ticket carries the local generation it started with). A
//! write on replica A is therefore invisible on replica B for at most the time its notice
//! takes to arrive.
//!
//! # Never serving what might be stale
//! Redis delivers a notice at most once, and only over a live connection. So the local tier
//! answers only while the subscription is known alive: confirmed by Redis, and answering a
//! `PING` every [`LocalTierConfig::heartbeat`]. Each answer extends the tier's life by
//! [`LocalTierConfig::liveness`]; a closed connection ends it at once, an unanswered ping
//! when the liveness runs out. Whenever it ends — and again when a new subscription is
//! confirmed, since notices sent in between are lost — the local tier is emptied and its
//! generation bumped. Meanwhile reads go to the shared cache, exactly as without the tier.
//!
//! The one residual window is the shared cache's own: a replica that cannot reach Redis when
//! it writes keeps its notice pending (delivered when Redis answers again) while replicas that
//! can reach Redis keep serving the old value, locally or not, for at most the TTL.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use moka::sync::Cache;
use scheduler_core::{
    CacheLookup, CacheReport, CacheTicket, Job, JobCache, JobId, JobPage, JobSlice,
};

use crate::counters::CacheCounters;
use crate::redis_cache::{INVALIDATION_CHANNEL, RedisCacheConfig, RedisJobCache};
use scheduler_core::lock;

/// How often the subscriber calls the shared tier while the local tier answers reads.
const SHARED_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Settings of the local tier.
#[derive(Debug, Clone)]
pub struct LocalTierConfig {
    /// Most jobs, and most list pages, kept in this process.
    pub capacity: u64,
    /// Longest an entry is kept (also bounded by every notice).
    pub ttl: Duration,
    /// How often the subscription is pinged.
    pub heartbeat: Duration,
    /// How long after its last sign of life the subscription is trusted; past it the local
    /// tier stops answering and is emptied.
    pub liveness: Duration,
}

impl LocalTierConfig {
    /// Defaults: 10,000 jobs and pages for 60 s, pinged every 100 ms, trusted 300 ms.
    pub fn new() -> Self {
        Self {
            capacity: 10_000,
            ttl: Duration::from_secs(60),
            heartbeat: Duration::from_millis(100),
            liveness: Duration::from_millis(300),
        }
    }
}

impl Default for LocalTierConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The state shared by the cache and its subscriber task.
struct Local {
    /// Jobs by id.
    jobs: Cache<JobId, Job>,
    /// List pages by slice.
    lists: Cache<JobSlice, JobPage>,
    /// Bumped by every invalidation seen (own, notified, or a lost subscription).
    generation: AtomicU64,
    /// Makes "check the generation, then store" atomic against "bump, then drop".
    write_lock: Mutex<()>,
    /// Milliseconds after `started` until which the subscription is trusted (0: not live).
    live_until_ms: AtomicU64,
    /// The origin of `live_until_ms`.
    started: Instant,
    /// Lookups answered locally.
    counters: CacheCounters,
    /// Settings.
    config: LocalTierConfig,
}

impl Local {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether local entries may be served now.
    fn is_live(&self) -> bool {
        self.now_ms() < self.live_until_ms.load(Ordering::SeqCst)
    }

    /// The subscription showed a sign of life: trust it for another `liveness`.
    fn alive(&self) {
        let liveness = u64::try_from(self.config.liveness.as_millis()).unwrap_or(u64::MAX);
        self.live_until_ms
            .store(self.now_ms().saturating_add(liveness), Ordering::SeqCst);
    }

    /// The subscription may have missed notices: stop answering and forget everything.
    fn distrust(&self) {
        self.live_until_ms.store(0, Ordering::SeqCst);
        self.drop_all();
    }

    fn drop_all(&self) {
        let _guard = lock(&self.write_lock);
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.jobs.invalidate_all();
        self.lists.invalidate_all();
    }

    fn drop_jobs(&self, ids: &[JobId]) {
        let _guard = lock(&self.write_lock);
        self.generation.fetch_add(1, Ordering::SeqCst);
        for id in ids {
            self.jobs.invalidate(id);
        }
        self.lists.invalidate_all();
    }

    /// Runs `store` unless an invalidation happened since `generation` or the tier is not
    /// live (an entry stored then could miss its notice).
    fn store_if_current(&self, generation: u64, store: impl FnOnce()) {
        let _guard = lock(&self.write_lock);
        if self.generation.load(Ordering::SeqCst) == generation && self.is_live() {
            store();
        }
    }

    /// Applies one notice: `*`, or job ids separated by commas. An unreadable notice drops
    /// everything (it said something changed).
    fn notice(&self, payload: &str) {
        let ids: Option<Vec<JobId>> = payload
            .split(',')
            .map(|id| id.trim().parse().ok().map(JobId))
            .collect();
        match ids {
            Some(ids) if payload != "*" => self.drop_jobs(&ids),
            _ => self.drop_all(),
        }
    }
}

/// A job cache with a local tier in front of the shared Redis cache (see the module docs).
#[derive(Clone)]
pub struct TieredJobCache {
    /// The shared tier.
    shared: RedisJobCache,
    /// The local tier.
    local: Arc<Local>,
    /// Stops the subscriber task when the last clone is dropped.
    _subscriber: Arc<AbortOnDrop>,
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl TieredJobCache {
    /// The shared cache of `shared` with a local tier of `local`. Never fails for an
    /// unreachable Redis: the local tier stays off until a subscription is confirmed.
    ///
    /// # Errors
    /// A malformed URL.
    pub async fn new(
        shared: RedisCacheConfig,
        local: LocalTierConfig,
    ) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(shared.url.as_str())?;
        let channel = format!("{}{INVALIDATION_CHANNEL}", shared.prefix);
        let shared = RedisJobCache::new(shared).await?;
        let local = Arc::new(Local {
            jobs: Cache::builder()
                .max_capacity(local.capacity)
                .time_to_live(local.ttl)
                .build(),
            lists: Cache::builder()
                .max_capacity(local.capacity)
                .time_to_live(local.ttl)
                .build(),
            generation: AtomicU64::new(0),
            write_lock: Mutex::new(()),
            live_until_ms: AtomicU64::new(0),
            started: Instant::now(),
            counters: CacheCounters::default(),
            config: local,
        });
        let task = tokio::spawn(subscribe_forever(
            client,
            channel,
            local.clone(),
            shared.clone(),
        ));
        let cache = Self {
            shared,
            local,
            _subscriber: Arc::new(AbortOnDrop(task)),
        };
        // Give a healthy Redis a moment to confirm, so the first reads can be local.
        for _ in 0..20 {
            if cache.local.is_live() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(cache)
    }

    /// Whether the local tier answers now (its subscription is confirmed and alive).
    pub fn local_tier_live(&self) -> bool {
        self.local.is_live()
    }

    /// The shared tier.
    pub fn shared(&self) -> &RedisJobCache {
        &self.shared
    }

    fn ticket(&self, shared: CacheTicket, local: u64) -> CacheTicket {
        CacheTicket {
            generation: shared.generation,
            local,
        }
    }
}

/// Keeps a subscription to `channel` open for as long as the task runs: applies notices,
/// pings, and distrusts the local tier whenever the subscription may have missed one.
async fn subscribe_forever(
    client: redis::Client,
    channel: String,
    local: Arc<Local>,
    shared: RedisJobCache,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match subscribe_once(&client, &channel, &local, &shared).await {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(error) => {
                tracing::debug!(%error, "cache invalidation subscription failed");
            }
        }
        local.distrust();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// One subscription, until it fails. The local tier is trusted only inside.
async fn subscribe_once(
    client: &redis::Client,
    channel: &str,
    local: &Local,
    shared: &RedisJobCache,
) -> Result<(), String> {
    let bound = local.config.liveness.max(Duration::from_millis(100)) * 4;
    let pubsub = tokio::time::timeout(bound, client.get_async_pubsub())
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let (mut sink, mut stream) = pubsub.split();
    tokio::time::timeout(bound, sink.subscribe(channel))
        .await
        .map_err(|_| "subscribe timed out".to_string())?
        .map_err(|e| e.to_string())?;
    // Notices sent before the subscription was confirmed are lost: start empty.
    local.drop_all();
    local.alive();
    tracing::info!(
        channel,
        "local cache tier on: invalidations arrive by subscription"
    );
    // Local hits never touch the shared tier; call it now and then so that its outage state
    // ends, and invalidations it holds from an outage go out, although reads do not ask it.
    shared.check().await;
    let mut last_check = Instant::now();
    let mut heartbeat = tokio::time::interval(local.config.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(message) => {
                    let payload: String = message.get_payload().unwrap_or_else(|_| "*".to_string());
                    local.notice(&payload);
                    local.alive();
                }
                None => break Err("the subscription connection closed".to_string()),
            },
            _ = heartbeat.tick() => {
                // In subscribed mode Redis answers a ping with ["pong", ""].
                match tokio::time::timeout(local.config.liveness, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => {
                        local.alive();
                        if last_check.elapsed() >= SHARED_CHECK_EVERY {
                            last_check = Instant::now();
                            shared.check().await;
                        }
                    }
                    Ok(Err(error)) => break Err(error.to_string()),
                    Err(_) => break Err("no answer to a ping".to_string()),
                }
            }
        }
    };
    tracing::warn!(
        error = result.as_ref().err().map(String::as_str),
        "local cache tier off: reads go to the shared cache until the subscription is back"
    );
    result
}

#[async_trait]
impl JobCache for TieredJobCache {
    async fn get_job(&self, id: JobId) -> CacheLookup<Job> {
        let generation = self.local.generation.load(Ordering::SeqCst);
        if self.local.is_live()
            && let Some(job) = self.local.jobs.get(&id)
        {
            return self.local.counters.lookup(Some(job), CacheTicket::at(0));
        }
        match self.shared.get_job(id).await {
            CacheLookup::Hit(job) => {
                self.local.store_if_current(generation, || {
                    self.local.jobs.insert(id, job.clone());
                });
                CacheLookup::Hit(job)
            }
            CacheLookup::Miss(ticket) => CacheLookup::Miss(self.ticket(ticket, generation)),
        }
    }

    async fn put_job(&self, job: &Job, ticket: CacheTicket) {
        self.shared.put_job(job, ticket).await;
        self.local.store_if_current(ticket.local, || {
            self.local.jobs.insert(job.id, job.clone());
        });
    }

    async fn invalidate_job(&self, id: JobId) {
        self.invalidate_jobs(&[id]).await;
    }

    async fn invalidate_jobs(&self, ids: &[JobId]) {
        // This replica sees its own write at once; the others when the notice arrives.
        self.local.drop_jobs(ids);
        self.shared.invalidate_jobs(ids).await;
    }

    async fn get_list(&self, slice: &JobSlice) -> CacheLookup<JobPage> {
        let generation = self.local.generation.load(Ordering::SeqCst);
        if self.local.is_live()
            && let Some(page) = self.local.lists.get(slice)
        {
            return self.local.counters.lookup(Some(page), CacheTicket::at(0));
        }
        match self.shared.get_list(slice).await {
            CacheLookup::Hit(page) => {
                self.local.store_if_current(generation, || {
                    self.local.lists.insert(slice.clone(), page.clone());
                });
                CacheLookup::Hit(page)
            }
            CacheLookup::Miss(ticket) => CacheLookup::Miss(self.ticket(ticket, generation)),
        }
    }

    async fn put_list(&self, slice: &JobSlice, page: &JobPage, ticket: CacheTicket) {
        self.shared.put_list(slice, page, ticket).await;
        self.local.store_if_current(ticket.local, || {
            self.local.lists.insert(slice.clone(), page.clone());
        });
    }

    fn report(&self) -> CacheReport {
        let shared = self.shared.report();
        let (local_hits, _) = self.local.counters.snapshot();
        CacheReport {
            hits: shared.hits.saturating_add(local_hits),
            ..shared
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: i64) -> Job {
        let now = chrono::Utc::now();
        let spec = scheduler_core::JobDraft {
            name: Some(format!("job-{id}")),
            cron_expression: Some("@daily".into()),
            ..scheduler_core::JobDraft::default()
        }
        .validate(now)
        .unwrap();
        Job {
            id: JobId(id),
            next_run: None,
            next_fire: None,
            spec,
            last_run: None,
            last_status: None,
            last_error: None,
            fire_count: 0,
            pause: None,
            failure_streak: 0,
            created_at: now,
            updated_at: now,
            tenant: scheduler_core::Tenant::default_tenant(),
            created_by: None,
            updated_by: None,
        }
    }

    fn local() -> Local {
        Local {
            jobs: Cache::new(10),
            lists: Cache::new(10),
            generation: AtomicU64::new(0),
            write_lock: Mutex::new(()),
            live_until_ms: AtomicU64::new(0),
            started: Instant::now(),
            counters: CacheCounters::default(),
            config: LocalTierConfig::new(),
        }
    }

    #[test]
    fn nothing_is_stored_while_the_subscription_is_not_live() {
        let local = local();
        let mut stored = false;
        local.store_if_current(0, || stored = true);
        assert!(!stored);
        local.alive();
        local.store_if_current(0, || stored = true);
        assert!(stored);
    }

    #[test]
    fn a_notice_bumps_the_generation_so_a_racing_read_is_not_stored() {
        let local = local();
        local.alive();
        let before = local.generation.load(Ordering::SeqCst);
        local.notice("3,4");
        let mut stored = false;
        local.store_if_current(before, || stored = true);
        assert!(!stored);
    }

    #[test]
    fn distrust_ends_the_tier_at_once_and_empties_it() {
        let local = local();
        local.alive();
        local.jobs.insert(JobId(1), job(1));
        local.distrust();
        assert!(!local.is_live());
        assert_eq!(local.jobs.get(&JobId(1)), None);
    }

    #[test]
    fn unreadable_notices_drop_everything() {
        let local = local();
        local.alive();
        local.jobs.insert(JobId(1), job(1));
        local.notice("1,x");
        assert_eq!(local.jobs.get(&JobId(1)), None);
        local.jobs.insert(JobId(2), job(2));
        local.notice("7");
        assert!(local.jobs.get(&JobId(2)).is_some());
        local.notice("*");
        assert_eq!(local.jobs.get(&JobId(2)), None);
    }
}
