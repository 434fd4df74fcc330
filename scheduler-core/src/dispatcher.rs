//! The dispatcher: claims due fires through the [`RunStore`], executes them concurrently up to
//! the replica's capacity, records outcomes in batches, retries with backoff, heartbeats, and
//! recovers runs of dead workers. The loop is a thin wrapper around [`Dispatcher::tick`],
//! which tests drive directly with a controlled [`Clock`].
//!
//! # Guarantee
//! Every fire is **claimed exactly once**: the claim is one database transaction that locks
//! the job row (PostgreSQL `FOR UPDATE SKIP LOCKED`), inserts the run and advances `next_run`;
//! a unique key on `(job_id, scheduled_for, attempt)` forbids a second run of the same fire.
//! **Delivery** is exactly once unless a worker dies mid-run: its run stops heartbeating, is
//! marked `abandoned` after the lease, and a new attempt runs — at-least-once. Receivers use
//! `(job_id, scheduled_for)` as their idempotency key.
//!
//! # Capacity and throughput
//! Handler runs and HTTP deliveries have separate slots ([`DispatcherConfig::max_concurrent_runs`],
//! [`DispatcherConfig::max_concurrent_deliveries`]), and one receiving host gets at most
//! [`DispatcherConfig::max_deliveries_per_host`]. A claim reserves slots before it asks the
//! store and takes at most what it reserved; it asks for twice as many fires after a full
//! claim, up to [`DispatcherConfig::max_batch_size`] ([`crate::plan::next_claim_size`]), and
//! while claims come back full, [`DispatcherConfig::claims_in_flight`] of them run at once.
//! A run frees its execution slot when it has executed and a record slot when its outcome is
//! stored (as many record slots as both kinds together, so a slow store slows claims);
//! outcomes are stored in batches (`crate::recorder`).

use std::collections::HashSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::Notify;

use crate::capacity::{Capacity, Reservation, RunSlot};
use crate::claim::{ClaimRequest, ClaimedRun, FinishedRun};
use crate::error::RepositoryError;
use crate::job::JobId;
use crate::plan::{Execution, ExecutionKind, next_claim_size, plan_outcome};
use crate::ports::{Clock, JobCache, JobExecutor, RunStore, Telemetry};
use crate::recorder::{Pending, Recorder};
use crate::run::{ErrorText, Run, RunId};
use crate::run_status::{RunStatus, RunTrigger};
use crate::wire::WireEnum;

pub use crate::executors::{ActionFuture, ActionHandler, ActionHandlers, RoutingExecutor};

/// Shortest pause between two ticks that found nothing more to claim.
const MIN_PAUSE: Duration = Duration::from_millis(50);

/// How often the loop samples the due backlog (one indexed count).
const BACKLOG_SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Dispatcher settings.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// This replica's name, stored on the runs it executes.
    pub worker: String,
    /// Fires of each kind the first claim after a quiet spell asks for; full claims double it
    /// up to [`DispatcherConfig::max_batch_size`].
    pub batch_size: u32,
    /// Most fires of each kind one claim asks for while a backlog lasts.
    pub max_batch_size: u32,
    /// Claims one replica runs at once while claims come back full (at least 1).
    pub claims_in_flight: usize,
    /// Most in-process handler runs (jobs without a target) executing at once in this
    /// replica (runs that executed and wait for their outcome to be stored do not count; at
    /// most as many as both limits together wait). A claim holds slots for what it asks
    /// while its transaction runs, so this must leave room for
    /// [`DispatcherConfig::claims_in_flight`] claims of
    /// [`DispatcherConfig::max_batch_size`] beside the runs executing: at 1,024, one claim of
    /// 1,000 left the second claimer 24 slots and a 10,000-fire burst ran at ~75% of the
    /// plain-SQL rate; at 4,096, at about the same rate as the SQL (`bench/dispatch.sh`).
    /// Lower it for handlers that each need much CPU or memory.
    pub max_concurrent_runs: usize,
    /// Most HTTP deliveries (jobs with a target) executing at once in this replica.
    pub max_concurrent_deliveries: usize,
    /// Most deliveries to one receiving host (by [`crate::http_target::HttpTarget::host_key`])
    /// executing at once; a host at its cap is left out of claims until one of its
    /// deliveries ends.
    pub max_deliveries_per_host: usize,
    /// Most outcomes stored by one statement.
    pub record_batch: usize,
    /// Longest sleep between claims (jobs created on other replicas are seen this fast).
    pub poll_interval: Duration,
    /// A running run without a heartbeat for this long is abandoned and run again.
    pub lease: Duration,
    /// On shutdown, how long in-flight runs may take. Heartbeats go on meanwhile; at its end
    /// the runs still executing are abandoned (their requests dropped) and released to other
    /// replicas at once. Must be shorter than [`DispatcherConfig::lease`]
    /// ([`DispatcherConfig::check`]).
    pub shutdown_grace: Duration,
    /// The abandoned attempt of one fire that ends it `failed` instead of running it again
    /// (see [`crate::plan::plan_recovery`]).
    pub max_abandoned_attempts: u32,
    /// Longest one tick may take before it is abandoned (its transactions roll back) and the
    /// loop backs off and tries again.
    pub tick_timeout: Duration,
    /// Runs whose fire is older than this are deleted (history retention); `None` keeps them.
    pub retention: Option<Duration>,
    /// Newest runs kept per job; older ones are deleted. `None`: no cap.
    pub runs_per_job: Option<u32>,
    /// How often this replica prunes run history.
    pub prune_every: Duration,
    /// Most rows one prune statement deletes (small batches never hold claims up).
    pub prune_batch: u32,
    /// After each prune statement, pause this many times as long as it took (3: pruning
    /// takes at most a quarter of one database connection's time, so catching up on a large
    /// history leaves the database to the claims; measured in `bench/dispatch.sh`).
    pub prune_pace: u32,
}

impl DispatcherConfig {
    /// Defaults for `worker`: claims of 100 fires per kind growing to 1,000 under a backlog,
    /// 2 claims in flight, 4,096 handler runs and 4,096 deliveries at once (1,024 per host),
    /// outcomes stored 1,000 per statement, 1 s poll, 30 s lease, 25 s grace, a fire given up
    /// after 3 abandoned attempts, run history kept 30 days and at most 1,000 runs per job
    /// (pruned every minute, 1,000 rows per statement, paced to a quarter of the time).
    pub fn new(worker: impl Into<String>) -> Self {
        Self {
            worker: worker.into(),
            batch_size: 100,
            max_batch_size: 1_000,
            claims_in_flight: 2,
            max_concurrent_runs: 4_096,
            max_concurrent_deliveries: 4_096,
            max_deliveries_per_host: 1_024,
            record_batch: 1_000,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(25),
            max_abandoned_attempts: 3,
            tick_timeout: Duration::from_secs(10),
            retention: Some(Duration::from_secs(30 * 24 * 3600)),
            runs_per_job: Some(1_000),
            prune_every: Duration::from_secs(60),
            prune_batch: 1_000,
            prune_pace: 3,
        }
    }

    fn heartbeat_interval(&self) -> Duration {
        (self.lease / 3).max(Duration::from_millis(100))
    }

    /// Checks the settings that only make sense together: the shutdown grace must be shorter
    /// than the lease, so a run whose replica is stopping is never taken for dead by another
    /// replica while it may still be executing (its heartbeats go on through the grace, and a
    /// heartbeat that fails then must not let the lease run out first).
    ///
    /// # Errors
    /// What is wrong, naming both settings.
    pub fn check(&self) -> Result<(), String> {
        if self.shutdown_grace >= self.lease {
            return Err(format!(
                "the shutdown grace ({} s) must be shorter than the run lease ({} s): another \
                 replica would run again, at once, the runs this one is still finishing",
                self.shutdown_grace.as_secs_f64(),
                self.lease.as_secs_f64()
            ));
        }
        Ok(())
    }
}

/// Whether a replica's dispatcher is working, as liveness probes, the metrics and the
/// dashboard all report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatcherHealth {
    /// A tick completed within the bound.
    Up,
    /// No tick completed within the bound: stuck, dead, or its store keeps failing.
    Stalled,
    /// The loop does not run on this replica.
    Off,
}

impl DispatcherHealth {
    /// The health of `dispatcher` (`None` when its loop does not run here): up while its last
    /// good tick is at most `tick_bound` old.
    pub fn of(dispatcher: Option<&Dispatcher>, tick_bound: Duration) -> Self {
        match dispatcher {
            None => Self::Off,
            Some(d) if d.since_last_good_tick() <= tick_bound => Self::Up,
            Some(_) => Self::Stalled,
        }
    }

    /// Whether a liveness probe passes (a replica without the loop is alive).
    pub fn is_alive(self) -> bool {
        self != Self::Stalled
    }
}

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
struct Claimed {
    /// Runs started.
    started: usize,
    /// The claim came back full for some kind.
    more_due: bool,
    /// No slot of either kind was free.
    at_capacity: bool,
}

struct Inner {
    store: Arc<dyn RunStore>,
    executor: Arc<dyn JobExecutor>,
    cache: Arc<dyn JobCache>,
    clock: Arc<dyn Clock>,
    /// Where the dispatcher's events are reported (metrics).
    telemetry: Arc<dyn Telemetry>,
    config: DispatcherConfig,
    /// Slots by kind and per host.
    capacity: Arc<Capacity>,
    /// Runs executing here or awaiting their record; heartbeated.
    in_flight: Arc<Mutex<HashSet<RunId>>>,
    /// Stores outcomes in batches.
    recorder: Recorder,
    /// What the next claim asks for: handlers, deliveries.
    claim_size: [AtomicU32; 2],
    /// Woken when a claim came back full, so the extra claimers join in.
    backlog: Notify,
    /// Whether this replica's last claim came back full (a backlog): pruning waits for it.
    catching_up: AtomicBool,
    /// Set at the end of the shutdown grace: every run still executing stops (its request
    /// dropped) without recording an outcome, to be released to other replicas.
    abandon: tokio::sync::watch::Sender<bool>,
    /// Runs that stopped on [`Inner::abandon`]: still `running` in the store, released by
    /// the shutdown.
    abandoned: Mutex<Vec<RunId>>,
    /// When the last tick completed without error, or when the dispatcher was made (for
    /// health checks).
    last_good_tick: Mutex<std::time::Instant>,
}

/// Claims and executes runs. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

fn kind_index(kind: ExecutionKind) -> usize {
    match kind {
        ExecutionKind::Handler => 0,
        ExecutionKind::Delivery => 1,
    }
}

/// The per-host key of a delivery (`None` for a handler run).
fn host_of(claimed: &ClaimedRun) -> Option<String> {
    claimed.job.spec.target.as_ref().map(|t| t.host_key())
}

impl Dispatcher {
    /// A dispatcher over its ports.
    pub fn new(
        store: Arc<dyn RunStore>,
        executor: Arc<dyn JobExecutor>,
        cache: Arc<dyn JobCache>,
        clock: Arc<dyn Clock>,
        telemetry: Arc<dyn Telemetry>,
        config: DispatcherConfig,
    ) -> Self {
        let capacity = Capacity::new(
            config.max_concurrent_runs,
            config.max_concurrent_deliveries,
            config.max_deliveries_per_host,
        );
        let in_flight = Arc::new(Mutex::new(HashSet::new()));
        let recorder = Recorder::new(
            store.clone(),
            cache.clone(),
            telemetry.clone(),
            in_flight.clone(),
            config.record_batch,
        );
        let base = next_claim_size(config.batch_size, config.max_batch_size, 0, 0);
        Self {
            inner: Arc::new(Inner {
                store,
                executor,
                cache,
                clock,
                telemetry,
                capacity,
                in_flight,
                recorder,
                claim_size: [AtomicU32::new(base), AtomicU32::new(base)],
                backlog: Notify::new(),
                catching_up: AtomicBool::new(false),
                abandon: tokio::sync::watch::channel(false).0,
                abandoned: Mutex::new(Vec::new()),
                config,
                last_good_tick: Mutex::new(std::time::Instant::now()),
            }),
        }
    }

    /// This replica's worker name.
    pub fn worker(&self) -> &str {
        &self.inner.config.worker
    }

    /// Runs executing in this replica now (or awaiting their outcome's record).
    pub fn in_flight(&self) -> usize {
        lock(&self.inner.in_flight).len()
    }

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

        let stale_before = now - to_chrono(inner.config.lease);
        let (mut handlers, mut deliveries) = self.reserve_any(batch);
        let limit = handlers.count().min(deliveries.count());
        if limit > 0 {
            let recovered = inner
                .store
                .recover_abandoned(
                    stale_before,
                    now,
                    worker,
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
            outcome.started += self.start_reserved(recovered.runs, &mut handlers, &mut deliveries);
        }
        drop((handlers, deliveries));
        let (mut handlers, mut deliveries) = self.reserve_any(batch);
        let limit = handlers.count().min(deliveries.count());
        if limit > 0 {
            let retries = inner.store.claim_retries(now, worker, limit).await?;
            outcome.started += self.start_reserved(retries, &mut handlers, &mut deliveries);
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

    /// Claims due fires within the free slots (at most the adaptive claim size per kind),
    /// starts them, and adapts the next claim's size.
    async fn claim(&self, now: chrono::DateTime<chrono::Utc>) -> Result<Claimed, RepositoryError> {
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
        };
        let batch = inner.store.claim_due(&request).await?;
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
            let lateness = (claimed.run.started_at - claimed.run.scheduled_for)
                .to_std()
                .unwrap_or_default();
            inner.telemetry.fire_started(lateness);
        }
        let started = self.start_reserved(batch.runs, &mut handlers, &mut deliveries);
        let more_due = (asked_handlers > 0 && got_handlers >= asked_handlers)
            || (asked_deliveries > 0 && got_deliveries >= asked_deliveries);
        inner.catching_up.store(more_due, Ordering::Relaxed);
        Ok(Claimed {
            started,
            more_due,
            at_capacity: false,
        })
    }

    /// How long ago the last tick completed without error (before the first, since the
    /// dispatcher was made). The loop ticks at least every poll interval, so a large value
    /// means it is stuck, dead, or its store keeps failing.
    pub fn since_last_good_tick(&self) -> Duration {
        lock(&self.inner.last_good_tick).elapsed()
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

    /// Starts every claimed run with a slot of its kind from the reservations (which hold at
    /// least as many permits as the claim was allowed to take).
    fn start_reserved(
        &self,
        claimed: Vec<ClaimedRun>,
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
            self.start(run, slot);
            started += 1;
        }
        started
    }

    /// Executes `run` in a task of its own, holding `slot` until its outcome is stored.
    fn start(&self, run: ClaimedRun, slot: RunSlot) {
        {
            let mut in_flight = lock(&self.inner.in_flight);
            in_flight.insert(run.run.id);
            self.inner.telemetry.in_flight(in_flight.len());
        }
        let dispatcher = self.clone();
        tokio::spawn(async move { dispatcher.execute(run, slot).await });
    }

    /// Executes one claimed run under its timeout and records the outcome.
    async fn execute(&self, claimed: ClaimedRun, slot: RunSlot) {
        let ClaimedRun { run, job } = claimed;
        let policy = job.spec.policy;
        let timeout = Duration::from_secs(u64::from(policy.timeout_seconds));
        // A panicking handler fails its run, not the dispatcher: the unwind is caught here, in
        // this run's task (a second task per run, with the job and run cloned into it, cost
        // more CPU per fire than the claim's SQL took; measured in `bench/dispatch.sh`). A
        // timed-out execution is dropped, which cancels it at its next await.
        // (The call is inside the async block, so an executor that panics while making its
        // future is caught too.)
        let executor = &self.inner.executor;
        let work = AssertUnwindSafe(async { executor.execute(&job, &run).await }).catch_unwind();
        let mut abandon = self.inner.abandon.subscribe();
        let executed = tokio::select! {
            biased;
            // The shutdown grace is over: drop the execution (a delivery's connection closes)
            // and leave the run `running` for the shutdown to release.
            _ = abandon.wait_for(|abandon| *abandon) => None,
            executed = async {
                // A delivery beyond its host's cap waits here for one of the host's runs to
                // end.
                let sending = slot.sending_permit().await;
                let executed = tokio::time::timeout(timeout, work).await;
                drop(sending);
                executed
            } => Some(executed),
        };
        let Some(executed) = executed else {
            tracing::warn!(
                target: "scheduler_core::run",
                job_id = %run.job_id,
                run_id = %run.id,
                attempt = run.attempt,
                "run abandoned at the end of the shutdown grace; released to other replicas"
            );
            lock(&self.inner.abandoned).push(run.id);
            return;
        };
        let execution = match executed {
            Ok(Ok(Ok(()))) => Execution::Succeeded,
            // Whatever a handler or receiver said is sanitized before it goes near the store.
            Ok(Ok(Err(message))) => Execution::Failed(ErrorText::sanitize(&message)),
            Ok(Err(_panic)) => Execution::Panicked,
            Err(_) => Execution::TimedOut,
        };
        // The execution slot goes back now; the record slot stays until the outcome is stored.
        let slot = slot.executed();
        let outcome = plan_outcome(&run, &policy, execution, self.inner.clock.now());
        let ran_for = (outcome.finished_at - run.started_at)
            .to_std()
            .unwrap_or_default();
        let duration_ms = u64::try_from(ran_for.as_millis()).unwrap_or(u64::MAX);
        match &outcome.error {
            None => tracing::info!(
                target: "scheduler_core::run",
                job_id = %run.job_id,
                run_id = %run.id,
                attempt = run.attempt,
                status = outcome.status.as_str(),
                duration_ms,
                "run finished"
            ),
            Some(error) => tracing::warn!(
                target: "scheduler_core::run",
                job_id = %run.job_id,
                run_id = %run.id,
                attempt = run.attempt,
                status = outcome.status.as_str(),
                duration_ms,
                error = error.as_str(),
                retry_at = ?outcome.retry_at,
                "run failed"
            ),
        }
        self.inner
            .telemetry
            .run_recorded(outcome.status, run.trigger, Some(ran_for));
        self.inner
            .recorder
            .record(Pending {
                finished: FinishedRun { run, outcome },
                slot,
            })
            .await;
    }

    /// Deletes the run history past [`DispatcherConfig::retention`] and
    /// [`DispatcherConfig::runs_per_job`], in statements of [`DispatcherConfig::prune_batch`]
    /// rows, until nothing is left to delete (at most 100 statements per call, so one call
    /// stays short); returns how many runs it deleted. The loop calls it every
    /// [`DispatcherConfig::prune_every`]. Pruning is background work: after each statement it
    /// pauses [`DispatcherConfig::prune_pace`] times as long as the statement took, and it
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

    /// Heartbeats every run executing here (one statement).
    ///
    /// # Errors
    /// The store's error.
    pub async fn heartbeat(&self) -> Result<(), RepositoryError> {
        let ids: Vec<RunId> = lock(&self.inner.in_flight).iter().copied().collect();
        if ids.is_empty() {
            return Ok(());
        }
        self.inner
            .store
            .heartbeat(&ids, self.inner.clock.now())
            .await
    }

    /// Claims and executes until `shutdown` completes; then stops claiming and waits up to the
    /// grace period for in-flight runs, heartbeating them all along (so no other replica takes
    /// them for dead). At the grace's end the runs still executing are abandoned — their
    /// execution dropped, a delivery's connection closed — and only then released in the
    /// store, so another replica runs them again at its next claim (attempt + 1) and never
    /// while this one's attempt may still be in flight. Sleeps until the earliest `next_run`,
    /// but never longer than the poll interval; with every slot held, until a run's outcome
    /// is stored.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) {
        let config = &self.inner.config;
        let (stop_heartbeats, heartbeats_stopped) = tokio::sync::watch::channel(false);
        let heartbeats = self.heartbeats(heartbeats_stopped);
        let mut background = vec![
            self.every(BACKLOG_SAMPLE_EVERY, |d| async move {
                let now = d.inner.clock.now();
                if let Ok(due) = d.inner.store.due_backlog(now).await {
                    d.inner.telemetry.backlog(due);
                }
            }),
            self.every(
                config.prune_every.max(Duration::from_secs(1)),
                |d| async move {
                    if let Err(error) = d.prune_history().await {
                        tracing::warn!(%error, "pruning run history failed");
                    }
                },
            ),
        ];
        for _ in 1..config.claims_in_flight.max(1) {
            let dispatcher = self.clone();
            background.push(tokio::spawn(async move {
                dispatcher.claim_while_backlog().await
            }));
        }
        tokio::pin!(shutdown);
        let mut failures = 0u32;
        loop {
            let ticked = self.bounded(self.tick()).await;
            let at_capacity = matches!(
                ticked,
                Ok(TickOutcome {
                    at_capacity: true,
                    ..
                })
            );
            let pause = match ticked {
                Ok(outcome) => {
                    if failures > 0 {
                        tracing::info!("dispatcher: the store answers again");
                    }
                    failures = 0;
                    if outcome.more_due {
                        // A backlog: the other claimers join in.
                        self.inner.backlog.notify_waiters();
                        None
                    } else if outcome.at_capacity {
                        Some(self.inner.config.poll_interval)
                    } else {
                        Some(self.pause_until_due().await)
                    }
                }
                Err(error) => {
                    self.inner.telemetry.claim_failed();
                    if failures == 0 {
                        tracing::warn!(%error, "dispatcher: claiming failed; backing off");
                    }
                    failures += 1;
                    Some(Duration::from_millis(200 * u64::from(failures.min(25))))
                }
            };
            let Some(pause) = pause else {
                continue;
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(pause) => {}
                // Every slot was held: claim again as soon as one is given back.
                () = self.inner.capacity.freed(), if at_capacity => {}
            }
        }
        for task in &background {
            task.abort();
        }
        let running = self.in_flight();
        tracing::info!(
            running,
            "dispatcher: stopped claiming; waiting for in-flight runs (heartbeats go on)"
        );
        let drained =
            tokio::time::timeout(config.shutdown_grace, self.inner.capacity.drained()).await;
        if drained.is_err() {
            tracing::warn!(
                running = self.in_flight(),
                "dispatcher: grace period over; abandoning the runs still executing"
            );
            self.inner.abandon.send_replace(true);
            // Abandoned executions end at once; finished ones still store their outcomes.
            let _ = tokio::time::timeout(
                Duration::from_secs(5).max(config.tick_timeout),
                self.inner.capacity.drained(),
            )
            .await;
        }
        // No heartbeat may land after the release below: stop them, and wait for the one
        // that may be in flight.
        let _ = stop_heartbeats.send(true);
        let _ = heartbeats.await;
        self.release_abandoned().await;
    }

    /// Heartbeats every run executing here each heartbeat interval until `stop` is set.
    fn heartbeats(
        &self,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let dispatcher = self.clone();
        let period = self.inner.config.heartbeat_interval();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.wait_for(|stop| *stop) => return,
                    () = tokio::time::sleep(period) => {}
                }
                if let Err(error) = dispatcher.heartbeat().await {
                    tracing::warn!(%error, "heartbeat failed");
                }
            }
        })
    }

    /// Releases the runs abandoned at the end of the shutdown grace (see
    /// [`RunStore::release`]), so another replica recovers them at its next claim instead of
    /// after the lease. When the store does not answer, they are recovered after the lease.
    async fn release_abandoned(&self) {
        let ids: Vec<RunId> = std::mem::take(&mut *lock(&self.inner.abandoned));
        if ids.is_empty() {
            return;
        }
        match self.inner.store.release(&ids).await {
            Ok(()) => tracing::info!(
                released = ids.len(),
                "dispatcher: abandoned runs released to other replicas"
            ),
            Err(error) => tracing::warn!(
                %error,
                runs = ids.len(),
                "dispatcher: releasing abandoned runs failed; other replicas recover them \
                 after the lease"
            ),
        }
        let mut in_flight = lock(&self.inner.in_flight);
        for id in &ids {
            in_flight.remove(id);
        }
        self.inner.telemetry.in_flight(in_flight.len());
    }

    /// An extra claimer: sleeps until a claim comes back full, then claims while claims come
    /// back full (so [`DispatcherConfig::claims_in_flight`] claims overlap during a backlog).
    async fn claim_while_backlog(&self) {
        loop {
            self.inner.backlog.notified().await;
            loop {
                let now = self.inner.clock.now();
                match self.bounded(self.claim(now)).await {
                    Ok(claimed) if claimed.more_due => {}
                    // Short, at capacity or failed: the main loop takes it from here.
                    _ => break,
                }
            }
        }
    }

    /// `work` bounded by the tick timeout (a timed-out claim's transaction rolls back).
    async fn bounded<T>(
        &self,
        work: impl Future<Output = Result<T, RepositoryError>>,
    ) -> Result<T, RepositoryError> {
        let bound = self.inner.config.tick_timeout;
        tokio::time::timeout(bound, work).await.unwrap_or_else(|_| {
            Err(RepositoryError::Unavailable(format!(
                "the tick took longer than {} ms",
                bound.as_millis()
            )))
        })
    }

    /// A task running `step` every `period` (first after one period), until aborted.
    fn every<F, Fut>(&self, period: Duration, step: F) -> tokio::task::JoinHandle<()>
    where
        F: Fn(Dispatcher) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let dispatcher = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                step(dispatcher.clone()).await;
            }
        })
    }

    /// How long to wait before the next tick: until the earliest `next_run`, at most the poll
    /// interval, and at least [`MIN_PAUSE`]. A fire that is due but was not claimed (its row
    /// held by another replica's claim, or its host saturated) must not make the loop spin on
    /// the store.
    async fn pause_until_due(&self) -> Duration {
        let poll = self.inner.config.poll_interval;
        let wait = match self.inner.store.next_due().await {
            Ok(Some(due)) => (due - self.inner.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO),
            _ => poll,
        };
        wait.clamp(MIN_PAUSE.min(poll), poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claim::ClaimBatch;
    use crate::job::{Job, JobDraft, JobId};
    use crate::plan::RunOutcome;
    use crate::ports::{MockClock, MockJobCache, MockJobExecutor, MockRunStore};
    use crate::run_status::{RunStatus, RunTrigger};
    use chrono::{DateTime, Utc};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn now() -> DateTime<Utc> {
        "2025-06-23T09:00:00Z".parse().unwrap()
    }

    fn clock() -> Arc<MockClock> {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        Arc::new(clock)
    }

    fn claimed() -> ClaimedRun {
        let spec = JobDraft {
            name: Some("j".into()),
            cron_expression: Some("* * * * *".into()),
            ..JobDraft::default()
        }
        .validate(now())
        .unwrap();
        let job = Job {
            id: JobId(1),
            next_run: spec.next_run(now()),
            spec,
            last_run: None,
            last_status: None,
            last_error: None,
            created_at: now(),
            updated_at: now(),
            tenant: crate::tenant::Tenant::default_tenant(),
            created_by: None,
            updated_by: None,
        };
        let run = Run {
            id: RunId(7),
            job_id: JobId(1),
            scheduled_for: now(),
            trigger: RunTrigger::Schedule,
            attempt: 1,
            retries: 0,
            status: RunStatus::Running,
            started_at: now(),
            finished_at: None,
            heartbeat_at: now(),
            retry_at: None,
            error: None,
            worker: "w".into(),
        };
        ClaimedRun { run, job }
    }

    /// A dispatcher over `store` and `executor` with a cache that takes invalidations.
    fn dispatcher_with(store: MockRunStore, executor: Arc<dyn JobExecutor>) -> Dispatcher {
        let mut cache = MockJobCache::new();
        cache.expect_invalidate_jobs().return_const(());
        Dispatcher::new(
            Arc::new(store),
            executor,
            Arc::new(cache),
            clock(),
            Arc::new(crate::ports::NoTelemetry),
            DispatcherConfig::new("w"),
        )
    }

    /// Waits (up to a second) until no run is in flight.
    async fn settle(dispatcher: &Dispatcher) {
        for _ in 0..200 {
            if dispatcher.in_flight() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(dispatcher.in_flight(), 0);
    }

    /// A store with nothing to recover or retry.
    fn quiet_store() -> MockRunStore {
        let mut store = MockRunStore::new();
        store
            .expect_recover_abandoned()
            .returning(|_, _, _, _, _| Ok(crate::claim::Recovered::default()));
        store.expect_due_backlog().returning(|_| Ok(0));
        store.expect_claim_retries().returning(|_, _, _| Ok(vec![]));
        store.expect_heartbeat().returning(|_, _| Ok(()));
        store
    }

    #[tokio::test]
    async fn pruning_waits_while_claims_come_back_full_then_goes_on() {
        let mut store = quiet_store();
        let claims = Arc::new(AtomicUsize::new(0));
        let counted = claims.clone();
        store.expect_claim_due().returning(move |request| {
            // The first claim is full (a backlog), the second finds nothing left.
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                Ok(ClaimBatch {
                    advanced_jobs: vec![JobId(1)],
                    advanced_handlers: request.handlers,
                    ..ClaimBatch::default()
                })
            } else {
                Ok(ClaimBatch::default())
            }
        });
        let prunes = Arc::new(AtomicUsize::new(0));
        let pruned = prunes.clone();
        store.expect_prune().returning(move |_, _, batch| {
            // Two full statements, then a short one.
            let n = pruned.fetch_add(1, Ordering::SeqCst);
            Ok(if n < 2 { u64::from(batch) } else { 3 })
        });
        let mut cache = MockJobCache::new();
        cache.expect_invalidate_jobs().return_const(());
        let mut config = DispatcherConfig::new("w");
        config.batch_size = 1;
        let dispatcher = Dispatcher::new(
            Arc::new(store),
            Arc::new(MockJobExecutor::new()),
            Arc::new(cache),
            clock(),
            Arc::new(crate::ports::NoTelemetry),
            config,
        );
        dispatcher.tick().await.unwrap();
        assert_eq!(dispatcher.prune_history().await.unwrap(), 0);
        assert_eq!(prunes.load(Ordering::SeqCst), 0, "pruned during a backlog");
        dispatcher.tick().await.unwrap();
        assert_eq!(dispatcher.prune_history().await.unwrap(), 2_003);
        assert_eq!(prunes.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn fires_due_but_not_claimable_do_not_make_the_loop_spin() {
        // A fire is due (next_due is in the past) but every claim comes back empty, as when
        // another replica holds the row or every slot is busy.
        let mut store = quiet_store();
        store
            .expect_claim_due()
            .returning(|_| Ok(ClaimBatch::default()));
        let polls = Arc::new(AtomicUsize::new(0));
        let counted = polls.clone();
        store.expect_next_due().returning(move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            // A spinning loop never lets paused time advance: stop it instead of hanging.
            assert!(n < 10_000, "the dispatcher loop spins on the store");
            Ok(Some(now() - chrono::Duration::seconds(5)))
        });
        let dispatcher = Dispatcher::new(
            Arc::new(store),
            Arc::new(MockJobExecutor::new()),
            Arc::new(MockJobCache::new()),
            clock(),
            Arc::new(crate::ports::NoTelemetry),
            DispatcherConfig::new("w"),
        );
        dispatcher
            .run(tokio::time::sleep(Duration::from_secs(1)))
            .await;
        let polls = polls.load(Ordering::SeqCst);
        // At most one tick per MIN_PAUSE (50 ms) in one second.
        assert!((1..=21).contains(&polls), "{polls} ticks in one second");
    }

    #[tokio::test]
    async fn an_outcome_the_store_refuses_is_stored_with_a_minimal_error() {
        let mut store = quiet_store();
        store.expect_claim_due().times(1).returning(|_| {
            Ok(ClaimBatch {
                runs: vec![claimed()],
                ..ClaimBatch::default()
            })
        });
        let outcomes = Arc::new(Mutex::new(Vec::<RunOutcome>::new()));
        let seen = outcomes.clone();
        store
            .expect_finish_many()
            .times(2)
            .returning(move |finished| {
                let mut seen = lock(&seen);
                seen.extend(finished.iter().map(|f| f.outcome.clone()));
                if seen.len() == 1 {
                    Err(RepositoryError::Rejected("invalid byte sequence".into()))
                } else {
                    Ok(())
                }
            });
        let mut executor = MockJobExecutor::new();
        executor
            .expect_execute()
            .returning(|_, _| Err("HTTP 500: poison \u{0} body".into()));
        let dispatcher = dispatcher_with(store, Arc::new(executor));
        assert_eq!(dispatcher.tick().await.unwrap().started, 1);
        settle(&dispatcher).await;
        let outcomes = lock(&outcomes);
        assert_eq!(outcomes.len(), 2);
        let first = outcomes[0].error.as_ref().map(ErrorText::as_str);
        assert_eq!(first, Some("HTTP 500: poison  body"));
        assert_eq!(outcomes[1].status, RunStatus::Failed);
        assert_eq!(
            outcomes[1].error.as_ref().map(ErrorText::as_str),
            Some("the run failed; its error text could not be stored")
        );
    }

    /// An executor whose runs never end; it notes when a run's execution is dropped.
    struct Stuck {
        /// Set when an execution future is dropped (its request cancelled).
        dropped: Arc<AtomicBool>,
    }

    /// Sets its flag when dropped.
    struct DropFlag(Arc<AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[async_trait::async_trait]
    impl JobExecutor for Stuck {
        async fn execute(&self, _job: &Job, _run: &Run) -> Result<(), String> {
            let _flag = DropFlag(self.dropped.clone());
            std::future::pending::<()>().await;
            Ok(())
        }
    }

    /// At shutdown the runs still executing keep their heartbeats through the whole grace (no
    /// other replica takes them for dead); at its end their execution is dropped first, then
    /// they are released in the store, after the last heartbeat, and no outcome is recorded.
    #[tokio::test(start_paused = true)]
    async fn shutdown_heartbeats_through_the_grace_then_abandons_and_releases() {
        let events = Arc::new(Mutex::new(Vec::<(Duration, String)>::new()));
        let dropped = Arc::new(AtomicBool::new(false));
        let started = tokio::time::Instant::now();
        let mut store = MockRunStore::new();
        store
            .expect_recover_abandoned()
            .returning(|_, _, _, _, _| Ok(crate::claim::Recovered::default()));
        store.expect_due_backlog().returning(|_| Ok(0));
        store.expect_claim_retries().returning(|_, _, _| Ok(vec![]));
        store.expect_next_due().returning(|| Ok(None));
        let mut batches = vec![vec![claimed()]];
        store.expect_claim_due().returning(move |_| {
            Ok(ClaimBatch {
                runs: batches.pop().unwrap_or_default(),
                ..ClaimBatch::default()
            })
        });
        let log = events.clone();
        store.expect_heartbeat().returning(move |ids, _| {
            assert_eq!(ids, [RunId(7)]);
            lock(&log).push((started.elapsed(), "heartbeat".into()));
            Ok(())
        });
        let log = events.clone();
        let was_dropped = dropped.clone();
        store.expect_release().times(1).returning(move |ids| {
            assert_eq!(ids, [RunId(7)]);
            assert!(
                was_dropped.load(Ordering::SeqCst),
                "released while its execution was still running"
            );
            lock(&log).push((started.elapsed(), "release".into()));
            Ok(())
        });
        // No outcome may be recorded for an abandoned run: finish_many is not expected.
        let mut config = DispatcherConfig::new("w");
        config.lease = Duration::from_secs(30);
        config.shutdown_grace = Duration::from_secs(25);
        let dispatcher = Dispatcher::new(
            Arc::new(store),
            Arc::new(Stuck {
                dropped: dropped.clone(),
            }),
            Arc::new(MockJobCache::new()),
            clock(),
            Arc::new(crate::ports::NoTelemetry),
            config,
        );
        dispatcher
            .run(tokio::time::sleep(Duration::from_secs(1)))
            .await;
        let events = lock(&events).clone();
        let beats: Vec<Duration> = events
            .iter()
            .filter(|(_, what)| what == "heartbeat")
            .map(|(at, _)| *at)
            .collect();
        // Every 10 s (a third of the lease), also after the shutdown signal at 1 s.
        assert!(
            beats
                .iter()
                .filter(|at| **at > Duration::from_secs(1))
                .count()
                >= 2,
            "{events:?}"
        );
        let (released_at, last) = events.last().unwrap();
        assert_eq!(last, "release", "{events:?}");
        assert!(*released_at >= Duration::from_secs(26), "{events:?}");
        assert_eq!(dispatcher.in_flight(), 0);
    }

    #[test]
    fn a_shutdown_grace_not_shorter_than_the_lease_is_refused() {
        let mut config = DispatcherConfig::new("w");
        assert!(config.check().is_ok());
        config.shutdown_grace = config.lease;
        let refusal = config.check().unwrap_err();
        assert!(
            refusal.contains("30 s") && refusal.contains("lease"),
            "{refusal}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_handler_fails_its_run_and_the_next_runs_still_execute() {
        let mut store = quiet_store();
        let mut second = claimed();
        second.run.id = RunId(8);
        let mut batches = vec![vec![second], vec![claimed()]];
        store.expect_claim_due().times(2).returning(move |_| {
            Ok(ClaimBatch {
                runs: batches.pop().unwrap_or_default(),
                ..ClaimBatch::default()
            })
        });
        let outcomes = Arc::new(Mutex::new(Vec::<(RunId, RunOutcome)>::new()));
        let seen = outcomes.clone();
        store.expect_finish_many().returning(move |finished| {
            lock(&seen).extend(finished.iter().map(|f| (f.run.id, f.outcome.clone())));
            Ok(())
        });
        // The registry an embedding program uses: its handler for run 7 panics.
        let mut handlers = ActionHandlers::new();
        handlers.fallback(|_job, run: Run| async move {
            assert!(run.id != RunId(7), "handler bug");
            Ok(())
        });
        let dispatcher = dispatcher_with(store, Arc::new(handlers));
        assert_eq!(dispatcher.tick().await.unwrap().started, 1);
        settle(&dispatcher).await;
        assert_eq!(dispatcher.tick().await.unwrap().started, 1);
        settle(&dispatcher).await;
        let outcomes = lock(&outcomes);
        assert_eq!(outcomes.len(), 2);
        let (first, panicked) = &outcomes[0];
        assert_eq!(*first, RunId(7));
        assert_eq!(panicked.status, RunStatus::Failed);
        assert_eq!(
            panicked.error.as_ref().map(ErrorText::as_str),
            Some("the handler panicked")
        );
        assert_eq!(outcomes[1].0, RunId(8));
        assert_eq!(outcomes[1].1.status, RunStatus::Succeeded);
    }
}
