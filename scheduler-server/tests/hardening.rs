//! No request can panic the server into a dropped connection, no outage can make a request
//! hang, no number from a client is silently changed.

// Tests: a broken expectation is a failure, and their numbers are small.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

mod support;

use std::time::{Duration, Instant};

use poem::{EndpointExt, Route, Server};
use scheduler_test_support::{ProxyMode, TcpProxy};
use serde_json::{Value, json};
use support::TestApp;

#[tokio::test]
async fn a_panicking_handler_is_answered_500_not_a_dropped_connection() {
    scheduler_server::telemetry::exporter();
    let boom = poem::endpoint::make(|_| async {
        if true {
            panic!("injected fault");
        }
        "unreachable"
    });
    let app = Route::new()
        .at("/boom", boom)
        .with(scheduler_server::middleware::catch_panics());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(async move { Server::new_with_acceptor(acceptor).run(app).await });
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let response = client
            .get(format!("http://{addr}/boom"))
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(response.status(), 500);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"detail": "Internal error"}));
    }
    let metrics = scheduler_server::telemetry::exporter().unwrap().render();
    assert!(
        metrics.contains("scheduler_http_panics_total 3"),
        "{metrics}"
    );
}

async fn numbers_in_parameters_round_trip_exactly(app: TestApp) {
    // Sent as raw text: serde_json's own types would round these before they leave.
    let body = r#"{"name": "exact", "cron_expression": "@daily", "parameters": {
        "big": 123456789012345678901234567890,
        "negative_big": -98765432109876543210987654321,
        "pi": 3.141592653589793238462643383279,
        "tenth": 0.1,
        "nested": [18446744073709551617, {"cents": 1234567890123.45}]
    }}"#;
    let response = app
        .client
        .post(app.url("/scheduler/jobs/"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created = response.text().await.unwrap();
    let id = serde_json::from_str::<Value>(&created).unwrap()["id"].clone();
    let fetched = app
        .client
        .get(app.url(&format!("/scheduler/jobs/{id}/")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for answer in [&created, &fetched] {
        for number in [
            "123456789012345678901234567890",
            "-98765432109876543210987654321",
            "3.141592653589793238462643383279",
            "0.1",
            "18446744073709551617",
            "1234567890123.45",
        ] {
            assert!(answer.contains(number), "{number} changed: {answer}");
        }
        assert!(!answer.contains("e+"), "{answer}");
    }
}

async fn years_outside_1_to_9999_are_refused(app: TestApp) {
    for year in ["0000-01-01T00:00:00Z", "+10000-01-01T00:00:00Z"] {
        let response = app
            .post_job(&json!({"name": "far", "cron_expression": "@daily", "start_time": year}))
            .await;
        assert_eq!(response.status(), 400, "{year}");
        let errors: Value = response.json().await.unwrap();
        assert!(
            errors["start_time"][0]
                .as_str()
                .unwrap()
                .starts_with("Datetime has wrong format"),
            "{errors}"
        );
    }
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => support::sqlite_app, postgres => support::postgres_app },
    tests: [
        numbers_in_parameters_round_trip_exactly,
        years_outside_1_to_9999_are_refused,
    ],
}

/// The database black-holed for 20 s (connections open, nothing answered): every request ends
/// within the request deadline plus a second, and the same server recovers afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_holed_database_cannot_make_a_request_hang() {
    let Some(pg) = scheduler_test_support::postgres().await else {
        return;
    };
    let target = pg
        .url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('@').nth(1))
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_string();
    let proxy = TcpProxy::start(target.clone()).await;
    let through_proxy = pg.url.replace(&target, &proxy.addr.to_string());
    let mut config = support::test_config(&through_proxy);
    config.request_timeout_ms = 2_000;
    config.db_acquire_timeout_ms = 1_000;
    let bound = Duration::from_millis(2_000 + 1_000);
    let app = support::spawn(config).await;
    let created: Value = app
        .post_job(&json!({"name": "held", "cron_expression": "@daily"}))
        .await
        .json()
        .await
        .unwrap();

    proxy.set_mode(ProxyMode::BlackHole);
    let until = Instant::now() + Duration::from_secs(20);
    let mut answered = 0;
    while Instant::now() < until {
        let mut requests = tokio::task::JoinSet::new();
        for n in 0..4 {
            let client = app.client.clone();
            let url = if n == 0 {
                app.url(&format!("/scheduler/jobs/{}/", created["id"]))
            } else {
                app.url(&format!("/scheduler/jobs/{n}{}/", answered))
            };
            requests.spawn(async move {
                let started = Instant::now();
                let status = client.get(url).send().await.unwrap().status().as_u16();
                (status, started.elapsed())
            });
        }
        while let Some(done) = requests.join_next().await {
            let (status, took) = done.unwrap();
            assert!(took <= bound, "a request took {took:?} (bound {bound:?})");
            assert!(matches!(status, 503 | 404), "status {status}");
            answered += 1;
        }
    }
    assert!(
        answered >= 8,
        "{answered} requests answered during the outage"
    );
    let metrics = scheduler_server::telemetry::exporter().unwrap().render();
    let abandoned: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("scheduler_http_deadline_exceeded_total "))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        abandoned > 0,
        "no request was counted as abandoned:\n{metrics}"
    );

    proxy.set_mode(ProxyMode::Up);
    let mut recovered = false;
    for _ in 0..60 {
        let (status, body) = app
            .get_json(&format!("/scheduler/jobs/{}/", created["id"]))
            .await;
        if status == 200 {
            assert_eq!(body["name"], "held");
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(recovered, "the server did not recover after the outage");
    drop(pg);
}
