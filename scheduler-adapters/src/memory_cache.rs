//! In-process job caches: `InMemoryJobCache` (moka, TTL and size bound) for a single process,
//! and `NoJobCache` for deployments where every read must go to the shared store.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use moka::sync::Cache;
use scheduler_core::{
    CacheLookup, CacheReport, CacheStatus, CacheTicket, Job, JobCache, JobId, JobPage, JobSlice,
};

use crate::counters::CacheCounters;

/// A bounded, expiring cache inside this process. Only for a single process (the SQLite
/// default): other replicas could not invalidate it.
pub struct InMemoryJobCache {
    /// Jobs by id.
    jobs: Cache<JobId, Job>,
    /// List pages by query.
    lists: Cache<JobSlice, JobPage>,
    /// Bumped by every invalidation; tickets carry the value seen at lookup.
    generation: AtomicU64,
    /// Makes "check the generation, then store" atomic against "bump, then drop".
    write_lock: Mutex<()>,
    /// Hit/miss counts.
    counters: CacheCounters,
}

impl InMemoryJobCache {
    /// A cache holding at most `capacity` jobs and `capacity` pages, each for at most `ttl`.
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Self {
            jobs: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            lists: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            generation: AtomicU64::new(0),
            write_lock: Mutex::new(()),
            counters: CacheCounters::default(),
        }
    }

    /// Hit/miss counters.
    pub fn counters(&self) -> &CacheCounters {
        &self.counters
    }

    fn ticket(&self) -> CacheTicket {
        CacheTicket::at(self.generation.load(Ordering::SeqCst))
    }

    fn store_if_current(&self, ticket: CacheTicket, store: impl FnOnce()) {
        let _guard = scheduler_core::lock(&self.write_lock);
        if self.generation.load(Ordering::SeqCst) == ticket.generation {
            store();
        }
    }

    fn bump(&self, drop_entries: impl FnOnce()) {
        let _guard = scheduler_core::lock(&self.write_lock);
        self.generation.fetch_add(1, Ordering::SeqCst);
        drop_entries();
    }
}

#[async_trait]
impl JobCache for InMemoryJobCache {
    async fn get_job(&self, id: JobId) -> CacheLookup<Job> {
        let ticket = self.ticket();
        self.counters.lookup(self.jobs.get(&id), ticket)
    }

    async fn put_job(&self, job: &Job, ticket: CacheTicket) {
        self.store_if_current(ticket, || self.jobs.insert(job.id, job.clone()));
    }

    async fn invalidate_job(&self, id: JobId) {
        self.bump(|| {
            self.jobs.invalidate(&id);
            self.lists.invalidate_all();
        });
    }

    async fn get_list(&self, slice: &JobSlice) -> CacheLookup<JobPage> {
        let ticket = self.ticket();
        self.counters.lookup(self.lists.get(slice), ticket)
    }

    async fn put_list(&self, slice: &JobSlice, page: &JobPage, ticket: CacheTicket) {
        self.store_if_current(ticket, || self.lists.insert(slice.clone(), page.clone()));
    }

    async fn invalidate_jobs(&self, ids: &[JobId]) {
        self.bump(|| {
            for id in ids {
                self.jobs.invalidate(id);
            }
            self.lists.invalidate_all();
        });
    }

    fn report(&self) -> CacheReport {
        self.counters.report(CacheStatus::Ok)
    }
}

/// A cache that holds nothing: every read goes to the store. Used with a shared database and
/// no shared cache, so replicas never serve each other stale data.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoJobCache;

#[async_trait]
impl JobCache for NoJobCache {
    async fn get_job(&self, _id: JobId) -> CacheLookup<Job> {
        CacheLookup::Miss(CacheTicket::at(0))
    }

    async fn put_job(&self, _job: &Job, _ticket: CacheTicket) {}

    async fn invalidate_job(&self, _id: JobId) {}

    async fn get_list(&self, _slice: &JobSlice) -> CacheLookup<JobPage> {
        CacheLookup::Miss(CacheTicket::at(0))
    }

    async fn put_list(&self, _slice: &JobSlice, _page: &JobPage, _ticket: CacheTicket) {}

    async fn invalidate_jobs(&self, _ids: &[JobId]) {}

    fn report(&self) -> CacheReport {
        CacheReport {
            status: CacheStatus::Disabled,
            hits: 0,
            misses: 0,
        }
    }
}
