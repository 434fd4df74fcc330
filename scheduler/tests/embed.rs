//! The embedding builder on SQLite and PostgreSQL: typed parameters, handler errors, schedules
//! declared in code (reconciled, pruned, never duplicated) and exactly-once fires across
//! several processes, driven by a controlled clock.
// Tests: a broken expectation is a failure, and their numbers are small.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use scheduler::{
    Calendar, Clock, Ctx, JobDraft, JobSource, RunStatus, RunTrigger, Schedule, Scheduler,
    SchedulerBuilder,
};
use scheduler_test_support::{TestPostgres, TestSqlite};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;

/// A clock the test moves.
struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn at(instant: &str) -> Arc<Self> {
        Arc::new(Self(Mutex::new(instant.parse().unwrap())))
    }

    fn set(&self, instant: &str) {
        *self.0.lock().unwrap() = instant.parse().unwrap();
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// A database of this test's own; dropping it removes it.
struct Db {
    url: String,
    _sqlite: Option<TestSqlite>,
    _postgres: Option<TestPostgres>,
}

async fn sqlite() -> Option<Db> {
    let file = TestSqlite::new();
    Some(Db {
        url: file.url.clone(),
        _sqlite: Some(file),
        _postgres: None,
    })
}

async fn postgres() -> Option<Db> {
    let pg = scheduler_test_support::postgres().await?;
    Some(Db {
        url: pg.url.clone(),
        _sqlite: None,
        _postgres: Some(pg),
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Report {
    recipients: Vec<String>,
    days: u32,
    threshold: serde_json::Number,
}

fn report() -> Report {
    Report {
        recipients: vec!["sales@example.com".into(), "ops@example.com".into()],
        days: 7,
        threshold: serde_json::from_str("123456789012345678901234567890.5").unwrap(),
    }
}

/// A builder over `db` and `clock` with a fast poll, so tests wait milliseconds.
fn builder(db: &Db, clock: &Arc<TestClock>) -> SchedulerBuilder {
    Scheduler::builder()
        .database(db.url.clone())
        .clock(clock.clone())
        .dispatcher(|config| {
            config.poll_interval = Duration::from_millis(20);
            config.shutdown_grace = Duration::from_secs(5);
        })
}

async fn receive<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .expect("the handler ran within 15 s")
        .expect("the channel is open")
}

/// Waits for run `id` to end and returns it.
async fn finished(scheduler: &Scheduler, id: scheduler::RunId) -> scheduler::Run {
    for _ in 0..300 {
        let run = scheduler.runs().get(id).await.unwrap().run;
        if run.status != RunStatus::Running {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {id} did not finish");
}

async fn typed_parameters_round_trip(db: Db) {
    let clock = TestClock::at("2026-11-30T08:59:00Z"); // a Monday
    let (tx, mut rx) = mpsc::unbounded_channel::<(Ctx, Report)>();
    let scheduler = builder(&db, &clock)
        .handler("send_report", move |ctx: Ctx, params: Report| {
            let tx = tx.clone();
            async move {
                tx.send((ctx, params)).map_err(|e| e.to_string())?;
                Ok::<(), String>(())
            }
        })
        .schedule("weekly-report", "0 9 * * MON", report())
        .start()
        .await
        .unwrap();
    let job = scheduler
        .jobs()
        .list(&scheduler::core::JobQuery::new(None, None, None, None).unwrap())
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(job.spec.source, JobSource::Code);
    assert_eq!(job.next_run, Some("2026-11-30T09:00:00Z".parse().unwrap()));

    clock.set("2026-11-30T09:00:01Z");
    let (ctx, params) = receive(&mut rx).await;
    assert_eq!(params, report());
    assert_eq!(ctx.job_id, job.id);
    assert_eq!(ctx.job_name, "weekly-report");
    assert_eq!(
        ctx.scheduled_for,
        "2026-11-30T09:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(ctx.attempt, 1);
    assert_eq!(ctx.trigger, RunTrigger::Schedule);
    // The run is over: its token has fired.
    tokio::time::timeout(Duration::from_secs(5), ctx.cancelled.cancelled())
        .await
        .unwrap();
    scheduler.shutdown().await.unwrap();
}

async fn a_wrong_parameter_shape_fails_the_run_naming_the_field(db: Db) {
    let clock = TestClock::at("2026-11-30T08:00:00Z");
    let scheduler = builder(&db, &clock)
        .handler("send_report", |_ctx: Ctx, _params: Report| async {
            Ok::<(), String>(())
        })
        .start()
        .await
        .unwrap();
    let job = scheduler
        .jobs()
        .create(JobDraft {
            name: Some("bad-shape".into()),
            cron_expression: Some("0 9 * * *".into()),
            parameters: Some(json!({
                "action": "send_report",
                "recipients": ["a@example.com", 42],
                "days": 7,
                "threshold": 1
            })),
            ..JobDraft::default()
        })
        .await
        .unwrap();
    let run = scheduler.runs().run_now(job.id).await.unwrap().run;
    let run = finished(&scheduler, run.id).await;
    assert_eq!(run.status, RunStatus::Failed);
    let error = run.error.unwrap();
    assert!(
        error.starts_with("invalid parameters: recipients[1]: invalid type: "),
        "{error}"
    );
    scheduler.shutdown().await.unwrap();
}

async fn handler_errors_fail_the_run_with_their_causes(db: Db) {
    let clock = TestClock::at("2026-11-30T08:00:00Z");
    let scheduler = builder(&db, &clock)
        .handler("std_error", |_ctx: Ctx, _params: ()| async {
            let disk: Result<(), std::io::Error> = Err(std::io::Error::other("disk full"));
            disk?;
            Ok::<(), std::io::Error>(())
        })
        .handler("anyhow_error", |_ctx: Ctx, _params: ()| async {
            let disk: Result<(), std::io::Error> = Err(std::io::Error::other("disk full"));
            disk.context("writing the report")?;
            Ok::<(), anyhow::Error>(())
        })
        .start()
        .await
        .unwrap();
    for (action, expected) in [
        ("std_error", "disk full"),
        ("anyhow_error", "writing the report: disk full"),
    ] {
        let job = scheduler
            .jobs()
            .create(JobDraft {
                name: Some(action.into()),
                cron_expression: Some("0 9 * * *".into()),
                parameters: Some(json!({"action": action})),
                ..JobDraft::default()
            })
            .await
            .unwrap();
        let run = scheduler.runs().run_now(job.id).await.unwrap().run;
        let run = finished(&scheduler, run.id).await;
        assert_eq!(run.status, RunStatus::Failed, "{action}");
        assert_eq!(run.error.as_deref(), Some(expected), "{action}");
    }
    scheduler.shutdown().await.unwrap();
}

/// What a handler sets with `Ctx::set_output` is kept with its run, as a delivery's answer
/// is.
async fn a_handlers_output_is_kept_with_its_run(db: Db) {
    let clock = TestClock::at("2026-11-30T08:00:00Z");
    let scheduler = builder(&db, &clock)
        .handler("report", |ctx: Ctx, _params: ()| async move {
            ctx.set_output("processed 12 rows");
            Ok::<(), String>(())
        })
        .start()
        .await
        .unwrap();
    let job = scheduler
        .jobs()
        .create(JobDraft {
            name: Some("report".into()),
            cron_expression: Some("0 9 * * *".into()),
            parameters: Some(json!({"action": "report"})),
            ..JobDraft::default()
        })
        .await
        .unwrap();
    let run = scheduler.runs().run_now(job.id).await.unwrap().run;
    let run = finished(&scheduler, run.id).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    let output = scheduler.runs().output(run.id).await.unwrap().unwrap();
    assert_eq!(
        (output.body.as_str(), output.content_type.as_deref()),
        ("processed 12 rows", Some("text/plain"))
    );
    scheduler.shutdown().await.unwrap();
}

async fn declared_schedules_are_reconciled_not_duplicated(db: Db) {
    let clock = TestClock::at("2026-11-30T07:00:00Z");
    let handler = |_ctx: Ctx, _params: Report| async { Ok::<(), String>(()) };
    let start = |cron: &'static str| {
        builder(&db, &clock)
            .without_dispatcher()
            .handler("send_report", handler)
            .declare(
                Schedule::new("daily-report", cron)
                    .params(report())
                    .timezone("Europe/Paris"),
            )
            .start()
    };
    let first = start("0 9 * * *").await.unwrap();
    let job = first.jobs().find_by_name("daily-report").await.unwrap();
    assert_eq!(job.next_run, Some("2026-11-30T08:00:00Z".parse().unwrap())); // 09:00 Paris
    first.shutdown().await.unwrap();

    // The same declaration again: no error, no duplicate, nothing rewritten.
    let again = start("0 9 * * *").await.unwrap();
    let same = again.jobs().find_by_name("daily-report").await.unwrap();
    assert_eq!(same.id, job.id);
    assert_eq!(same.updated_at, job.updated_at);
    again.shutdown().await.unwrap();

    // A changed expression rewrites the job and its next run.
    clock.set("2026-11-30T08:30:00Z");
    let changed = start("30 10 * * *").await.unwrap();
    let updated = changed.jobs().find_by_name("daily-report").await.unwrap();
    assert_eq!(updated.id, job.id);
    assert_eq!(updated.spec.schedule.written(), "30 10 * * *");
    assert_eq!(
        updated.next_run,
        Some("2026-11-30T09:30:00Z".parse().unwrap())
    );

    // Paused through the API: a restart leaves it paused.
    changed.jobs().pause(job.id).await.unwrap();
    changed.shutdown().await.unwrap();
    let restarted = start("30 10 * * *").await.unwrap();
    let paused = restarted.jobs().find_by_name("daily-report").await.unwrap();
    assert!(!paused.spec.is_active);
    assert_eq!(paused.next_run, None);
    restarted.shutdown().await.unwrap();
}

/// A calendar declared in code, and a schedule excluding it: the job's next run skips the
/// excluded days; declaring both again rewrites nothing; a changed calendar recomputes it.
async fn calendars_declared_in_code_exclude_days(db: Db) {
    let clock = TestClock::at("2026-12-23T10:00:00Z");
    let handler = |_ctx: Ctx, _params: Report| async { Ok::<(), String>(()) };
    let day = |text: &str| text.parse::<chrono::NaiveDate>().unwrap();
    let start = |to: &'static str| {
        builder(&db, &clock)
            .without_dispatcher()
            .handler("send_report", handler)
            .calendar(
                Calendar::new("holidays", "Europe/London")
                    .range(day("2026-12-24"), day(to), "Christmas")
                    .yearly(day("2026-01-01"), "New Year"),
            )
            .declare(
                Schedule::new("daily-report", "0 9 * * *")
                    .params(report())
                    .timezone("Europe/London")
                    .exclude("holidays"),
            )
            .start()
    };
    let first = start("2026-12-26").await.unwrap();
    let job = first.jobs().find_by_name("daily-report").await.unwrap();
    assert_eq!(job.spec.calendars.names.len(), 1);
    assert_eq!(
        job.upcoming_run(),
        Some("2026-12-27T09:00:00Z".parse().unwrap())
    );
    first.shutdown().await.unwrap();

    let again = start("2026-12-26").await.unwrap();
    let same = again.jobs().find_by_name("daily-report").await.unwrap();
    assert_eq!(same.updated_at, job.updated_at);
    let calendar = again.jobs().get_calendar("holidays").await.unwrap();
    again.shutdown().await.unwrap();

    let longer = start("2026-12-28").await.unwrap();
    let changed = longer.jobs().find_by_name("daily-report").await.unwrap();
    assert_eq!(
        changed.upcoming_run(),
        Some("2026-12-29T09:00:00Z".parse().unwrap())
    );
    let replaced = longer.jobs().get_calendar("holidays").await.unwrap();
    assert_eq!(replaced.created_at, calendar.created_at);
    assert_ne!(replaced.def, calendar.def);
    longer.shutdown().await.unwrap();

    // An invalid calendar is refused before anything runs, naming it.
    let refused = builder(&db, &clock)
        .without_dispatcher()
        .calendar(Calendar::new("bad name", "UTC"))
        .start()
        .await;
    assert!(
        matches!(&refused, Err(scheduler::Error::Calendar { name, .. }) if name == "bad name"),
        "{:?}",
        refused.err()
    );
}

/// `Schedule::every` with `max_runs` and `Schedule::once` declared in code: each fires on its
/// instants, the limited one completes, and declaring both again after they fired changes
/// nothing (the one-off's past instant is its own, not a new one in the past).
async fn interval_and_one_off_schedules_declared_in_code(db: Db) {
    let clock = TestClock::at("2026-11-30T08:00:00Z");
    let fired: Arc<Fired> = Arc::default();
    let start = || {
        let fired = fired.clone();
        builder(&db, &clock)
            .dispatcher(|config| config.lease = Duration::from_secs(600))
            .handler("record", move |ctx: Ctx, _params: ()| {
                let fired = fired.clone();
                async move {
                    fired
                        .lock()
                        .unwrap()
                        .push((ctx.job_name, ctx.scheduled_for, String::new()));
                    Ok::<(), String>(())
                }
            })
            .declare(
                Schedule::every("every-90m", Duration::from_secs(5400))
                    .start_time("2026-11-30T08:30:00Z".parse().unwrap())
                    .max_runs(2)
                    .action("record"),
            )
            .declare(
                Schedule::once("launch", "2026-11-30T09:00:00Z".parse().unwrap())
                    .jitter_seconds(30)
                    .action("record"),
            )
            .start()
    };
    let first = start().await.unwrap();
    let every = first.jobs().find_by_name("every-90m").await.unwrap();
    assert_eq!(
        every.next_run,
        Some("2026-11-30T08:30:00Z".parse().unwrap())
    );
    clock.set("2026-11-30T08:30:01Z");
    wait_for(&fired, 1).await;
    // The next step moves the clock 90 minutes, past the lease: a run whose outcome is not
    // stored yet would (rightly) be taken for abandoned and run again. Wait for its record.
    for _ in 0..300 {
        let every = first.jobs().find_by_name("every-90m").await.unwrap();
        if every.last_status == Some(scheduler::core::RunStatus::Succeeded) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    clock.set("2026-11-30T10:00:01Z");
    wait_for(&fired, 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
    assert_eq!(
        seen(&fired),
        [
            ("every-90m".to_string(), at("2026-11-30T08:30:00Z")),
            ("every-90m".to_string(), at("2026-11-30T10:00:00Z")),
            ("launch".to_string(), at("2026-11-30T09:00:00Z")),
        ]
    );
    let done = first.jobs().find_by_name("every-90m").await.unwrap();
    assert_eq!((done.fire_count, done.next_run), (2, None));
    first.shutdown().await.unwrap();

    let again = start().await.unwrap();
    let launch = again.jobs().find_by_name("launch").await.unwrap();
    assert_eq!(launch.next_run, None);
    assert_eq!(launch.spec.jitter_seconds, 30);
    let query = scheduler::core::RunListRequest::default()
        .validate()
        .unwrap();
    let runs = again.runs().list_for_job(launch.id, &query).await.unwrap();
    assert_eq!(runs.items.len(), 1);
    let run = &runs.items[0].run;
    assert_eq!(run.scheduled_for, at("2026-11-30T09:00:00Z"));
    let delay = run.due_at.expect("a jittered fire records its due time") - run.scheduled_for;
    assert!(delay >= chrono::Duration::zero() && delay <= chrono::Duration::seconds(30));
    let kept = again.jobs().find_by_name("every-90m").await.unwrap();
    assert_eq!(kept.updated_at, done.updated_at, "nothing rewritten");
    again.shutdown().await.unwrap();
}

async fn prune_removes_only_jobs_declared_in_code(db: Db) {
    let clock = TestClock::at("2026-11-30T08:00:00Z");
    let handler = |_ctx: Ctx, _params: ()| async { Ok::<(), String>(()) };
    let first = builder(&db, &clock)
        .without_dispatcher()
        .handler("tick", handler)
        .declare(Schedule::new("kept", "0 * * * *").action("tick"))
        .declare(Schedule::new("dropped", "0 * * * *").action("tick"))
        .start()
        .await
        .unwrap();
    first
        .jobs()
        .create(JobDraft {
            name: Some("made-through-the-api".into()),
            cron_expression: Some("0 * * * *".into()),
            ..JobDraft::default()
        })
        .await
        .unwrap();
    first.shutdown().await.unwrap();

    let second = builder(&db, &clock)
        .without_dispatcher()
        .handler("tick", handler)
        .declare(Schedule::new("kept", "0 * * * *").action("tick"))
        .prune_undeclared()
        .start()
        .await
        .unwrap();
    let names: Vec<String> = second
        .jobs()
        .list(&scheduler::core::JobQuery::new(None, None, None, Some("name")).unwrap())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|job| job.spec.name.as_str().to_string())
        .collect();
    assert_eq!(names, ["kept", "made-through-the-api"]);
    second.shutdown().await.unwrap();
}

async fn a_declaration_without_a_handler_is_refused_before_anything_runs(db: Db) {
    let clock = TestClock::at("2026-11-30T08:00:00Z");
    let error = builder(&db, &clock)
        .schedule("orphan", "0 9 * * *", report())
        .start()
        .await
        .err()
        .expect("refused");
    assert_eq!(
        error.to_string(),
        "schedule \"orphan\": no handler takes parameters of this type; name one with .action()"
    );
    let error = builder(&db, &clock)
        .handler("send_report", |_ctx: Ctx, _params: Report| async {
            Ok::<(), String>(())
        })
        .schedule("bad-cron", "0 9 * *", report())
        .start()
        .await
        .err()
        .expect("refused");
    assert!(
        error
            .to_string()
            .starts_with("schedule \"bad-cron\": cron_expression: "),
        "{error}"
    );
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
    setups: { sqlite => super::sqlite, postgres => super::postgres },
    tests: [
        typed_parameters_round_trip,
        a_wrong_parameter_shape_fails_the_run_naming_the_field,
        handler_errors_fail_the_run_with_their_causes,
        a_handlers_output_is_kept_with_its_run,
        declared_schedules_are_reconciled_not_duplicated,
        calendars_declared_in_code_exclude_days,
        interval_and_one_off_schedules_declared_in_code,
        prune_removes_only_jobs_declared_in_code,
        a_declaration_without_a_handler_is_refused_before_anything_runs,
    ],
}

/// Three processes (three builders, each with its own pool) start at once on one PostgreSQL
/// database declaring the same schedules: one job each, and every fire runs exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_declaring_the_same_schedules_fire_each_once() {
    let Some(db) = postgres().await else {
        return;
    };
    let clock = TestClock::at("2026-11-30T08:59:30Z");
    let fired: Arc<Fired> = Arc::default();
    let start = |process: &'static str| {
        let fired = fired.clone();
        builder(&db, &clock)
            .dispatcher(move |config| {
                config.worker = process.to_string();
                // The test moves the clock a minute at once, maybe while a run is still being
                // recorded; with the default 30 s lease another process would (rightly) take
                // that run for abandoned and run it again.
                config.lease = Duration::from_secs(600);
            })
            .handler("record", move |ctx: Ctx, _params: ()| {
                let fired = fired.clone();
                async move {
                    fired.lock().unwrap().push((
                        ctx.job_name,
                        ctx.scheduled_for,
                        process.to_string(),
                    ));
                    Ok::<(), String>(())
                }
            })
            .declare(Schedule::new("every-minute", "* * * * *").action("record"))
            .declare(Schedule::new("hourly", "0 * * * *").action("record"))
            .start()
    };
    let (a, b, c) = tokio::join!(start("a"), start("b"), start("c"));
    let processes = [a.unwrap(), b.unwrap(), c.unwrap()];
    let jobs = processes[0]
        .jobs()
        .list(&scheduler::core::JobQuery::new(None, None, None, None).unwrap())
        .await
        .unwrap();
    assert_eq!(jobs.total, Some(2), "{:?}", jobs.items);

    clock.set("2026-11-30T09:00:30Z");
    wait_for(&fired, 2).await;
    clock.set("2026-11-30T09:01:30Z");
    wait_for(&fired, 3).await;
    // Time for a duplicate to show up, if there were one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
    assert_eq!(
        seen(&fired),
        [
            ("every-minute".to_string(), at("2026-11-30T09:00:00Z")),
            ("every-minute".to_string(), at("2026-11-30T09:01:00Z")),
            ("hourly".to_string(), at("2026-11-30T09:00:00Z")),
        ]
    );
    for process in processes {
        process.shutdown().await.unwrap();
    }
}

/// Fires seen by the handlers: job name, fire instant, process.
type Fired = Mutex<Vec<(String, DateTime<Utc>, String)>>;

/// The fires seen, as (job name, fire instant), sorted.
fn seen(fired: &Fired) -> Vec<(String, DateTime<Utc>)> {
    let mut seen: Vec<(String, DateTime<Utc>)> = fired
        .lock()
        .unwrap()
        .iter()
        .map(|(name, at, _)| (name.clone(), *at))
        .collect();
    seen.sort();
    seen
}

async fn wait_for(fired: &Fired, count: usize) {
    for _ in 0..300 {
        if fired.lock().unwrap().len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{count} fires expected, saw {:?}", fired.lock().unwrap());
}

/// `Ctx::cancelled` fires when the run's timeout passes (work the handler spawned can stop),
/// and at shutdown (a handler waiting on it returns at once instead of holding the grace).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cancellation_token_fires_at_the_timeout_and_at_shutdown() {
    let db = sqlite().await.unwrap();
    let clock = TestClock::at("2026-11-30T08:00:00Z");
    let (tx, mut rx) = mpsc::unbounded_channel::<&'static str>();
    let on_timeout = tx.clone();
    let scheduler = builder(&db, &clock)
        .dispatcher(|config| config.shutdown_grace = Duration::from_secs(25))
        .handler("stuck", move |ctx: Ctx, _params: ()| {
            let tx = on_timeout.clone();
            async move {
                let token = ctx.cancelled.clone();
                tokio::spawn(async move {
                    token.cancelled().await;
                    let _ = tx.send("cancelled at the timeout");
                });
                std::future::pending::<()>().await;
                Ok::<(), String>(())
            }
        })
        .handler("patient", move |ctx: Ctx, _params: ()| {
            let tx = tx.clone();
            async move {
                let _ = tx.send("patient started");
                ctx.cancelled.cancelled().await;
                let _ = tx.send("patient stopped");
                Ok::<(), String>(())
            }
        })
        .start()
        .await
        .unwrap();
    let create = |name: &str, timeout: i64| JobDraft {
        name: Some(name.into()),
        cron_expression: Some("0 9 * * *".into()),
        parameters: Some(json!({"action": name})),
        policy: scheduler::PolicyInput {
            timeout_seconds: Some(timeout),
            ..scheduler::PolicyInput::default()
        },
        ..JobDraft::default()
    };
    let stuck = scheduler.jobs().create(create("stuck", 1)).await.unwrap();
    let run = scheduler.runs().run_now(stuck.id).await.unwrap().run;
    assert_eq!(receive(&mut rx).await, "cancelled at the timeout");
    let run = finished(&scheduler, run.id).await;
    assert_eq!(run.status, RunStatus::TimedOut);

    let patient = scheduler
        .jobs()
        .create(create("patient", 600))
        .await
        .unwrap();
    scheduler.runs().run_now(patient.id).await.unwrap();
    assert_eq!(receive(&mut rx).await, "patient started");
    let started = std::time::Instant::now();
    scheduler.shutdown().await.unwrap();
    assert_eq!(receive(&mut rx).await, "patient stopped");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown waited {:?} (grace 30 s)",
        started.elapsed()
    );
}
