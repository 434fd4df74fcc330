//! Cancelling a running run on two replicas sharing a database, on both backends: the
//! delivery is aborted (the receiver sees its request dropped) whether the cancel reaches the
//! replica executing it or the other one, the run is recorded `cancelled` and never retried,
//! and a second cancel is a 409.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use crate::support::{TestApp, run_now};

/// What the holding receiver saw.
#[derive(Default)]
struct Held {
    /// Deliveries that arrived.
    started: AtomicUsize,
    /// Deliveries whose sender closed the connection before any answer (aborted).
    dropped: AtomicUsize,
}

/// A receiver on a raw loopback socket that never answers: it counts each request when its
/// first bytes arrive, then waits for the sender to close the connection (an HTTP server
/// would not notice a client going away while its handler waits).
async fn holding_receiver() -> (String, Arc<Held>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(Held::default());
    let counts = held.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let counts = counts.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let mut counted = false;
                loop {
                    match tokio::time::timeout(Duration::from_secs(60), socket.read(&mut buffer))
                        .await
                    {
                        Ok(Ok(0) | Err(_)) => {
                            if counted {
                                counts.dropped.fetch_add(1, Ordering::SeqCst);
                            }
                            return;
                        }
                        Ok(Ok(_)) if !counted => {
                            counted = true;
                            counts.started.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(Ok(_)) => {}
                        Err(_) => return,
                    }
                }
            });
        }
    });
    (format!("http://{addr}/hold"), held)
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}");
}

async fn cancel(app: &TestApp, run: &Value) -> (u16, Value) {
    let reply = app
        .client
        .post(app.url(&format!("/scheduler/runs/{}/cancel/", run["id"])))
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap())
}

async fn a_running_delivery_is_cancelled_from_either_replica((a, b): (TestApp, TestApp)) {
    let (url, held) = holding_receiver().await;
    let job = a
        .create_job(
            &json!({"name": "slow-export", "cron_expression": "0 0 1 1 *",
            "max_retries": 2, "retry_backoff_seconds": 1, "timeout_seconds": 120,
            "target": {"type": "http", "url": url}}),
        )
        .await;

    // Started on b, cancelled through b: stopped at once.
    let second = run_now(&b, &job["id"]).await;
    until("the second delivery arrives", || {
        held.started.load(Ordering::SeqCst) == 1
    })
    .await;
    let (status, _) = cancel(&b, &second).await;
    assert_eq!(status, 200);
    until("the second delivery is aborted", || {
        held.dropped.load(Ordering::SeqCst) == 1
    })
    .await;

    // Started on a, cancelled through b: a stops it at its next check.
    let first = run_now(&a, &job["id"]).await;
    until("the delivery arrives", || {
        held.started.load(Ordering::SeqCst) == 2
    })
    .await;
    let (status, cancelled) = cancel(&b, &first).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(
        (&cancelled["status"], &cancelled["error"]),
        (&json!("cancelled"), &json!("cancelled"))
    );
    assert!(cancelled["finished_at"].is_string());
    until("the delivery is aborted", || {
        held.dropped.load(Ordering::SeqCst) == 2
    })
    .await;

    // Never retried (the backoff is a second), and a second cancel is refused.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        held.started.load(Ordering::SeqCst),
        2,
        "a cancelled run was retried"
    );
    let (_, runs) = a
        .get_json(&format!("/scheduler/jobs/{}/runs/", job["id"]))
        .await;
    assert_eq!(runs["count"], 2, "{runs}");
    for run in runs["results"].as_array().unwrap() {
        assert_eq!(run["status"], "cancelled", "{run}");
    }
    assert_eq!(
        cancel(&a, &first).await,
        (409, json!({"detail": "The run is not running."}))
    );
    assert_eq!(
        cancel(&a, &json!(987_654)).await,
        (404, json!({"error": "Run not found"}))
    );
    let (_, shown) = a.get_json(&format!("/scheduler/jobs/{}/", job["id"])).await;
    assert_eq!(shown["last_status"], "cancelled");
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
    setups: {
        sqlite => crate::support::sqlite_replicas,
        postgres => crate::support::postgres_replicas
    },
    tests: [a_running_delivery_is_cancelled_from_either_replica],
}
