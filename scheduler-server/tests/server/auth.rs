//! The front door over real HTTP: keys, scopes, the three auth modes, revocation seen by a
//! second replica within a second, and the `keys` command.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

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
    // The trail: the keys made and revoked through the API, by whom, never their secrets;
    // the refused second revoke left no entry. Only an admin key reads it.
    let trail: Value = reqwest::Client::new()
        .get(app.url("/scheduler/audit/?kind=key"))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries: Vec<(String, String, String)> = trail["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["subject_name"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let row = |action: &str, name: &str, actor: &str| {
        (action.to_string(), name.to_string(), actor.to_string())
    };
    assert_eq!(
        entries,
        [
            row("delete", "ci", "ops"),
            row("create", "ci", "ops"),
            row("create", "dashboard", "ops"),
            row("create", "ops", "local"),
        ],
        "{trail}"
    );
    for secret in [&admin_key, &reader_key, &writer_key] {
        assert!(!trail.to_string().contains(&secret[12..]), "{trail}");
    }
    assert_eq!(
        status(&app, Method::GET, "/scheduler/audit/", Some(&reader_key)).await,
        403
    );
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => crate::support::sqlite_app, postgres => crate::support::postgres_app },
    tests: [keys_scopes_and_the_auto_mode],
}

#[tokio::test]
async fn auto_mode_refuses_remote_clients_before_the_first_key() {
    // Loopback is the only peer a test has; a trusted proxy forwarding for a remote client
    // stands for one.
    let app = crate::support::sqlite_app_with(|c| c.trusted_proxies = "127.0.0.1".into())
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
    let keyed = crate::support::sqlite_app_with(|c| c.auth = scheduler_server::AuthMode::Keys)
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
    let open = crate::support::sqlite_app_with(|c| c.auth = scheduler_server::AuthMode::Off)
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
    let a = crate::support::spawn(crate::support::test_config(&pg.url)).await;
    let b = crate::support::spawn(crate::support::test_config(&pg.url)).await;
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
    // The server's database exists (the commands never make one).
    assert!(run(&["migrate"]).status.success());
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
        let mut config = crate::support::test_config(&pg);
        config.redis_url = Some(redis.clone());
        config.redis_prefix = prefix.clone();
        config.rate_limit = 20.0;
        config.rate_burst = 5;
        crate::support::spawn(config)
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

/// Sends one HTTP/1.1 request with `path` exactly as given (what `curl --path-as-is` sends:
/// no client normalises `//`, `/./` or `%2e` away) and returns the answer's status.
async fn raw_status(
    addr: &str,
    method: &str,
    path: &str,
    header: Option<(&str, String)>,
    body: &str,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some((name, value)) = header {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line for {method} {path}: {text:?}"))
}

/// Spellings of `path` an attacker tries: repeated slashes at each position, trailing ones,
/// dot segments, percent-encoded dots and slashes, another case.
fn spellings(path: &str) -> Vec<String> {
    let trimmed = path.trim_end_matches('/');
    let segments: Vec<&str> = trimmed.split('/').filter(|s| !s.is_empty()).collect();
    let mut out = vec![format!("{trimmed}/"), trimmed.to_string()];
    for at in 0..segments.len() {
        let (before, after) = segments.split_at(at);
        let join = |parts: &[&str]| parts.join("/");
        out.push(
            format!(
                "/{}{}//{}/",
                join(before),
                if before.is_empty() { "" } else { "/" },
                join(after)
            )
            .replace("///", "//"),
        );
        out.push(format!(
            "/{}{}./{}",
            join(before),
            if before.is_empty() { "" } else { "/" },
            join(after)
        ));
        out.push(format!(
            "/{}{}%2e/{}",
            join(before),
            if before.is_empty() { "" } else { "/" },
            join(after)
        ));
    }
    out.push(format!("//{}", segments.join("/")));
    out.push(format!("{trimmed}//"));
    out.push(format!("///{}///", segments.join("///")));
    out.push(format!("/{}", segments.join("%2F")));
    out.push(format!("/{}", segments.join("%2f")));
    out.push(trimmed.to_uppercase());
    out.push(
        segments
            .iter()
            .map(|s| {
                let mut c = s.chars();
                c.next()
                    .map(|f| format!("/{}{}", f.to_uppercase(), c.as_str()))
                    .unwrap_or_default()
            })
            .collect(),
    );
    out.push(format!("{trimmed}/."));
    out.push(format!("{trimmed}/%2e/"));
    out.sort();
    out.dedup();
    out
}

/// The header forms a key can come in, in several spellings and cases.
fn key_headers(key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Authorization", format!("Bearer {key}")),
        ("authorization", format!("bearer {key}")),
        ("AUTHORIZATION", format!("Bearer {key}")),
        ("X-API-Key", key.to_string()),
        ("x-api-key", key.to_string()),
    ]
}

/// What the served document says an operation needs; `None` for the open probes.
fn declared_scope(operation: &Value) -> Option<&str> {
    operation.get("x-required-scope").and_then(Value::as_str)
}

/// The scope bypass from the outside: every write and admin operation of the served document,
/// called with a key one scope too low (and every operation without a key) under every path
/// spelling, every key header form and `HEAD`, never succeeds — the scope belongs to the
/// endpoint that handles the request, not to a reading of its path. And every operation of
/// the document declares its scope, so a new endpoint cannot be added without one.
#[tokio::test]
async fn no_path_spelling_reaches_an_operation_with_a_weaker_scope_check() {
    let Some(app) = crate::support::sqlite_app_with(|config| config.rate_limit = 0.0).await else {
        return;
    };
    let admin = create_key(&app, None, "ops", "admin").await;
    let admin_key = admin["key"].as_str().unwrap().to_string();
    let writer = create_key(&app, Some(&admin_key), "writer", "write").await;
    let write_key = writer["key"].as_str().unwrap().to_string();
    let reader = create_key(&app, Some(&admin_key), "reader", "read").await;
    let read_key = reader["key"].as_str().unwrap().to_string();
    let client = reqwest::Client::new();
    let job: Value = client
        .post(app.url("/scheduler/jobs/"))
        .bearer_auth(&admin_key)
        .json(&json!({"name": "target", "cron_expression": "0 9 * * 1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job_id = job["id"].as_i64().unwrap();
    let run: Value = client
        .post(app.url(&format!("/scheduler/jobs/{job_id}/run/")))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run_id = run["id"].as_i64().unwrap();
    let calendar = client
        .post(app.url("/scheduler/calendars/"))
        .bearer_auth(&admin_key)
        .json(&json!({"name": "closures", "dates": [{"date": "2030-01-01"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(calendar.status(), 201);
    // Every `{name}` path is tried with "closures": a channel of that name too.
    let channel = client
        .post(app.url("/scheduler/channels/"))
        .bearer_auth(&admin_key)
        .json(&json!({"name": "closures", "kind": "email", "to": ["ops@example.com"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(channel.status(), 201);
    let secrets_before: Value = client
        .get(app.url("/scheduler/signing-secrets/"))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let document: Value = reqwest::get(app.url("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let addr = app.url("").trim_start_matches("http://").to_string();
    let body = json!({"name": "bypass", "cron_expression": "@daily", "scope": "admin",
        "overlap_seconds": 0})
    .to_string();
    let open = ["/health", "/ready", "/metrics"];
    let mut checked = 0;
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            let Some(scope) = declared_scope(operation) else {
                assert!(
                    open.contains(&template.as_str()),
                    "{method} {template} declares no scope"
                );
                assert_eq!(operation["security"], json!([]), "{template}");
                continue;
            };
            assert_eq!(
                operation["security"],
                json!([{"bearerKey": []}, {"apiKeyHeader": []}]),
                "{method} {template}"
            );
            let id = if template.starts_with("/scheduler/keys") {
                writer["id"].as_i64().unwrap()
            } else if template.starts_with("/scheduler/runs") {
                run_id
            } else {
                job_id
            };
            let path = template
                .replace("{id}", &id.to_string())
                .replace("{name}", "closures");
            let too_low: Vec<&str> = match scope {
                "read" => vec![],
                "write" => vec![&read_key],
                "admin" => vec![&read_key, &write_key],
                other => panic!("{method} {template}: unknown scope {other}"),
            };
            let mut methods = vec![method.clone()];
            if method == "GET" {
                methods.push("HEAD".into());
            }
            for spelling in spellings(&path) {
                for method in &methods {
                    let sends_body = ["POST", "PUT", "PATCH"].contains(&method.as_str());
                    let body = if sends_body { body.as_str() } else { "" };
                    let status = raw_status(&addr, method, &spelling, None, body).await;
                    assert!(
                        !(200..400).contains(&status),
                        "{method} {spelling} without a key answered {status}"
                    );
                    checked += 1;
                    for key in &too_low {
                        for header in key_headers(key) {
                            let status =
                                raw_status(&addr, method, &spelling, Some(header.clone()), body)
                                    .await;
                            assert!(
                                !(200..400).contains(&status),
                                "{method} {spelling} with a key below {scope} ({}) answered \
                                 {status}",
                                header.0
                            );
                            checked += 1;
                        }
                    }
                }
            }
            // The proper spelling with a key of the declared scope is not refused (so the
            // refusals above are the scope check's, not a broken route's).
            if method == "GET" {
                let key = match scope {
                    "read" => &read_key,
                    "write" => &write_key,
                    _ => &admin_key,
                };
                let status = raw_status(
                    &addr,
                    "GET",
                    &format!("{path}/"),
                    Some(("Authorization", format!("Bearer {key}"))),
                    "",
                )
                .await;
                assert!(
                    ![401, 403, 404, 405].contains(&status),
                    "GET {path}/ with a {scope} key answered {status}"
                );
            }
        }
    }
    assert!(checked > 1_000, "only {checked} requests were tried");
    // Nothing was changed by any of them.
    let keys: Value = client
        .get(app.url("/scheduler/keys/"))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.iter().all(|k| k["revoked_at"].is_null()), "{keys:?}");
    let secrets_after: Value = client
        .get(app.url("/scheduler/signing-secrets/"))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(secrets_after, secrets_before);
    let jobs: Value = client
        .get(app.url("/scheduler/jobs/"))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jobs["count"], 1, "{jobs}");
    assert_eq!(jobs["results"][0]["updated_at"], job["updated_at"]);
    let calendars: Value = client
        .get(app.url("/scheduler/calendars/"))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calendars["count"], 1, "{calendars}");
    assert_eq!(
        calendars["results"][0]["dates"],
        json!([{"from": "2030-01-01", "to": "2030-01-01", "yearly": false, "label": null}])
    );
}

/// Sends a dashboard form post with `path` exactly as given, the session cookie holding `key`
/// and a valid CSRF token and origin; returns the status and the `Location` header.
async fn raw_form_post(addr: &str, path: &str, key: &str, form: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let token = "0123456789abcdef0123456789abcdef";
    let body = format!("csrf={token}&{form}");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nOrigin: http://{addr}\r\n\
         Cookie: scheduler_key={key}; scheduler_csrf={token}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let location = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .unwrap_or_default()
        .to_string();
    (status, location)
}

/// The dashboard's write routes, posted by a read-only session under every path spelling,
/// never change anything: each is refused (403 page, 404, or the login page for a spelling
/// outside `/ui/` that the session cookie does not reach).
#[tokio::test]
async fn no_path_spelling_lets_a_read_only_session_change_a_job_on_the_dashboard() {
    let Some(app) = crate::support::sqlite_app_with(|config| config.rate_limit = 0.0).await else {
        return;
    };
    let admin = create_key(&app, None, "ops", "admin").await;
    let admin_key = admin["key"].as_str().unwrap().to_string();
    let reader = create_key(&app, Some(&admin_key), "reader", "read").await;
    let read_key = reader["key"].as_str().unwrap().to_string();
    let client = reqwest::Client::new();
    let job: Value = client
        .post(app.url("/scheduler/jobs/"))
        .bearer_auth(&admin_key)
        .json(&json!({"name": "target", "cron_expression": "0 9 * * 1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = job["id"].as_i64().unwrap();
    let addr = app.url("").trim_start_matches("http://").to_string();
    let form = "name=changed&cron_expression=%40daily&timezone=UTC";
    let mut tried = 0;
    for route in [
        "/ui/jobs".to_string(),
        format!("/ui/jobs/{id}"),
        format!("/ui/jobs/{id}/run"),
        format!("/ui/jobs/{id}/pause"),
        format!("/ui/jobs/{id}/delete"),
    ] {
        for spelling in spellings(&route) {
            let (status, location) = raw_form_post(&addr, &spelling, &read_key, form).await;
            let refused =
                !(200..400).contains(&status) || (status == 303 && location == "/ui/login");
            assert!(refused, "POST {spelling} answered {status} {location}");
            tried += 1;
        }
    }
    assert!(tried > 50);
    let (status, after) =
        app_get(&client, &app, &format!("/scheduler/jobs/{id}/"), &admin_key).await;
    assert_eq!(status, 200);
    assert_eq!(after["updated_at"], job["updated_at"]);
    assert_eq!(after["is_active"], true);
    let (_, runs) = app_get(
        &client,
        &app,
        &format!("/scheduler/jobs/{id}/runs/"),
        &admin_key,
    )
    .await;
    assert_eq!(runs["count"], 0, "{runs}");
    let (_, jobs) = app_get(&client, &app, "/scheduler/jobs/", &admin_key).await;
    assert_eq!(jobs["count"], 1, "{jobs}");
    // The same post with a write session is accepted (so the refusals above are the scope's).
    let writer = create_key(&app, Some(&admin_key), "writer", "write").await;
    let write_key = writer["key"].as_str().unwrap();
    let (status, location) =
        raw_form_post(&addr, &format!("/ui/jobs/{id}/pause"), write_key, "").await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("/ui/jobs/{id}?done=paused").as_str())
    );
    let (_, after) = app_get(&client, &app, &format!("/scheduler/jobs/{id}/"), &admin_key).await;
    assert_eq!(after["is_active"], false);
}

async fn app_get(client: &reqwest::Client, app: &TestApp, path: &str, key: &str) -> (u16, Value) {
    let response = client
        .get(app.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Runs `scheduler-server` with `args` in `dir`, `DATABASE_URL` set to `url` (or unset), at
/// the default log level.
fn server_command(dir: &std::path::Path, url: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scheduler-server"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("REDIS_URL")
        .env_remove("RUST_LOG")
        .env_remove("DATABASE_URL");
    if let Some(url) = url {
        command.env("DATABASE_URL", url);
    }
    command.output().unwrap()
}

/// `KEY=$(scheduler-server keys create ...)` captures the key and nothing else, at the
/// default log level, on both backends (the migrator's log lines go to stderr), and
/// `--output json` prints one JSON document; the key then works against a server.
#[tokio::test]
async fn the_keys_command_prints_only_the_key_on_stdout_on_both_backends() {
    let dir = tempfile_dir("keys-stdout");
    let sqlite = scheduler_test_support::TestSqlite::new();
    // The server made its database first (migrations are logged).
    let migrated = server_command(&dir, Some(&sqlite.url), &["migrate"]);
    assert!(migrated.status.success(), "{migrated:?}");
    assert!(
        migrated.stdout.is_empty(),
        "migrate wrote to stdout: {migrated:?}"
    );
    let pg = scheduler_test_support::postgres().await;
    let mut urls = vec![sqlite.url.clone()];
    urls.extend(pg.as_ref().map(|pg| pg.url.clone()));
    for url in &urls {
        let created = server_command(&dir, Some(url), &["keys", "create", "--name", "ops"]);
        assert!(created.status.success(), "{created:?}");
        let stdout = String::from_utf8(created.stdout).unwrap();
        let key = stdout.strip_suffix('\n').unwrap_or(&stdout);
        assert!(
            key.starts_with("sk_")
                && key.len() == 67
                && key[3..].bytes().all(|b| b.is_ascii_hexdigit()),
            "{url}: stdout is not the key alone: {stdout:?}"
        );
        let stderr = String::from_utf8(created.stderr).unwrap();
        assert!(stderr.contains("using the database"), "{stderr}");
        let json = server_command(
            &dir,
            Some(url),
            &[
                "keys", "create", "--name", "ci", "--scope", "read", "--output", "json",
            ],
        );
        assert!(json.status.success(), "{json:?}");
        let record: Value = serde_json::from_slice(&json.stdout).expect("one JSON document");
        assert_eq!(record["name"], "ci");
        assert_eq!(record["scope"], "read");
        assert!(record["key"].as_str().unwrap().starts_with("sk_"));
        let listed = server_command(&dir, Some(url), &["keys", "list", "--output", "json"]);
        let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 2);
        assert!(!listed.to_string().contains(&key[11..]));
        let secrets = server_command(&dir, Some(url), &["signing", "show", "--output", "json"]);
        let secrets: Value = serde_json::from_slice(&secrets.stdout).unwrap();
        assert!(secrets[0]["secret"].as_str().unwrap().starts_with("whsec_"));
    }
    // The captured key works against a server on that database.
    let app = crate::support::spawn(crate::support::test_config(&sqlite.url)).await;
    let created = server_command(&dir, Some(&sqlite.url), &["keys", "create", "--name", "x"]);
    let key = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    let answer = reqwest::Client::new()
        .get(app.url("/scheduler/jobs/"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

/// `keys` and `signing` run where no server database is (the default URL is relative) refuse
/// and name the file they looked for, instead of making a new empty database whose keys no
/// server reads.
#[test]
fn the_keys_command_refuses_to_make_a_new_database() {
    let dir = tempfile_dir("keys-elsewhere");
    for args in [
        &["keys", "create"][..],
        &["keys", "list"][..],
        &["signing", "show"][..],
    ] {
        let out = server_command(&dir, None, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8(out.stderr).unwrap();
        let expected = dir.join("scheduler.db");
        assert!(
            stderr.contains(&format!("there is no database at {}", expected.display())),
            "{stderr}"
        );
        assert!(!expected.exists(), "{args:?} made a database");
    }
}

/// A fresh directory under the system's temporary one.
fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("scheduler-{name}-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A client whose requests come from `ip` (any 127.x address is this machine's loopback).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(Some(ip.parse().unwrap()))
        .build()
        .unwrap()
}

/// Sends `key` from `client` and returns the status and `Retry-After`.
async fn try_key(client: &reqwest::Client, app: &TestApp, key: &str) -> (u16, Option<u64>) {
    let response = client
        .get(app.url("/scheduler/jobs/"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (response.status().as_u16(), retry)
}

const WRONG_KEY: &str = "sk_1111111111111111111111111111111111111111111111111111111111111111";

/// Failed authentication costs: past the budget (here 5 a minute) an address gets 429 with
/// `Retry-After` for every key it brings, valid or not, while another address is served as
/// before; failed dashboard logins count the same way.
#[tokio::test]
async fn failed_authentication_is_throttled_per_client_address() {
    let Some(app) = crate::support::sqlite_app_with(|config| {
        config.auth_failures_per_minute = 5;
        config.rate_limit = 0.0;
    })
    .await
    else {
        return;
    };
    let admin = create_key(&app, None, "ops", "admin").await;
    let key = admin["key"].as_str().unwrap().to_string();
    let attacker = client_from("127.0.0.1");
    for n in 0..5 {
        assert_eq!(
            try_key(&attacker, &app, WRONG_KEY).await.0,
            401,
            "attempt {n}"
        );
    }
    let (status, retry) = try_key(&attacker, &app, WRONG_KEY).await;
    assert_eq!(status, 429);
    assert!(retry.is_some_and(|s| (1..=60).contains(&s)), "{retry:?}");
    // Blocked: even a valid key from that address waits.
    assert_eq!(try_key(&attacker, &app, &key).await.0, 429);
    // Another address is not affected, and its valid key is served.
    let other = client_from("127.0.0.2");
    assert_eq!(try_key(&other, &app, &key).await.0, 200);
    assert_eq!(try_key(&other, &app, WRONG_KEY).await.0, 401);
    // Failed dashboard logins count against their address too.
    let browser = client_from("127.0.0.3");
    let addr = app.url("").trim_start_matches("http://").to_string();
    let token = "0123456789abcdef0123456789abcdef";
    let login = |key: &str| {
        browser
            .post(app.url("/ui/login"))
            .header("origin", format!("http://{addr}"))
            .header("cookie", format!("scheduler_csrf={token}"))
            .form(&[("csrf", token), ("key", key)])
            .send()
    };
    for n in 0..5 {
        assert_eq!(login(WRONG_KEY).await.unwrap().status(), 401, "login {n}");
    }
    assert_eq!(login(WRONG_KEY).await.unwrap().status(), 429);
    let refused = login(&key).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Too many failed attempts")
    );
}

/// The failure budget of an address is shared by the replicas through Redis: failures at one
/// count at the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_failed_authentication_budget_through_redis() {
    let Some(pg) = scheduler_test_support::postgres().await else {
        return;
    };
    let Some(test_redis) = scheduler_test_support::redis().await else {
        return;
    };
    let replica = |url: String| {
        let mut config = crate::support::test_config(&url);
        config.redis_url = Some(test_redis.url.clone());
        config.redis_prefix = test_redis.prefix.clone();
        config.auth_failures_per_minute = 4;
        config.rate_limit = 0.0;
        crate::support::spawn(config)
    };
    let a = replica(pg.url.clone()).await;
    let b = replica(pg.url.clone()).await;
    create_key(&a, None, "ops", "admin").await;
    let client = client_from("127.0.0.4");
    for app in [&a, &b, &a, &b] {
        assert_eq!(try_key(&client, app, WRONG_KEY).await.0, 401);
    }
    // The fifth failure, on either replica, is over the shared budget.
    assert_eq!(try_key(&client, &b, WRONG_KEY).await.0, 429);
    assert_eq!(try_key(&client, &a, WRONG_KEY).await.0, 429);
}
