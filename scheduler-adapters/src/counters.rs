//! Hit and miss counters shared by the cache adapters.

use std::sync::atomic::{AtomicU64, Ordering};

use scheduler_core::{CacheLookup, CacheReport, CacheStatus, CacheTicket};

/// Hit and miss counts of a cache, for metrics.
#[derive(Debug, Default)]
pub struct CacheCounters {
    /// Lookups answered from the cache.
    pub hits: AtomicU64,
    /// Lookups that had to go to the store.
    pub misses: AtomicU64,
}

impl CacheCounters {
    pub(crate) fn lookup<T>(&self, found: Option<T>, ticket: CacheTicket) -> CacheLookup<T> {
        match found {
            Some(value) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                CacheLookup::Hit(value)
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                CacheLookup::Miss(ticket)
            }
        }
    }

    /// `(hits, misses)` so far.
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// A report with these counts and `status`.
    pub fn report(&self, status: CacheStatus) -> CacheReport {
        let (hits, misses) = self.snapshot();
        CacheReport {
            status,
            hits,
            misses,
        }
    }
}
