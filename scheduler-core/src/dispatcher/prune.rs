//! History retention as background work: paced, and held back while claims come back full.

use std::sync::atomic::Ordering;

use crate::error::RepositoryError;

use super::{Dispatcher, to_chrono};

impl Dispatcher {
    /// Deletes the run history past [`crate::DispatcherConfig::retention`] and
    /// [`crate::DispatcherConfig::runs_per_job`], in statements of [`crate::DispatcherConfig::prune_batch`]
    /// rows, until nothing is left to delete (at most 100 statements per call, so one call
    /// stays short); returns how many runs it deleted. The loop calls it every
    /// [`crate::DispatcherConfig::prune_every`]. Pruning is background work: after each statement it
    /// pauses [`crate::DispatcherConfig::prune_pace`] times as long as the statement took, and it
    /// stops (until the next call) while this replica's claims come back full.
    ///
    /// # Errors
    /// The store's error.
    pub async fn prune_history(&self) -> Result<u64, RepositoryError> {
        let config = &self.inner.config;
        if config.retention.is_none() && config.runs_per_job.is_none() {
            return Ok(0);
        }
        let older_than = config
            .retention
            .map(|keep| self.inner.clock.now() - to_chrono(keep));
        let batch = config.prune_batch.max(1);
        let mut deleted = 0u64;
        for _ in 0..100 {
            if self.inner.catching_up.load(Ordering::Relaxed) {
                break;
            }
            let started = std::time::Instant::now();
            let round = self
                .inner
                .store
                .prune(older_than, config.runs_per_job, batch)
                .await?;
            deleted = deleted.saturating_add(round);
            if round < u64::from(batch) {
                break;
            }
            tokio::time::sleep(started.elapsed().saturating_mul(config.prune_pace)).await;
        }
        if deleted > 0 {
            self.inner.telemetry.runs_pruned(deleted);
            tracing::info!(deleted, "run history pruned");
        }
        Ok(deleted)
    }
}
