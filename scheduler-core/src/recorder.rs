//! Recording run outcomes in batches: a run whose execution ended queues its outcome; the
//! first run to find no write in progress becomes the writer and stores everything queued
//! in one [`RunStore::finish_many`] call, again and again until the queue is empty. Alone, a
//! run writes its own outcome at once (no timer, no extra task); under load, one statement
//! records hundreds. A run keeps its record slot, and its heartbeat, until its outcome is
//! stored, so claims slow down when the store does.
//!
//! Every run ends in a stored final state: an outage is retried (three tries, then the runs
//! are left `running` for lease recovery, which the abandon cap bounds); a batch the store
//! refuses for its content is recorded run by run, and a run refused alone is stored again
//! with a minimal error text — a batch never makes a neighbour's outcome fail.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::capacity::RecordSlot;
use crate::claim::FinishedRun;
use crate::error::RepositoryError;
use crate::job::JobId;
use crate::ports::{JobCache, RunStore, Telemetry};
use crate::run::RunId;
use crate::sync::lock;

/// An outcome waiting to be stored, with the slot it releases once stored.
pub(crate) struct Pending {
    /// The run and its outcome.
    pub(crate) finished: FinishedRun,
    /// The run's record slot, given back after the write (`None` for a run started without
    /// one).
    pub(crate) slot: Option<RecordSlot>,
}

/// The queue of outcomes and whether a writer is at work.
#[derive(Default)]
struct Queue {
    /// Outcomes not yet taken by a writer.
    waiting: Vec<Pending>,
    /// True while some run is writing batches.
    writing: bool,
}

/// Batches outcomes into [`RunStore::finish_many`] calls.
pub(crate) struct Recorder {
    /// Where outcomes go.
    store: Arc<dyn RunStore>,
    /// Invalidated for every job whose `last_status` may have changed.
    cache: Arc<dyn JobCache>,
    /// Told how many runs remain in flight.
    telemetry: Arc<dyn Telemetry>,
    /// The dispatcher's runs executing or awaiting their record (heartbeated).
    in_flight: Arc<Mutex<HashSet<RunId>>>,
    /// Most outcomes per statement.
    max_batch: usize,
    /// The queue.
    queue: Mutex<Queue>,
}

impl Recorder {
    /// A recorder writing at most `max_batch` outcomes per statement.
    pub(crate) fn new(
        store: Arc<dyn RunStore>,
        cache: Arc<dyn JobCache>,
        telemetry: Arc<dyn Telemetry>,
        in_flight: Arc<Mutex<HashSet<RunId>>>,
        max_batch: usize,
    ) -> Self {
        Self {
            store,
            cache,
            telemetry,
            in_flight,
            max_batch: max_batch.max(1),
            queue: Mutex::new(Queue::default()),
        }
    }

    /// Queues `pending`; when no write is in progress, writes batches until the queue is
    /// empty (so the caller may return long after its own outcome was stored).
    pub(crate) async fn record(&self, pending: Pending) {
        {
            let mut queue = lock(&self.queue);
            queue.waiting.push(pending);
            if queue.writing {
                return;
            }
            queue.writing = true;
        }
        loop {
            let batch: Vec<Pending> = {
                let mut queue = lock(&self.queue);
                if queue.waiting.is_empty() {
                    queue.writing = false;
                    return;
                }
                let take = queue.waiting.len().min(self.max_batch);
                queue.waiting.drain(..take).collect()
            };
            self.write(batch).await;
        }
    }

    /// Stores one batch (see the module docs for failures), then forgets its runs and gives
    /// their slots back.
    async fn write(&self, batch: Vec<Pending>) {
        let mut finished: Vec<FinishedRun> = Vec::with_capacity(batch.len());
        let mut slots = Vec::with_capacity(batch.len());
        for pending in batch {
            finished.push(pending.finished);
            slots.push(pending.slot);
        }
        match self.store_with_retries(&finished).await {
            Ok(paused) => self.report_paused(&paused),
            Err(RepositoryError::Rejected(cause)) => {
                if let [one] = finished.as_slice() {
                    tracing::warn!(run_id = %one.run.id, %cause, "the store refused a run outcome; storing a minimal error");
                    self.store_minimal(one).await;
                } else {
                    tracing::warn!(%cause, runs = finished.len(), "the store refused a batch of outcomes; recording them one by one");
                    for one in &finished {
                        self.store_alone(one).await;
                    }
                }
            }
            Err(error) => {
                for one in &finished {
                    // Left running: after the lease another replica recovers it.
                    tracing::error!(run_id = %one.run.id, %error, "could not record a run outcome");
                }
            }
        }
        let mut jobs: Vec<JobId> = finished.iter().map(|f| f.run.job_id).collect();
        jobs.sort_unstable();
        jobs.dedup();
        // The jobs' last_status changed.
        self.cache.invalidate_jobs(&jobs).await;
        {
            let mut in_flight = lock(&self.in_flight);
            for one in &finished {
                in_flight.remove(&one.run.id);
            }
            self.telemetry.in_flight(in_flight.len());
        }
        drop(slots);
    }

    /// Tells the log and the metrics which jobs paused themselves.
    fn report_paused(&self, paused: &[JobId]) {
        if paused.is_empty() {
            return;
        }
        for job_id in paused {
            tracing::warn!(
                target: "scheduler_core::run",
                %job_id,
                "job auto-paused after consecutive failures"
            );
        }
        self.telemetry.jobs_auto_paused(paused.len());
    }

    /// `finish_many`, with an outage retried twice (after 200 and 400 ms).
    async fn store_with_retries(
        &self,
        finished: &[FinishedRun],
    ) -> Result<Vec<JobId>, RepositoryError> {
        let mut attempt = 0u32;
        loop {
            match self.store.finish_many(finished).await {
                Err(RepositoryError::Rejected(cause)) => {
                    return Err(RepositoryError::Rejected(cause));
                }
                Err(error) if attempt < 2 => {
                    tracing::warn!(%error, runs = finished.len(), "recording a run outcome failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Stores one outcome alone; refused for its content, stores it with a minimal error.
    async fn store_alone(&self, finished: &FinishedRun) {
        match self
            .store_with_retries(std::slice::from_ref(finished))
            .await
        {
            Ok(paused) => self.report_paused(&paused),
            Err(RepositoryError::Rejected(cause)) => {
                tracing::warn!(run_id = %finished.run.id, %cause, "the store refused a run outcome; storing a minimal error");
                self.store_minimal(finished).await;
            }
            Err(error) => {
                tracing::error!(run_id = %finished.run.id, %error, "could not record a run outcome");
            }
        }
    }

    /// Stores `finished` with [`crate::plan::RunOutcome::with_minimal_error`].
    async fn store_minimal(&self, finished: &FinishedRun) {
        let minimal = FinishedRun {
            run: finished.run.clone(),
            outcome: finished.outcome.with_minimal_error(),
            pause_after_failures: finished.pause_after_failures,
            // The store refused the outcome as it was: its output goes too.
            output: None,
            host_hold: finished.host_hold.clone(),
        };
        match self
            .store_with_retries(std::slice::from_ref(&minimal))
            .await
        {
            Ok(paused) => self.report_paused(&paused),
            Err(error) => {
                tracing::error!(run_id = %minimal.run.id, %error, "could not record a run outcome");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::Capacity;
    use crate::plan::{ExecutionKind, RunOutcome};
    use crate::ports::{MockJobCache, MockRunStore};
    use crate::run::{ErrorText, Run};
    use crate::run_status::{RunStatus, RunTrigger};

    fn finished(id: i64, error: &str) -> FinishedRun {
        let at = "2025-06-23T09:00:00Z".parse().unwrap();
        FinishedRun {
            run: Run {
                id: RunId(id),
                job_id: JobId(id),
                scheduled_for: at,
                due_at: None,
                trigger: RunTrigger::Schedule,
                attempt: 1,
                retries: 0,
                throttles: 0,
                status: RunStatus::Running,
                started_at: at,
                finished_at: None,
                heartbeat_at: at,
                retry_at: None,
                error: None,
                worker: "w".into(),
                replay_of: None,
            },
            outcome: RunOutcome {
                status: RunStatus::Failed,
                error: Some(ErrorText::sanitize(error)),
                finished_at: at,
                retry_at: None,
            },
            pause_after_failures: 0,
            output: None,
            host_hold: None,
        }
    }

    /// Every outcome the store accepted, by run id.
    type Stored = Arc<Mutex<Vec<(i64, String)>>>;

    /// A store refusing any batch holding the text `poison`.
    fn picky_store(stored: Stored, calls: Arc<Mutex<Vec<usize>>>) -> MockRunStore {
        let mut store = MockRunStore::new();
        store.expect_finish_many().returning(move |batch| {
            lock(&calls).push(batch.len());
            let poisoned = batch.iter().any(|f| {
                f.outcome
                    .error
                    .as_ref()
                    .is_some_and(|e| e.as_str().contains("poison"))
            });
            if poisoned {
                return Err(RepositoryError::Rejected("invalid byte sequence".into()));
            }
            lock(&stored).extend(batch.iter().map(|f| {
                let error = f.outcome.error.as_ref().map(|e| e.as_str().to_string());
                (f.run.id.0, error.unwrap_or_default())
            }));
            Ok(Vec::new())
        });
        store
    }

    #[tokio::test]
    async fn a_refused_batch_is_recorded_run_by_run_so_only_the_culprit_loses_its_text() {
        let stored: Stored = Arc::default();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let mut cache = MockJobCache::new();
        cache.expect_invalidate_jobs().return_const(());
        let in_flight = Arc::new(Mutex::new(HashSet::from([RunId(1), RunId(2), RunId(3)])));
        let recorder = Arc::new(Recorder::new(
            Arc::new(picky_store(stored.clone(), calls.clone())),
            Arc::new(cache),
            Arc::new(crate::ports::NoTelemetry),
            in_flight.clone(),
            10,
        ));
        let capacity = Capacity::new(3, 1, 1);
        // Queue three outcomes while a write is "in progress", then let one writer take them.
        lock(&recorder.queue).writing = true;
        for (id, text) in [(1, "fine"), (2, "poison"), (3, "also fine")] {
            let slot = capacity
                .wait_for(ExecutionKind::Handler, None)
                .await
                .unwrap()
                .executed();
            recorder
                .record(Pending {
                    finished: finished(id, text),
                    slot,
                })
                .await;
        }
        assert_eq!(capacity.held(), 3, "record slots held until recorded");
        lock(&recorder.queue).writing = false;
        let slot = capacity
            .wait_for(ExecutionKind::Delivery, None)
            .await
            .unwrap()
            .executed();
        recorder
            .record(Pending {
                finished: finished(4, "last"),
                slot,
            })
            .await;
        let mut got = lock(&stored).clone();
        got.sort();
        assert_eq!(
            got,
            [
                (1, "fine".to_string()),
                (
                    2,
                    "the run failed; its error text could not be stored".to_string()
                ),
                (3, "also fine".to_string()),
                (4, "last".to_string()),
            ]
        );
        // One statement for the batch of four, then each alone, then the culprit minimal.
        assert_eq!(lock(&calls).first(), Some(&4));
        assert!(lock(&in_flight).is_empty());
        assert_eq!(capacity.held(), 0, "every slot given back");
    }
}
