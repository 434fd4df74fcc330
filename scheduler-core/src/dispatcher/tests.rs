//! The dispatcher over mocked ports: claims, outcomes, pruning, shutdown.

use super::*;
use crate::claim::ClaimBatch;
use crate::claim::ClaimedRun;
use crate::error::RepositoryError;
use crate::job::{Job, JobId};
use crate::job_input::JobDraft;
use crate::plan::RunOutcome;
use crate::ports::Executed;
use crate::ports::{MockClock, MockJobCache, MockJobExecutor, MockRunStore};
use crate::run::{ErrorText, Run, RunId};
use crate::run_status::{RunStatus, RunTrigger};
use chrono::{DateTime, Utc};
use std::sync::atomic::AtomicBool;
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
        next_run: spec.next_run(now(), 0),
        spec,
        last_run: None,
        last_status: None,
        last_error: None,
        fire_count: 0,
        pause: None,
        failure_streak: 0,
        next_fire: None,
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
        due_at: None,
        trigger: RunTrigger::Schedule,
        attempt: 1,
        retries: 0,
        throttles: 0,
        status: RunStatus::Running,
        started_at: now(),
        finished_at: None,
        heartbeat_at: now(),
        retry_at: None,
        error: None,
        worker: "w".into(),
        replay_of: None,
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
        .returning(|_, _, _, _, _, _| Ok(crate::claim::Recovered::default()));
    store.expect_due_by_tenant().returning(|_| Ok(vec![]));
    store.expect_claim_retries().returning(|_, _, _| Ok(vec![]));
    store.expect_heartbeat().returning(|_, _| Ok(()));
    store.expect_resume_due().returning(|_, _| Ok(vec![]));
    store
}

#[tokio::test]
async fn jobs_whose_pause_ended_are_resumed_batch_after_batch_and_dropped_from_the_cache() {
    let mut store = MockRunStore::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    store.expect_resume_due().returning(move |at, limit| {
        assert_eq!(at, now());
        // A full batch, then the rest.
        Ok(match counted.fetch_add(1, Ordering::SeqCst) {
            0 => (0..i64::from(limit)).map(JobId).collect(),
            1 => vec![JobId(500)],
            _ => panic!("asked again after a short batch"),
        })
    });
    let invalidated = Arc::new(Mutex::new(Vec::new()));
    let seen = invalidated.clone();
    let mut cache = MockJobCache::new();
    cache
        .expect_invalidate_jobs()
        .returning(move |ids| lock(&seen).extend_from_slice(ids));
    let dispatcher = Dispatcher::new(
        Arc::new(store),
        Arc::new(MockJobExecutor::new()),
        Arc::new(cache),
        clock(),
        Arc::new(crate::ports::NoTelemetry),
        DispatcherConfig::new("w"),
    );
    assert_eq!(dispatcher.resume_due().await.unwrap(), 101);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let dropped = lock(&invalidated).clone();
    assert_eq!(dropped.len(), 101);
    assert_eq!(dropped.last(), Some(&JobId(500)));
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
                Ok(Vec::new())
            }
        });
    let mut executor = MockJobExecutor::new();
    executor
        .expect_execute_with_output()
        .returning(|_, _| Executed::new(Err("HTTP 500: poison \u{0} body".into()), None));
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
        .returning(|_, _, _, _, _, _| Ok(crate::claim::Recovered::default()));
    store.expect_due_by_tenant().returning(|_| Ok(vec![]));
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
        Ok(Vec::new())
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

/// A worker seen lost is recovered only once it stayed lost for 750 ms of checks
/// (a database restart ends every session at once, and each worker joins again within one
/// check), then its runs are recovered as `lost` and the worker is forgotten; one that comes
/// back before is not.
#[tokio::test]
async fn lost_workers_are_recovered_once_they_stay_lost_for_750_ms() {
    use crate::presence::MockWorkerPresence;
    let mut store = MockRunStore::new();
    let recovered_for = Arc::new(Mutex::new(Vec::<Vec<String>>::new()));
    let noted = recovered_for.clone();
    store
        .expect_recover_abandoned()
        .returning(move |_, _, worker, lost, _, _| {
            assert_eq!(worker, "w");
            noted.lock().unwrap().push(lost.to_vec());
            Ok(crate::claim::Recovered::default())
        });
    let mut presence = MockWorkerPresence::new();
    presence.expect_keep().returning(|_| Ok(false));
    // Checks 1-3: "dead" and "back" lost; check 4: "back" joined again.
    let checks = Arc::new(AtomicUsize::new(0));
    let counted = checks.clone();
    presence.expect_lost().returning(move |me| {
        assert_eq!(me, "w");
        Ok(match counted.fetch_add(1, Ordering::SeqCst) {
            0..=2 => vec!["dead".to_string(), "back".to_string()],
            _ => vec!["dead".to_string()],
        })
    });
    let forgotten = Arc::new(Mutex::new(Vec::<Vec<String>>::new()));
    let noted = forgotten.clone();
    presence.expect_forget().returning(move |workers| {
        noted.lock().unwrap().push(workers.to_vec());
        Ok(())
    });
    let dispatcher =
        dispatcher_with(store, Arc::new(MockJobExecutor::new())).with_presence(Arc::new(presence));
    assert_eq!(dispatcher.watch_workers().await.unwrap(), 0);
    assert!(
        recovered_for.lock().unwrap().is_empty(),
        "recovered at once"
    );
    std::thread::sleep(Duration::from_millis(600));
    dispatcher.watch_workers().await.unwrap();
    assert!(
        recovered_for.lock().unwrap().is_empty(),
        "recovered too soon"
    );
    std::thread::sleep(Duration::from_millis(500));
    dispatcher.watch_workers().await.unwrap();
    assert_eq!(
        *recovered_for.lock().unwrap(),
        [vec!["dead".to_string(), "back".to_string()]]
    );
    // "back" joined again: forgotten as a suspect, never recovered again.
    dispatcher.watch_workers().await.unwrap();
    assert_eq!(
        recovered_for.lock().unwrap().last().unwrap(),
        &vec!["dead".to_string()]
    );
    assert_eq!(forgotten.lock().unwrap().len(), 2);
}

/// What a load sample reported: backlogs by tenant and deliveries by host, in order.
#[derive(Default)]
struct LoadTelemetry {
    backlog: Mutex<Vec<u64>>,
    tenants: Mutex<Vec<(String, u64)>>,
    hosts: Mutex<Vec<(String, usize)>>,
    limited: Mutex<Vec<String>>,
}

/// A dispatcher over `store` (executing nothing) whose telemetry records the load samples
/// and limits it reports.
fn reporting_dispatcher(store: MockRunStore) -> (Dispatcher, Arc<LoadTelemetry>) {
    let telemetry = Arc::new(LoadTelemetry::default());
    let mut cache = MockJobCache::new();
    cache.expect_invalidate_jobs().return_const(());
    let dispatcher = Dispatcher::new(
        Arc::new(store),
        Arc::new(MockJobExecutor::new()),
        Arc::new(cache),
        clock(),
        telemetry.clone(),
        DispatcherConfig::new("w"),
    );
    (dispatcher, telemetry)
}

/// A claim that left fires due for a host's or a tenant's limit says so, once per claim and
/// name.
#[tokio::test]
async fn limited_hosts_and_capped_tenants_of_a_claim_are_counted() {
    let mut store = quiet_store();
    store.expect_claim_due().returning(|_| {
        Ok(ClaimBatch {
            limited_hosts: vec!["api.example.com".into()],
            capped_tenants: vec!["batch".into()],
            ..ClaimBatch::default()
        })
    });
    let (dispatcher, telemetry) = reporting_dispatcher(store);
    dispatcher.tick().await.unwrap();
    assert_eq!(
        *telemetry.limited.lock().unwrap(),
        ["api.example.com", "tenant batch"]
    );
}

impl crate::ports::Telemetry for LoadTelemetry {
    fn run_recorded(&self, _: RunStatus, _: RunTrigger, _: Option<Duration>) {}
    fn fire_skipped(&self, _: &crate::plan::SkipReason) {}
    fn fire_started(&self, _: &crate::tenant::Tenant, _: Duration) {}
    fn runs_abandoned(&self, _: usize, _: usize) {}
    fn in_flight(&self, _: usize) {}
    fn claimed(&self, _: DateTime<Utc>) {}
    fn claim_failed(&self) {}
    fn backlog(&self, due: u64) {
        self.backlog.lock().unwrap().push(due);
    }
    fn tenant_backlog(&self, tenant: &crate::tenant::Tenant, due: u64) {
        let mut tenants = self.tenants.lock().unwrap();
        tenants.push((tenant.as_str().to_string(), due));
    }
    fn host_deliveries(&self, host: &str, in_flight: usize) {
        self.hosts
            .lock()
            .unwrap()
            .push((host.to_string(), in_flight));
    }
    fn host_saturated(&self, _: &str) {}
    fn host_throttled(&self, _: &str) {}
    fn host_limited(&self, host: &str) {
        self.limited.lock().unwrap().push(host.to_string());
    }
    fn tenant_capped(&self, tenant: &str) {
        self.limited
            .lock()
            .unwrap()
            .push(format!("tenant {tenant}"));
    }
    fn runs_pruned(&self, _: u64) {}
    fn jobs_auto_paused(&self, _: usize) {}
}

/// A load sample reports the backlog in all and by tenant; a tenant that had a backlog and
/// has none now is reported 0 once, then no more.
#[tokio::test]
async fn load_samples_report_each_tenants_backlog_and_zero_it_once_gone() {
    let tenant = |name: &str| crate::tenant::Tenant::parse(name).unwrap();
    let samples = Arc::new(Mutex::new(vec![
        vec![],
        vec![(tenant("beta"), 2)],
        vec![(tenant("alpha"), 3), (tenant("beta"), 1)],
    ]));
    let mut store = MockRunStore::new();
    store
        .expect_due_by_tenant()
        .returning(move |_| Ok(samples.lock().unwrap().pop().unwrap_or_default()));
    let (dispatcher, telemetry) = reporting_dispatcher(store);
    for _ in 0..4 {
        dispatcher.sample_load().await.unwrap();
    }
    assert_eq!(*telemetry.backlog.lock().unwrap(), [4, 2, 0, 0]);
    let text = |pairs: &[(&str, u64)]| -> Vec<(String, u64)> {
        pairs.iter().map(|(t, n)| ((*t).to_string(), *n)).collect()
    };
    assert_eq!(
        *telemetry.tenants.lock().unwrap(),
        text(&[
            ("alpha", 3),
            ("beta", 1),
            ("alpha", 0),
            ("beta", 2),
            ("beta", 0)
        ])
    );
    assert!(
        telemetry.hosts.lock().unwrap().is_empty(),
        "no deliveries held"
    );
}

/// Without a presence (SQLite, an embedding without one) the check does nothing.
#[tokio::test]
async fn without_a_presence_workers_are_found_dead_by_the_lease_alone() {
    let dispatcher = dispatcher_with(MockRunStore::new(), Arc::new(MockJobExecutor::new()));
    assert_eq!(dispatcher.watch_workers().await.unwrap(), 0);
}
