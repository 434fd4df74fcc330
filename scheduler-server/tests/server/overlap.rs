//! The overlap policies beyond allow/forbid on two replicas sharing a database, on both
//! backends: `replace` stops the running delivery (the receiver sees it aborted) and starts
//! the new fire, never two at once; `buffer_one` keeps the fire due during a run pending and
//! delivers it, with its own instant, after the run ends — never two at once, none skipped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use poem::web::{Data, Json};
use poem::{EndpointExt, handler};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use crate::support::{TestApp, serve_hook};

/// A loopback receiver that never answers; counts requests and the ones their sender aborted.
async fn silent_receiver() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (started, aborted) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (s, a) = (started.clone(), aborted.clone());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (s, a) = (s.clone(), a.clone());
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let mut counted = false;
                loop {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => {
                            if counted {
                                a.fetch_add(1, Ordering::SeqCst);
                            }
                            return;
                        }
                        Ok(_) if !counted => {
                            counted = true;
                            s.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    (format!("http://{addr}/hook"), started, aborted)
}

async fn runs_of(app: &TestApp, job: &Value) -> Vec<Value> {
    let (_, page) = app
        .get_json(&format!(
            "/scheduler/jobs/{}/runs/?page_size=100",
            job["id"]
        ))
        .await;
    page["results"].as_array().cloned().unwrap_or_default()
}

async fn replace_stops_the_running_run_and_starts_the_new_one((a, b): (TestApp, TestApp)) {
    let (url, started, aborted) = silent_receiver().await;
    let job = a
        .create_job(&json!({"name": "latest-only", "interval_seconds": 2,
            "concurrency_policy": "replace", "timeout_seconds": 120,
            "target": {"type": "http", "url": url}}))
        .await;
    // Never more than one delivery open at a time (sampled every 50 ms, for 12 s at most).
    for _ in 0..240 {
        let open = started.load(Ordering::SeqCst) - aborted.load(Ordering::SeqCst);
        assert!(open <= 1, "{open} deliveries open at once");
        if started.load(Ordering::SeqCst) >= 3 && aborted.load(Ordering::SeqCst) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        aborted.load(Ordering::SeqCst) >= 2,
        "replaced deliveries not aborted"
    );
    b.client
        .post(b.url(&format!("/scheduler/jobs/{}/pause/", job["id"])))
        .send()
        .await
        .unwrap();
    let runs = runs_of(&b, &job).await;
    let running: Vec<_> = runs.iter().filter(|r| r["status"] == "running").collect();
    assert!(running.len() <= 1, "{runs:?}");
    let replaced = runs.iter().filter(|r| r["status"] == "cancelled").count();
    assert!(replaced >= 2, "{runs:?}");
    for run in runs.iter().filter(|r| r["status"] == "cancelled") {
        assert_eq!(
            run["error"],
            "cancelled: replaced by a newer fire (concurrency_policy=replace)"
        );
    }
    assert!(runs.iter().all(|r| r["status"] != "skipped"), "{runs:?}");
    for run in running {
        a.client
            .post(a.url(&format!("/scheduler/runs/{}/cancel/", run["id"])))
            .send()
            .await
            .unwrap();
    }
}

/// One delivery: (scheduled_for, arrived, answered).
type Delivery = (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>);

/// What the slow-first receiver saw.
#[derive(Default)]
struct Deliveries {
    /// Open now.
    open: AtomicUsize,
    /// The most open at once.
    most: AtomicUsize,
    /// (scheduled_for, arrived, answered) of each.
    seen: Mutex<Vec<Delivery>>,
}

/// Holds the first delivery for 3 s, answers the others at once.
#[handler]
async fn slow_first(body: Json<Value>, state: Data<&Arc<Deliveries>>) -> &'static str {
    let arrived = Utc::now();
    let open = state.open.fetch_add(1, Ordering::SeqCst) + 1;
    state.most.fetch_max(open, Ordering::SeqCst);
    let first = state.seen.lock().unwrap().is_empty() && state.open.load(Ordering::SeqCst) == 1;
    if first {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let at: DateTime<Utc> = body["scheduled_for"].as_str().unwrap().parse().unwrap();
    state.seen.lock().unwrap().push((at, arrived, Utc::now()));
    state.open.fetch_sub(1, Ordering::SeqCst);
    "ok"
}

async fn buffer_one_delivers_the_pending_fire_after_the_run((a, b): (TestApp, TestApp)) {
    let deliveries = Arc::new(Deliveries::default());
    let url = serve_hook(slow_first.data(deliveries.clone())).await;
    let job = a
        .create_job(&json!({"name": "queued", "interval_seconds": 2,
            "concurrency_policy": "buffer_one", "misfire_grace_seconds": 0,
            "target": {"type": "http", "url": url}}))
        .await;
    for _ in 0..160 {
        if deliveries.seen.lock().unwrap().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.client
        .post(b.url(&format!("/scheduler/jobs/{}/pause/", job["id"])))
        .send()
        .await
        .unwrap();
    let seen = deliveries.seen.lock().unwrap().clone();
    assert!(seen.len() >= 3, "{seen:?}");
    assert_eq!(
        deliveries.most.load(Ordering::SeqCst),
        1,
        "two deliveries at once"
    );
    let (first, second) = (seen[0], seen[1]);
    // The fire due during the first run kept its instant and came after the run ended.
    assert_eq!(second.0, first.0 + chrono::Duration::seconds(2), "{seen:?}");
    assert!(second.1 >= first.2, "{seen:?}");
    assert!(
        second.1 - first.2 < chrono::Duration::milliseconds(2_500),
        "the pending fire waited too long: {seen:?}"
    );
    let runs = runs_of(&a, &job).await;
    assert!(runs.iter().all(|r| r["status"] != "skipped"), "{runs:?}");
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
    setups: {
        sqlite => crate::support::sqlite_replicas,
        postgres => crate::support::postgres_replicas
    },
    tests: [
        replace_stops_the_running_run_and_starts_the_new_one,
        buffer_one_delivers_the_pending_fire_after_the_run,
    ],
}
