//! The trust boundary around HTTP targets, over real HTTP on SQLite and PostgreSQL: the SSRF
//! guard refuses internal addresses at write time (no packet is ever sent to them), an
//! operator's allow list opens them, and target header values are write-only.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::TestApp;
use poem::http::StatusCode;
use serde_json::{Value, json};

/// Host names in /etc/hosts that map to a loopback address (besides `localhost`, which the
/// guard refuses by name): they show that a name is judged by what it resolves to.
fn loopback_names_from_hosts_file() -> Vec<String> {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    hosts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('#').next()?.split_whitespace();
            let address = fields.next()?;
            address
                .starts_with("127.")
                .then(|| fields.map(str::to_string).collect::<Vec<_>>())
        })
        .flatten()
        .filter(|name| !name.contains("localhost"))
        .collect()
}

async fn strict(configure: fn(&mut scheduler_server::Config)) -> [Option<TestApp>; 2] {
    [
        crate::support::sqlite_app_with(configure).await,
        crate::support::postgres_app_with(configure).await,
    ]
}

/// The default guard, resolving names at write time: the names used here are literals or
/// come from /etc/hosts (read from the file, no DNS query is sent).
fn no_allow_list(config: &mut scheduler_server::Config) {
    config.target_allow = String::new();
    config.target_resolve = true;
}

#[tokio::test]
async fn internal_targets_are_refused_at_write_time_on_both_backends() {
    let mut urls: Vec<String> = [
        "http://127.0.0.1/",
        "http://127.0.0.1:5432/",
        "http://127.8.9.10/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0x7f.0.0.1/",
        "http://0177.0.0.1/",
        "http://017700000001/",
        "http://127.1/",
        "http://0.0.0.0/",
        "http://0/",
        "http://[::1]/",
        "http://[::]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[0:0:0:0:0:ffff:7f00:1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:0:7f00:1]/",
        "http://[64:ff9b:1::7f00:1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
        "http://[2002:a00:1::]/",
        "http://[2001:db9::5efe:7f00:1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[fd12:3456::1]/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.0.1/",
        "http://100.64.0.1/",
        "http://224.0.0.251/",
        "http://[ff02::1]/",
        "http://localhost/",
        "http://localhost:8080/hook",
        "https://LOCALHOST./",
        "http://app.localhost/",
    ]
    .map(String::from)
    .to_vec();
    urls.extend(
        loopback_names_from_hosts_file()
            .into_iter()
            .map(|name| format!("http://{name}:8080/")),
    );
    assert!(urls.len() >= 20);
    for app in strict(no_allow_list).await.into_iter().flatten() {
        for url in &urls {
            let response = app
                .post_job(&json!({"name": "ssrf", "cron_expression": "@daily",
                    "target": {"type": "http", "url": url}}))
                .await;
            assert_eq!(response.status(), 400, "{url}");
            let errors: Value = response.json().await.unwrap();
            let why = errors["target"][0].as_str().unwrap_or_default();
            assert!(
                why.starts_with("\"url\" may not be reached: "),
                "{url}: {errors}"
            );
            assert!(why.contains("SCHEDULER_TARGET_ALLOW"), "{url}: {errors}");
        }
        // Nothing was stored.
        let (_, page) = app.get_json("/scheduler/jobs/").await;
        assert_eq!(page["count"], 0);
        // A PATCH to an internal address is refused the same way and changes nothing.
        let created: Value = app
            .post_job(&json!({"name": "public", "cron_expression": "@daily",
                "target": {"type": "http", "url": "https://93.184.216.34/hook"}}))
            .await
            .json()
            .await
            .unwrap();
        let path = format!("/scheduler/jobs/{}/", created["id"]);
        let response = app
            .client
            .patch(app.url(&path))
            .json(&json!({"target": {"type": "http", "url": "http://169.254.169.254/"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let (_, job) = app.get_json(&path).await;
        assert_eq!(job["target"]["url"], "https://93.184.216.34/hook");
        // Credentials belong in headers.
        let response = app
            .post_job(&json!({"name": "creds", "cron_expression": "@daily",
                "target": {"type": "http", "url": "https://user:pass@example.com/"}}))
            .await;
        assert_eq!(response.status(), 400);
        let errors: Value = response.json().await.unwrap();
        assert!(
            errors["target"][0]
                .as_str()
                .unwrap()
                .contains("must not contain credentials"),
            "{errors}"
        );
    }
}

/// A receiver recording the `Authorization` header of each delivery and answering with
/// `status`, echoing the header in its body (as a debugging receiver might).
async fn echoing_receiver(status: StatusCode) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let hook = poem::endpoint::make(move |request: poem::Request| {
        let recorded = recorded.clone();
        async move {
            let auth = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            recorded.lock().unwrap().push(auth.clone());
            poem::Response::builder()
                .status(status)
                .body(format!("you sent Authorization: {auth}"))
        }
    });
    (crate::support::serve_hook(hook).await, seen)
}

async fn run_and_settle(app: &TestApp, job_id: &Value) -> Value {
    let run = crate::support::run_now(app, job_id).await;
    crate::support::settled(app, &run["id"]).await
}

async fn header_values_are_write_only(app: TestApp) {
    const SECRET: &str = "Bearer s3cr3t-token-value";
    let (url, seen) = echoing_receiver(StatusCode::OK).await;
    let response = app
        .post_job(&json!({"name": "secret", "cron_expression": "@daily",
            "target": {"type": "http", "url": url, "headers": {"Authorization": SECRET}}}))
        .await;
    assert_eq!(response.status(), 201);
    let created_text = response.text().await.unwrap();
    assert!(!created_text.contains("s3cr3t"), "{created_text}");
    let created: Value = serde_json::from_str(&created_text).unwrap();
    assert_eq!(
        created["target"]["headers"],
        json!({"Authorization": "***"})
    );
    let path = format!("/scheduler/jobs/{}/", created["id"]);
    for listing in [path.as_str(), "/scheduler/jobs/"] {
        let text = app
            .client
            .get(app.url(listing))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains("s3cr3t"), "{listing}: {text}");
    }
    // The stored value is what is sent.
    assert_eq!(
        run_and_settle(&app, &created["id"]).await["status"],
        "succeeded"
    );
    // A PATCH of the target without `headers` keeps them.
    let response = app
        .client
        .patch(app.url(&path))
        .json(&json!({"target": {"type": "http", "url": url, "method": "POST"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        run_and_settle(&app, &created["id"]).await["status"],
        "succeeded"
    );
    // A PUT of what GET returned (the mask) keeps them too.
    let (_, mut job) = app.get_json(&path).await;
    job["description"] = json!("edited");
    let response = app
        .client
        .put(app.url(&path))
        .json(&job)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        run_and_settle(&app, &created["id"]).await["status"],
        "succeeded"
    );
    assert_eq!(*seen.lock().unwrap(), vec![SECRET; 3]);
    // A mask with nothing stored behind it is refused.
    let response = app
        .client
        .patch(app.url(&path))
        .json(&json!({"target": {"type": "http", "url": url, "headers": {"X-New": "***"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // A receiver echoing the secret into a failure: the run's error shows the mask.
    let (failing, _) = echoing_receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
    let created: Value = app
        .post_job(&json!({"name": "echo", "cron_expression": "@daily",
            "target": {"type": "http", "url": failing, "headers": {"Authorization": SECRET}}}))
        .await
        .json()
        .await
        .unwrap();
    let run = run_and_settle(&app, &created["id"]).await;
    assert_eq!(run["status"], "failed");
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("Authorization: ***"), "{error}");
    assert!(!error.contains("s3cr3t"), "{error}");
}

/// A receiver recording every request's headers (lowercase names, in order) and body length.
async fn header_receiver() -> (String, Arc<Mutex<Vec<Vec<(String, String)>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let hook = poem::endpoint::make(move |request: poem::Request| {
        let recorded = recorded.clone();
        async move {
            let headers = request
                .headers()
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_string(),
                        value.to_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            recorded.lock().unwrap().push(headers);
            "ok"
        }
    });
    (crate::support::serve_hook(hook).await, seen)
}

/// Headers that frame the request, are hop-by-hop, or that the scheduler sets for the
/// receiver to trust are refused on create, PUT and PATCH with a 400 naming the header; a
/// job stored with one before the rule fails its next run naming it, and nothing is sent.
async fn reserved_target_headers_are_refused_and_never_sent(app: TestApp) {
    let (url, seen) = header_receiver().await;
    let created: Value = app
        .post_job(&json!({"name": "fine", "cron_expression": "@daily",
            "target": {"type": "http", "url": url, "headers": {"X-Team": "a"}}}))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/scheduler/jobs/{}/", created["id"]);
    for name in [
        "Host",
        "Content-Length",
        "transfer-encoding",
        "Content-Type",
        "Connection",
        "Keep-Alive",
        "Upgrade",
        "TE",
        "Scheduler-Signature",
        "SCHEDULER-SIGNATURE",
        "Idempotency-Key",
        "traceparent",
    ] {
        let target = json!({"type": "http", "url": url, "headers": {name: "5"}});
        let full = json!({"name": format!("bad-{name}"), "cron_expression": "@daily",
            "target": target});
        for (method, uri, body) in [
            (
                reqwest::Method::POST,
                "/scheduler/jobs/".to_string(),
                full.clone(),
            ),
            (reqwest::Method::PUT, path.clone(), full.clone()),
            (
                reqwest::Method::PATCH,
                path.clone(),
                json!({"target": target}),
            ),
        ] {
            let response = app
                .client
                .request(method.clone(), app.url(&uri))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400, "{method} {name}");
            let errors: Value = response.json().await.unwrap();
            let text = errors["target"][0].as_str().unwrap_or_default();
            assert!(
                text.contains(&format!("\"{name}\"")),
                "{method} {name}: {errors}"
            );
        }
    }
    // Nothing above was stored.
    let (_, jobs) = app.get_json("/scheduler/jobs/").await;
    assert_eq!(jobs["count"], 1, "{jobs}");
    // A job stored with a smuggling header before the rule (written behind the API's back).
    app.execute_sql(&format!(
        "UPDATE jobs SET target = '{}' WHERE id = {}",
        json!({"type": "http", "url": url, "method": "POST",
            "headers": {"Content-Length": "5", "X-Team": "a"}}),
        created["id"]
    ))
    .await;
    let (status, stored) = app.get_json(&path).await;
    assert_eq!(status, 200, "the job still loads: {stored}");
    let run = run_and_settle(&app, &created["id"]).await;
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("\"Content-Length\""), "{error}");
    assert!(seen.lock().unwrap().is_empty(), "a request was sent");
    // Edited to drop it, the job delivers again, with the scheduler's own framing.
    let response = app
        .client
        .patch(app.url(&path))
        .json(&json!({"target": {"type": "http", "url": url, "headers": {"X-Team": "a"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        run_and_settle(&app, &created["id"]).await["status"],
        "succeeded"
    );
    let deliveries = seen.lock().unwrap();
    assert_eq!(deliveries.len(), 1);
    let count = |name: &str| deliveries[0].iter().filter(|(n, _)| n == name).count();
    assert_eq!(count("scheduler-signature"), 1);
    assert_eq!(count("idempotency-key"), 1);
    assert_eq!(count("content-type"), 1);
    assert_eq!(count("x-team"), 1);
}

/// On a fresh install, the first deliveries of several jobs at once (each needing the
/// tenant's first signing secret) all verify with the one secret `signing-secrets` lists.
async fn the_first_deliveries_of_a_fresh_install_verify(app: TestApp) {
    let (url, seen) = recording_receiver().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let job: Value = app
            .post_job(
                &json!({"name": format!("first-{n}"), "cron_expression": "@daily",
                "target": {"type": "http", "url": url}}),
            )
            .await
            .json()
            .await
            .unwrap();
        ids.push(job["id"].clone());
    }
    let runs = futures_util::future::join_all(ids.iter().map(|id| run_and_settle(&app, id))).await;
    assert!(
        runs.iter().all(|run| run["status"] == "succeeded"),
        "{runs:?}"
    );
    let secrets = current_secrets(&app).await;
    assert_eq!(secrets.len(), 1, "{secrets:?}");
    let now = chrono::Utc::now().timestamp();
    let deliveries = seen.lock().unwrap();
    assert_eq!(deliveries.len(), 3);
    for (header, body) in deliveries.iter() {
        assert_eq!(header.matches("v1=").count(), 1, "{header}");
        assert!(
            scheduler_core::verify(header, &secrets[0], body, now, 300),
            "{header}"
        );
    }
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => crate::support::sqlite_app, postgres => crate::support::postgres_app },
    tests: [
        the_first_deliveries_of_a_fresh_install_verify,
        reserved_target_headers_are_refused_and_never_sent,
        header_values_are_write_only,
        every_delivery_is_signed_and_rotation_overlaps,
    ],
}

async fn next_link(app: &TestApp) -> String {
    let response = app
        .client
        .get(app.url("/scheduler/jobs/?page_size=1"))
        .header("X-Forwarded-Host", "evil.example")
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    let page: Value = response.json().await.unwrap();
    page["next"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn forwarding_headers_are_believed_only_from_trusted_proxies() {
    let untrusted = crate::support::sqlite_app().await.unwrap();
    let trusting = crate::support::sqlite_app_with(|c| c.trusted_proxies = "127.0.0.0/8".into())
        .await
        .unwrap();
    for app in [&untrusted, &trusting] {
        for name in ["a", "b"] {
            assert_eq!(
                app.post_job(&json!({"name": name, "cron_expression": "@daily"}))
                    .await
                    .status(),
                201
            );
        }
    }
    let host = untrusted.base.trim_start_matches("http://");
    assert_eq!(
        next_link(&untrusted).await,
        format!("http://{host}/scheduler/jobs/?page=2&page_size=1")
    );
    assert_eq!(
        next_link(&trusting).await,
        "https://evil.example/scheduler/jobs/?page=2&page_size=1"
    );
}

/// A receiver recording each delivery's `Scheduler-Signature` header and exact body.
async fn recording_receiver() -> (String, Arc<Mutex<Vec<(String, Vec<u8>)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let hook = poem::endpoint::make(move |mut request: poem::Request| {
        let recorded = recorded.clone();
        async move {
            let header = request
                .headers()
                .get("scheduler-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let body = request.take_body().into_vec().await.unwrap_or_default();
            recorded.lock().unwrap().push((header, body));
            "ok"
        }
    });
    (crate::support::serve_hook(hook).await, seen)
}

async fn current_secrets(app: &TestApp) -> Vec<String> {
    let (status, secrets) = app.get_json("/scheduler/signing-secrets/").await;
    assert_eq!(status, 200);
    secrets
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["secret"].as_str().unwrap().to_string())
        .collect()
}

async fn every_delivery_is_signed_and_rotation_overlaps(app: TestApp) {
    let (url, seen) = recording_receiver().await;
    let job: Value = app
        .post_job(&json!({"name": "signed", "cron_expression": "@daily",
            "target": {"type": "http", "url": url}}))
        .await
        .json()
        .await
        .unwrap();
    let old = current_secrets(&app).await;
    assert_eq!(old.len(), 1);
    assert!(old[0].starts_with("whsec_"));
    assert_eq!(
        run_and_settle(&app, &job["id"]).await["status"],
        "succeeded"
    );
    let now = chrono::Utc::now().timestamp();
    {
        let deliveries = seen.lock().unwrap();
        let (header, body) = &deliveries[0];
        assert!(header.starts_with("t="), "{header}");
        assert!(scheduler_core::verify(header, &old[0], body, now, 300));
        // A tampered body, another secret, or a replay an hour later fail verification.
        let mut tampered = body.clone();
        tampered[2] ^= 1;
        assert!(!scheduler_core::verify(
            header, &old[0], &tampered, now, 300
        ));
        assert!(!scheduler_core::verify(
            header,
            "whsec_forged",
            body,
            now,
            300
        ));
        assert!(!scheduler_core::verify(
            header,
            &old[0],
            body,
            now + 3600,
            300
        ));
        let delivered: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(delivered["job_id"], job["id"]);
    }
    // Rotate with an hour of overlap: the next delivery verifies under either secret.
    let response = app
        .client
        .post(app.url("/scheduler/signing-secrets/rotate/"))
        .json(&json!({"overlap_seconds": 3600}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let new: Value = response.json().await.unwrap();
    let new = new["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old[0]);
    assert_eq!(
        current_secrets(&app).await,
        vec![new.clone(), old[0].clone()]
    );
    // Deliveries pick a rotation up within the executor's 10 s memory; wait it out.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(
        run_and_settle(&app, &job["id"]).await["status"],
        "succeeded"
    );
    let deliveries = seen.lock().unwrap();
    let (header, body) = &deliveries[1];
    let now = chrono::Utc::now().timestamp();
    assert!(
        scheduler_core::verify(header, &new, body, now, 300),
        "{header}"
    );
    assert!(
        scheduler_core::verify(header, &old[0], body, now, 300),
        "{header}"
    );
}
