//! Exactly-once across replicas, on real PostgreSQL: three dispatchers with separate pools
//! over one database deliver 300 simultaneous fires to a local HTTP receiver exactly once;
//! a dispatcher killed mid-run has its runs recovered by the others, none lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use poem::web::{Data, Json};
use poem::{EndpointExt, Route, Server, handler, post};
use scheduler_adapters::{
    DatabaseConfig, HttpExecutor, NoJobCache, SeaOrmJobRepository, SeaOrmRunStore, SystemClock,
    connect,
};
use scheduler_core::{
    ActionHandlers, Dispatcher, DispatcherConfig, JobDraft, JobRepository, NewJob, RoutingExecutor,
    TargetGuard,
};
use scheduler_migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use tokio::sync::watch;

/// What the receiver saw.
#[derive(Default)]
struct Deliveries {
    /// job_id → number of requests received.
    per_job: HashMap<i64, u32>,
}

#[derive(Clone)]
struct Receiver {
    deliveries: Arc<Mutex<Deliveries>>,
    /// While false, `/hold` requests wait (their sender may be killed meanwhile).
    released: watch::Receiver<bool>,
}

#[handler]
async fn hook(body: Json<Value>, state: Data<&Receiver>) -> &'static str {
    record(&state, &body);
    "ok"
}

#[handler]
async fn hold(body: Json<Value>, state: Data<&Receiver>) -> &'static str {
    record(&state, &body);
    let mut released = state.released.clone();
    let _ = tokio::time::timeout(Duration::from_secs(30), released.wait_for(|r| *r)).await;
    "ok"
}

fn record(state: &Receiver, body: &Value) {
    let job_id = body["job_id"].as_i64().expect("job_id in the delivery");
    assert!(
        body["scheduled_for"].is_string() && body["run_id"].is_i64() && body["attempt"].is_i64()
    );
    *state
        .deliveries
        .lock()
        .unwrap()
        .per_job
        .entry(job_id)
        .or_default() += 1;
}

/// Starts the receiver; returns its base URL, the deliveries and the release switch.
async fn receiver() -> (String, Arc<Mutex<Deliveries>>, watch::Sender<bool>) {
    let deliveries = Arc::new(Mutex::new(Deliveries::default()));
    let (release, released) = watch::channel(false);
    let state = Receiver {
        deliveries: deliveries.clone(),
        released,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    let app = Route::new()
        .at("/hook", post(hook))
        .at("/hold", post(hold))
        .data(state);
    tokio::spawn(async move { Server::new_with_acceptor(acceptor).run(app).await });
    (format!("http://{addr}"), deliveries, release)
}

async fn database(url: &str) -> DatabaseConnection {
    let mut config = DatabaseConfig::new(url);
    config.max_connections = 5;
    connect(&config).await.unwrap()
}

/// Inserts `count` jobs due now whose target is `url`; returns their ids.
async fn due_jobs(db: &DatabaseConnection, count: usize, url: &str) -> Vec<i64> {
    let repo = SeaOrmJobRepository::new(db.clone());
    let now = Utc::now();
    let mut ids = Vec::new();
    for i in 0..count {
        let spec = JobDraft {
            name: Some(format!("job-{i}")),
            // Yearly: the only fire inside the test is the one made due below.
            cron_expression: Some("0 0 1 1 *".into()),
            start_time: Some("2020-01-01T00:00:00Z".parse().unwrap()),
            target: Some(json!({"type": "http", "url": url})),
            ..JobDraft::default()
        }
        .validate(now)
        .unwrap();
        let job = repo
            .insert(NewJob {
                spec,
                next_run: Some(now - chrono::Duration::seconds(1)),
                next_fire: None,
                created_at: now,
                tenant: scheduler_core::Tenant::default_tenant(),
                created_by: None,
            })
            .await
            .unwrap();
        ids.push(job.id.0);
    }
    ids
}

fn replica(db: DatabaseConnection, worker: &str) -> Dispatcher {
    let mut config = DispatcherConfig::new(worker);
    config.poll_interval = Duration::from_millis(100);
    config.lease = Duration::from_secs(2);
    config.shutdown_grace = Duration::from_secs(5);
    let executor = RoutingExecutor {
        http: Some(Arc::new(
            HttpExecutor::with_guard(TargetGuard::from_allow_list("127.0.0.1").unwrap()).unwrap(),
        )),
        actions: ActionHandlers::new(),
    };
    Dispatcher::new(
        Arc::new(SeaOrmRunStore::new(db)),
        Arc::new(executor),
        Arc::new(NoJobCache),
        Arc::new(SystemClock),
        Arc::new(scheduler_core::NoTelemetry),
        config,
    )
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql.to_string(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_deliver_300_simultaneous_fires_exactly_once() {
    let Some(pg) = scheduler_test_support::postgres().await else {
        return;
    };
    let setup = database(&pg.url).await;
    Migrator::up(&setup, None).await.unwrap();
    let (base, deliveries, _release) = receiver().await;
    let ids = due_jobs(&setup, 300, &format!("{base}/hook")).await;

    let (stop, stopped) = watch::channel(false);
    let mut replicas = Vec::new();
    for worker in ["replica-1", "replica-2", "replica-3"] {
        let dispatcher = replica(database(&pg.url).await, worker);
        let mut stopped = stopped.clone();
        replicas.push(tokio::spawn(async move {
            dispatcher
                .run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        }));
    }
    wait_until("300 finished runs", async || {
        count(
            &setup,
            "SELECT COUNT(*) FROM job_runs WHERE status <> 'running'",
        )
        .await
            >= 300
    })
    .await;
    // Give any would-be duplicate a chance to show up before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop.send(true);
    for replica in replicas {
        replica.await.unwrap();
    }

    let seen = deliveries.lock().unwrap().per_job.clone();
    assert_eq!(seen.len(), 300, "every job delivered");
    for id in &ids {
        assert_eq!(seen.get(id), Some(&1), "job {id} delivered exactly once");
    }
    assert_eq!(count(&setup, "SELECT COUNT(*) FROM job_runs").await, 300);
    assert_eq!(
        count(
            &setup,
            "SELECT COUNT(*) FROM job_runs WHERE status = 'succeeded'"
        )
        .await,
        300
    );
    assert_eq!(
        count(&setup, "SELECT COUNT(DISTINCT job_id) FROM job_runs").await,
        300
    );
    assert_eq!(
        count(&setup, "SELECT COUNT(*) FROM jobs WHERE last_run IS NULL").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replicas_runs_are_recovered_by_the_others_and_none_is_lost() {
    let Some(pg) = scheduler_test_support::postgres().await else {
        return;
    };
    let setup = database(&pg.url).await;
    Migrator::up(&setup, None).await.unwrap();
    let (base, deliveries, release) = receiver().await;
    let ids = due_jobs(&setup, 30, &format!("{base}/hold")).await;

    // Replica 1 runs on a runtime of its own, so it can be killed like a process.
    let doomed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = pg.url.clone();
    doomed.spawn(async move {
        let dispatcher = replica(database(&url).await, "doomed");
        dispatcher.run(std::future::pending()).await;
    });
    wait_until("30 held deliveries", async || {
        deliveries.lock().unwrap().per_job.len() == 30
    })
    .await;
    assert_eq!(
        count(
            &setup,
            "SELECT COUNT(*) FROM job_runs WHERE status = 'running' AND worker = 'doomed'"
        )
        .await,
        30
    );
    doomed.shutdown_background();
    let _ = release.send(true);

    let (stop, stopped) = watch::channel(false);
    let mut survivors = Vec::new();
    for worker in ["survivor-1", "survivor-2"] {
        let dispatcher = replica(database(&pg.url).await, worker);
        let mut stopped = stopped.clone();
        survivors.push(tokio::spawn(async move {
            dispatcher
                .run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        }));
    }
    wait_until("every job to succeed after recovery", async || {
        count(
            &setup,
            "SELECT COUNT(DISTINCT job_id) FROM job_runs WHERE status = 'succeeded'",
        )
        .await
            == 30
    })
    .await;
    let _ = stop.send(true);
    for survivor in survivors {
        survivor.await.unwrap();
    }

    assert_eq!(count(&setup, "SELECT COUNT(*) FROM job_runs WHERE status = 'abandoned' AND worker = 'doomed' AND attempt = 1").await, 30);
    assert_eq!(count(&setup, "SELECT COUNT(*) FROM job_runs WHERE status = 'succeeded' AND worker LIKE 'survivor-%' AND attempt = 2 AND retries = 0").await, 30);
    assert_eq!(
        count(
            &setup,
            "SELECT COUNT(*) FROM job_runs WHERE status = 'running'"
        )
        .await,
        0
    );
    let seen = deliveries.lock().unwrap().per_job.clone();
    for id in &ids {
        // At-least-once after a death: the killed attempt and the recovered one.
        assert_eq!(seen.get(id), Some(&2), "job {id}");
    }
}
