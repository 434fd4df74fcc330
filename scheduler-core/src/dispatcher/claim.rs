//! One tick: recover the runs of dead workers, start due retries, claim due fires — each
//! within this replica's free slots — and start what was claimed; and manual runs.

use std::sync::atomic::Ordering;

use crate::capacity::Reservation;
use crate::capacity::RunSlot;
use crate::claim::{ClaimRequest, ClaimedRun};
use crate::error::RepositoryError;
use crate::job::JobId;
use crate::plan::{ExecutionKind, next_claim_size};
use crate::policy::ConcurrencyPolicy;
use crate::run::Run;
use crate::run::RunId;
use crate::run_status::{RunStatus, RunTrigger};
use crate::sync::lock;
use chrono::{DateTime, Utc};

use super::{Dispatcher, host_of, kind_index, to_chrono};

/// What one tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TickOutcome {
    /// Runs started by this tick (recovered, retried and newly claimed).
    pub started: usize,
    /// True when a claim came back full: more fires may be due, tick again at once.
    pub more_due: bool,
    /// True when every slot of both kinds was held, so nothing could be claimed: tick again
    /// when a run's outcome is stored.
    pub at_capacity: bool,
}

/// What one claim did.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Claimed {
    /// Runs started.
    started: usize,
    /// The claim came back full for some kind.
    pub(super) more_due: bool,
    /// No slot of either kind was free.
    at_capacity: bool,
}

/// The longest a `replace` fire waits for the runs it replaced to stop before it starts.
const REPLACE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Dispatcher {
    /// Reserves up to `want` slots of each kind, both counts equal (for recoveries and
    /// retries, whose kinds are known only once they are taken).
    fn reserve_any(&self, want: u32) -> (Reservation, Reservation) {
        let capacity = &self.inner.capacity;
        let n = want
            .min(capacity.free(ExecutionKind::Handler))
            .min(capacity.free(ExecutionKind::Delivery));
        let handlers = capacity.reserve(ExecutionKind::Handler, n);
        let deliveries = capacity.reserve(ExecutionKind::Delivery, handlers.count());
        (handlers, deliveries)
    }

    /// One step: recover abandoned runs, start due retries, claim due fires — each within
    /// the free slots — and start executing what was claimed.
    ///
    /// # Errors
    /// The store's error; nothing was claimed by the failing call.
    pub async fn tick(&self) -> Result<TickOutcome, RepositoryError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let worker = inner.config.worker.as_str();
        let mut outcome = TickOutcome::default();
        let batch = inner.config.max_batch_size.max(1);

        outcome.started += self.recover(now, &[]).await?;
        let (mut handlers, mut deliveries) = self.reserve_any(batch);
        let limit = handlers.count().min(deliveries.count());
        if limit > 0 {
            let retries = inner.store.claim_retries(now, worker, limit).await?;
            outcome.started += self.start_reserved(retries, &[], &mut handlers, &mut deliveries);
        }
        drop((handlers, deliveries));
        let claimed = self.claim(now).await?;
        outcome.started += claimed.started;
        outcome.more_due = claimed.more_due;
        outcome.at_capacity = claimed.at_capacity;
        inner.telemetry.claimed(now);
        *lock(&inner.last_good_tick) = std::time::Instant::now();
        Ok(outcome)
    }

    /// Recovers, within the free slots, the `running` runs of the `lost` workers and those
    /// whose heartbeat is older than the lease, and starts their next attempts; returns how
    /// many it started.
    pub(super) async fn recover(
        &self,
        now: DateTime<Utc>,
        lost: &[String],
    ) -> Result<usize, RepositoryError> {
        let inner = &self.inner;
        let stale_before = now - to_chrono(inner.config.lease);
        let (mut handlers, mut deliveries) = self.reserve_any(inner.config.max_batch_size.max(1));
        let limit = handlers.count().min(deliveries.count());
        if limit == 0 {
            return Ok(0);
        }
        let recovered = inner
            .store
            .recover_abandoned(
                stale_before,
                now,
                inner.config.worker.as_str(),
                lost,
                limit,
                inner.config.max_abandoned_attempts,
            )
            .await?;
        inner
            .telemetry
            .runs_abandoned(recovered.runs.len(), recovered.given_up);
        if !recovered.changed_jobs.is_empty() {
            inner.cache.invalidate_jobs(&recovered.changed_jobs).await;
        }
        Ok(self.start_reserved(recovered.runs, &[], &mut handlers, &mut deliveries))
    }

    /// Claims due fires within the free slots (at most the adaptive claim size per kind),
    /// starts them, and adapts the next claim's size.
    pub(super) async fn claim(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Claimed, RepositoryError> {
        let inner = &self.inner;
        let capacity = &inner.capacity;
        let size = |kind| inner.claim_size[kind_index(kind)].load(Ordering::Relaxed);
        let mut handlers = capacity.reserve(ExecutionKind::Handler, size(ExecutionKind::Handler));
        let mut deliveries =
            capacity.reserve(ExecutionKind::Delivery, size(ExecutionKind::Delivery));
        let (asked_handlers, asked_deliveries) = (handlers.count(), deliveries.count());
        if asked_handlers == 0 && asked_deliveries == 0 {
            // Busy with what it holds, not behind on claims: pruning (paced) may go on.
            inner.catching_up.store(false, Ordering::Relaxed);
            return Ok(Claimed {
                at_capacity: true,
                ..Claimed::default()
            });
        }
        let request = ClaimRequest {
            now,
            worker: inner.config.worker.clone(),
            handlers: asked_handlers,
            deliveries: asked_deliveries,
            saturated_hosts: capacity.saturated_hosts(),
            host_limits: inner.config.host_limits.clone(),
            tenant_limits: inner.config.tenant_limits.clone(),
        };
        if asked_deliveries > 0 {
            for host in &request.saturated_hosts {
                inner.telemetry.host_saturated(host);
            }
        }
        let batch = inner.store.claim_due(&request).await?;
        for host in &batch.limited_hosts {
            inner.telemetry.host_limited(host);
        }
        for tenant in &batch.capped_tenants {
            inner.telemetry.tenant_capped(tenant);
        }
        // Runs replaced by a newer fire: stopped at once when they execute here (another
        // replica stops its own at its next check).
        for (_, id) in &batch.replaced {
            self.stop_run(*id);
        }
        // Claims advanced next_run/last_run: cached reads must not show the old values.
        if !batch.advanced_jobs.is_empty() {
            inner.cache.invalidate_jobs(&batch.advanced_jobs).await;
        }
        let got_handlers = batch.advanced_handlers;
        let got_deliveries = u32::try_from(batch.advanced_jobs.len())
            .unwrap_or(u32::MAX)
            .saturating_sub(got_handlers);
        let config = &inner.config;
        for (kind, asked, got) in [
            (ExecutionKind::Handler, asked_handlers, got_handlers),
            (ExecutionKind::Delivery, asked_deliveries, got_deliveries),
        ] {
            // A kind not asked for (no free slot) keeps its size for when slots free up.
            if asked > 0 {
                let next = next_claim_size(config.batch_size, config.max_batch_size, asked, got);
                inner.claim_size[kind_index(kind)].store(next, Ordering::Relaxed);
            }
        }
        for (_, reason) in &batch.skipped {
            inner.telemetry.fire_skipped(reason);
            // A skipped fire is a run too, status `skipped`.
            inner
                .telemetry
                .run_recorded(RunStatus::Skipped, RunTrigger::Schedule, None);
        }
        for claimed in &batch.runs {
            let lateness = (claimed.run.started_at - claimed.run.due())
                .to_std()
                .unwrap_or_default();
            inner.telemetry.fire_started(&claimed.job.tenant, lateness);
        }
        // A span only for claims that took fires (an idle dispatcher's ticks make none): the
        // parent of the runs it starts.
        let started = if batch.runs.is_empty() {
            0
        } else {
            let span = tracing::info_span!("claim", runs = batch.runs.len());
            span.in_scope(|| {
                self.start_reserved(batch.runs, &batch.replaced, &mut handlers, &mut deliveries)
            })
        };
        let more_due = (asked_handlers > 0 && got_handlers >= asked_handlers)
            || (asked_deliveries > 0 && got_deliveries >= asked_deliveries);
        inner.catching_up.store(more_due, Ordering::Relaxed);
        Ok(Claimed {
            started,
            more_due,
            at_capacity: false,
        })
    }

    /// Starts a manual run of `job_id` now, on this replica (waiting for a slot of its kind
    /// when claims hold every one).
    ///
    /// # Errors
    /// `NotFound` for an unknown job, or the store's error.
    pub async fn run_now(&self, job_id: JobId) -> Result<Run, RepositoryError> {
        let now = self.inner.clock.now();
        let claimed = self
            .inner
            .store
            .start_manual(job_id, now, &self.inner.config.worker)
            .await?;
        let run = claimed.run.clone();
        // The manual run moved the job's last_run and last_status.
        self.inner.cache.invalidate_job(job_id).await;
        let kind = ExecutionKind::of(&claimed.job);
        if let Some(slot) = self.inner.capacity.wait_for(kind, host_of(&claimed)).await {
            self.start(claimed, slot);
        }
        Ok(run)
    }

    /// Inserts the backfill runs of `job_id` for `fires` ([`RunStore::insert_backfill`]: each
    /// instant once) and runs them on this replica, oldest first, under the job's overlap
    /// policy: side by side when it allows overlap (each as a slot of its kind frees up),
    /// one after the other otherwise. Returns the runs inserted (already-run instants are
    /// not among them); they run after this returns.
    ///
    /// # Errors
    /// `NotFound` for an unknown job, or the store's error.
    pub async fn backfill(
        &self,
        job_id: JobId,
        fires: &[DateTime<Utc>],
    ) -> Result<Vec<Run>, RepositoryError> {
        let now = self.inner.clock.now();
        let claimed = self
            .inner
            .store
            .insert_backfill(job_id, fires, now, &self.inner.config.worker)
            .await?;
        let runs: Vec<Run> = claimed.iter().map(|c| c.run.clone()).collect();
        self.run_requested(claimed);
        Ok(runs)
    }

    /// Replays the ended run `original` here: a new run of its fire, linked to it, executed
    /// on this replica under the job's overlap policy as a backfill's runs are. Returns the
    /// replay and whether it was made now (`false`: the run was replayed before; that replay
    /// is returned and nothing starts).
    ///
    /// # Errors
    /// The store's: `NotFound`, `Conflict(RunRunning)`, `Unavailable`.
    pub async fn replay(&self, original: RunId) -> Result<(Run, bool), RepositoryError> {
        let now = self.inner.clock.now();
        let (claimed, created) = self
            .inner
            .store
            .insert_replay(original, now, &self.inner.config.worker)
            .await?;
        let run = claimed.run.clone();
        if created {
            self.run_requested(vec![claimed]);
        }
        Ok((run, created))
    }

    /// Executes runs inserted on request (a backfill's, a replay) on this replica: side by
    /// side when the job allows overlap, one after the other otherwise, each when a slot of
    /// its kind is free.
    fn run_requested(&self, claimed: Vec<ClaimedRun>) {
        if claimed.is_empty() {
            return;
        }
        let runs: Vec<Run> = claimed.iter().map(|c| c.run.clone()).collect();
        // Heartbeated from now on, also while they wait for their turn.
        self.track_in_flight(runs.iter().map(|run| run.id), true);
        let side_by_side = claimed
            .first()
            .is_some_and(|c| c.job.spec.policy.concurrency == ConcurrencyPolicy::Allow);
        let dispatcher = self.clone();
        // In the span that asked (a backfill's or a replay's request).
        tokio::spawn(tracing::Instrument::in_current_span(async move {
            for run in claimed {
                let kind = ExecutionKind::of(&run.job);
                let Some(slot) = dispatcher
                    .inner
                    .capacity
                    .wait_for(kind, host_of(&run))
                    .await
                else {
                    // Shutting down: left `running`, recovered after the lease.
                    return;
                };
                if side_by_side {
                    dispatcher.start(run, slot);
                } else {
                    dispatcher.execute_here(run, slot).await;
                }
            }
        }));
    }

    /// Starts `run` (of a `replace` job) once the runs it replaced have stopped — at once when
    /// they executed here, when their replica has stopped them otherwise — waiting at most
    /// [`REPLACE_WAIT`] (a replica that died stops nothing; its runs are not executing).
    /// Counted in flight (heartbeated) from now.
    fn start_after_stop(&self, run: ClaimedRun, slot: RunSlot, replaced: Vec<RunId>) {
        self.track_in_flight([run.run.id], true);
        let dispatcher = self.clone();
        tokio::spawn(tracing::Instrument::in_current_span(async move {
            let waited = tokio::time::timeout(REPLACE_WAIT, async {
                loop {
                    if let Ok(true) = dispatcher.inner.store.all_stopped(&replaced).await {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            })
            .await;
            if waited.is_err() {
                tracing::warn!(run_id = %run.run.id, "the replaced runs did not report stopping; starting anyway");
            }
            dispatcher.execute_here(run, slot).await;
        }));
    }

    /// Starts every claimed run with a slot of its kind from the reservations (which hold at
    /// least as many permits as the claim was allowed to take).
    /// A run of a job in `replaced` (a `replace` fire) starts once those runs have stopped.
    fn start_reserved(
        &self,
        claimed: Vec<ClaimedRun>,
        replaced: &[(JobId, RunId)],
        handlers: &mut Reservation,
        deliveries: &mut Reservation,
    ) -> usize {
        let mut started = 0;
        for run in claimed {
            let reservation = match ExecutionKind::of(&run.job) {
                ExecutionKind::Handler => &mut *handlers,
                ExecutionKind::Delivery => &mut *deliveries,
            };
            let host = host_of(&run);
            let Some(slot) = self.inner.capacity.hold_reserved(reservation, host) else {
                // A store that returned more than asked: the run stays `running` without a
                // heartbeat and lease recovery runs it again.
                tracing::error!(run_id = %run.run.id, "a claim returned more runs than it was allowed");
                continue;
            };
            let stopping: Vec<RunId> = replaced
                .iter()
                .filter(|(job, _)| *job == run.job.id)
                .map(|(_, id)| *id)
                .collect();
            if stopping.is_empty() {
                self.start(run, slot);
            } else {
                self.start_after_stop(run, slot, stopping);
            }
            started += 1;
        }
        started
    }
}
