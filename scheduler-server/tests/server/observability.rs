//! What an operator sees: honest liveness, runs across jobs with filters, each job's last
//! status, run durations, request ids on answers.

use std::time::Duration;

use crate::support::{TestApp, run_now, settled};
use serde_json::{Value, json};

async fn ids(app: &TestApp, query: &str) -> Vec<i64> {
    let (status, page) = app.get_json(&format!("/scheduler/runs/{query}")).await;
    assert_eq!(status, 200, "{query}: {page}");
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["id"].as_i64().unwrap())
        .collect()
}

async fn runs_across_jobs_are_listed_and_filtered(app: TestApp) {
    let ok = app
        .create_job(&json!({"name": "ok", "cron_expression": "0 0 1 1 *"}))
        .await;
    let failing = app
        .create_job(&json!({
            "name": "failing", "cron_expression": "0 0 1 1 *",
            "target": {"type": "http", "url": "http://127.0.0.1:1/hook"}
        }))
        .await;
    let first = settled(&app, &run_now(&app, &ok["id"]).await["id"]).await;
    let second = settled(&app, &run_now(&app, &failing["id"]).await["id"]).await;
    let third = settled(&app, &run_now(&app, &ok["id"]).await["id"]).await;
    let (a, b, c) = (
        first["id"].as_i64().unwrap(),
        second["id"].as_i64().unwrap(),
        third["id"].as_i64().unwrap(),
    );
    assert_eq!(second["status"], "failed");
    // Newest first, across jobs.
    assert_eq!(ids(&app, "").await, [c, b, a]);
    assert_eq!(ids(&app, &format!("?job_id={}", ok["id"])).await, [c, a]);
    assert_eq!(ids(&app, "?status=failed").await, [b]);
    assert_eq!(ids(&app, "?trigger=manual&status=succeeded").await, [c, a]);
    assert!(ids(&app, "?trigger=schedule").await.is_empty());
    let after = second["scheduled_for"].as_str().unwrap();
    assert_eq!(
        ids(&app, &format!("?scheduled_after={after}")).await,
        [c, b]
    );
    assert_eq!(ids(&app, &format!("?scheduled_before={after}")).await, [a]);
    let (_, page) = app.get_json("/scheduler/runs/?page_size=2").await;
    assert_eq!(page["count"], 3);
    assert!(page["next"].as_str().unwrap().contains("page=2"));
    let (status, body) = app.get_json("/scheduler/runs/?page=9").await;
    assert_eq!((status, body), (404, json!({"detail": "Invalid page."})));
    let (status, body) = app
        .get_json("/scheduler/runs/?status=exploded&job_id=0&trigger=x&scheduled_after=soon")
        .await;
    assert_eq!(status, 400);
    for field in ["status", "job_id", "trigger", "scheduled_after"] {
        assert!(body[field][0].is_string(), "{field}: {body}");
    }
    // A job's own runs take the same filters.
    let (_, page) = app
        .get_json(&format!("/scheduler/jobs/{}/runs/?status=failed", ok["id"]))
        .await;
    assert_eq!(page["count"], 0);
}

async fn jobs_show_their_last_status_and_runs_their_duration(app: TestApp) {
    let failing = app
        .create_job(&json!({
            "name": "refused", "cron_expression": "0 0 1 1 *",
            "target": {"type": "http", "url": "http://127.0.0.1:1/hook"}
        }))
        .await;
    assert_eq!(failing["last_status"], Value::Null);
    let started = run_now(&app, &failing["id"]).await;
    assert_eq!(started["duration_ms"], Value::Null);
    let done = settled(&app, &started["id"]).await;
    assert!(done["duration_ms"].as_i64().unwrap() >= 0, "{done}");
    let (_, job) = app
        .get_json(&format!("/scheduler/jobs/{}/", failing["id"]))
        .await;
    // A manual run sets last_run; its outcome is the job's last status.
    assert_eq!(job["last_run"], done["scheduled_for"]);
    assert_eq!(job["last_status"], "failed");
    assert!(
        job["last_error"].as_str().unwrap().contains("127.0.0.1:1"),
        "{job}"
    );
    let ok = app
        .create_job(&json!({"name": "fine", "cron_expression": "0 0 1 1 *"}))
        .await;
    settled(&app, &run_now(&app, &ok["id"]).await["id"]).await;
    let (_, job) = app
        .get_json(&format!("/scheduler/jobs/{}/", ok["id"]))
        .await;
    assert_eq!(
        (job["last_status"].as_str(), job["last_error"].clone()),
        (Some("succeeded"), Value::Null)
    );
}

async fn request_ids_are_echoed_or_made(app: TestApp) {
    let response = app
        .client
        .get(app.url("/scheduler/jobs/"))
        .header("X-Request-Id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-42");
    let response = app
        .client
        .get(app.url("/scheduler/jobs/999/"))
        .header("X-Request-Id", "not acceptable: spaces")
        .send()
        .await
        .unwrap();
    let made = response.headers()["x-request-id"].to_str().unwrap();
    let (prefix, counter) = made.split_once('-').expect("prefix-counter");
    assert_eq!(prefix.len(), 16, "{made}");
    assert!(counter.parse::<u64>().is_ok(), "{made}");
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => crate::support::sqlite_app, postgres => crate::support::postgres_app },
    tests: [
        runs_across_jobs_are_listed_and_filtered,
        jobs_show_their_last_status_and_runs_their_duration,
        request_ids_are_echoed_or_made,
    ],
}

/// Liveness fails when the dispatcher completes no tick within the bound (here its store
/// stops answering), and recovers with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_fails_while_the_dispatcher_stalls_and_recovers() {
    let Some(app) = crate::support::postgres_app_with(|config| {
        config.dispatcher = "on".into();
        config.poll_interval_ms = 100;
        config.health_tick_bound_seconds = 1;
    })
    .await
    else {
        return;
    };
    assert_eq!(
        app.get_json("/health").await,
        (200, json!({"status": "ok", "dispatcher": "ok"}))
    );
    let pg = app.postgres.as_ref().unwrap();
    pg.refuse_connections().await;
    let mut stalled = false;
    for _ in 0..100 {
        if app.get_json("/health").await.0 == 503 {
            stalled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stalled, "/health stayed 200 while the store was down");
    assert_eq!(
        app.get_json("/health").await,
        (
            503,
            json!({"status": "unavailable", "dispatcher": "stalled"})
        )
    );
    pg.accept_connections().await;
    let mut recovered = false;
    for _ in 0..200 {
        if app.get_json("/health").await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recovered, "/health did not recover");
}
