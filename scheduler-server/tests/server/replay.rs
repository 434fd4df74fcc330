//! Replaying ended runs on two replicas sharing a database, on both backends: a failed run
//! replayed on both replicas at the same time makes one linked run (the second answer is that
//! same run), which runs again against the receiver; a run still running is refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use poem::http::StatusCode;
use poem::{EndpointExt, handler, web::Data};
use serde_json::{Value, json};

use crate::support::{TestApp, run_now, serve_hook, settled};

/// Answers 500 to every delivery, counting them.
#[handler]
fn broken(hits: Data<&Arc<AtomicUsize>>) -> (StatusCode, &'static str) {
    hits.fetch_add(1, Ordering::SeqCst);
    (StatusCode::INTERNAL_SERVER_ERROR, "down for maintenance")
}

/// Answers 200 after a second.
#[handler]
async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    "ok"
}

async fn replay(app: &TestApp, run_id: &Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(&format!("/scheduler/runs/{run_id}/replay/")))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

async fn a_run_is_replayed_once_even_when_asked_twice_at_once((a, b): (TestApp, TestApp)) {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = serve_hook(broken.data(hits.clone())).await;
    let job = a
        .create_job(&json!({"name": "push", "cron_expression": "0 0 1 1 *",
            "target": {"type": "http", "url": url}}))
        .await;
    let first = run_now(&a, &job["id"]).await;
    let failed = settled(&a, &first["id"]).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let (one, two) = tokio::join!(replay(&a, &first["id"]), replay(&b, &first["id"]));
    let mut statuses = [one.0, two.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 202], "{one:?} {two:?}");
    assert_eq!(one.1["id"], two.1["id"], "both answers are the one replay");
    let replayed = &one.1;
    assert_eq!(replayed["trigger"], "replay");
    assert_eq!(replayed["replay_of"], first["id"]);
    assert_eq!(replayed["scheduled_for"], first["scheduled_for"]);
    assert_eq!(replayed["attempt"], 2);
    let done = settled(&a, &replayed["id"]).await;
    assert_eq!(done["status"], "failed", "{done}");
    // Delivered once more, by one replica.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    let (_, runs) = a
        .get_json(&format!(
            "/scheduler/runs/?job_id={}&trigger=replay",
            job["id"]
        ))
        .await;
    assert_eq!(runs["count"], 1, "{runs}");
    // Asked again later: the same replay, nothing new.
    let (status, again) = replay(&b, &first["id"]).await;
    assert_eq!((status, &again["id"]), (200, &replayed["id"]));
    // The replay itself may be replayed (the next attempt).
    let (status, second) = replay(&a, &replayed["id"]).await;
    assert_eq!((status, &second["attempt"]), (202, &json!(3)), "{second}");
    assert_eq!(second["replay_of"], replayed["id"]);
    settled(&a, &second["id"]).await;

    // A running run is not replayed; an unknown one is not found.
    let url = serve_hook(slow).await;
    let busy = a
        .create_job(&json!({"name": "slow", "cron_expression": "0 0 1 1 *",
            "target": {"type": "http", "url": url}}))
        .await;
    let running = run_now(&a, &busy["id"]).await;
    let (status, body) = replay(&b, &running["id"]).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body,
        json!({"detail": "The run is still running; replay it once it has ended."})
    );
    settled(&a, &running["id"]).await;
    let (status, body) = replay(&a, &json!(999_999)).await;
    assert_eq!((status, body), (404, json!({"error": "Run not found"})));
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
    setups: {
        sqlite => crate::support::sqlite_replicas,
        postgres => crate::support::postgres_replicas,
    },
    tests: [a_run_is_replayed_once_even_when_asked_twice_at_once],
}

/// A replay on a connection that served a backfill first (one pooled connection): both
/// count the new run on the job with the same statement text, and once sent it with
/// different parameter types — PostgreSQL refused the replay ("insufficient data left in
/// message", a 503 found by the API fuzzer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_after_a_backfill_on_one_connection() {
    let Some(app) = crate::support::postgres_app_with(|config| config.db_max_connections = 1).await
    else {
        return;
    };
    let job = app
        .create_job(&json!({"name": "rollup", "cron_expression": "0 * * * *"}))
        .await;
    let to = chrono::Utc::now() - chrono::Duration::hours(1);
    let from = to - chrono::Duration::hours(2);
    let reply = app
        .client
        .post(app.url(&format!("/scheduler/jobs/{}/backfill/", job["id"])))
        .json(&json!({"from": from.to_rfc3339(), "to": to.to_rfc3339()}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 202);
    let run = crate::support::run_now(&app, &job["id"]).await;
    let run = crate::support::settled(&app, &run["id"]).await;
    let (status, replayed) = replay(&app, &run["id"]).await;
    assert_eq!(status, 202, "{replayed}");
    assert_eq!(replayed["replay_of"], run["id"]);
}
