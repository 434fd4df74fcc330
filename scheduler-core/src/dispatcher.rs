//! The dispatcher: claims due fires through the [`RunStore`], executes them concurrently up to
//! a limit, records outcomes, retries with backoff, heartbeats, and recovers runs of dead
//! workers. The loop is a thin wrapper around [`Dispatcher::tick`], which tests drive directly
//! with a controlled [`Clock`].
//!
//! # Guarantee
//! Every fire is **claimed exactly once**: the claim is one database transaction that locks
//! the job row (PostgreSQL `FOR UPDATE SKIP LOCKED`), inserts the run and advances `next_run`;
//! a unique key on `(job_id, scheduled_for, attempt)` forbids a second run of the same fire.
//! **Delivery** is exactly once unless a worker dies mid-run: its run stops heartbeating, is
//! marked `abandoned` after the lease, and a new attempt runs — at-least-once. Receivers use
//! `(job_id, scheduled_for)` as their idempotency key.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Semaphore;

use crate::error::RepositoryError;
use crate::job::{Job, JobId};
use crate::plan::{Execution, RunOutcome, plan_outcome};
use crate::policy::WireEnum;
use crate::ports::{Clock, JobCache, JobExecutor, RunStore};
use crate::run::{ClaimedRun, ErrorText, Run, RunId};
use crate::telemetry;

/// Shortest pause between two ticks that found nothing more to claim.
const MIN_PAUSE: Duration = Duration::from_millis(50);

/// How often the loop samples the due backlog (one indexed count).
const BACKLOG_SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// The future an action handler returns.
pub type ActionFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// An async Rust function run for jobs whose `parameters.action` names it.
pub type ActionHandler = Arc<dyn Fn(Job, Run) -> ActionFuture + Send + Sync>;

/// Handlers by action name, for jobs without an HTTP target; what an embedding program
/// registers its code with.
#[derive(Clone, Default)]
pub struct ActionHandlers {
    /// `parameters.action` → handler.
    handlers: HashMap<String, ActionHandler>,
    /// Run when no handler matches (the server registers one that logs and succeeds).
    fallback: Option<ActionHandler>,
}

impl ActionHandlers {
    /// No handlers.
    pub fn new() -> Self {
        Self::default()
    }

    fn wrap<F, Fut>(handler: F) -> ActionHandler
    where
        F: Fn(Job, Run) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Arc::new(move |job, run| Box::pin(handler(job, run)))
    }

    /// Runs `handler` for jobs whose `parameters.action` is `action`.
    pub fn register<F, Fut>(&mut self, action: &str, handler: F) -> &mut Self
    where
        F: Fn(Job, Run) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.handlers
            .insert(action.to_string(), Self::wrap(handler));
        self
    }

    /// Runs `handler` when no registered action matches.
    pub fn fallback<F, Fut>(&mut self, handler: F) -> &mut Self
    where
        F: Fn(Job, Run) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.fallback = Some(Self::wrap(handler));
        self
    }
}

#[async_trait]
impl JobExecutor for ActionHandlers {
    async fn execute(&self, job: &Job, run: &Run) -> Result<(), String> {
        let action = job
            .spec
            .parameters
            .as_map()
            .get("action")
            .and_then(serde_json::Value::as_str);
        let handler = action
            .and_then(|name| self.handlers.get(name))
            .or(self.fallback.as_ref())
            .ok_or_else(|| match action {
                Some(name) => format!("no handler is registered for action \"{name}\""),
                None => "the job has no target and no parameters.action".to_string(),
            })?;
        handler(job.clone(), run.clone()).await
    }
}

/// Sends jobs with a target to the HTTP executor and the rest to the action handlers.
pub struct RoutingExecutor {
    /// For jobs with a `target`.
    pub http: Option<Arc<dyn JobExecutor>>,
    /// For jobs without one.
    pub actions: ActionHandlers,
}

#[async_trait]
impl JobExecutor for RoutingExecutor {
    async fn execute(&self, job: &Job, run: &Run) -> Result<(), String> {
        match (&job.spec.target, &self.http) {
            (Some(_), Some(http)) => http.execute(job, run).await,
            (Some(_), None) => Err("HTTP targets are not enabled in this process".into()),
            (None, _) => self.actions.execute(job, run).await,
        }
    }
}

/// Dispatcher settings.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// This replica's name, stored on the runs it executes.
    pub worker: String,
    /// Most fires claimed per transaction.
    pub batch_size: u32,
    /// Most runs executing at once in this replica.
    pub max_concurrent_runs: usize,
    /// Longest sleep between claims (jobs created on other replicas are seen this fast).
    pub poll_interval: Duration,
    /// A running run without a heartbeat for this long is abandoned and run again.
    pub lease: Duration,
    /// On shutdown, how long in-flight runs may take before the process leaves them to lease
    /// recovery.
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
}

impl DispatcherConfig {
    /// Defaults for `worker`: batches of 100, 64 concurrent runs, 1 s poll, 30 s lease, 30 s
    /// grace, a fire given up after 3 abandoned attempts, run history kept 30 days and at
    /// most 1,000 runs per job (pruned every minute, 1,000 rows per statement).
    pub fn new(worker: impl Into<String>) -> Self {
        Self {
            worker: worker.into(),
            batch_size: 100,
            max_concurrent_runs: 64,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            max_abandoned_attempts: 3,
            tick_timeout: Duration::from_secs(10),
            retention: Some(Duration::from_secs(30 * 24 * 3600)),
            runs_per_job: Some(1_000),
            prune_every: Duration::from_secs(60),
            prune_batch: 1_000,
        }
    }

    fn heartbeat_interval(&self) -> Duration {
        (self.lease / 3).max(Duration::from_millis(100))
    }
}

/// What one tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TickOutcome {
    /// Runs started by this tick (recovered, retried and newly claimed).
    pub started: usize,
    /// True when a claim came back full: more fires may be due, tick again at once.
    pub more_due: bool,
}

struct Inner {
    store: Arc<dyn RunStore>,
    executor: Arc<dyn JobExecutor>,
    cache: Arc<dyn JobCache>,
    clock: Arc<dyn Clock>,
    config: DispatcherConfig,
    /// One permit per run executing in this replica.
    slots: Arc<Semaphore>,
    /// Runs executing here; heartbeated.
    in_flight: Mutex<HashSet<RunId>>,
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

impl Dispatcher {
    /// A dispatcher over its ports.
    pub fn new(
        store: Arc<dyn RunStore>,
        executor: Arc<dyn JobExecutor>,
        cache: Arc<dyn JobCache>,
        clock: Arc<dyn Clock>,
        config: DispatcherConfig,
    ) -> Self {
        let slots = Arc::new(Semaphore::new(config.max_concurrent_runs.max(1)));
        Self {
            inner: Arc::new(Inner {
                store,
                executor,
                cache,
                clock,
                config,
                slots,
                in_flight: Mutex::new(HashSet::new()),
                last_good_tick: Mutex::new(std::time::Instant::now()),
            }),
        }
    }

    /// This replica's worker name.
    pub fn worker(&self) -> &str {
        &self.inner.config.worker
    }

    /// Runs executing in this replica now.
    pub fn in_flight(&self) -> usize {
        lock(&self.inner.in_flight).len()
    }

    fn free_slots(&self) -> u32 {
        u32::try_from(self.inner.slots.available_permits()).unwrap_or(u32::MAX)
    }

    /// One step: recover abandoned runs, start due retries, claim due fires — each up to the
    /// free execution slots — and start executing what was claimed.
    ///
    /// # Errors
    /// The store's error; nothing was claimed by the failing call.
    pub async fn tick(&self) -> Result<TickOutcome, RepositoryError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let worker = inner.config.worker.as_str();
        let mut outcome = TickOutcome::default();

        let stale_before = now - to_chrono(inner.config.lease);
        let free = self.free_slots();
        if free > 0 {
            let recovered = inner
                .store
                .recover_abandoned(
                    stale_before,
                    now,
                    worker,
                    free,
                    inner.config.max_abandoned_attempts,
                )
                .await?;
            telemetry::runs_abandoned(recovered.runs.len(), recovered.given_up);
            if !recovered.changed_jobs.is_empty() {
                inner.cache.invalidate_jobs(&recovered.changed_jobs).await;
            }
            outcome.started += self.start_all(recovered.runs).await;
        }
        let free = self.free_slots();
        if free > 0 {
            let retries = inner.store.claim_retries(now, worker, free).await?;
            outcome.started += self.start_all(retries).await;
        }
        let limit = self.free_slots().min(inner.config.batch_size);
        if limit > 0 {
            let batch = inner.store.claim_due(now, worker, limit).await?;
            // Claims advanced next_run/last_run: cached reads must not show the old values.
            if !batch.advanced_jobs.is_empty() {
                inner.cache.invalidate_jobs(&batch.advanced_jobs).await;
            }
            outcome.more_due = batch.advanced_jobs.len() >= usize::try_from(limit).unwrap_or(0);
            for (_, reason) in &batch.skipped {
                telemetry::fire_skipped(reason);
            }
            for claimed in &batch.runs {
                telemetry::fire_started(claimed.run.scheduled_for, claimed.run.started_at);
            }
            outcome.started += self.start_all(batch.runs).await;
        }
        telemetry::claimed(now);
        *lock(&inner.last_good_tick) = std::time::Instant::now();
        Ok(outcome)
    }

    /// How long ago the last tick completed without error (before the first, since the
    /// dispatcher was made). The loop ticks at least every poll interval, so a large value
    /// means it is stuck, dead, or its store keeps failing.
    pub fn since_last_good_tick(&self) -> Duration {
        lock(&self.inner.last_good_tick).elapsed()
    }

    /// Starts a manual run of `job_id` now, on this replica.
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
        self.start_all(vec![claimed]).await;
        Ok(run)
    }

    async fn start_all(&self, claimed: Vec<ClaimedRun>) -> usize {
        let count = claimed.len();
        for run in claimed {
            // Claims never exceed the free slots, so this does not wait (manual runs may).
            let Ok(permit) = self.inner.slots.clone().acquire_owned().await else {
                break;
            };
            {
                let mut in_flight = lock(&self.inner.in_flight);
                in_flight.insert(run.run.id);
                telemetry::in_flight(in_flight.len());
            }
            let dispatcher = self.clone();
            tokio::spawn(async move {
                dispatcher.execute(run).await;
                drop(permit);
            });
        }
        count
    }

    /// Executes one claimed run under its timeout and records the outcome.
    async fn execute(&self, claimed: ClaimedRun) {
        let ClaimedRun { run, job } = claimed;
        let policy = job.spec.policy;
        let timeout = Duration::from_secs(u64::from(policy.timeout_seconds));
        let executor = self.inner.executor.clone();
        let (job_for_task, run_for_task) = (job.clone(), run.clone());
        // Its own task, so a panicking handler fails the run instead of the dispatcher.
        let mut task =
            tokio::spawn(async move { executor.execute(&job_for_task, &run_for_task).await });
        let execution = match tokio::time::timeout(timeout, &mut task).await {
            Ok(Ok(Ok(()))) => Execution::Succeeded,
            // Whatever a handler or receiver said is sanitized before it goes near the store.
            Ok(Ok(Err(message))) => Execution::Failed(ErrorText::sanitize(&message)),
            Ok(Err(_panic)) => Execution::Panicked,
            Err(_) => {
                task.abort();
                Execution::TimedOut
            }
        };
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
        telemetry::run_recorded(outcome.status, run.trigger, Some(ran_for));
        self.record(&run, outcome).await;
        // The job's last_status changed.
        self.inner.cache.invalidate_job(run.job_id).await;
        let mut in_flight = lock(&self.inner.in_flight);
        in_flight.remove(&run.id);
        telemetry::in_flight(in_flight.len());
    }

    /// Stores a run's outcome, so that every run ends in a stored final state: an outage is
    /// retried (three tries, then the run is left to lease recovery, which the abandon cap
    /// bounds); an outcome the store refuses for its content is stored again with a minimal
    /// error text.
    async fn record(&self, run: &Run, mut outcome: RunOutcome) {
        let id = run.id;
        for attempt in 0..3u32 {
            match self.inner.store.finish(run, &outcome).await {
                Ok(()) => return,
                Err(RepositoryError::Rejected(cause)) => {
                    tracing::warn!(run_id = %id, %cause, "the store refused a run outcome; storing a minimal error");
                    outcome = outcome.with_minimal_error();
                }
                Err(e) if attempt < 2 => {
                    tracing::warn!(run_id = %id, error = %e, "recording a run outcome failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
                Err(e) => {
                    // Left running: after the lease another replica recovers it.
                    tracing::error!(run_id = %id, error = %e, "could not record a run outcome");
                }
            }
        }
    }

    /// Deletes the run history past [`DispatcherConfig::retention`] and
    /// [`DispatcherConfig::runs_per_job`], in statements of [`DispatcherConfig::prune_batch`]
    /// rows, until nothing is left to delete (at most 100 statements per call, so one call
    /// stays short); returns how many runs it deleted. The loop calls it every
    /// [`DispatcherConfig::prune_every`].
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
            let round = self
                .inner
                .store
                .prune(older_than, config.runs_per_job, batch)
                .await?;
            deleted = deleted.saturating_add(round);
            if round < u64::from(batch) {
                break;
            }
            tokio::task::yield_now().await;
        }
        if deleted > 0 {
            telemetry::runs_pruned(deleted);
            tracing::info!(deleted, "run history pruned");
        }
        Ok(deleted)
    }

    /// Heartbeats every run executing here.
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
    /// grace period for in-flight runs (the rest are recovered by other replicas after the
    /// lease). Sleeps until the earliest `next_run`, but never longer than the poll interval.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) {
        let config = &self.inner.config;
        let beats = {
            let dispatcher = self.clone();
            let every = config.heartbeat_interval();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if let Err(error) = dispatcher.heartbeat().await {
                        tracing::warn!(%error, "heartbeat failed");
                    }
                }
            })
        };
        let backlog = {
            let dispatcher = self.clone();
            tokio::spawn(async move {
                loop {
                    let now = dispatcher.inner.clock.now();
                    if let Ok(due) = dispatcher.inner.store.due_backlog(now).await {
                        telemetry::backlog(due);
                    }
                    tokio::time::sleep(BACKLOG_SAMPLE_EVERY).await;
                }
            })
        };
        let pruning = {
            let dispatcher = self.clone();
            let every = config.prune_every.max(Duration::from_secs(1));
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if let Err(error) = dispatcher.prune_history().await {
                        tracing::warn!(%error, "pruning run history failed");
                    }
                }
            })
        };
        tokio::pin!(shutdown);
        let mut failures = 0u32;
        loop {
            let ticked = tokio::time::timeout(config.tick_timeout, self.tick())
                .await
                .unwrap_or_else(|_| {
                    Err(RepositoryError::Unavailable(format!(
                        "the tick took longer than {} ms",
                        config.tick_timeout.as_millis()
                    )))
                });
            let pause = match ticked {
                Ok(outcome) => {
                    if failures > 0 {
                        tracing::info!("dispatcher: the store answers again");
                    }
                    failures = 0;
                    if outcome.more_due {
                        Duration::ZERO
                    } else {
                        self.pause_until_due().await
                    }
                }
                Err(error) => {
                    telemetry::claim_failed();
                    if failures == 0 {
                        tracing::warn!(%error, "dispatcher: claiming failed; backing off");
                    }
                    failures += 1;
                    Duration::from_millis(200 * u64::from(failures.min(25)))
                }
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        let running = self.in_flight();
        tracing::info!(
            running,
            "dispatcher: stopped claiming; waiting for in-flight runs"
        );
        let all = u32::try_from(config.max_concurrent_runs.max(1)).unwrap_or(u32::MAX);
        let drained =
            tokio::time::timeout(config.shutdown_grace, self.inner.slots.acquire_many(all)).await;
        if drained.is_err() {
            tracing::warn!(
                running = self.in_flight(),
                "dispatcher: grace period over; unfinished runs are left to lease recovery"
            );
        }
        beats.abort();
        backlog.abort();
        pruning.abort();
    }

    /// How long to wait before the next tick: until the earliest `next_run`, at most the poll
    /// interval, and at least [`MIN_PAUSE`]. A fire that is due but was not claimed (every
    /// execution slot busy, or its row held by another replica's claim) must not make the
    /// loop spin on the store.
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
    use crate::job::{JobDraft, JobId};
    use crate::ports::{MockClock, MockJobCache, MockJobExecutor, MockRunStore};
    use crate::run::{ClaimBatch, RunStatus, RunTrigger};
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
            tenant: crate::auth::Tenant::default_tenant(),
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

    /// A store with nothing to recover or retry.
    fn quiet_store() -> MockRunStore {
        let mut store = MockRunStore::new();
        store
            .expect_recover_abandoned()
            .returning(|_, _, _, _, _| Ok(crate::run::Recovered::default()));
        store.expect_due_backlog().returning(|_| Ok(0));
        store.expect_claim_retries().returning(|_, _, _| Ok(vec![]));
        store.expect_heartbeat().returning(|_, _| Ok(()));
        store
    }

    #[tokio::test(start_paused = true)]
    async fn fires_due_but_not_claimable_do_not_make_the_loop_spin() {
        // A fire is due (next_due is in the past) but every claim comes back empty, as when
        // another replica holds the row or every slot is busy.
        let mut store = quiet_store();
        store
            .expect_claim_due()
            .returning(|_, _, _| Ok(ClaimBatch::default()));
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
        store.expect_claim_due().times(1).returning(|_, _, _| {
            Ok(ClaimBatch {
                runs: vec![claimed()],
                ..ClaimBatch::default()
            })
        });
        let outcomes = Arc::new(Mutex::new(Vec::<RunOutcome>::new()));
        let seen = outcomes.clone();
        store.expect_finish().times(2).returning(move |_, outcome| {
            let mut seen = lock(&seen);
            seen.push(outcome.clone());
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
        let mut cache = MockJobCache::new();
        cache.expect_invalidate_job().return_const(());
        let dispatcher = Dispatcher::new(
            Arc::new(store),
            Arc::new(executor),
            Arc::new(cache),
            clock(),
            DispatcherConfig::new("w"),
        );
        assert_eq!(dispatcher.tick().await.unwrap().started, 1);
        for _ in 0..200 {
            if dispatcher.in_flight() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(dispatcher.in_flight(), 0);
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
}
