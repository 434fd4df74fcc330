//! Backfill on two replicas sharing a database, on both backends: an hour of a `*/5` job
//! asked for twice at once (once per replica) creates 12 runs and delivers each instant
//! once; asked again it creates none; bad ranges are refused naming the field.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DurationRound, Utc};
use poem::web::{Data, Json};
use poem::{EndpointExt, handler};
use serde_json::{Value, json};

use crate::support::{TestApp, serve_hook};

/// Deliveries by `scheduled_for`.
type Seen = Arc<Mutex<HashMap<String, usize>>>;

#[handler]
fn record(body: Json<Value>, seen: Data<&Seen>) -> &'static str {
    let at = body["scheduled_for"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    *seen.lock().unwrap().entry(at).or_default() += 1;
    "ok"
}

async fn backfill(app: &TestApp, job: &Value, body: &Value) -> (u16, Value) {
    let reply = app
        .client
        .post(app.url(&format!("/scheduler/jobs/{}/backfill/", job["id"])))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap())
}

async fn an_hour_backfilled_twice_at_once_runs_twelve_fires_once((a, b): (TestApp, TestApp)) {
    let seen: Seen = Arc::default();
    let url = serve_hook(record.data(seen.clone())).await;
    let job = a
        .create_job(&json!({"name": "rollup", "cron_expression": "*/5 * * * *",
            "target": {"type": "http", "url": url}}))
        .await;
    // A whole past hour, yesterday.
    let from = (Utc::now() - chrono::Duration::days(1))
        .duration_trunc(chrono::Duration::hours(1))
        .unwrap();
    let range =
        json!({"from": from.to_rfc3339(), "to": (from + chrono::Duration::hours(1)).to_rfc3339()});
    let (first, second) = tokio::join!(backfill(&a, &job, &range), backfill(&b, &job, &range));
    assert_eq!((first.0, second.0), (202, 202), "{first:?} {second:?}");
    let created = first.1["created"].as_u64().unwrap() + second.1["created"].as_u64().unwrap();
    assert_eq!(created, 12, "{first:?} {second:?}");
    assert_eq!(
        first.1["already_run"].as_u64().unwrap() + second.1["already_run"].as_u64().unwrap(),
        12
    );
    for answer in [&first.1, &second.1] {
        for run in answer["runs"].as_array().unwrap() {
            assert_eq!(run["trigger"], "backfill", "{run}");
            assert_eq!(run["job_name"], "rollup");
        }
    }
    for _ in 0..100 {
        if seen.lock().unwrap().len() == 12 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = seen.lock().unwrap().clone();
    let backfilled: Vec<_> = seen
        .iter()
        .filter(|(at, _)| {
            at.parse::<chrono::DateTime<Utc>>().unwrap() < from + chrono::Duration::hours(1)
        })
        .collect();
    assert_eq!(backfilled.len(), 12, "{seen:?}");
    assert!(
        backfilled.iter().all(|(_, n)| **n == 1),
        "delivered twice: {seen:?}"
    );
    let (_, runs) = a
        .get_json(&format!(
            "/scheduler/jobs/{}/runs/?trigger=backfill",
            job["id"]
        ))
        .await;
    assert_eq!(runs["count"], 12, "{runs}");

    // Again: nothing new.
    let (status, again) = backfill(&b, &job, &range).await;
    assert_eq!(status, 202);
    assert_eq!(
        (&again["created"], &again["already_run"]),
        (&json!(0), &json!(12))
    );

    // Ranges are checked, naming the field.
    let future = json!({"from": from.to_rfc3339(), "to": (Utc::now() + chrono::Duration::hours(1)).to_rfc3339()});
    let (status, body) = backfill(&a, &job, &future).await;
    assert_eq!(status, 400);
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["to"],
        "{body}"
    );
    let long =
        json!({"from": (from - chrono::Duration::days(5)).to_rfc3339(), "to": from.to_rfc3339()});
    assert_eq!(
        backfill(&a, &job, &long).await,
        (
            400,
            json!({"to": ["The range holds more than 1000 fires of the schedule; backfill a shorter range."]})
        )
    );
    let (status, body) = backfill(&a, &job, &json!({"from": "yesterday", "to": range["to"]})).await;
    assert_eq!(status, 400);
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["from"],
        "{body}"
    );
    assert_eq!(
        backfill(&a, &job, &json!({})).await,
        (
            400,
            json!({"from": ["This field is required."], "to": ["This field is required."]})
        )
    );
    assert_eq!(
        backfill(&a, &json!({"id": 987_654}), &range).await,
        (404, json!({"error": "Job not found"}))
    );
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
    setups: {
        sqlite => crate::support::sqlite_replicas,
        postgres => crate::support::postgres_replicas
    },
    tests: [an_hour_backfilled_twice_at_once_runs_twelve_fires_once],
}
