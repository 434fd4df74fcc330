//! Receivers that ask to slow down, on SQLite and PostgreSQL: a delivery answered 429 (or
//! 503) with `Retry-After` is recorded `throttled`, runs again once the delay has passed
//! without using one of the job's retries (a job with `max_retries: 0` still gets its second
//! attempt), and meanwhile no replica's claim takes another fire for that host — while other
//! hosts are served. On PostgreSQL the second claim is a second replica (a pool of its own).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::{DueJob, Store, TestClock, utc};
use chrono::{DateTime, Utc};
use poem::http::StatusCode;
use poem::web::Data;
use poem::{EndpointExt, Response, Route, Server, handler, post};
use scheduler_adapters::{HttpExecutor, NoJobCache, SeaOrmRunStore};
use scheduler_core::{
    ActionHandlers, Dispatcher, DispatcherConfig, Job, JobRepository, PolicyInput, RoutingExecutor,
    Run, RunStatus, RunStore, RunTrigger, TargetGuard,
};

/// A receiver answering its first `throttle` requests 429 with `Retry-After: 30`, then 200.
#[derive(Clone, Default)]
struct Receiver {
    /// Requests received.
    received: Arc<AtomicUsize>,
    /// How many of the first requests are throttled.
    throttle: Arc<AtomicUsize>,
}

#[handler]
async fn hook(state: Data<&Receiver>) -> Response {
    let n = state.received.fetch_add(1, Ordering::SeqCst);
    if n < state.throttle.load(Ordering::SeqCst) {
        return Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header("Retry-After", "30")
            .body("slow down");
    }
    Response::builder().status(StatusCode::OK).body("ok")
}

/// Starts a receiver that throttles its first `throttle` requests; returns its URL.
async fn receiver(throttle: usize) -> (String, Receiver) {
    let state = Receiver::default();
    state.throttle.store(throttle, Ordering::SeqCst);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    let app = Route::new().at("/hook", post(hook)).data(state.clone());
    tokio::spawn(async move { Server::new_with_acceptor(acceptor).run(app).await });
    (format!("http://{addr}/hook"), state)
}

/// A replica: a dispatcher over `runs` delivering through the HTTP executor.
fn replica(worker: &str, runs: Arc<dyn RunStore>, clock: Arc<TestClock>) -> Dispatcher {
    let executor =
        HttpExecutor::with_guard(TargetGuard::from_allow_list("127.0.0.1").unwrap()).unwrap();
    Dispatcher::new(
        runs,
        Arc::new(RoutingExecutor {
            http: Some(Arc::new(executor)),
            actions: ActionHandlers::new(),
        }),
        Arc::new(NoJobCache),
        clock,
        Arc::new(scheduler_core::NoTelemetry),
        DispatcherConfig::new(worker),
    )
}

/// A yearly job due at `due` delivered to `url`, with no retries.
async fn delivery(s: &Store, name: &str, due: DateTime<Utc>, url: &str) -> Job {
    s.due_job(DueJob {
        url: Some(url),
        policy: PolicyInput {
            max_retries: Some(0),
            ..PolicyInput::default()
        },
        ..DueJob::new(name, due)
    })
    .await
}

/// The job's runs once none is `running` any more.
async fn settled(s: &Store, job: &Job, count: usize) -> Vec<Run> {
    let started = Instant::now();
    loop {
        let runs = s.runs_of(job).await;
        if runs.len() == count && runs.iter().all(|r| r.status != RunStatus::Running) {
            return runs;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{}: waited for {count} ended runs, have {runs:?}",
            job.id
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_throttled_host_is_held_and_its_run_retried_after_the_delay(s: Store) {
    let t0 = utc("2025-06-23T09:00:00Z");
    let clock = TestClock::at("2025-06-23T09:00:00Z");
    let (slow_url, slow) = receiver(1).await;
    let (other_url, other) = receiver(0).await;
    let first = delivery(&s, "first", t0, &slow_url).await;
    let a = replica("replica-a", s.runs.clone(), clock.clone());
    assert_eq!(a.tick().await.unwrap().started, 1);
    let runs = settled(&s, &first, 1).await;
    assert_eq!(runs[0].status, RunStatus::Throttled);
    assert_eq!(runs[0].retry_at, Some(t0 + chrono::Duration::seconds(30)));
    let error = runs[0].error.clone().unwrap_or_default();
    assert!(error.contains("without using a retry"), "{error}");
    assert!(error.contains("HTTP 429: slow down"), "{error}");

    // Another replica, a second later: the held host's new fire is left due, another host's
    // fire is delivered.
    let b_runs: Arc<dyn RunStore> = match s.backend {
        crate::support::Backend::Postgres(_) => {
            let pool =
                scheduler_adapters::connect(&scheduler_adapters::DatabaseConfig::new(s.url()))
                    .await
                    .unwrap();
            Arc::new(SeaOrmRunStore::new(pool))
        }
        crate::support::Backend::Sqlite(_) => s.runs.clone(),
    };
    let b = replica("replica-b", b_runs, clock.clone());
    let held = delivery(&s, "held", t0, &slow_url).await;
    let elsewhere = delivery(&s, "elsewhere", t0, &other_url).await;
    clock.set(t0 + chrono::Duration::seconds(1));
    assert_eq!(b.tick().await.unwrap().started, 1);
    settled(&s, &elsewhere, 1).await;
    assert_eq!(other.received.load(Ordering::SeqCst), 1);
    assert_eq!(
        slow.received.load(Ordering::SeqCst),
        1,
        "the held host was left alone"
    );
    let stored = s.repo.get(held.id).await.unwrap().unwrap();
    assert_eq!(stored.next_run, Some(t0), "still due, for after the hold");
    assert!(settled(&s, &held, 0).await.is_empty());

    // Just before the delay ends nothing moves; once it has, the held fire and the throttled
    // run's second attempt are delivered.
    clock.set(t0 + chrono::Duration::seconds(29));
    assert_eq!(b.tick().await.unwrap().started, 0);
    clock.set(t0 + chrono::Duration::seconds(31));
    assert_eq!(b.tick().await.unwrap().started, 2);
    let runs = settled(&s, &first, 2).await;
    let second = &runs[1];
    assert_eq!(second.status, RunStatus::Succeeded);
    assert_eq!(
        (
            second.attempt,
            second.retries,
            second.throttles,
            second.trigger
        ),
        (2, 0, 1, RunTrigger::Schedule),
        "a throttle is not a failure retry: a job with max_retries 0 still runs again"
    );
    assert_eq!(second.scheduled_for, runs[0].scheduled_for);
    assert_eq!(settled(&s, &held, 1).await[0].status, RunStatus::Succeeded);
    assert_eq!(slow.received.load(Ordering::SeqCst), 3);
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
    setups: { sqlite => Store::sqlite, postgres => Store::postgres },
    tests: [a_throttled_host_is_held_and_its_run_retried_after_the_delay],
}
