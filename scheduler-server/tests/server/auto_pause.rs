//! Auto-pause on two replicas sharing a database, on both backends: a job with
//! `pause_after_failures: 3` delivering to a receiver that answers 500 is paused after exactly
//! three failed runs, with the reason in the API and the metrics; resuming clears it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use poem::http::StatusCode;
use poem::{EndpointExt, handler, web::Data};
use serde_json::{Value, json};

use crate::support::{TestApp, serve_hook};

/// Answers 500 to every delivery, counting them.
#[handler]
fn broken(hits: Data<&Arc<AtomicUsize>>) -> (StatusCode, &'static str) {
    hits.fetch_add(1, Ordering::SeqCst);
    (StatusCode::INTERNAL_SERVER_ERROR, "down for maintenance")
}

async fn paused_after_exactly_three_failures((a, b): (TestApp, TestApp)) {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = serve_hook(broken.data(hits.clone())).await;
    // A channel told of failures and pauses: one of each for the whole streak.
    let told = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let kept = told.clone();
    let sink = serve_hook(poem::endpoint::make(move |mut request: poem::Request| {
        let kept = kept.clone();
        async move {
            let body = request.take_body().into_vec().await.unwrap_or_default();
            kept.lock()
                .unwrap()
                .push(serde_json::from_slice(&body).unwrap_or_default());
            "ok"
        }
    }))
    .await;
    let channel = a
        .client
        .post(a.url("/scheduler/channels/"))
        .json(&json!({"name": "pager", "kind": "webhook", "url": sink,
            "events": ["failed", "auto_paused"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(channel.status(), 201);
    // Every 2 s; an overlapping fire is skipped, so a skipped fire is never a fourth run.
    let job = a
        .create_job(&json!({"name": "fragile", "interval_seconds": 2,
            "concurrency_policy": "forbid", "pause_after_failures": 3,
            "target": {"type": "http", "url": url}}))
        .await;
    assert_eq!(
        (
            &job["pause_after_failures"],
            &job["failure_streak"],
            &job["auto_paused"]
        ),
        (&json!(3), &json!(0), &json!(false))
    );
    let path = format!("/scheduler/jobs/{}/", job["id"]);
    let mut read = Value::Null;
    for _ in 0..150 {
        read = b.get_json(&path).await.1;
        if read["is_active"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(read["is_active"], false, "never paused: {read}");
    // Two more periods: nothing else fires.
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 3, "deliveries");
    let (_, runs) = a.get_json(&format!("{path}runs/")).await;
    assert_eq!(runs["count"], 3, "{runs}");
    for run in runs["results"].as_array().unwrap() {
        assert_eq!(run["status"], "failed", "{run}");
    }
    let (_, read) = a.get_json(&path).await;
    let reason = "auto-paused after 3 consecutive failures: HTTP 500: down for maintenance";
    assert_eq!(
        (
            &read["schedule_status"],
            &read["schedule_status_reason"],
            &read["pause_note"]
        ),
        (&json!("paused"), &json!(reason), &json!(reason)),
        "{read}"
    );
    assert_eq!(
        (&read["auto_paused"], &read["paused_by"], &read["next_run"]),
        (&json!(true), &Value::Null, &Value::Null)
    );
    assert_eq!(read["failure_streak"], 3);
    assert_eq!(b.get_json(&path).await.1, read, "both replicas agree");
    // The trail says the scheduler paused it, and why, once.
    let (_, history) = a.get_json(&format!("{path}history/")).await;
    let pauses: Vec<&Value> = history["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "pause")
        .collect();
    assert_eq!(pauses.len(), 1, "{history}");
    assert_eq!(pauses[0]["actor"], "scheduler");
    assert!(
        pauses[0]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "pause_note" && c["after"] == json!(reason)),
        "{history}"
    );
    // Scraped only from the PostgreSQL pair, which has no cache: a scrape also writes the
    // process-wide cache counters from the scraped app's cache, which would race the Redis
    // cache tests' exact counts when every test shares one process (`cargo test`).
    if a.sqlite.is_none() {
        let metrics = a
            .client
            .get(a.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let paused: f64 = metrics
            .lines()
            .find_map(|line| line.strip_prefix("scheduler_jobs_auto_paused_total "))
            .expect("the counter is exported")
            .trim()
            .parse()
            .unwrap();
        assert!(paused >= 1.0, "{paused}");
    }

    // Told once that it failed, once that it paused itself.
    let mut events = Vec::new();
    for _ in 0..50 {
        events = told
            .lock()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["event"].as_str().unwrap_or_default().to_string(),
                    m["count"].clone(),
                )
            })
            .collect::<Vec<_>>();
        if events.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        events,
        [
            ("failed".to_string(), json!(1)),
            ("auto_paused".to_string(), json!(3))
        ]
    );

    // Resuming clears the pause and the streak.
    let resumed: Value = b
        .client
        .post(b.url(&format!("{path}resume/")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            &resumed["is_active"],
            &resumed["auto_paused"],
            &resumed["failure_streak"],
            &resumed["pause_note"],
            &resumed["schedule_status_reason"]
        ),
        (
            &json!(true),
            &json!(false),
            &json!(0),
            &Value::Null,
            &Value::Null
        ),
        "{resumed}"
    );
    a.client
        .post(a.url(&format!("{path}pause/")))
        .send()
        .await
        .unwrap();
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
    setups: {
        sqlite => crate::support::sqlite_replicas,
        postgres => crate::support::postgres_replicas
    },
    tests: [paused_after_exactly_three_failures],
}
