//! Runs over HTTP: policies and targets on jobs, manual runs, run history, and failures
//! recorded with their cause.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::TestApp;
use poem::{handler, http::StatusCode};
use serde_json::{Value, json};

use crate::support::{run_now, settled};

#[handler]
fn broken() -> (StatusCode, String) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("database exploded {}", "x".repeat(3000)),
    )
}

/// A receiver that answers every POST with a 500 and a long body.
async fn failing_receiver() -> String {
    crate::support::serve_hook(broken).await
}

/// A receiver whose every answer is a 500 with a poison body — NUL characters and invalid
/// UTF-8 — counting the deliveries it gets.
async fn poison_receiver() -> (String, Arc<AtomicUsize>) {
    let deliveries = Arc::new(AtomicUsize::new(0));
    let counted = deliveries.clone();
    let hook = poem::endpoint::make(move |_| {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            poem::Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .body(b"boom \x00 null \xff\xfe not utf-8 \x00".to_vec())
        }
    });
    (crate::support::serve_hook(hook).await, deliveries)
}

async fn a_poison_response_fails_the_run_after_exactly_one_delivery(app: TestApp) {
    let (url, deliveries) = poison_receiver().await;
    let job = app
        .create_job(&json!({
            "name": "poisoned", "cron_expression": "0 0 1 1 *",
            "target": {"type": "http", "url": url}
        }))
        .await;
    let run = run_now(&app, &job["id"]).await;
    let done = settled(&app, &run["id"]).await;
    assert_eq!(done["status"], "failed", "{done}");
    let error = done["error"].as_str().unwrap();
    assert!(error.starts_with("HTTP 500: boom"), "{error}");
    assert!(
        error.contains('\u{fffd}') && !error.contains('\u{0}'),
        "{error:?}"
    );
    // Three leases later nothing was delivered again and no other attempt exists.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(deliveries.load(Ordering::SeqCst), 1);
    let (_, runs) = app
        .get_json(&format!("/scheduler/jobs/{}/runs/", job["id"]))
        .await;
    assert_eq!(runs["count"], 1, "{runs}");
    assert_eq!(runs["results"][0]["status"], "failed");
}

mod poison {
    use super::*;

    scheduler_test_support::backend_tests! {
        attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
        setups: { sqlite => crate::support::sqlite_dispatching, postgres => crate::support::postgres_dispatching },
        tests: [a_poison_response_fails_the_run_after_exactly_one_delivery],
    }
}

async fn policies_and_targets_are_job_fields(app: TestApp) {
    let job = app.create_job(&json!({
        "name": "with policies", "cron_expression": "@hourly",
        "misfire_policy": "skip", "misfire_grace_seconds": 5, "concurrency_policy": "forbid",
        "max_retries": 3, "retry_backoff_seconds": 2, "timeout_seconds": 30,
        "target": {"type": "http", "url": "https://example.com/hook", "headers": {"X-Token": "t"}}
    })).await;
    assert_eq!(job["misfire_policy"], "skip");
    assert_eq!(job["concurrency_policy"], "forbid");
    assert_eq!(
        (job["max_retries"].as_i64(), job["timeout_seconds"].as_i64()),
        (Some(3), Some(30))
    );
    assert_eq!(
        job["target"],
        json!({"type": "http", "url": "https://example.com/hook", "method": "POST", "headers": {"X-Token": "***"}})
    );

    let path = format!("/scheduler/jobs/{}/", job["id"]);
    let response = app
        .client
        .patch(app.url(&path))
        .json(&json!({"target": null, "max_retries": 0}))
        .send()
        .await
        .unwrap();
    let patched: Value = response.json().await.unwrap();
    assert_eq!(
        (patched["target"].clone(), patched["max_retries"].as_i64()),
        (Value::Null, Some(0))
    );

    let response = app.post_job(&json!({
        "name": "bad", "cron_expression": "@hourly", "misfire_policy": "sometimes",
        "timeout_seconds": 0, "max_retries": "many", "target": {"type": "http", "url": "ftp://example.com"}
    })).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    for field in ["misfire_policy", "timeout_seconds", "max_retries", "target"] {
        assert!(body[field][0].is_string(), "{field}: {body}");
    }
    assert!(body["target"][0].as_str().unwrap().contains("http"));
}

async fn a_manual_run_executes_and_is_recorded(app: TestApp) {
    let job = app.create_job(&json!({"name": "manual", "cron_expression": "0 0 1 1 *", "parameters": {"action": "report"}})).await;
    let run = run_now(&app, &job["id"]).await;
    assert_eq!(
        (run["trigger"].as_str(), run["attempt"].as_i64()),
        (Some("manual"), Some(1))
    );
    let done = settled(&app, &run["id"]).await;
    assert_eq!(done["status"], "succeeded");
    assert!(done["finished_at"].as_str().unwrap().ends_with('Z'));
    // The schedule is unchanged.
    let (_, after) = app
        .get_json(&format!("/scheduler/jobs/{}/", job["id"]))
        .await;
    assert_eq!(after["next_run"], job["next_run"]);

    let second = run_now(&app, &job["id"]).await;
    settled(&app, &second["id"]).await;
    let (status, page) = app
        .get_json(&format!("/scheduler/jobs/{}/runs/", job["id"]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["count"], 2);
    assert_eq!(page["results"][0]["id"], second["id"], "newest first");
    // Every form of a run names its job.
    assert_eq!(run["job_name"], "manual");
    assert_eq!(done["job_name"], "manual");
    assert_eq!(page["results"][1]["job_name"], "manual");
    let (_, across) = app.get_json("/scheduler/runs/").await;
    assert!(
        across["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["job_name"] == "manual"),
        "{across}"
    );
    let (_, filtered) = app
        .get_json(&format!(
            "/scheduler/jobs/{}/runs/?status=failed",
            job["id"]
        ))
        .await;
    assert_eq!(filtered["count"], 0);
    let (status, body) = app
        .get_json(&format!(
            "/scheduler/jobs/{}/runs/?status=exploded&page=x",
            job["id"]
        ))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["status"][0].is_string() && body["page"][0].is_string(),
        "{body}"
    );
    assert_eq!(
        app.get_json("/scheduler/jobs/424242/runs/").await,
        (404, json!({"error": "Job not found"}))
    );
    assert_eq!(
        app.get_json("/scheduler/runs/424242/").await,
        (404, json!({"error": "Run not found"}))
    );
    assert_eq!(
        app.client
            .post(app.url("/scheduler/jobs/424242/run/"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

async fn failing_targets_are_recorded_with_their_cause(app: TestApp) {
    let url = failing_receiver().await;
    let job = app.create_job(&json!({"name": "broken target", "cron_expression": "@daily", "target": {"type": "http", "url": url}})).await;
    let done = settled(&app, &run_now(&app, &job["id"]).await["id"]).await;
    assert_eq!(done["status"], "failed");
    let error = done["error"].as_str().unwrap();
    assert!(error.starts_with("HTTP 500: database exploded"), "{error}");
    assert!(error.len() <= 1024 + 20, "first 1 KiB of the body only");

    // Nothing listens on a port just released.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let job = app.create_job(&json!({"name": "nobody home", "cron_expression": "@daily", "target": {"type": "http", "url": format!("http://{closed}/hook")}})).await;
    let done = settled(&app, &run_now(&app, &job["id"]).await["id"]).await;
    assert_eq!(done["status"], "failed");
    assert!(done["error"].as_str().unwrap().contains("failed"), "{done}");
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => crate::support::sqlite_app, postgres => crate::support::postgres_app },
    tests: [
    policies_and_targets_are_job_fields,
    a_manual_run_executes_and_is_recorded,
    failing_targets_are_recorded_with_their_cause,
],
}

/// The server built with a program's own typed handler (`Server::builder().handler(...)`): a
/// job whose `parameters.action` names it runs that Rust code with its parameters typed, and a
/// job of the wrong shape fails naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_a_programs_own_typed_handlers() {
    #[derive(serde::Deserialize)]
    struct Greeting {
        who: String,
    }
    let file = scheduler_test_support::TestSqlite::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(i64, String)>();
    let server = scheduler_server::Server::builder()
        .config(crate::support::test_config(&file.url))
        .handler("greet", move |ctx: scheduler::Ctx, greeting: Greeting| {
            let tx = tx.clone();
            async move {
                tx.send((ctx.job_id.0, greeting.who))?;
                Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
            }
        })
        .build()
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let create = |parameters: Value| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let job: Value = client
                .post(format!("{base}/scheduler/jobs/"))
                .json(&json!({"name": parameters.to_string(), "cron_expression": "0 9 * * *", "parameters": parameters}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let run: Value = client
                .post(format!("{base}/scheduler/jobs/{}/run/", job["id"]))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (job, run)
        }
    };
    let (job, _) = create(json!({"action": "greet", "who": "embedder"})).await;
    let (job_id, who) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (job_id, who.as_str()),
        (job["id"].as_i64().unwrap(), "embedder")
    );

    let (_, run) = create(json!({"action": "greet", "who": 5})).await;
    let mut failed = Value::Null;
    for _ in 0..100 {
        failed = client
            .get(format!("{base}/scheduler/runs/{}/", run["id"]))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if failed["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid parameters: who: invalid type: "),
        "{failed}"
    );
    let _ = stop.send(());
}
