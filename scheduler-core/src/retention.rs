//! Retention of the records that only grow: delivered and failed notifications (kept as
//! long as run history) and audit entries (their own setting), deleted in bounded batches by
//! a slow background loop on every replica (deletes of different replicas do not conflict:
//! each deletes what is old, the same rows at worst).

use std::sync::Arc;
use std::time::Duration;

use crate::error::RepositoryError;
use crate::notifier::Outbox;
use crate::ports::{AuditLog, Clock};

/// What is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// Delivered and failed notifications older than this are deleted; `None`: kept.
    pub notifications: Option<Duration>,
    /// Audit entries older than this are deleted; `None`: kept.
    pub audit: Option<Duration>,
    /// Rows per delete statement.
    pub batch: u32,
    /// Pause between two rounds.
    pub every: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            notifications: Some(Duration::from_secs(30 * 86_400)),
            audit: Some(Duration::from_secs(365 * 86_400)),
            batch: 1_000,
            every: Duration::from_secs(600),
        }
    }
}

/// Deletes what is past its retention.
#[derive(Clone)]
pub struct Retention {
    outbox: Arc<dyn Outbox>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    config: RetentionConfig,
}

/// Most statements of one kind per round (a round stays short; the next continues).
const MAX_STATEMENTS: u32 = 100;

impl Retention {
    /// Retention over the outbox and the audit log.
    pub fn new(
        outbox: Arc<dyn Outbox>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
        config: RetentionConfig,
    ) -> Self {
        Self {
            outbox,
            audit,
            clock,
            config,
        }
    }

    /// One round: notifications, then audit entries, batch after batch until a batch comes
    /// back short. Returns how many of each it deleted.
    ///
    /// # Errors
    /// The store's error.
    pub async fn round(&self) -> Result<(u64, u64), RepositoryError> {
        let now = self.clock.now();
        let cutoff = |keep: Duration| {
            now - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX)
        };
        let batch = self.config.batch.max(1);
        let mut deleted = (0, 0);
        if let Some(keep) = self.config.notifications {
            for _ in 0..MAX_STATEMENTS {
                let n = self.outbox.prune(cutoff(keep), batch).await?;
                deleted.0 += n;
                if n < u64::from(batch) {
                    break;
                }
            }
        }
        if let Some(keep) = self.config.audit {
            for _ in 0..MAX_STATEMENTS {
                let n = self.audit.prune(cutoff(keep), batch).await?;
                deleted.1 += n;
                if n < u64::from(batch) {
                    break;
                }
            }
        }
        if deleted != (0, 0) {
            tracing::info!(
                notifications = deleted.0,
                audit_entries = deleted.1,
                "retention: old records deleted"
            );
        }
        Ok(deleted)
    }

    /// Rounds every [`RetentionConfig::every`] until `shutdown` completes.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        loop {
            if let Err(error) = self.round().await {
                tracing::warn!(%error, "retention round failed");
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(self.config.every) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifier::MockOutbox;
    use crate::ports::MockAuditLog;
    use chrono::{DateTime, Utc};

    struct At;
    impl Clock for At {
        fn now(&self) -> DateTime<Utc> {
            DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default()
        }
    }

    #[tokio::test]
    async fn each_kind_is_deleted_past_its_own_age_in_batches() {
        let now = At.now();
        let mut outbox = MockOutbox::new();
        let mut calls = 0;
        outbox
            .expect_prune()
            .withf(move |before, limit| *before == now - chrono::Duration::days(30) && *limit == 2)
            .times(2)
            .returning(move |_, _| {
                calls += 1;
                Ok(if calls == 1 { 2 } else { 1 })
            });
        let mut audit = MockAuditLog::new();
        audit
            .expect_prune()
            .withf(move |before, _| *before == now - chrono::Duration::days(365))
            .times(1)
            .returning(|_, _| Ok(0));
        let retention = Retention::new(
            Arc::new(outbox),
            Arc::new(audit),
            Arc::new(At),
            RetentionConfig {
                batch: 2,
                ..RetentionConfig::default()
            },
        );
        assert_eq!(retention.round().await, Ok((3, 0)));
    }

    #[tokio::test]
    async fn nothing_is_deleted_without_a_retention() {
        let retention = Retention::new(
            Arc::new(MockOutbox::new()),
            Arc::new(MockAuditLog::new()),
            Arc::new(At),
            RetentionConfig {
                notifications: None,
                audit: None,
                ..RetentionConfig::default()
            },
        );
        assert_eq!(retention.round().await, Ok((0, 0)));
    }
}
