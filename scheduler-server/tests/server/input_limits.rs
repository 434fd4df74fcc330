//! Input the stores cannot keep is refused the same way on every backend, before it reaches
//! them: NUL characters, over-long expressions; one bad request never fails its neighbours;
//! numbers from outside cannot overflow; undeclared methods are 405 with `Allow`.

use crate::support::TestApp;
use serde_json::{Value, json};

const NUL_REFUSED: &str = "Null characters are not allowed.";

/// A valid cron expression of at least `len` characters: hour, day and weekday lists.
fn long_expression(len: usize) -> String {
    let hours = (0..24).map(|h| h.to_string()).collect::<Vec<_>>().join(",");
    let days = (1..32).map(|d| d.to_string()).collect::<Vec<_>>().join(",");
    let mut expression = format!("0 {hours} {days} * 1");
    while expression.len() < len {
        expression.push_str(",2");
    }
    expression
}

async fn job_count(app: &TestApp) -> u64 {
    let (status, page) = app.get_json("/scheduler/jobs/").await;
    assert_eq!(status, 200);
    page["count"].as_u64().expect("a count")
}

async fn nul_characters_are_refused_in_every_text_field(app: TestApp) {
    let base = json!({"name": "clean", "cron_expression": "0 9 * * 1"});
    for (field, value) in [
        ("name", json!("bad\u{0}name")),
        ("description", json!("a\u{0}b")),
        ("cron_expression", json!("0 9 * * 1\u{0}")),
        ("timezone", json!("UTC\u{0}")),
        ("misfire_policy", json!("skip\u{0}")),
        ("parameters", json!({"nested": [{"text": "x\u{0}y"}]})),
        ("parameters", json!({"key\u{0}": 1})),
        (
            "target",
            json!({"type": "http", "url": "https://example.com/hook", "headers": {"X-Token": "a\u{0}"}}),
        ),
    ] {
        let mut body = base.clone();
        body[field] = value.clone();
        let response = app.post_job(&body).await;
        assert_eq!(response.status(), 400, "{field}: {value}");
        let errors: Value = response.json().await.unwrap();
        assert_eq!(errors, json!({ field: [NUL_REFUSED] }), "{field}: {value}");
    }
    assert_eq!(job_count(&app).await, 0, "nothing was written");

    let created: Value = app.post_job(&base).await.json().await.unwrap();
    let path = app.url(&format!("/scheduler/jobs/{}/", created["id"]));
    let response = app
        .client
        .patch(&path)
        .json(&json!({"description": "x\u{0}"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let errors: Value = response.json().await.unwrap();
    assert_eq!(errors, json!({"description": [NUL_REFUSED]}));
}

async fn an_expression_longer_than_the_column_is_a_400_naming_it(app: TestApp) {
    let response = app
        .post_job(&json!({"name": "long", "cron_expression": long_expression(289)}))
        .await;
    assert_eq!(response.status(), 400);
    let errors: Value = response.json().await.unwrap();
    assert_eq!(
        errors,
        json!({"cron_expression": ["Ensure this field has no more than 255 characters."]})
    );
    let at_limit = long_expression(250);
    assert!(at_limit.len() <= 255);
    let response = app
        .post_job(&json!({"name": "at limit", "cron_expression": at_limit}))
        .await;
    assert_eq!(response.status(), 201);
}

async fn one_bad_create_among_forty_concurrent_fails_alone(app: TestApp) {
    let app = std::sync::Arc::new(app);
    let mut creates = tokio::task::JoinSet::new();
    for n in 0..40 {
        let app = app.clone();
        creates.spawn(async move {
            let expression = if n == 17 {
                long_expression(289)
            } else {
                "*/5 * * * *".to_string()
            };
            let body = json!({"name": format!("concurrent-{n}"), "cron_expression": expression});
            let response = app.post_job(&body).await;
            let status = response.status().as_u16();
            (n, status, response.json::<Value>().await.unwrap())
        });
    }
    let mut created = 0;
    while let Some(done) = creates.join_next().await {
        let (n, status, body) = done.unwrap();
        if n == 17 {
            assert_eq!(status, 400, "{body}");
            assert!(body["cron_expression"][0].is_string(), "{body}");
        } else {
            assert_eq!(status, 201, "create {n}: {body}");
            created += 1;
        }
    }
    assert_eq!(created, 39);
    assert_eq!(job_count(&app).await, 39);
}

async fn page_numbers_that_overflow_an_offset_are_answered(app: TestApp) {
    let job: Value = app
        .post_job(&json!({"name": "one", "cron_expression": "@daily"}))
        .await
        .json()
        .await
        .unwrap();
    for query in [
        "page=9223372036854775807",
        "page=4611686018427387904&page_size=4",
        "page=43027910519939536&page_size=298",
    ] {
        let (status, body) = app.get_json(&format!("/scheduler/jobs/?{query}")).await;
        assert_eq!(
            (status, body),
            (404, json!({"detail": "Invalid page."})),
            "{query}"
        );
        for path in [
            format!("/scheduler/jobs/{}/runs/", job["id"]),
            "/scheduler/runs/".into(),
        ] {
            let (status, body) = app.get_json(&format!("{path}?{query}")).await;
            assert_eq!(
                (status, body),
                (404, json!({"detail": "Invalid page."})),
                "{path}?{query}"
            );
        }
    }
    let (status, body) = app
        .get_json("/scheduler/jobs/?page=9223372036854775808")
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["page"][0], "A valid integer is required.");
}

async fn undeclared_methods_are_405_with_allow(app: TestApp) {
    for (method, path, allow) in [
        ("DELETE", "/scheduler/jobs/", "GET, HEAD, POST"),
        (
            "POST",
            "/scheduler/jobs/1/",
            "DELETE, GET, HEAD, PATCH, PUT",
        ),
        ("GET", "/scheduler/jobs/1/pause/", "POST"),
        ("TRACE", "/health", "GET, HEAD"),
        ("PUT", "/scheduler/runs/3/", "GET, HEAD"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(
            response.headers()["allow"].to_str().unwrap(),
            allow,
            "{method} {path}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"detail": "Method not allowed."}));
    }
}

/// Numbers in `parameters` come back, and are delivered, with the sign, digits and magnitude
/// they were sent with: `-0.0`, `1e-400`, `1e+400`, a 23-digit integer, `1.10`.
async fn numbers_in_parameters_are_kept_as_sent(app: TestApp) {
    const PARAMETERS: &str =
        r#"{"a":-0.0,"b":1e-400,"c":1e+400,"d":12345678901234567890123,"e":1.10,"f":-0}"#;
    let body = format!(
        r#"{{"name": "numbers", "cron_expression": "@daily", "parameters": {PARAMETERS}}}"#
    );
    let created = app
        .client
        .post(app.url("/scheduler/jobs/"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created = created.text().await.unwrap();
    assert!(
        created.contains(&format!("\"parameters\":{PARAMETERS}")),
        "{created}"
    );
    let id = serde_json::from_str::<Value>(&created).unwrap()["id"].clone();
    // Read back from the store (PostgreSQL has no cache here; SQLite's is dropped by a PATCH).
    let patched = app
        .client
        .patch(app.url(&format!("/scheduler/jobs/{id}/")))
        .json(&json!({"description": "read again"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let text = app
        .client
        .get(app.url(&format!("/scheduler/jobs/{id}/")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(&format!("\"parameters\":{PARAMETERS}")),
        "{text}"
    );
}

/// A JSON body that repeats a key anywhere is refused with a 400 naming the key (the last
/// one no longer silently wins), on every endpoint that takes a body.
async fn bodies_that_repeat_a_key_are_refused_naming_it(app: TestApp) {
    let job = app
        .post_job(&json!({"name": "once", "cron_expression": "@daily"}))
        .await;
    let id = job.json::<Value>().await.unwrap()["id"].clone();
    for (method, path, body, field, says) in [
        (
            reqwest::Method::POST,
            "/scheduler/jobs/".to_string(),
            r#"{"name": "a", "cron_expression": "@daily", "name": "b"}"#,
            "name",
            "more than once in the body",
        ),
        (
            reqwest::Method::POST,
            "/scheduler/jobs/".to_string(),
            r#"{"name": "c", "cron_expression": "@daily", "parameters": {"a": 1, "a": 2}}"#,
            "parameters",
            "\"a\" appears more than once in parameters",
        ),
        (
            reqwest::Method::PUT,
            format!("/scheduler/jobs/{id}/"),
            r#"{"name": "d", "cron_expression": "@daily", "parameters": {"x": [{"k": 1, "\u006b": 2}]}}"#,
            "parameters",
            "\"k\" appears more than once in parameters.x[0]",
        ),
        (
            reqwest::Method::PATCH,
            format!("/scheduler/jobs/{id}/"),
            r#"{"description": "x", "description": "y"}"#,
            "description",
            "more than once in the body",
        ),
        (
            reqwest::Method::POST,
            "/scheduler/keys/".to_string(),
            r#"{"name": "k", "scope": "read", "scope": "admin"}"#,
            "scope",
            "more than once in the body",
        ),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{method} {path} {body}");
        let errors: Value = response.json().await.unwrap();
        let message = errors[field][0].as_str().unwrap_or_default();
        assert!(message.contains(says), "{method} {path}: {errors}");
    }
    // Nothing was written.
    let (_, jobs) = app.get_json("/scheduler/jobs/").await;
    assert_eq!(jobs["count"], 1, "{jobs}");
    let (_, job) = app.get_json(&format!("/scheduler/jobs/{id}/")).await;
    assert_eq!(job["name"], "once");
    assert_eq!(job["description"], "");
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => crate::support::sqlite_app, postgres => crate::support::postgres_app },
    tests: [
        numbers_in_parameters_are_kept_as_sent,
        bodies_that_repeat_a_key_are_refused_naming_it,
        nul_characters_are_refused_in_every_text_field,
        an_expression_longer_than_the_column_is_a_400_naming_it,
        one_bad_create_among_forty_concurrent_fails_alone,
        page_numbers_that_overflow_an_offset_are_answered,
        undeclared_methods_are_405_with_allow,
    ],
}
