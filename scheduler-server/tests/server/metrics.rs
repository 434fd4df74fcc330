//! `/metrics` after a known scenario: exact counters and histogram counts. The metrics recorder
//! is per process, so no other server may run beside it: the test runs itself again in a child
//! process of this binary, alone, and passes when that run passed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::{TestApp, run_now};
use poem::{Route, Server, http::StatusCode, post};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// A receiver answering 500 to its first call and 200 afterwards.
async fn flaky_receiver() -> String {
    let calls = Arc::new(AtomicUsize::new(0));
    let hook = poem::endpoint::make(move |_| {
        let calls = calls.clone();
        async move {
            let status = if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            };
            poem::Response::builder().status(status).finish()
        }
    });
    serve(hook).await
}

/// A receiver that answers only once `release` is notified.
async fn held_receiver(release: Arc<Notify>) -> String {
    let hook = poem::endpoint::make(move |_| {
        let release = release.clone();
        async move {
            release.notified().await;
            poem::Response::builder().status(StatusCode::OK).finish()
        }
    });
    serve(hook).await
}

async fn serve(hook: impl poem::Endpoint + 'static) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(async move {
        Server::new_with_acceptor(acceptor)
            .run(Route::new().at("/hook", post(hook)))
            .await
    });
    format!("http://{addr}/hook")
}

/// Waits until the job's runs, newest first, satisfy `done`.
async fn wait_for_runs(app: &TestApp, id: i64, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..400 {
        let (_, page) = app.get_json(&format!("/scheduler/jobs/{id}/runs/")).await;
        let runs = page["results"].as_array().cloned().unwrap_or_default();
        if done(&runs) {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("job {id}: runs never reached the expected state");
}

fn settled(runs: &[Value], count: usize) -> bool {
    runs.len() == count && runs.iter().all(|r| r["status"] != "running")
}

/// `name{labels}` → value, for every sample line of a Prometheus text answer.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            Some((key.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// Set in the child process that runs the scenario alone.
const ALONE: &str = "SCHEDULER_TEST_METRICS_ALONE";

#[test]
fn metrics_count_a_known_scenario_exactly() {
    if std::env::var_os(ALONE).is_some() {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(scenario());
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "metrics::metrics_count_a_known_scenario_exactly",
            "--test-threads",
            "1",
            "--nocapture",
        ])
        .env(ALONE, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the scenario failed in its own process:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "the child process ran no test:\n{stdout}\n{stderr}"
    );
}

/// The scenario and its exact counts, in a process of its own.
async fn scenario() {
    let Some(app) = crate::support::postgres_app_with(|config| {
        config.dispatcher = "on".into();
        config.poll_interval_ms = 100;
    })
    .await
    else {
        return;
    };
    let db = Database::connect(app.postgres.as_ref().unwrap().url.clone())
        .await
        .unwrap();
    // Before anything happened, every family is there: zero counters, empty histograms.
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fresh = samples(&text);
    for (key, expected) in [
        ("scheduler_fire_lateness_seconds_count", 0.0),
        ("scheduler_fire_lateness_seconds_bucket{le=\"1\"}", 0.0),
        ("scheduler_run_duration_seconds_count", 0.0),
        ("scheduler_claim_errors_total", 0.0),
        ("scheduler_fires_skipped_total{reason=\"misfire\"}", 0.0),
        ("scheduler_fires_skipped_total{reason=\"forbid\"}", 0.0),
        ("scheduler_runs_abandoned_total{outcome=\"rerun\"}", 0.0),
        ("scheduler_runs_abandoned_total{outcome=\"given_up\"}", 0.0),
        ("scheduler_runs_pruned_total", 0.0),
        ("scheduler_http_panics_total", 0.0),
        ("scheduler_http_deadline_exceeded_total", 0.0),
        (
            "scheduler_runs_total{status=\"failed\",trigger=\"schedule\"}",
            0.0,
        ),
        (
            "scheduler_runs_total{status=\"timed_out\",trigger=\"manual\"}",
            0.0,
        ),
        ("scheduler_runs_in_flight", 0.0),
    ] {
        assert_eq!(
            fresh.get(key).copied(),
            Some(expected),
            "{key} at start\n{text}"
        );
    }
    let set_due = |id: i64, ago: &str| {
        format!("UPDATE jobs SET next_run = now() - interval '{ago}' WHERE id = {id}")
    };

    // Two successes by hand.
    let plain = app
        .create_job(&json!({"name": "plain", "cron_expression": "0 0 1 1 *"}))
        .await["id"]
        .as_i64()
        .unwrap();
    run_now(&app, &json!(plain)).await;
    run_now(&app, &json!(plain)).await;
    wait_for_runs(&app, plain, |runs| settled(runs, 2)).await;

    // One failure, retried once successfully.
    let flaky = app
        .create_job(&json!({
            "name": "flaky", "cron_expression": "0 0 1 1 *", "max_retries": 1,
            "retry_backoff_seconds": 1, "target": {"type": "http", "url": flaky_receiver().await}
        }))
        .await["id"]
        .as_i64()
        .unwrap();
    run_now(&app, &json!(flaky)).await;
    let runs = wait_for_runs(&app, flaky, |runs| settled(runs, 2)).await;
    assert_eq!(
        (runs[0]["status"].as_str(), runs[0]["trigger"].as_str()),
        (Some("succeeded"), Some("retry"))
    );
    assert_eq!(runs[1]["status"], "failed");

    // One misfire skipped: due an hour ago, with no grace.
    let missed = app
        .create_job(&json!({
            "name": "missed", "cron_expression": "0 0 1 1 *",
            "misfire_policy": "skip", "misfire_grace_seconds": 0
        }))
        .await["id"]
        .as_i64()
        .unwrap();
    db.execute_unprepared(&set_due(missed, "1 hour"))
        .await
        .unwrap();
    wait_for_runs(&app, missed, |runs| settled(runs, 1)).await;

    // One forbid skip: due while its manual run is held by the receiver.
    let release = Arc::new(Notify::new());
    let busy = app
        .create_job(&json!({
            "name": "busy", "cron_expression": "0 0 1 1 *", "concurrency_policy": "forbid",
            "target": {"type": "http", "url": held_receiver(release.clone()).await}
        }))
        .await["id"]
        .as_i64()
        .unwrap();
    run_now(&app, &json!(busy)).await;
    db.execute_unprepared(&set_due(busy, "1 second"))
        .await
        .unwrap();
    wait_for_runs(&app, busy, |runs| {
        runs.iter().any(|r| r["status"] == "skipped")
    })
    .await;
    release.notify_waiters();
    wait_for_runs(&app, busy, |runs| settled(runs, 2)).await;

    // One scheduled fire on time.
    let due = app
        .create_job(&json!({"name": "due", "cron_expression": "0 0 1 1 *"}))
        .await["id"]
        .as_i64()
        .unwrap();
    db.execute_unprepared(&set_due(due, "1 second"))
        .await
        .unwrap();
    wait_for_runs(&app, due, |runs| settled(runs, 1)).await;

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = response.text().await.unwrap();
    let metrics = samples(&text);
    let value = |key: &str| metrics.get(key).copied().unwrap_or(0.0);
    for (key, expected) in [
        (
            "scheduler_runs_total{status=\"succeeded\",trigger=\"manual\"}",
            3.0,
        ),
        (
            "scheduler_runs_total{status=\"failed\",trigger=\"manual\"}",
            1.0,
        ),
        (
            "scheduler_runs_total{status=\"succeeded\",trigger=\"retry\"}",
            1.0,
        ),
        (
            "scheduler_runs_total{status=\"succeeded\",trigger=\"schedule\"}",
            1.0,
        ),
        (
            "scheduler_runs_total{status=\"skipped\",trigger=\"schedule\"}",
            2.0,
        ),
        ("scheduler_fires_skipped_total{reason=\"misfire\"}", 1.0),
        ("scheduler_fires_skipped_total{reason=\"forbid\"}", 1.0),
        ("scheduler_run_duration_seconds_count", 6.0),
        ("scheduler_fire_lateness_seconds_count", 1.0),
        (
            "scheduler_tenant_fire_lateness_seconds_count{tenant=\"default\"}",
            1.0,
        ),
        ("scheduler_runs_in_flight", 0.0),
        ("scheduler_dispatcher_up", 1.0),
        ("scheduler_claim_errors_total", 0.0),
    ] {
        assert_eq!(value(key), expected, "{key}\n{text}");
    }
    // Lateness: the fire was due one second before the claim, so it is in the 2 s bucket.
    assert_eq!(
        value("scheduler_fire_lateness_seconds_bucket{le=\"2\"}"),
        1.0,
        "{text}"
    );
    assert!(value("scheduler_last_claim_timestamp_seconds") > 1.7e9);
    // HTTP metrics carry route templates, never raw ids.
    assert_eq!(
        value(
            "scheduler_http_requests_total{route=\"/scheduler/jobs/{id}/run\",method=\"POST\",status=\"202\"}"
        ),
        4.0,
        "{text}"
    );
    assert!(
        !text.contains(&format!("/scheduler/jobs/{plain}/")),
        "{text}"
    );
    assert!(value("scheduler_db_pool_connections{state=\"idle\"}") >= 1.0);
    // PostgreSQL without Redis has no cache: no cache metrics.
    assert!(!text.contains("scheduler_cache_"), "{text}");
}
