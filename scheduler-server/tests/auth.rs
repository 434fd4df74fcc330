//! The front door over real HTTP: keys, scopes, the three auth modes, revocation seen by a
//! second replica within a second, and the `keys` command.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::TestApp;

/// Creates a key over HTTP with `as_key` (or, before the first key, from loopback).
async fn create_key(app: &TestApp, as_key: Option<&str>, name: &str, scope: &str) -> Value {
    let mut request = reqwest::Client::new()
        .post(app.url("/scheduler/keys/"))
        .json(&json!({"name": name, "scope": scope}));
    if let Some(key) = as_key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 201, "{name}");
    response.json().await.unwrap()
}

async fn status(app: &TestApp, method: reqwest::Method, path: &str, key: Option<&str>) -> u16 {
    let mut request = reqwest::Client::new().request(method.clone(), app.url(path));
    if method == reqwest::Method::POST {
        request = request
            .json(&json!({"name": format!("job-{}", uuid_like()), "cron_expression": "@daily"}));
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap().status().as_u16()
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

async fn keys_scopes_and_the_auto_mode(app: TestApp) {
    use reqwest::Method;
    // Before any key: loopback is served.
    assert_eq!(
        status(&app, Method::GET, "/scheduler/jobs/", None).await,
        200
    );
    let admin = create_key(&app, None, "ops", "admin").await;
    let admin_key = admin["key"].as_str().unwrap().to_string();
    assert!(admin_key.starts_with("sk_") && admin_key.len() >= 3 + 32);
    assert!(admin_key.starts_with(admin["prefix"].as_str().unwrap()));
    assert_eq!(admin["tenant"], "default");
    // Now every request needs one.
    let response = reqwest::get(app.url("/scheduler/jobs/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"detail": "Authentication credentials were not provided."})
    );
    let response = reqwest::Client::new()
        .get(app.url("/scheduler/jobs/"))
        .bearer_auth("sk_0000000000000000000000000000000000000000000000000000000000000000")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"detail": "Invalid token."}));
    // The probes, the document and Swagger UI stay open.
    for open in [
        "/health",
        "/ready",
        "/openapi.json",
        "/swagger/",
        "/metrics",
    ] {
        assert_eq!(status(&app, Method::GET, open, None).await, 200, "{open}");
    }
    // X-API-Key works as well as Bearer.
    let response = reqwest::Client::new()
        .get(app.url("/scheduler/jobs/"))
        .header("X-API-Key", &admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let reader = create_key(&app, Some(&admin_key), "dashboard", "read").await;
    let reader_key = reader["key"].as_str().unwrap().to_string();
    let writer = create_key(&app, Some(&admin_key), "ci", "write").await;
    let writer_key = writer["key"].as_str().unwrap().to_string();
    assert_eq!(
        status(&app, Method::GET, "/scheduler/jobs/", Some(&reader_key)).await,
        200
    );
    assert_eq!(
        status(&app, Method::POST, "/scheduler/jobs/", Some(&reader_key)).await,
        403
    );
    assert_eq!(
        status(&app, Method::POST, "/scheduler/jobs/", Some(&writer_key)).await,
        201
    );
    assert_eq!(
        status(&app, Method::GET, "/scheduler/keys/", Some(&writer_key)).await,
        403
    );
    let response = reqwest::Client::new()
        .post(app.url("/scheduler/jobs/"))
        .bearer_auth(&reader_key)
        .json(&json!({"name": "x", "cron_expression": "@daily"}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"detail": "You do not have permission to perform this action."})
    );
    // An unknown scope is refused.
    let response = reqwest::Client::new()
        .post(app.url("/scheduler/keys/"))
        .bearer_auth(&admin_key)
        .json(&json!({"name": "bad", "scope": "root"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // A NUL in a key's name is refused naming the field (PostgreSQL cannot store it).
    let response = reqwest::Client::new()
        .post(app.url("/scheduler/keys/"))
        .bearer_auth(&admin_key)
        .json(&json!({"name": "bad\u{0}name", "scope": "read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"name": ["Null characters are not allowed."]}));
    // The list never holds a secret.
    let listed = reqwest::Client::new()
        .get(app.url("/scheduler/keys/"))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for secret in [&admin_key, &reader_key, &writer_key] {
        assert!(!listed.contains(&secret[12..]), "{listed}");
    }
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    // Revoked: refused at once on this replica.
    let response = reqwest::Client::new()
        .delete(app.url(&format!("/scheduler/keys/{}/", writer["id"])))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        status(&app, Method::GET, "/scheduler/jobs/", Some(&writer_key)).await,
        401
    );
    let response = reqwest::Client::new()
        .delete(app.url(&format!("/scheduler/keys/{}/", writer["id"])))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => support::sqlite_app, postgres => support::postgres_app },
    tests: [keys_scopes_and_the_auto_mode],
}

#[tokio::test]
async fn auto_mode_refuses_remote_clients_before_the_first_key() {
    // Loopback is the only peer a test has; a trusted proxy forwarding for a remote client
    // stands for one.
    let app = support::sqlite_app_with(|c| c.trusted_proxies = "127.0.0.1".into())
        .await
        .unwrap();
    let response = reqwest::Client::new()
        .get(app.url("/scheduler/jobs/"))
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("scheduler-server keys create"),
        "{body}"
    );
}

#[tokio::test]
async fn keys_mode_needs_a_key_even_on_loopback_and_off_needs_none() {
    let keyed = support::sqlite_app_with(|c| c.auth = scheduler_server::AuthMode::Keys)
        .await
        .unwrap();
    assert_eq!(
        reqwest::get(keyed.url("/scheduler/jobs/"))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        reqwest::get(keyed.url("/health")).await.unwrap().status(),
        200
    );
    let open = support::sqlite_app_with(|c| c.auth = scheduler_server::AuthMode::Off)
        .await
        .unwrap();
    let key = create_key(&open, None, "k", "admin").await;
    assert!(key["key"].as_str().is_some());
    // Off ignores keys altogether: still served without one.
    assert_eq!(
        reqwest::get(open.url("/scheduler/jobs/"))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_revoked_key_is_refused_by_another_replica_within_a_second() {
    let Some(pg) = scheduler_test_support::postgres().await else {
        return;
    };
    let a = support::spawn(support::test_config(&pg.url)).await;
    let b = support::spawn(support::test_config(&pg.url)).await;
    let admin = create_key(&a, None, "ops", "admin").await;
    let admin_key = admin["key"].as_str().unwrap();
    let user = create_key(&a, Some(admin_key), "user", "read").await;
    let user_key = user["key"].as_str().unwrap();
    // B knows the key (and caches the answer).
    for _ in 0..3 {
        assert_eq!(
            status(&b, reqwest::Method::GET, "/scheduler/jobs/", Some(user_key)).await,
            200
        );
    }
    let response = reqwest::Client::new()
        .delete(a.url(&format!("/scheduler/keys/{}/", user["id"])))
        .bearer_auth(admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let revoked = Instant::now();
    loop {
        let code = status(&b, reqwest::Method::GET, "/scheduler/jobs/", Some(user_key)).await;
        if code == 401 {
            break;
        }
        assert_eq!(code, 200);
        assert!(
            revoked.elapsed() < Duration::from_secs(1),
            "replica B still accepts the revoked key after {:?}",
            revoked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "replica B refused the revoked key after {:?}",
        revoked.elapsed()
    );
}

#[test]
fn the_keys_command_creates_lists_and_revokes() {
    let db = scheduler_test_support::TestSqlite::new();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_scheduler-server"))
            .args(args)
            .env("DATABASE_URL", &db.url)
            .env_remove("REDIS_URL")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let created = run(&[
        "keys", "create", "--tenant", "team-a", "--scope", "write", "--name", "ci",
    ]);
    assert!(created.status.success(), "{created:?}");
    let key = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    assert!(key.starts_with("sk_") && key.len() == 67, "{key}");
    let listed = run(&["keys", "list"]);
    assert!(listed.status.success());
    let table = String::from_utf8(listed.stdout).unwrap();
    assert!(table.contains("team-a") && table.contains("ci") && table.contains(&key[..11]));
    assert!(!table.contains(&key[11..]), "{table}");
    let bad = run(&["keys", "create", "--scope", "root"]);
    assert_eq!(bad.status.code(), Some(2));
    let id = table
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert!(run(&["keys", "revoke", &id]).status.success());
    let again = run(&["keys", "revoke", &id]);
    assert_eq!(again.status.code(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_rate_budget_per_key_through_redis() {
    let Some(pg) = scheduler_test_support::postgres().await else {
        return;
    };
    let Some(test_redis) = scheduler_test_support::redis().await else {
        return;
    };
    let redis = test_redis.url.clone();
    let prefix = test_redis.prefix.clone();
    let replica = |pg: String| {
        let mut config = support::test_config(&pg);
        config.redis_url = Some(redis.clone());
        config.redis_prefix = prefix.clone();
        config.rate_limit = 20.0;
        config.rate_burst = 5;
        support::spawn(config)
    };
    let a = replica(pg.url.clone()).await;
    let b = replica(pg.url.clone()).await;
    let admin = create_key(&a, None, "ops", "admin").await;
    let key = admin["key"].as_str().unwrap().to_string();
    let started = Instant::now();
    let window = Duration::from_secs(2);
    let mut tasks = tokio::task::JoinSet::new();
    for base in [
        a.base.clone(),
        b.base.clone(),
        a.base.clone(),
        b.base.clone(),
    ] {
        let key = key.clone();
        tasks.spawn(async move {
            let client = reqwest::Client::new();
            let (mut allowed, mut limited) = (0u32, 0u32);
            while started.elapsed() < window {
                let response = client
                    .get(format!("{base}/scheduler/jobs/"))
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap();
                match response.status().as_u16() {
                    200 => allowed += 1,
                    429 => {
                        let retry: u64 = response.headers()["retry-after"]
                            .to_str()
                            .unwrap()
                            .parse()
                            .unwrap();
                        assert!(retry >= 1);
                        let body: Value = response.json().await.unwrap();
                        assert!(
                            body["detail"]
                                .as_str()
                                .unwrap()
                                .starts_with("Request was throttled."),
                            "{body}"
                        );
                        limited += 1;
                    }
                    other => panic!("unexpected {other}"),
                }
            }
            (allowed, limited)
        });
    }
    let (mut allowed, mut limited) = (0, 0);
    while let Some(done) = tasks.join_next().await {
        let (a, l) = done.unwrap();
        allowed += a;
        limited += l;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let budget = 5.0 + 20.0 * elapsed;
    println!("allowed {allowed}, limited {limited}, budget {budget:.1} over {elapsed:.2} s");
    assert!(
        f64::from(allowed) <= budget + 1.0,
        "allowed {allowed} > budget {budget}"
    );
    assert!(
        f64::from(allowed) >= 0.8 * 20.0 * 2.0,
        "allowed only {allowed}"
    );
    assert!(limited > 0);
}
