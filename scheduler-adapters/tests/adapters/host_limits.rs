//! Operator limits for a receiving host (`scheduler_core::host_limit`), on SQLite and
//! PostgreSQL — on PostgreSQL across two replicas, each with a pool of its own: at most
//! `parallel` deliveries to the host run at once whichever replica claims them, a `rate`
//! starts a burst and then one fire per interval, and the fires past a limit stay due (no
//! delivery slot taken) and run later, each once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::delivery::Receiver;
use crate::support::{Backend, DueJob, Store, TestClock, utc};
use chrono::{DateTime, Utc};
use scheduler_adapters::{HttpExecutor, NoJobCache, SeaOrmRunStore};
use scheduler_core::{
    ActionHandlers, Dispatcher, DispatcherConfig, HostLimits, Job, JobRepository, RoutingExecutor,
    RunStatus, RunStore, TargetGuard,
};
use sea_orm::ConnectionTrait;
use tokio::sync::watch;

/// A receiver of `delivery.rs` (counting requests and how many it holds at once, holding
/// them while not released), with its host key.
async fn receiver(released: bool) -> (String, String, Receiver, watch::Sender<bool>) {
    let (url, state, release) = crate::delivery::receiver(released).await;
    (scheduler_core::host_key(&url), url, state, release)
}

/// Two replicas over `s` (on SQLite, one store: a single process) with `limits`, each
/// claiming at most `batch` fires of a kind at once.
async fn replicas(s: &Store, limits: &str, clock: &Arc<TestClock>, batch: u32) -> [Dispatcher; 2] {
    let limits = Arc::new(HostLimits::parse(limits).unwrap());
    let second: Arc<dyn RunStore> = match s.backend {
        Backend::Postgres(_) => {
            let pool =
                scheduler_adapters::connect(&scheduler_adapters::DatabaseConfig::new(s.url()))
                    .await
                    .unwrap();
            Arc::new(SeaOrmRunStore::new(pool))
        }
        Backend::Sqlite(_) => s.runs.clone(),
    };
    let make = |worker: &str, runs: Arc<dyn RunStore>| {
        let executor =
            HttpExecutor::with_guard(TargetGuard::from_allow_list("127.0.0.1").unwrap()).unwrap();
        let mut config = DispatcherConfig::new(worker);
        config.host_limits = limits.clone();
        config.batch_size = batch;
        config.max_batch_size = batch;
        Dispatcher::new(
            runs,
            Arc::new(RoutingExecutor {
                http: Some(Arc::new(executor)),
                actions: ActionHandlers::new(),
            }),
            Arc::new(NoJobCache),
            clock.clone(),
            Arc::new(scheduler_core::NoTelemetry),
            config,
        )
    };
    [make("replica-a", s.runs.clone()), make("replica-b", second)]
}

async fn deliveries(s: &Store, prefix: &str, n: usize, due: DateTime<Utc>, url: &str) -> Vec<Job> {
    let mut jobs = Vec::new();
    for i in 0..n {
        let name = format!("{prefix}-{i}");
        jobs.push(
            s.due_job(DueJob {
                url: Some(url),
                ..DueJob::new(&name, due)
            })
            .await,
        );
    }
    jobs
}

async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every run of `jobs`, once none is running.
async fn ended_runs(s: &Store, jobs: &[Job]) -> Vec<scheduler_core::Run> {
    let started = Instant::now();
    loop {
        let mut all = Vec::new();
        for job in jobs {
            all.extend(s.runs_of(job).await);
        }
        if all.len() == jobs.len() && all.iter().all(|r| r.status != RunStatus::Running) {
            return all;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "runs: {all:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_hosts_parallel_limit_holds_across_replicas(s: Store) {
    let t0 = utc("2025-06-23T09:00:00Z");
    let clock = TestClock::at("2025-06-23T09:00:00Z");
    let (host, url, slow, release) = receiver(false).await;
    let (_, free_url, free, _) = receiver(true).await;
    let jobs = deliveries(&s, "slow", 6, t0, &url).await;
    let others = deliveries(&s, "free", 3, t0, &free_url).await;
    let [a, b] = replicas(&s, &format!("{host} parallel=2"), &clock, 100).await;
    // Replica a takes 2 of the host's fires and every fire of the unlimited host.
    assert_eq!(a.tick().await.unwrap().started, 5);
    eventually("2 requests held open", || {
        slow.open.load(Ordering::SeqCst) == 2
    })
    .await;
    ended_runs(&s, &others).await;
    assert_eq!(free.received.load(Ordering::SeqCst), 3);
    // Replica b, once the hold has passed: the host has 2 running, so nothing.
    clock.set(t0 + chrono::Duration::seconds(1));
    assert_eq!(b.tick().await.unwrap().started, 0);
    assert_eq!(a.tick().await.unwrap().started, 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(slow.received.load(Ordering::SeqCst), 2);
    // Released: the two end; then each tick past a hold starts at most 2.
    let _ = release.send(true);
    let mut second = 1;
    while slow.received.load(Ordering::SeqCst) < 6 {
        second += 1;
        assert!(second < 30, "the host's fires did not all run");
        clock.set(t0 + chrono::Duration::seconds(second));
        for replica in [&a, &b] {
            let started = replica.tick().await.unwrap().started;
            assert!(started <= 2, "{started} started at once");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let runs = ended_runs(&s, &jobs).await;
    assert!(
        runs.iter()
            .all(|r| r.status == RunStatus::Succeeded && r.attempt == 1)
    );
    assert_eq!(
        slow.most_open.load(Ordering::SeqCst),
        2,
        "never more than the limit"
    );
    assert_eq!(slow.received.load(Ordering::SeqCst), 6, "each fire once");
}

async fn a_hosts_rate_starts_a_burst_then_one_per_interval_across_replicas(s: Store) {
    let t0 = utc("2025-06-23T09:00:00Z");
    let clock = TestClock::at("2025-06-23T09:00:00Z");
    let (host, url, paced, _) = receiver(true).await;
    let jobs = deliveries(&s, "paced", 5, t0, &url).await;
    // Claims of 2: at the first instant each replica locks 2 of the 5 fires.
    let [a, b] = replicas(&s, &format!("{host} rate=1/s burst=2"), &clock, 2).await;
    // The host was used before (its rate row exists, long quiet).
    s.db.execute_unprepared(&format!(
        "INSERT INTO host_rates (host, tat) VALUES ('{host}', NULL)"
    ))
    .await
    .unwrap();
    // Both replicas claim at the same instant: one budget between them. (On PostgreSQL the
    // rate's row is locked in the claim's transaction, so claims that overlap take turns;
    // whether these two overlap is up to the scheduler of the test's threads.)
    let (first, second) = tokio::join!(a.tick(), b.tick());
    let mut starts = vec![first.unwrap().started + second.unwrap().started];
    // Then ticks every 250 ms of the clock, alternating replicas, up to 3.75 s.
    for step in 1..16 {
        clock.set(t0 + chrono::Duration::milliseconds(250 * step));
        let replica = if step % 2 == 0 { &a } else { &b };
        let started = replica.tick().await.unwrap().started;
        starts.push(started);
    }
    ended_runs(&s, &jobs).await;
    assert_eq!(paced.received.load(Ordering::SeqCst), 5);
    // The burst of 2 at once, then one each second: at 1 s, 2 s and 3 s.
    let expected: Vec<usize> = (0..16)
        .map(|step| match step {
            0 => 2,
            4 | 8 | 12 => 1,
            _ => 0,
        })
        .collect();
    assert_eq!(starts, expected);
    // The fires' lateness says so too: started at 0, 0, 1, 2 and 3 s.
    let mut late: Vec<i64> = ended_runs(&s, &jobs)
        .await
        .iter()
        .map(|r| (r.started_at - t0).num_milliseconds())
        .collect();
    late.sort_unstable();
    assert_eq!(late, [0, 0, 1_000, 2_000, 3_000]);
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
    setups: { sqlite => Store::sqlite, postgres => Store::postgres },
    tests: [
        a_hosts_parallel_limit_holds_across_replicas,
        a_hosts_rate_starts_a_burst_then_one_per_interval_across_replicas,
        a_claim_names_the_hosts_whose_fires_it_left_due,
    ],
}

/// On PostgreSQL a claim reads a rate-limited host's arrival time under a row lock: while
/// another transaction holds the host's row (a claim of another replica), the claim waits,
/// and then sees what that transaction stored — here a budget spent for the next minute, so
/// it starts nothing and the fires stay due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_waits_for_another_claims_rate_row_and_sees_its_budget() {
    let Some(s) = Store::postgres().await else {
        return;
    };
    let t0 = utc("2025-06-23T09:00:00Z");
    let clock = TestClock::at("2025-06-23T09:00:00Z");
    let (host, url, paced, _) = receiver(true).await;
    let jobs = deliveries(&s, "paced", 3, t0, &url).await;
    s.db.execute_unprepared(&format!(
        "INSERT INTO host_rates (host, tat) VALUES ('{host}', NULL)"
    ))
    .await
    .unwrap();
    let [a, _] = replicas(&s, &format!("{host} rate=1/s burst=5"), &clock, 100).await;
    // The other claim: its own connection, the host's row locked.
    let other = scheduler_adapters::connect(&scheduler_adapters::DatabaseConfig::new(s.url()))
        .await
        .unwrap();
    let txn = sea_orm::TransactionTrait::begin(&other).await.unwrap();
    txn.execute_unprepared(&format!(
        "SELECT tat FROM host_rates WHERE host = '{host}' FOR UPDATE"
    ))
    .await
    .unwrap();
    let claim = tokio::spawn(async move { a.tick().await.unwrap().started });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!claim.is_finished(), "the claim waits for the host's row");
    txn.execute_unprepared(&format!(
        "UPDATE host_rates SET tat = '2025-06-23T09:01:00Z' WHERE host = '{host}'"
    ))
    .await
    .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(
        claim.await.unwrap(),
        0,
        "the budget was spent by the other claim"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(paced.received.load(Ordering::SeqCst), 0);
    for job in &jobs {
        let stored = s.repo.get(job.id).await.unwrap().unwrap();
        assert_eq!(stored.next_run, Some(t0), "still due");
    }
}

/// A claim that left a host's fires due says which host (what the dispatcher counts in
/// `scheduler_host_limited_claims_total`); a host with room is not named.
async fn a_claim_names_the_hosts_whose_fires_it_left_due(s: Store) {
    let t0 = utc("2025-06-23T09:00:00Z");
    let (host, url, _, _) = receiver(true).await;
    let (roomy, roomy_url, _, _) = receiver(true).await;
    deliveries(&s, "paced", 3, t0, &url).await;
    deliveries(&s, "roomy", 2, t0, &roomy_url).await;
    let request = scheduler_core::ClaimRequest {
        host_limits: Arc::new(
            HostLimits::parse(&format!("{host} rate=1/s; {roomy} parallel=5")).unwrap(),
        ),
        ..crate::fairness::claim(t0, 0, 100)
    };
    let batch = s.runs.claim_due(&request).await.unwrap();
    assert_eq!(
        batch.runs.len(),
        3,
        "1 of the paced host, 2 of the roomy one"
    );
    assert_eq!(batch.limited_hosts, [host]);
}
