//! The `RunStore` contract of the dispatch path at scale, on SQLite and PostgreSQL: claims
//! by kind and per-host exclusion, outcomes in batches, heartbeats of many runs, and history
//! kept at the per-job cap by a dispatcher on a controlled clock.

use std::sync::Arc;
use std::time::Duration;

use crate::support::{DueJob, Store, TestClock};
use chrono::{DateTime, Utc};
use scheduler_adapters::NoJobCache;
use scheduler_core::{
    ActionHandlers, ClaimRequest, Clock, Dispatcher, DispatcherConfig, ErrorText, FinishedRun, Job,
    JobRepository, Run, RunId, RunOutcome, RunStatus, RunStore, host_key,
};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A job on `cron` running `action`, due at `due`, delivered to `url` when given.
async fn job_with(
    s: &Store,
    name: &str,
    cron: &str,
    action: &str,
    due: DateTime<Utc>,
    url: Option<&str>,
) -> Job {
    s.due_job(DueJob {
        cron,
        action: Some(action),
        url,
        ..DueJob::new(name, due)
    })
    .await
}

/// A yearly job running `ok`, due at `due`, delivered to `url` when given.
async fn job(s: &Store, name: &str, due: DateTime<Utc>, url: Option<&str>) -> Job {
    job_with(s, name, "0 0 1 1 *", "ok", due, url).await
}

fn request(now: DateTime<Utc>, handlers: u32, deliveries: u32, hosts: &[&str]) -> ClaimRequest {
    ClaimRequest {
        now,
        worker: "w".into(),
        handlers,
        deliveries,
        saturated_hosts: hosts.iter().map(|h| (*h).to_string()).collect(),
        ..ClaimRequest::default()
    }
}

fn ended(run: &Run, status: RunStatus, error: Option<&str>) -> FinishedRun {
    FinishedRun {
        run: run.clone(),
        outcome: RunOutcome {
            status,
            error: error.map(ErrorText::sanitize),
            finished_at: run.started_at + chrono::Duration::seconds(1),
            retry_at: None,
        },
        pause_after_failures: 0,
        output: None,
        host_hold: None,
    }
}

/// Each kind is taken up to its own limit, earliest fire first; the batch says how many of
/// the advanced jobs were handlers.
async fn a_claim_takes_each_kind_up_to_its_limit_earliest_first(s: Store) {
    let now = at("2025-06-23T09:00:00Z");
    let minute = |m: i64| now - chrono::Duration::minutes(m);
    let h3 = job(&s, "h3", minute(1), None).await;
    let h1 = job(&s, "h1", minute(3), None).await;
    let h2 = job(&s, "h2", minute(2), None).await;
    let d2 = job(&s, "d2", minute(2), Some("https://b.example/x")).await;
    let d1 = job(&s, "d1", minute(5), Some("https://a.example/x")).await;
    let _later = job(&s, "later", now + chrono::Duration::minutes(1), None).await;

    let batch = s.runs.claim_due(&request(now, 2, 1, &[])).await.unwrap();
    let mut claimed: Vec<_> = batch.runs.iter().map(|r| r.job.id).collect();
    claimed.sort();
    let mut expected = vec![h1.id, h2.id, d1.id];
    expected.sort();
    assert_eq!(claimed, expected);
    assert_eq!(batch.advanced_handlers, 2);
    assert_eq!(batch.advanced_jobs.len(), 3);
    assert!(
        batch
            .runs
            .iter()
            .all(|r| r.run.status == RunStatus::Running && r.run.worker == "w")
    );
    // What is left: one of each kind; nothing that is not due.
    let rest = s.runs.claim_due(&request(now, 10, 10, &[])).await.unwrap();
    let mut left: Vec<_> = rest.runs.iter().map(|r| r.job.id).collect();
    left.sort();
    let mut expected = vec![h3.id, d2.id];
    expected.sort();
    assert_eq!(left, expected);
    assert_eq!(rest.advanced_handlers, 1);
    assert_eq!(
        s.run_count(&h1).await,
        1,
        "the claim counts the run on its job"
    );
    // A kind with no capacity is not taken at all.
    assert!(
        s.runs
            .claim_due(&request(now, 0, 0, &[]))
            .await
            .unwrap()
            .runs
            .is_empty()
    );
}

/// A saturated host's fires stay due for a later claim; the store computes the host key
/// exactly as `host_key` does, whatever the URL's case, port, query or fragment.
async fn a_claim_leaves_the_fires_of_saturated_hosts_for_later(s: Store) {
    let now = at("2025-06-23T09:00:00Z");
    let urls = [
        "https://Slow.Example.com:8443/hook?x=1",
        "https://slow.example.com:8443#frag",
        "http://[::1]:9/a",
        "http://FAST.example/b",
        "http://other.example?q",
    ];
    let mut jobs = Vec::new();
    for (n, url) in urls.iter().enumerate() {
        jobs.push(job(&s, &format!("d{n}"), now, Some(url)).await);
    }
    let slow = host_key(urls[0]);
    assert_eq!(slow, "slow.example.com:8443");
    let saturated = [slow.as_str(), "[::1]:9", "fast.example"];
    let batch = s
        .runs
        .claim_due(&request(now, 10, 10, &saturated))
        .await
        .unwrap();
    let claimed: Vec<_> = batch.runs.iter().map(|r| r.job.id).collect();
    assert_eq!(claimed, [jobs[4].id], "only the host that is not saturated");
    let batch = s.runs.claim_due(&request(now, 10, 10, &[])).await.unwrap();
    assert_eq!(batch.runs.len(), 4, "the others once their hosts have room");
}

/// One call records a whole batch: every run's outcome, and each job's last status from its
/// latest attempt at its last fire; a run already ended elsewhere is left alone.
async fn a_batch_of_outcomes_is_recorded_with_the_jobs_last_status(s: Store) {
    let now = at("2025-06-23T09:00:00Z");
    let a = job(&s, "a", now, None).await;
    let b = job(&s, "b", now, None).await;
    let c = job(&s, "c", now, None).await;
    let claimed = s.runs.claim_due(&request(now, 10, 0, &[])).await.unwrap();
    let run_of = |job: &Job| {
        claimed
            .runs
            .iter()
            .find(|r| r.job.id == job.id)
            .unwrap()
            .run
            .clone()
    };
    let (ra, rb, rc) = (run_of(&a), run_of(&b), run_of(&c));
    // c's run was recorded already (as a recovery would): the batch must not overwrite it.
    s.runs
        .finish(&rc, &ended(&rc, RunStatus::TimedOut, Some("first")).outcome)
        .await
        .unwrap();
    s.runs
        .finish_many(&[
            ended(&ra, RunStatus::Succeeded, None),
            ended(&rb, RunStatus::Failed, Some("HTTP 500: oops")),
            ended(&rc, RunStatus::Succeeded, None),
        ])
        .await
        .unwrap();
    let stored = |id: RunId| {
        let runs = s.runs.clone();
        async move { runs.get(id).await.unwrap().unwrap() }
    };
    assert_eq!(stored(ra.id).await.status, RunStatus::Succeeded);
    let failed = stored(rb.id).await;
    assert_eq!(
        (failed.status, failed.error.as_deref()),
        (RunStatus::Failed, Some("HTTP 500: oops"))
    );
    assert_eq!(
        failed.finished_at,
        Some(rb.started_at + chrono::Duration::seconds(1))
    );
    assert_eq!(stored(rc.id).await.status, RunStatus::TimedOut);
    let job = |id| {
        let jobs = s.repo.clone();
        async move { jobs.get(id).await.unwrap().unwrap() }
    };
    assert_eq!(job(a.id).await.last_status, Some(RunStatus::Succeeded));
    let b_now = job(b.id).await;
    assert_eq!(
        (b_now.last_status, b_now.last_error.as_deref()),
        (Some(RunStatus::Failed), Some("HTTP 500: oops"))
    );
    assert_eq!(job(c.id).await.last_status, Some(RunStatus::TimedOut));
    s.runs.finish_many(&[]).await.unwrap();
}

/// A job with `pause_after_failures: 3` counts failed runs whose retries are exhausted, a
/// success restarts the count, an outcome already stored (recovered elsewhere) is not
/// counted again, and the third consecutive failure pauses the job with the reason; a write
/// of the paused job (its resume) starts the count afresh.
async fn consecutive_failures_pause_a_job_that_asks_for_it(s: Store) {
    let now = at("2025-06-23T09:00:00Z");
    let job = s
        .due_job(DueJob {
            policy: scheduler_core::PolicyInput {
                pause_after_failures: Some(3),
                ..scheduler_core::PolicyInput::default()
            },
            ..DueJob::new("fragile", now)
        })
        .await;
    let other = job_with(&s, "sturdy", "0 0 1 1 *", "ok", now, None).await;
    let mut second = 0;
    let mut outcome = |status: RunStatus, error: Option<&str>| {
        let runs = s.runs.clone();
        second += 1;
        let when = now + chrono::Duration::seconds(second);
        let error = error.map(str::to_string);
        let id = job.id;
        async move {
            let run = runs.start_manual(id, when, "w").await.unwrap().run;
            let mut finished = ended(&run, status, error.as_deref());
            finished.pause_after_failures = 3;
            (
                runs.finish_many(&[finished.clone()]).await.unwrap(),
                finished,
            )
        }
    };
    let streak = |id| {
        let jobs = s.repo.clone();
        async move { jobs.get(id).await.unwrap().unwrap() }
    };
    assert_eq!(outcome(RunStatus::Failed, Some("one")).await.0, []);
    let (_, twice) = outcome(RunStatus::TimedOut, Some("two")).await;
    assert_eq!(streak(job.id).await.failure_streak, 2);
    // The same outcome again (its run is no longer running) counts nothing.
    assert_eq!(s.runs.finish_many(&[twice]).await.unwrap(), []);
    assert_eq!(streak(job.id).await.failure_streak, 2);
    assert_eq!(outcome(RunStatus::Succeeded, None).await.0, []);
    assert_eq!(streak(job.id).await.failure_streak, 0);
    // A retried failure counts once its retries are exhausted: not yet.
    let mut retried = {
        let run = s
            .runs
            .start_manual(job.id, now + chrono::Duration::minutes(5), "w")
            .await
            .unwrap()
            .run;
        ended(&run, RunStatus::Failed, Some("will retry"))
    };
    retried.outcome.retry_at = Some(now + chrono::Duration::minutes(6));
    retried.pause_after_failures = 3;
    assert_eq!(s.runs.finish_many(&[retried]).await.unwrap(), []);
    assert_eq!(streak(job.id).await.failure_streak, 0);
    outcome(RunStatus::Failed, Some("a")).await;
    outcome(RunStatus::Failed, Some("b")).await;
    let (paused, _) = outcome(RunStatus::Failed, Some("HTTP 500: down")).await;
    assert_eq!(paused, [job.id]);
    let stored = streak(job.id).await;
    assert!(!stored.spec.is_active);
    assert_eq!((stored.next_run, stored.next_fire), (None, None));
    assert_eq!(stored.failure_streak, 3);
    let pause = stored.pause.clone().unwrap();
    assert!(pause.auto);
    assert_eq!(pause.by, None);
    assert_eq!(
        pause.note.as_deref(),
        Some("auto-paused after 3 consecutive failures: HTTP 500: down")
    );
    assert_eq!(stored.status_reason(), pause.note);
    // A paused job's further failures count nothing and pause nothing again.
    assert_eq!(outcome(RunStatus::Failed, Some("late")).await.0, []);
    assert_eq!(streak(job.id).await.failure_streak, 3);
    // Resumed (any write of the paused row): counting starts afresh.
    let mut resumed = stored.clone();
    resumed.spec.is_active = true;
    resumed.pause = None;
    let resumed = s.repo.update(resumed).await.unwrap();
    assert_eq!((resumed.failure_streak, resumed.pause), (0, None));
    // The job without the policy keeps no streak.
    let run = s.runs.start_manual(other.id, now, "w").await.unwrap().run;
    s.runs
        .finish_many(&[ended(&run, RunStatus::Failed, Some("x"))])
        .await
        .unwrap();
    assert_eq!(streak(other.id).await.failure_streak, 0);
}

/// A job paused until an instant is resumed once that instant has come, once, with its next
/// fire computed from then; a job paused without an end, or active, is left alone.
async fn a_pause_with_an_end_is_resumed_once_it_has_come(s: Store) {
    let now = at("2025-06-23T09:00:00Z");
    let until = now + chrono::Duration::minutes(30);
    let pause = |job: Job, until: Option<DateTime<Utc>>| Job {
        spec: scheduler_core::JobSpec {
            is_active: false,
            ..job.spec.clone()
        },
        next_run: None,
        pause: Some(scheduler_core::PauseNote {
            by: Some("ops".into()),
            note: Some("window".into()),
            at: now,
            auto: false,
            until,
        }),
        ..job
    };
    let hourly = job_with(&s, "hourly", "0 * * * *", "ok", now, None).await;
    let hourly = s.repo.update(pause(hourly, Some(until))).await.unwrap();
    assert_eq!(hourly.pause.as_ref().unwrap().until, Some(until));
    let forever = job(&s, "forever", now, None).await;
    s.repo.update(pause(forever.clone(), None)).await.unwrap();
    let _active = job(&s, "active", now, None).await;

    assert_eq!(
        s.runs
            .resume_due(until - chrono::Duration::seconds(1), 10)
            .await
            .unwrap(),
        []
    );
    let later = until + chrono::Duration::milliseconds(400);
    assert_eq!(s.runs.resume_due(later, 10).await.unwrap(), [hourly.id]);
    assert_eq!(
        s.runs.resume_due(later, 10).await.unwrap(),
        [],
        "resumed once"
    );
    let resumed = s.repo.get(hourly.id).await.unwrap().unwrap();
    assert!(resumed.spec.is_active);
    assert_eq!(resumed.pause, None);
    assert_eq!(resumed.next_run, Some(at("2025-06-23T10:00:00Z")));
    assert_eq!(resumed.updated_at, later);
    let still = s.repo.get(forever.id).await.unwrap().unwrap();
    assert!(!still.spec.is_active);
}

/// Backfill inserts each instant once: instants with a run (a scheduled fire, an earlier
/// backfill) are left alone, the job counts the new runs, an unknown job is `NotFound`.
async fn a_backfill_inserts_each_instant_once(s: Store) {
    let now = at("2025-06-23T09:00:00Z");
    let job = job_with(&s, "rollup", "*/5 * * * *", "ok", now, None).await;
    // The scheduled 09:00 fire exists already.
    let claimed = s.runs.claim_due(&request(now, 10, 0, &[])).await.unwrap();
    assert_eq!(claimed.runs.len(), 1);
    let fires: Vec<DateTime<Utc>> = (0..3)
        .map(|k| at("2025-06-23T08:55:00Z") + chrono::Duration::minutes(5 * k))
        .collect();
    let later = now + chrono::Duration::seconds(30);
    let first = s
        .runs
        .insert_backfill(job.id, &fires, later, "w")
        .await
        .unwrap();
    let instants: Vec<_> = first.iter().map(|c| c.run.scheduled_for).collect();
    assert_eq!(
        instants,
        [fires[0], fires[2]],
        "09:00 had its scheduled run"
    );
    for c in &first {
        assert_eq!(
            (c.run.trigger, c.run.status, c.run.attempt),
            (scheduler_core::RunTrigger::Backfill, RunStatus::Running, 1)
        );
        assert_eq!(c.job.id, job.id);
    }
    assert!(
        s.runs
            .insert_backfill(job.id, &fires, later, "w")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.run_count(&job).await, 3);
    assert_eq!(
        s.runs
            .insert_backfill(scheduler_core::JobId(987_654), &fires, later, "w")
            .await
            .map(|runs| runs.len()),
        Err(scheduler_core::RepositoryError::NotFound)
    );
}

/// A heartbeat of many runs (more than one SQLite statement's worth) touches exactly the
/// running ones.
async fn a_heartbeat_of_many_runs_touches_only_running_ones(s: Store) {
    let now = at("2025-06-23T09:00:00Z");
    let job = job(&s, "beating", now, None).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let run = s
            .runs
            .start_manual(job.id, now + chrono::Duration::seconds(n), "w")
            .await
            .unwrap()
            .run;
        ids.push(run);
    }
    s.runs
        .finish(&ids[2], &ended(&ids[2], RunStatus::Succeeded, None).outcome)
        .await
        .unwrap();
    let later = now + chrono::Duration::minutes(1);
    let mut asked: Vec<RunId> = ids.iter().map(|r| r.id).collect();
    asked.extend((1..=700).map(|n| RunId(1_000_000 + n)));
    s.runs.heartbeat(&asked, later).await.unwrap();
    for (n, run) in ids.iter().enumerate() {
        let stored = s.runs.get(run.id).await.unwrap().unwrap();
        let expected = if n < 2 { later } else { run.heartbeat_at };
        assert_eq!(stored.heartbeat_at, expected, "run {n}");
    }
    assert_eq!(s.run_count(&job).await, 3);
}

/// A heartbeat does not wait for a run whose row another transaction holds (an outcome
/// batch storing it this moment): it skips that run and beats the others. Waiting
/// deadlocked with the batch, which locks the same runs in another order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_skips_a_run_whose_outcome_is_being_stored() {
    let Some(s) = Store::postgres().await else {
        return;
    };
    let now = at("2025-06-23T09:00:00Z");
    let job = job(&s, "beating", now, None).await;
    let held = s.runs.start_manual(job.id, now, "w").await.unwrap().run;
    let free = s
        .runs
        .start_manual(job.id, now + chrono::Duration::seconds(1), "w")
        .await
        .unwrap()
        .run;
    let other = scheduler_adapters::connect(&scheduler_adapters::DatabaseConfig::new(s.url()))
        .await
        .unwrap();
    let txn = sea_orm::TransactionTrait::begin(&other).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        &txn,
        &format!(
            "SELECT id FROM job_runs WHERE id = {} FOR UPDATE",
            held.id.0
        ),
    )
    .await
    .unwrap();
    let later = now + chrono::Duration::minutes(1);
    tokio::time::timeout(
        Duration::from_secs(5),
        s.runs.heartbeat(&[held.id, free.id], later),
    )
    .await
    .expect("the heartbeat waited for a locked run")
    .unwrap();
    txn.rollback().await.unwrap();
    let stored = |id| {
        let runs = s.runs.clone();
        async move { runs.get(id).await.unwrap().unwrap().heartbeat_at }
    };
    assert_eq!(stored(free.id).await, later);
    assert_eq!(
        stored(held.id).await,
        held.heartbeat_at,
        "skipped, not waited for"
    );
}

/// Retention on a controlled clock: an every-minute job fired 12 times keeps its newest 5
/// runs (the per-job cap), a run still executing is never deleted, and once the clock passes
/// the retention horizon the old runs go too.
async fn history_is_held_at_the_per_job_cap_and_the_retention_horizon(s: Store) {
    let clock = TestClock::at("2025-06-23T09:00:00Z");
    let mut actions = ActionHandlers::new();
    let release = Arc::new(tokio::sync::Notify::new());
    let hold = release.clone();
    actions.register("ok", |_job: Job, _run: Run| async { Ok(()) });
    actions.register("hold", move |_job: Job, _run: Run| {
        let hold = hold.clone();
        async move {
            hold.notified().await;
            Ok(())
        }
    });
    let mut config = DispatcherConfig::new("w");
    config.runs_per_job = Some(5);
    config.retention = Some(Duration::from_secs(7 * 24 * 3600));
    config.prune_batch = 2;
    let dispatcher = Dispatcher::new(
        s.runs.clone(),
        Arc::new(actions),
        Arc::new(NoJobCache),
        clock.clone(),
        Arc::new(scheduler_core::NoTelemetry),
        config,
    );
    let start = clock.now();
    let busy = job_with(&s, "busy", "* * * * *", "ok", start, None).await;
    // A job whose single run never ends while the test runs: always kept.
    let holding = job_with(&s, "holding", "0 0 1 1 *", "hold", start, None).await;
    for minute in 0..12 {
        clock.set(start + chrono::Duration::minutes(minute));
        // The worker is alive: its heartbeat keeps the holding run's lease.
        dispatcher.heartbeat().await.unwrap();
        assert_eq!(
            dispatcher.tick().await.unwrap().started,
            if minute == 0 { 2 } else { 1 }
        );
        settle(&dispatcher, 1).await;
    }
    dispatcher.prune_history().await.unwrap();
    let kept = s.runs_of(&busy).await;
    let fires: Vec<DateTime<Utc>> = kept.iter().map(|r| r.scheduled_for).collect();
    let newest: Vec<DateTime<Utc>> = (7..12)
        .map(|m| start + chrono::Duration::minutes(m))
        .collect();
    assert_eq!(fires, newest, "the newest 5 fires are kept");
    assert_eq!(s.run_count(&busy).await, 5);
    let held = s.runs_of(&holding).await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].status, RunStatus::Running);

    // Eight days later every ended run is past the horizon; the running one stays.
    clock.set(start + chrono::Duration::days(8));
    dispatcher.prune_history().await.unwrap();
    assert!(s.runs_of(&busy).await.is_empty());
    assert_eq!(s.run_count(&busy).await, 0);
    let held = s.runs_of(&holding).await;
    assert_eq!(
        held.iter().map(|r| r.status).collect::<Vec<_>>(),
        [RunStatus::Running]
    );
    release.notify_waiters();
}

/// Waits until at most `left` runs are in flight.
async fn settle(dispatcher: &Dispatcher, left: usize) {
    for _ in 0..400 {
        if dispatcher.in_flight() <= left {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} runs still in flight", dispatcher.in_flight());
}

/// The due backlog by tenant (what the per-tenant gauge shows): each tenant with due fires
/// of either kind and their count, in name order; a tenant with none is absent.
async fn the_due_backlog_is_counted_by_tenant(s: Store) {
    let now = at("2025-06-23T09:00:00Z");
    let minute = chrono::Duration::minutes(1);
    for (name, tenant, due, url) in [
        ("a1", "alpha", now, None),
        ("a2", "alpha", now - minute, Some("https://a.example/x")),
        ("b1", "beta", now, None),
        ("b2", "beta", now + minute, None),
        ("c1", "gamma", now + minute, Some("https://c.example/x")),
    ] {
        s.due_job(DueJob {
            url,
            tenant: Some(tenant),
            ..DueJob::new(name, due)
        })
        .await;
    }
    let tenant = |name: &str| scheduler_core::Tenant::parse(name).unwrap();
    assert_eq!(
        s.runs.due_by_tenant(now).await.unwrap(),
        [(tenant("alpha"), 2), (tenant("beta"), 1)]
    );
    assert_eq!(s.runs.due_backlog(now).await.unwrap(), 3);
    assert!(
        s.runs
            .due_by_tenant(now - minute * 2)
            .await
            .unwrap()
            .is_empty()
    );
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
    setups: { sqlite => Store::sqlite, postgres => Store::postgres },
    tests: [
        a_claim_takes_each_kind_up_to_its_limit_earliest_first,
        a_claim_leaves_the_fires_of_saturated_hosts_for_later,
        a_batch_of_outcomes_is_recorded_with_the_jobs_last_status,
        a_heartbeat_of_many_runs_touches_only_running_ones,
        consecutive_failures_pause_a_job_that_asks_for_it,
        a_pause_with_an_end_is_resumed_once_it_has_come,
        a_backfill_inserts_each_instant_once,
        history_is_held_at_the_per_job_cap_and_the_retention_horizon,
        the_due_backlog_is_counted_by_tenant,
    ],
}
