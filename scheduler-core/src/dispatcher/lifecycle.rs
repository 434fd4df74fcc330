//! The dispatcher's loop: ticks paced by the earliest due fire, extra claimers during a
//! backlog, background heartbeats, backlog samples and pruning, and the shutdown that keeps
//! heartbeating through the grace, then abandons and releases what still runs.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use crate::error::RepositoryError;
use crate::presence::PRESENCE_EVERY;
use crate::run::RunId;
use crate::sync::lock;

use super::Dispatcher;
use super::claim::TickOutcome;

/// Shortest pause between two ticks that found nothing more to claim.
const MIN_PAUSE: Duration = Duration::from_millis(50);

/// How often the loop samples the due backlog (one indexed count).
const BACKLOG_SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// How often the loop resumes jobs whose pause has ended (one indexed query): a job paused
/// until an instant resumes within this much of it.
const RESUME_EVERY: Duration = Duration::from_secs(1);

/// How often the loop asks whether a run executing here was cancelled elsewhere (one query by
/// primary key, only while runs execute): a cancel sent to another replica stops the run
/// within about this long.
const STOP_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Most paused jobs resumed per statement.
const RESUME_BATCH: u32 = 100;

/// How long a worker must be seen lost, check after check, before its runs are recovered.
/// A database restart ends every worker's session at once and each joins again within one
/// check ([`PRESENCE_EVERY`]); a dead one stays lost. With the checks every 250 ms a killed
/// replica's runs start again elsewhere within about 1.1 s (measured after `kill -9`).
const LOST_AFTER: Duration = Duration::from_millis(750);

impl Dispatcher {
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

    /// Resumes the jobs whose pause ended by now ([`crate::RunStore::resume_due`]), batch after
    /// batch (at most 10 per call), and drops them from the cache; returns how many.
    ///
    /// # Errors
    /// The store's error.
    pub async fn resume_due(&self) -> Result<usize, RepositoryError> {
        let mut resumed = 0;
        for _ in 0..10 {
            let now = self.inner.clock.now();
            let jobs = self.inner.store.resume_due(now, RESUME_BATCH).await?;
            if !jobs.is_empty() {
                self.inner.cache.invalidate_jobs(&jobs).await;
                for job_id in &jobs {
                    tracing::info!(%job_id, "job resumed: its pause ended");
                }
            }
            resumed += jobs.len();
            if jobs.len() < RESUME_BATCH as usize {
                break;
            }
        }
        Ok(resumed)
    }

    /// Reports the due backlog (in all and by tenant) and the deliveries executing here by
    /// host; a tenant or host reported before and absent now is reported 0, once.
    ///
    /// # Errors
    /// The store's error (nothing is reported then).
    pub async fn sample_load(&self) -> Result<(), RepositoryError> {
        let inner = &self.inner;
        let by_tenant = inner.store.due_by_tenant(inner.clock.now()).await?;
        let hosts = inner.capacity.host_loads();
        let telemetry = &inner.telemetry;
        telemetry.backlog(by_tenant.iter().map(|(_, due)| due).sum());
        let mut reported = lock(&inner.reported);
        let (tenants_before, hosts_before) = &mut *reported;
        let tenants_now: HashSet<_> = by_tenant.iter().map(|(t, _)| t.clone()).collect();
        for gone in tenants_before.difference(&tenants_now) {
            telemetry.tenant_backlog(gone, 0);
        }
        for (tenant, due) in &by_tenant {
            telemetry.tenant_backlog(tenant, *due);
        }
        let hosts_now: HashSet<_> = hosts.iter().map(|(h, _)| h.clone()).collect();
        for gone in hosts_before.difference(&hosts_now) {
            telemetry.host_deliveries(gone, 0);
        }
        for (host, in_flight) in &hosts {
            telemetry.host_deliveries(host, *in_flight);
        }
        *tenants_before = tenants_now;
        *hosts_before = hosts_now;
        Ok(())
    }

    /// One presence check (every [`PRESENCE_EVERY`] while the loop runs): keeps this
    /// worker's presence (joining again when its session was lost), reads which workers are
    /// lost, and — for those seen lost for 750 ms (`LOST_AFTER`) — recovers their `running` runs at
    /// once (attempt + 1, the abandoned one saying `worker lost`) and forgets the workers
    /// left without any. Returns how many runs it started. Without a presence, nothing.
    ///
    /// # Errors
    /// The store's error.
    pub async fn watch_workers(&self) -> Result<usize, RepositoryError> {
        let Some(presence) = self.inner.presence.get() else {
            return Ok(0);
        };
        let worker = self.inner.config.worker.as_str();
        if presence.keep(worker).await? {
            tracing::warn!(
                worker,
                "dispatcher: this worker's database session was lost and is restored; runs \
                 other replicas recovered meanwhile are stopped here"
            );
        }
        let lost = presence.lost(worker).await?;
        let confirmed: Vec<String> = {
            let mut suspects = lock(&self.inner.suspects);
            let seen = std::time::Instant::now();
            suspects.retain(|name, _| lost.contains(name));
            lost.iter()
                .filter(|name| {
                    let first = *suspects.entry((*name).clone()).or_insert(seen);
                    seen.duration_since(first) >= LOST_AFTER
                })
                .cloned()
                .collect()
        };
        if confirmed.is_empty() {
            return Ok(0);
        }
        let started = self.recover(self.inner.clock.now(), &confirmed).await?;
        if started > 0 {
            tracing::warn!(
                workers = ?confirmed,
                runs = started,
                "dispatcher: workers lost; their runs start again here"
            );
        }
        presence.forget(&confirmed).await?;
        Ok(started)
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
                if let Err(error) = d.sample_load().await {
                    tracing::debug!(%error, "sampling the due backlog failed");
                }
            }),
            self.every(STOP_CHECK_EVERY, |d| async move {
                if let Err(error) = d.stop_ended_runs().await {
                    tracing::warn!(%error, "checking for cancelled runs failed");
                }
            }),
            self.every(RESUME_EVERY, |d| async move {
                if let Err(error) = d.resume_due().await {
                    tracing::warn!(%error, "resuming paused jobs failed");
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
        let presence = self.inner.presence.get().cloned();
        if let Some(presence) = &presence {
            match presence.join(&config.worker).await {
                Ok(()) => background.push(self.every(PRESENCE_EVERY, |d| async move {
                    if let Err(error) = d.watch_workers().await {
                        tracing::warn!(%error, "checking worker presence failed");
                    }
                })),
                Err(error) => tracing::warn!(
                    %error,
                    "dispatcher: joining with a presence failed; other replicas find this \
                     one dead by its lease only"
                ),
            }
        }
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
        if let Some(presence) = presence
            && let Err(error) = presence.leave(&config.worker).await
        {
            tracing::warn!(%error, "dispatcher: leaving with the presence failed");
        }
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
        self.track_in_flight(ids, false);
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
