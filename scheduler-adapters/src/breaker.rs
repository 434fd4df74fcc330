//! A circuit breaker for an optional dependency (the Redis cache): after `threshold`
//! consecutive failures or timeouts it opens, and callers skip the dependency at once instead
//! of each waiting out its timeout; a background probe closes it when the dependency answers
//! again.
//!
//! Written here rather than taken from a crate: the breaker is a counter and a flag (a few
//! atomics), and what it must do when it opens — hand the probing to the adapter's own
//! background task — is specific to its caller; the breaker crates found (e.g. `failsafe`)
//! wrap calls in their own futures and backoff policies, which this needs none of.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// The state of one dependency's breaker. Lock-free: checked on every call.
#[derive(Debug)]
pub struct Breaker {
    /// Consecutive failures that open it.
    threshold: u32,
    /// Consecutive failures so far.
    failures: AtomicU32,
    /// True while open: calls skip the dependency.
    open: AtomicBool,
}

/// What a recorded failure did to the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tripped {
    /// This failure opened it: start probing.
    Now,
    /// It stays as it was.
    No,
}

impl Breaker {
    /// A closed breaker opening after `threshold` consecutive failures (at least 1).
    pub fn new(threshold: u32) -> Self {
        Self {
            threshold: threshold.max(1),
            failures: AtomicU32::new(0),
            open: AtomicBool::new(false),
        }
    }

    /// True while open: skip the dependency.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// A call succeeded: the failure count starts over.
    pub fn succeeded(&self) {
        self.failures.store(0, Ordering::Release);
    }

    /// A call failed or timed out. Exactly one caller sees [`Tripped::Now`] per opening.
    pub fn failed(&self) -> Tripped {
        let failures = self
            .failures
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1);
        if failures >= self.threshold && !self.open.swap(true, Ordering::AcqRel) {
            Tripped::Now
        } else {
            Tripped::No
        }
    }

    /// The probe found the dependency answering: close.
    pub fn close(&self) {
        self.failures.store(0, Ordering::Release);
        self.open.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_of_consecutive_failures_once() {
        let breaker = Breaker::new(3);
        assert_eq!(breaker.failed(), Tripped::No);
        breaker.succeeded();
        assert_eq!(breaker.failed(), Tripped::No);
        assert_eq!(breaker.failed(), Tripped::No);
        assert!(!breaker.is_open());
        assert_eq!(breaker.failed(), Tripped::Now);
        assert!(breaker.is_open());
        assert_eq!(breaker.failed(), Tripped::No, "tripped once per opening");
        breaker.close();
        assert!(!breaker.is_open());
        assert_eq!(breaker.failed(), Tripped::No);
    }
}
