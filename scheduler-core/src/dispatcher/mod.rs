//! The dispatcher: claims due fires through the [`RunStore`], executes them concurrently up to
//! the replica's capacity, records outcomes in batches, retries with backoff, heartbeats, and
//! recovers runs of dead workers. The loop is a thin wrapper around [`Dispatcher::tick`],
//! which tests drive directly with a controlled [`Clock`].
//!
//! One type, [`Dispatcher`], its methods by idea in this module's files: `config` (the
//! settings), `health`, `claim` (a tick: recoveries, retries, due fires, within free slots),
//! `execute` (one run in its task, its outcome to the recorder), `prune` (history
//! retention), `lifecycle` (the loop, heartbeats and shutdown).
//!
//! # Guarantee
//! Every fire is **claimed exactly once**: the claim is one database transaction that locks
//! the job row (PostgreSQL `FOR UPDATE SKIP LOCKED`), inserts the run and advances `next_run`;
//! a unique key on `(job_id, scheduled_for, attempt)` forbids a second run of the same fire.
//! **Delivery** is exactly once unless a worker dies mid-run: its run is marked `abandoned`
//! and a new attempt runs — at-least-once. A dead worker is found by its presence when the
//! dispatcher has one ([`Dispatcher::with_presence`], [`crate::presence`]: about a second on
//! PostgreSQL), else when its heartbeats stop for the lease. Receivers use
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

mod claim;
mod config;
mod execute;
mod health;
mod lifecycle;
mod prune;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::capacity::Capacity;
use crate::claim::ClaimedRun;
use crate::plan::{ExecutionKind, next_claim_size};
use crate::ports::{Clock, JobCache, JobExecutor, RunStore, Telemetry};
use crate::presence::WorkerPresence;
use crate::recorder::Recorder;
use crate::run::RunId;
use crate::sync::lock;

pub use crate::executors::{ActionFuture, ActionHandler, ActionHandlers, RoutingExecutor};
pub use claim::TickOutcome;
pub use config::DispatcherConfig;
pub use health::DispatcherHealth;

/// What every clone of a dispatcher shares.
struct Inner {
    store: Arc<dyn RunStore>,
    executor: Arc<dyn JobExecutor>,
    cache: Arc<dyn JobCache>,
    clock: Arc<dyn Clock>,
    /// Where the dispatcher's events are reported (metrics).
    telemetry: Arc<dyn Telemetry>,
    /// The settings.
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
    /// The runs executing here, each with the switch that stops it (a cancel request).
    stops: Mutex<HashMap<RunId, tokio::sync::oneshot::Sender<()>>>,
    /// When the last tick completed without error, or when the dispatcher was made (for
    /// health checks).
    last_good_tick: Mutex<std::time::Instant>,
    /// How this worker's liveness is shown to the others, and theirs read (none: the lease
    /// alone).
    presence: std::sync::OnceLock<Arc<dyn WorkerPresence>>,
    /// Workers seen lost, with when they were first seen so (`presence` in `lifecycle.rs`).
    suspects: Mutex<HashMap<String, std::time::Instant>>,
    /// The tenants and hosts the last load sample reported with a non-zero figure (told 0
    /// when they drop out of the next one).
    reported: Mutex<(HashSet<crate::tenant::Tenant>, HashSet<String>)>,
}

/// Claims and executes runs. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

pub(super) fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

pub(super) fn kind_index(kind: ExecutionKind) -> usize {
    match kind {
        ExecutionKind::Handler => 0,
        ExecutionKind::Delivery => 1,
    }
}

/// The per-host key of a delivery (`None` for a handler run).
pub(super) fn host_of(claimed: &ClaimedRun) -> Option<String> {
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
                stops: Mutex::new(HashMap::new()),
                config,
                last_good_tick: Mutex::new(std::time::Instant::now()),
                presence: std::sync::OnceLock::new(),
                suspects: Mutex::new(HashMap::new()),
                reported: Mutex::new((HashSet::new(), HashSet::new())),
            }),
        }
    }

    /// This dispatcher with `presence`: it joins when its loop starts, and recovers the
    /// runs of workers found lost within about two seconds instead of a lease (see
    /// [`crate::presence`]). Without it (SQLite, tests) the lease alone finds dead workers.
    /// A second call is ignored.
    #[must_use]
    pub fn with_presence(self, presence: Arc<dyn WorkerPresence>) -> Self {
        let _ = self.inner.presence.set(presence);
        self
    }

    /// This replica's worker name.
    pub fn worker(&self) -> &str {
        &self.inner.config.worker
    }

    /// Runs executing in this replica now (or awaiting their outcome's record).
    pub fn in_flight(&self) -> usize {
        lock(&self.inner.in_flight).len()
    }

    /// Stops run `id` if it executes here (its execution is dropped: a handler's task is
    /// cancelled, a delivery's connection closed; nothing more is recorded for it, the store
    /// holds it `cancelled` already). True when it was executing here.
    pub fn stop_run(&self, id: RunId) -> bool {
        lock(&self.inner.stops)
            .remove(&id)
            .is_some_and(|stop| stop.send(()).is_ok())
    }

    /// Stops every run executing here that the store no longer holds `running` (cancelled
    /// through another replica): one query by primary key; returns how many it stopped.
    ///
    /// # Errors
    /// The store's error.
    pub async fn stop_ended_runs(&self) -> Result<usize, crate::error::RepositoryError> {
        let executing: Vec<RunId> = lock(&self.inner.stops).keys().copied().collect();
        if executing.is_empty() {
            return Ok(0);
        }
        let ended = self.inner.store.ended_among(&executing).await?;
        Ok(ended.into_iter().filter(|id| self.stop_run(*id)).count())
    }

    /// How long ago the last tick completed without error (before the first, since the
    /// dispatcher was made). The loop ticks at least every poll interval, so a large value
    /// means it is stuck, dead, or its store keeps failing.
    pub fn since_last_good_tick(&self) -> Duration {
        lock(&self.inner.last_good_tick).elapsed()
    }
}
