//! No request can panic the server into a dropped connection, no outage can make a request
//! hang, no number from a client is silently changed.

use std::time::{Duration, Instant};

use crate::support::TestApp;
use poem::{EndpointExt, Route, Server};
use scheduler_test_support::{ProxyMode, TcpProxy};
use serde_json::{Value, json};

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
    setups: { sqlite => crate::support::sqlite_app, postgres => crate::support::postgres_app },
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
    let mut config = crate::support::test_config(&through_proxy);
    config.request_timeout_ms = 2_000;
    config.db_acquire_timeout_ms = 1_000;
    let bound = Duration::from_millis(2_000 + 1_000);
    let app = crate::support::spawn(config).await;
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

/// A TCP connection to `addr` from the loopback address `from`.
async fn connect_from(from: &str, addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// How long until the server closes `stream` (a read returns 0 or fails), at most `bound`.
async fn closed_within(stream: &mut tokio::net::TcpStream, bound: Duration) -> Option<Duration> {
    use tokio::io::AsyncReadExt;
    let started = Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(
            bound.saturating_sub(started.elapsed()),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => return None,
        }
    }
}

/// Slowloris: connections that send half a request head are closed once the head timeout
/// passes (1 s here), while requests from another client keep their latency; and one client
/// cannot hold more than its share of connections: the one past it is closed on arrival.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_cut_off_and_each_client_holds_a_bounded_share() {
    use tokio::io::AsyncWriteExt;
    let Some(app) = crate::support::sqlite_app_with(|config| {
        config.header_timeout_ms = 1_000;
        config.max_connections_per_client = 60;
    })
    .await
    else {
        return;
    };
    let addr: std::net::SocketAddr = app.url("").trim_start_matches("http://").parse().unwrap();
    let honest = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let latency = |client: reqwest::Client| {
        let url = app.url("/health");
        async move {
            let mut worst = Duration::ZERO;
            for _ in 0..20 {
                let started = Instant::now();
                assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
                worst = worst.max(started.elapsed());
            }
            worst
        }
    };
    let before = latency(honest.clone()).await;
    // 50 half-sent requests from one address.
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = connect_from("127.0.0.1", addr).await;
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(stream);
    }
    let during = latency(honest.clone()).await;
    assert!(
        during < Duration::from_millis(500),
        "requests slowed from {before:?} to {during:?} during the attack"
    );
    for (n, stream) in slow.iter_mut().enumerate() {
        let closed = closed_within(stream, Duration::from_secs(5)).await;
        assert!(
            closed.is_some(),
            "half-sent connection {n} still open after 5 s"
        );
    }
    // The share: 60 silent connections from one address are held, the 61st is closed at once
    // (well before its head timeout), and another address is still served.
    let mut held = Vec::new();
    for _ in 0..60 {
        held.push(connect_from("127.0.0.3", addr).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = connect_from("127.0.0.3", addr).await;
    let closed = closed_within(&mut extra, Duration::from_millis(900)).await;
    assert!(closed.is_some(), "the connection past the share was kept");
    assert_eq!(
        honest
            .get(app.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    drop(held);
}
