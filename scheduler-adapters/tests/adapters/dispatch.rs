//! The dispatcher over the real store (SQLite and PostgreSQL) with a controllable clock:
//! the claim protocol and every run policy, without sleeping through real minutes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::{DueJob, Store, TestClock, utc};
use chrono::{DateTime, Utc};
use scheduler_adapters::{NoJobCache, SeaOrmRunStore};
use scheduler_core::{
    ActionHandlers, Clock, Conflict, Dispatcher, DispatcherConfig, Job, JobId, JobPatch,
    JobRepository, PolicyInput, RepositoryError, Run, RunId, RunStatus, RunStore, RunTrigger,
};
use tokio::sync::Notify;

/// Handlers by action: `ok`, `fail`, `slow` (sleeps 3 s), `block` (waits for `release`).
struct Handlers {
    calls: Arc<AtomicUsize>,
    release: Arc<Notify>,
}

impl Handlers {
    fn new() -> (Self, ActionHandlers) {
        let calls = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(Notify::new());
        let mut handlers = ActionHandlers::new();
        let c = calls.clone();
        handlers.register("ok", move |_job: Job, _run: Run| {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        });
        let c = calls.clone();
        handlers.register("fail", move |_job: Job, run: Run| {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                Err(format!("failure on attempt {}", run.attempt))
            }
        });
        let c = calls.clone();
        handlers.register("slow", move |_job: Job, _run: Run| {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(3)).await;
                Ok(())
            }
        });
        let (c, r) = (calls.clone(), release.clone());
        handlers.register("block", move |_job: Job, _run: Run| {
            let (c, r) = (c.clone(), r.clone());
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                r.notified().await;
                Ok(())
            }
        });
        (Self { calls, release }, handlers)
    }
}

/// A migrated database (its stores, through `Deref`) and a dispatcher on a test clock.
struct World {
    store: Store,
    clock: Arc<TestClock>,
    dispatcher: Dispatcher,
    handlers: Handlers,
}

impl std::ops::Deref for World {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

impl World {
    fn around(store: Store) -> World {
        let clock = TestClock::at("2025-06-23T09:00:00Z");
        let (handlers, actions) = Handlers::new();
        let dispatcher = dispatcher(store.runs.clone(), clock.clone(), actions, "worker-a");
        World {
            store,
            clock,
            dispatcher,
            handlers,
        }
    }

    async fn sqlite() -> Option<World> {
        Store::sqlite().await.map(World::around)
    }

    async fn postgres() -> Option<World> {
        Store::postgres().await.map(World::around)
    }

    /// A job `name` running action `action` on `expr`, due at the clock's now.
    async fn job(&self, name: &str, expr: &str, action: &str, policy: PolicyInput) -> Job {
        self.due_job(DueJob {
            cron: expr,
            action: Some(action),
            policy,
            ..DueJob::new(name, self.clock.now())
        })
        .await
    }

    /// Waits until run `id` is no longer running.
    async fn settled(&self, id: RunId) -> Run {
        for _ in 0..200 {
            let run = self.runs.get(id).await.unwrap().unwrap();
            if run.status != RunStatus::Running {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("run {id} still running");
    }
}

fn dispatcher(
    runs: Arc<SeaOrmRunStore>,
    clock: Arc<TestClock>,
    actions: ActionHandlers,
    worker: &str,
) -> Dispatcher {
    let mut config = DispatcherConfig::new(worker);
    config.lease = Duration::from_secs(30);
    Dispatcher::new(
        runs,
        Arc::new(actions),
        Arc::new(NoJobCache),
        clock,
        Arc::new(scheduler_core::NoTelemetry),
        config,
    )
}

async fn a_due_fire_is_claimed_once_and_the_schedule_advances(w: World) {
    let job = w
        .job("every5", "*/5 * * * *", "ok", PolicyInput::default())
        .await;
    let outcome = w.dispatcher.tick().await.unwrap();
    assert_eq!(outcome.started, 1);
    // Claimed once: a second tick (and a second worker) finds nothing.
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 0);
    let (_, other) = Handlers::new();
    let second = dispatcher(w.runs.clone(), w.clock.clone(), other, "worker-b");
    assert_eq!(second.tick().await.unwrap().started, 0);

    let runs = w.runs_of(&job).await;
    assert_eq!(runs.len(), 1);
    let run = w.settled(runs[0].id).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(
        (run.trigger, run.attempt, run.worker.as_str()),
        (RunTrigger::Schedule, 1, "worker-a")
    );
    assert_eq!(run.scheduled_for, w.clock.now());
    let stored = w.repo.get(job.id).await.unwrap().unwrap();
    assert_eq!(stored.last_run, Some(w.clock.now()));
    assert_eq!(
        stored.next_run,
        Some("2025-06-23T09:05:00Z".parse().unwrap())
    );

    w.clock.set(utc("2025-06-23T09:05:00Z"));
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 1);
    assert_eq!(
        w.runs.next_due().await.unwrap(),
        Some("2025-06-23T09:10:00Z".parse().unwrap())
    );
    let second = w.runs_of(&job).await[1].id;
    assert_eq!(w.settled(second).await.status, RunStatus::Succeeded);
    assert_eq!(w.handlers.calls.load(Ordering::SeqCst), 2);
}

async fn misfire_fire_once_runs_once_then_resumes(w: World) {
    let job = w
        .job("hourly", "0 * * * *", "ok", PolicyInput::default())
        .await;
    // Every replica was down for 3.5 hours.
    w.clock.set(utc("2025-06-23T12:30:00Z"));
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 1);
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 0);
    let runs = w.runs_of(&job).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(w.settled(runs[0].id).await.status, RunStatus::Succeeded);
    let stored = w.repo.get(job.id).await.unwrap().unwrap();
    assert_eq!(
        stored.next_run,
        Some("2025-06-23T13:00:00Z".parse().unwrap())
    );
}

/// `catch_up` after an outage: the fire before the window is recorded skipped, the missed
/// fires inside it run oldest first, one claim each, then the schedule resumes.
async fn misfire_catch_up_runs_the_missed_fires_in_the_window(w: World) {
    let policy = PolicyInput {
        misfire_policy: Some("catch_up".into()),
        catch_up_window_seconds: Some(2 * 3_600),
        ..PolicyInput::default()
    };
    let job = w.job("hourly", "0 * * * *", "ok", policy).await;
    // Every replica was down for 3.5 hours (09:00 to 12:30).
    w.clock.set(utc("2025-06-23T12:30:00Z"));
    let mut started = 0;
    for _ in 0..10 {
        started += w.dispatcher.tick().await.unwrap().started;
    }
    assert_eq!(started, 2);
    let runs = w.runs_of(&job).await;
    let fires: Vec<(DateTime<Utc>, RunStatus)> = {
        let mut seen = Vec::new();
        for run in &runs {
            seen.push((run.scheduled_for, w.settled(run.id).await.status));
        }
        seen
    };
    assert_eq!(
        fires,
        [
            (utc("2025-06-23T09:00:00Z"), RunStatus::Skipped),
            (utc("2025-06-23T11:00:00Z"), RunStatus::Succeeded),
            (utc("2025-06-23T12:00:00Z"), RunStatus::Succeeded),
        ]
    );
    let stored = w.repo.get(job.id).await.unwrap().unwrap();
    assert_eq!(stored.next_run, Some(utc("2025-06-23T13:00:00Z")));
}

async fn misfire_skip_records_a_skipped_run(w: World) {
    let policy = PolicyInput {
        misfire_policy: Some("skip".into()),
        ..PolicyInput::default()
    };
    let job = w.job("skipper", "0 * * * *", "ok", policy).await;
    w.clock.set(utc("2025-06-23T09:02:00Z")); // beyond the 60 s grace
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 0);
    let runs = w.runs_of(&job).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Skipped);
    assert!(runs[0].error.as_deref().unwrap().contains("misfire"));
    assert_eq!(w.handlers.calls.load(Ordering::SeqCst), 0);
    let stored = w.repo.get(job.id).await.unwrap().unwrap();
    assert_eq!(
        stored.next_run,
        Some("2025-06-23T10:00:00Z".parse().unwrap())
    );
    assert_eq!(stored.last_run, None);
}

async fn forbid_skips_fires_while_the_previous_run_runs(w: World) {
    let policy = PolicyInput {
        concurrency_policy: Some("forbid".into()),
        ..PolicyInput::default()
    };
    let job = w.job("single", "* * * * *", "block", policy).await;
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 1);
    w.clock.set(utc("2025-06-23T09:01:00Z"));
    // The worker is alive: its heartbeat loop keeps the lease.
    w.dispatcher.heartbeat().await.unwrap();
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 0);
    let runs = w.runs_of(&job).await;
    assert_eq!(
        runs.iter().map(|r| r.status).collect::<Vec<_>>(),
        [RunStatus::Running, RunStatus::Skipped]
    );
    w.handlers.release.notify_waiters();
    assert_eq!(w.settled(runs[0].id).await.status, RunStatus::Succeeded);
    w.clock.set(utc("2025-06-23T09:02:00Z"));
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 1);
    w.handlers.release.notify_waiters();
}

async fn failures_retry_with_exponential_backoff(w: World) {
    let policy = PolicyInput {
        max_retries: Some(2),
        retry_backoff_seconds: Some(10),
        ..PolicyInput::default()
    };
    let job = w.job("flaky", "0 0 * * *", "fail", policy).await;
    w.dispatcher.tick().await.unwrap();
    let first = w.settled(w.runs_of(&job).await[0].id).await;
    assert_eq!(first.status, RunStatus::Failed);
    assert_eq!(first.error.as_deref(), Some("failure on attempt 1"));
    assert_eq!(
        first.retry_at,
        Some("2025-06-23T09:00:10Z".parse().unwrap())
    );

    w.clock.set(utc("2025-06-23T09:00:09Z"));
    assert_eq!(
        w.dispatcher.tick().await.unwrap().started,
        0,
        "not before the backoff"
    );
    w.clock.set(utc("2025-06-23T09:00:10Z"));
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 1);
    let second = w.settled(w.runs_of(&job).await[1].id).await;
    assert_eq!(
        (second.trigger, second.attempt, second.status),
        (RunTrigger::Retry, 2, RunStatus::Failed)
    );
    assert_eq!(second.scheduled_for, first.scheduled_for);
    // The second retry waits twice as long.
    assert_eq!(
        second.retry_at,
        Some("2025-06-23T09:00:30Z".parse().unwrap())
    );
    w.clock.set(utc("2025-06-23T09:00:30Z"));
    w.dispatcher.tick().await.unwrap();
    let third = w.settled(w.runs_of(&job).await[2].id).await;
    assert_eq!(
        (third.attempt, third.status, third.retry_at),
        (3, RunStatus::Failed, None)
    );
    w.clock.set(utc("2025-06-23T10:00:00Z"));
    assert_eq!(
        w.dispatcher.tick().await.unwrap().started,
        0,
        "retries used up"
    );
    assert_eq!(w.runs_of(&job).await.len(), 3);
}

async fn a_run_past_its_timeout_is_timed_out(w: World) {
    let policy = PolicyInput {
        timeout_seconds: Some(1),
        ..PolicyInput::default()
    };
    let job = w.job("sluggish", "0 0 * * *", "slow", policy).await;
    w.dispatcher.tick().await.unwrap();
    let run = w.settled(w.runs_of(&job).await[0].id).await;
    assert_eq!(run.status, RunStatus::TimedOut);
    assert_eq!(run.error.as_deref(), Some("timed out after 1s"));
}

async fn no_fire_after_end_time(w: World) {
    let job = w
        .job("ending", "0 9 * * *", "ok", PolicyInput::default())
        .await;
    let mut ended = job.clone();
    ended.spec.end_time = Some("2025-06-24T00:00:00Z".parse().unwrap());
    w.repo.update(ended).await.unwrap();
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 1);
    let stored = w.repo.get(job.id).await.unwrap().unwrap();
    assert_eq!(stored.next_run, None);
    let last = w.runs_of(&job).await[0].id;
    assert_eq!(w.settled(last).await.status, RunStatus::Succeeded);
    w.clock.set(utc("2025-06-24T09:00:00Z"));
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 0);
}

/// `max_runs: 2` on a job that fails with one retry: two scheduled fires run (each retried
/// once, the retries not counted), then the job completes; a claim after that finds nothing.
async fn max_runs_completes_the_job_and_retries_do_not_count(w: World) {
    let policy = PolicyInput {
        max_retries: Some(1),
        retry_backoff_seconds: Some(10),
        ..PolicyInput::default()
    };
    let job = w.job("twice", "*/5 * * * *", "fail", policy).await;
    let mut limited = job.clone();
    limited.spec.max_runs = Some(2);
    w.repo.update(limited).await.unwrap();
    for (at, retry_at) in [
        ("2025-06-23T09:00:00Z", "2025-06-23T09:00:11Z"),
        ("2025-06-23T09:05:00Z", "2025-06-23T09:05:11Z"),
    ] {
        w.clock.set(utc(at));
        assert_eq!(
            w.dispatcher.tick().await.unwrap().started,
            1,
            "fire at {at}"
        );
        let first = w.runs_of(&job).await.last().unwrap().clone();
        assert_eq!(w.settled(first.id).await.status, RunStatus::Failed);
        w.clock.set(utc(retry_at));
        assert_eq!(
            w.dispatcher.tick().await.unwrap().started,
            1,
            "retry at {retry_at}"
        );
        let retry = w.runs_of(&job).await.last().unwrap().clone();
        assert_eq!(retry.trigger, RunTrigger::Retry);
        w.settled(retry.id).await;
    }
    let stored = w.repo.get(job.id).await.unwrap().unwrap();
    assert_eq!((stored.fire_count, stored.next_run), (2, None));
    assert_eq!(
        stored.schedule_status(),
        scheduler_core::ScheduleStatus::Completed
    );
    w.clock.set(utc("2025-06-23T10:00:00Z"));
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 0);
    assert_eq!(w.runs_of(&job).await.len(), 4);
    // Raising the limit resumes it from now.
    let mut raised = stored.clone();
    raised.spec.max_runs = Some(3);
    raised.next_run = raised.spec.next_run(w.clock.now(), stored.fire_count);
    // A stale count, as an edit that read the job before a claim would carry.
    raised.fire_count = 0;
    let raised = w.repo.update(raised).await.unwrap();
    assert_eq!(raised.fire_count, 2, "an edit keeps the claim's count");
    assert_eq!(raised.next_run, Some(utc("2025-06-23T10:05:00Z")));
}

/// An interval job fires on its grid from `start_time`, and a one-off fires once, then
/// completes.
async fn interval_and_one_off_jobs_fire_on_their_instants(w: World) {
    let every = w
        .job("every-90m", "0 0 1 1 *", "ok", PolicyInput::default())
        .await;
    let mut interval = every.clone();
    interval.spec.schedule =
        scheduler_core::Schedule::Interval(scheduler_core::Interval::from_seconds(5400).unwrap());
    interval.spec.start_time = utc("2025-06-23T09:00:00Z");
    interval.next_run = Some(utc("2025-06-23T09:00:00Z"));
    w.repo.update(interval).await.unwrap();
    let once = w
        .job("once", "0 0 1 1 *", "ok", PolicyInput::default())
        .await;
    let mut one_off = once.clone();
    one_off.spec.schedule = scheduler_core::Schedule::Once(utc("2025-06-23T09:00:00Z"));
    w.repo.update(one_off).await.unwrap();

    assert_eq!(w.dispatcher.tick().await.unwrap().started, 2);
    let stored = w.repo.get(every.id).await.unwrap().unwrap();
    assert_eq!(stored.next_run, Some(utc("2025-06-23T10:30:00Z")));
    assert_eq!(
        stored.spec.schedule.interval().map(|i| i.seconds()),
        Some(5400)
    );
    let done = w.repo.get(once.id).await.unwrap().unwrap();
    assert_eq!((done.next_run, done.fire_count), (None, 1));
    assert_eq!(
        done.spec.schedule.run_at(),
        Some(utc("2025-06-23T09:00:00Z"))
    );
    // Both runs end before the clock jumps (a run still running 5 hours later would be
    // recovered as abandoned).
    w.settled(w.runs_of(&every).await[0].id).await;
    w.settled(w.runs_of(&once).await[0].id).await;
    // After an outage the interval runs once and lands back on its grid.
    w.clock.set(utc("2025-06-23T14:17:00Z"));
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 1);
    let stored = w.repo.get(every.id).await.unwrap().unwrap();
    assert_eq!(stored.next_run, Some(utc("2025-06-23T15:00:00Z")));
    assert_eq!(stored.fire_count, 2);
    w.settled(w.runs_of(&every).await[1].id).await;
}

/// A jittered job: not claimed at its instant, claimed at its due time; the run keeps the
/// instant as `scheduled_for` and records `due_at`; the job stores its next instant apart.
async fn a_jittered_fire_runs_at_its_due_time_and_keeps_its_instant(w: World) {
    let job = w
        .job("spread", "0 * * * *", "ok", PolicyInput::default())
        .await;
    let mut jittered = job.clone();
    jittered.spec.jitter_seconds = 600;
    let fire = jittered
        .spec
        .next_fire(utc("2025-06-23T08:59:00Z"), 0)
        .unwrap();
    assert_eq!(fire.at, utc("2025-06-23T09:00:00Z"));
    assert!(fire.due > fire.at, "this instant's delay is not zero");
    (jittered.next_run, jittered.next_fire) =
        scheduler_core::job::stored_next(&jittered.spec, Some(fire));
    w.repo.update(jittered).await.unwrap();

    assert_eq!(
        w.dispatcher.tick().await.unwrap().started,
        0,
        "not due at 09:00"
    );
    w.clock.set(fire.due);
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 1);
    let run = w.settled(w.runs_of(&job).await[0].id).await;
    assert_eq!((run.scheduled_for, run.due_at), (fire.at, Some(fire.due)));
    let stored = w.repo.get(job.id).await.unwrap().unwrap();
    let next = stored.spec.next_fire(fire.due, 1).unwrap();
    assert_eq!(next.at, utc("2025-06-23T10:00:00Z"));
    assert_eq!(
        (stored.next_run, stored.next_fire),
        (Some(next.due), Some(next.at))
    );
}

async fn pausing_during_a_run_lets_it_finish_and_claims_nothing_more(w: World) {
    let job = w
        .job("pausable", "* * * * *", "block", PolicyInput::default())
        .await;
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 1);
    let service = scheduler_core::JobService::new(
        Arc::new(w.repo.clone()),
        Arc::new(NoJobCache),
        w.clock.clone(),
    );
    service
        .update(
            job.id,
            JobPatch {
                is_active: Some(false),
                ..JobPatch::default()
            },
        )
        .await
        .unwrap();
    w.handlers.release.notify_waiters();
    let run = w.settled(w.runs_of(&job).await[0].id).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    w.clock.set(utc("2025-06-23T10:00:00Z"));
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 0);
    assert_eq!(w.runs_of(&job).await.len(), 1);
}

async fn a_dead_workers_run_is_abandoned_and_run_again_without_using_retries(w: World) {
    // worker-a claims and "dies": its handler never returns and it never heartbeats.
    let job = w
        .job("orphan", "0 0 * * *", "block", PolicyInput::default())
        .await;
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 1);
    let (counter, actions) = Handlers::new();
    let rescuer = dispatcher(w.runs.clone(), w.clock.clone(), actions, "worker-b");
    w.clock.set(utc("2025-06-23T09:00:29Z"));
    assert_eq!(
        rescuer.tick().await.unwrap().started,
        0,
        "lease not over yet"
    );
    w.clock.set(utc("2025-06-23T09:00:31Z"));
    assert_eq!(rescuer.tick().await.unwrap().started, 1);
    let runs = w.runs_of(&job).await;
    assert_eq!(runs[0].status, RunStatus::Abandoned);
    assert!(runs[0].error.as_deref().unwrap().contains("worker-a"));
    assert_eq!(
        (runs[1].attempt, runs[1].retries, runs[1].worker.as_str()),
        (2, 0, "worker-b")
    );
    assert_eq!(runs[1].scheduled_for, runs[0].scheduled_for);
    counter.release.notify_waiters();
    assert_eq!(w.settled(runs[1].id).await.status, RunStatus::Succeeded);
    // The dead worker's late finish does not overwrite the abandonment.
    w.handlers.release.notify_waiters();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(w.runs_of(&job).await[0].status, RunStatus::Abandoned);
}

async fn a_fire_abandoned_max_abandoned_attempts_times_ends_failed(w: World) {
    // Every worker that takes this fire dies (its handler never returns, it never
    // heartbeats): the fire must not be run again forever.
    let job = w
        .job("cursed", "0 0 * * *", "block", PolicyInput::default())
        .await;
    assert_eq!(w.dispatcher.tick().await.unwrap().started, 1);
    let mut keep = Vec::new();
    for (n, at) in [
        "2025-06-23T09:00:31Z",
        "2025-06-23T09:01:02Z",
        "2025-06-23T09:01:33Z",
    ]
    .iter()
    .enumerate()
    {
        let (handlers, actions) = Handlers::new();
        keep.push(handlers);
        let rescuer = dispatcher(
            w.runs.clone(),
            w.clock.clone(),
            actions,
            &format!("rescuer-{n}"),
        );
        w.clock.set(utc(at));
        let started = rescuer.tick().await.unwrap().started;
        // The default cap is 3: attempts 1 and 2 are run again, the third abandonment ends it.
        assert_eq!(started, usize::from(n < 2), "tick {n}");
    }
    let runs = w.runs_of(&job).await;
    let statuses: Vec<RunStatus> = runs.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            RunStatus::Abandoned,
            RunStatus::Abandoned,
            RunStatus::Failed
        ]
    );
    let reason = runs[2].error.as_deref().unwrap();
    assert!(reason.contains("max_abandoned_attempts=3"), "{reason}");
    assert!(runs.iter().all(|r| r.retries == 0));
    // Nothing is left to recover or retry.
    w.clock.set(utc("2025-06-23T09:05:00Z"));
    let (_, actions) = Handlers::new();
    let last = dispatcher(w.runs.clone(), w.clock.clone(), actions, "last");
    assert_eq!(last.tick().await.unwrap().started, 0);
    assert_eq!(w.runs_of(&job).await.len(), 3);
}

async fn a_second_run_of_one_fire_is_a_run_fire_conflict(w: World) {
    let job = w
        .job("twice", "0 0 1 1 *", "ok", PolicyInput::default())
        .await;
    let now = w.clock.now();
    w.runs.start_manual(job.id, now, "w").await.unwrap();
    assert_eq!(
        w.runs.start_manual(job.id, now, "w").await.unwrap_err(),
        RepositoryError::Conflict(Conflict::RunFire)
    );
}

async fn manual_runs_leave_the_schedule_alone(w: World) {
    let job = w
        .job("manual", "0 0 1 1 *", "ok", PolicyInput::default())
        .await;
    let mut future = job.clone();
    future.next_run = Some("2026-01-01T00:00:00Z".parse().unwrap());
    w.repo.update(future).await.unwrap();
    let run = w.dispatcher.run_now(job.id).await.unwrap();
    assert_eq!(run.trigger, RunTrigger::Manual);
    assert_eq!(w.settled(run.id).await.status, RunStatus::Succeeded);
    let stored = w.repo.get(job.id).await.unwrap().unwrap();
    assert_eq!(
        stored.next_run,
        Some("2026-01-01T00:00:00Z".parse().unwrap())
    );
    assert!(matches!(
        w.dispatcher.run_now(JobId(999_999)).await,
        Err(scheduler_core::RepositoryError::NotFound)
    ));
}

async fn shutdown_stops_claiming_and_waits_for_in_flight_runs(w: World) {
    let job = w
        .job("draining", "0 0 * * *", "block", PolicyInput::default())
        .await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let looping = w.dispatcher.clone();
    let mut running = tokio::spawn(async move {
        looping
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    for _ in 0..200 {
        if w.handlers.calls.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(());
    // A job that becomes due during shutdown is not claimed by this replica.
    let late = w
        .job("late", "0 0 * * *", "ok", PolicyInput::default())
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !running.is_finished(),
        "shutdown waits for the in-flight run"
    );
    w.handlers.release.notify_waiters();
    tokio::time::timeout(Duration::from_secs(5), &mut running)
        .await
        .expect("run() returns once the in-flight run is done")
        .unwrap();
    let run = w.runs_of(&job).await[0].clone();
    assert_eq!(
        run.status,
        RunStatus::Succeeded,
        "the in-flight run was not lost"
    );
    assert!(w.runs_of(&late).await.is_empty());

    // Past the grace period, run() returns and leaves the run to lease recovery.
    let stuck = w
        .job("stuck", "0 0 * * *", "block", PolicyInput::default())
        .await;
    let (_, actions) = Handlers::new();
    let mut config = DispatcherConfig::new("impatient");
    config.shutdown_grace = Duration::from_millis(200);
    let impatient = Dispatcher::new(
        w.runs.clone(),
        Arc::new(actions),
        Arc::new(NoJobCache),
        w.clock.clone(),
        Arc::new(scheduler_core::NoTelemetry),
        config,
    );
    impatient.tick().await.unwrap();
    let started = std::time::Instant::now();
    impatient.run(async {}).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    let left = w.runs_of(&stuck).await[0].clone();
    assert_eq!(
        (left.status, left.worker.as_str()),
        (RunStatus::Running, "impatient")
    );
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
    setups: { sqlite => World::sqlite, postgres => World::postgres },
    tests: [
    a_due_fire_is_claimed_once_and_the_schedule_advances,
    misfire_fire_once_runs_once_then_resumes,
    misfire_skip_records_a_skipped_run,
    misfire_catch_up_runs_the_missed_fires_in_the_window,
    forbid_skips_fires_while_the_previous_run_runs,
    failures_retry_with_exponential_backoff,
    a_run_past_its_timeout_is_timed_out,
    no_fire_after_end_time,
    max_runs_completes_the_job_and_retries_do_not_count,
    interval_and_one_off_jobs_fire_on_their_instants,
    a_jittered_fire_runs_at_its_due_time_and_keeps_its_instant,
    pausing_during_a_run_lets_it_finish_and_claims_nothing_more,
    a_dead_workers_run_is_abandoned_and_run_again_without_using_retries,
    a_fire_abandoned_max_abandoned_attempts_times_ends_failed,
    a_second_run_of_one_fire_is_a_run_fire_conflict,
    manual_runs_leave_the_schedule_alone,
    shutdown_stops_claiming_and_waits_for_in_flight_runs,
    run_history_is_pruned_by_age_and_per_job_cap,
    ],
}

/// Retention: runs fired before the cutoff and runs beyond the per-job cap are deleted in
/// batches; a running run and a failed run waiting for its retry are never deleted.
async fn run_history_is_pruned_by_age_and_per_job_cap(w: World) {
    let job = w
        .job("history", "0 0 1 1 *", "ok", PolicyInput::default())
        .await;
    let day0: DateTime<Utc> = "2025-06-01T00:00:00Z".parse().unwrap();
    let ended = |at: DateTime<Utc>, status: RunStatus, retry_at: Option<DateTime<Utc>>| {
        scheduler_core::RunOutcome {
            status,
            error: (status != RunStatus::Succeeded)
                .then(|| scheduler_core::ErrorText::sanitize("boom")),
            finished_at: at,
            retry_at,
        }
    };
    let mut daily = Vec::new();
    for day in 0..12 {
        let at = day0 + chrono::Duration::days(day);
        let claimed = w.runs.start_manual(job.id, at, "w").await.unwrap();
        w.runs
            .finish(&claimed.run, &ended(at, RunStatus::Succeeded, None))
            .await
            .unwrap();
        daily.push(claimed.run.id);
    }
    let waiting_at = day0 + chrono::Duration::hours(1);
    let waiting = w.runs.start_manual(job.id, waiting_at, "w").await.unwrap();
    w.runs
        .finish(
            &waiting.run,
            &ended(
                waiting_at,
                RunStatus::Failed,
                Some("2030-01-01T00:00:00Z".parse().unwrap()),
            ),
        )
        .await
        .unwrap();
    let running = w
        .runs
        .start_manual(job.id, day0 + chrono::Duration::hours(2), "w")
        .await
        .unwrap();
    let ids = |runs: Vec<Run>| {
        let mut ids: Vec<RunId> = runs.into_iter().map(|run| run.id).collect();
        ids.sort();
        ids
    };
    let expected = |days: std::ops::Range<usize>| {
        let mut ids: Vec<RunId> = daily[days].to_vec();
        ids.extend([waiting.run.id, running.run.id]);
        ids.sort();
        ids
    };

    // By age, in batches of 2: the five ended runs before June 6th go.
    let cutoff = Some("2025-06-06T00:00:00Z".parse().unwrap());
    let mut rounds = Vec::new();
    loop {
        let deleted = w.runs.prune(cutoff, None, 2).await.unwrap();
        rounds.push(deleted);
        if deleted == 0 {
            break;
        }
    }
    assert_eq!(rounds, [2, 2, 1, 0]);
    assert_eq!(ids(w.runs_of(&job).await), expected(5..12));

    // The cap keeps the newest 4 runs of the job; the two protected ones stay even though
    // they rank below it.
    assert_eq!(w.runs.prune(None, Some(4), 100).await.unwrap(), 3);
    assert_eq!(ids(w.runs_of(&job).await), expected(8..12));

    // The dispatcher applies its configuration (30 days) from the clock's now.
    w.clock.set(utc("2025-07-10T00:00:00Z"));
    assert_eq!(w.dispatcher.prune_history().await.unwrap(), 1);
    assert_eq!(ids(w.runs_of(&job).await), expected(9..12));
}
