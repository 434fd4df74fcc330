//! The job lifecycle over HTTP: PATCH, PUT, DELETE, pause/resume, and the cron preview.

use crate::support::TestApp;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        },
    )
}

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().expect("an instant").parse().unwrap()
}

async fn patch_changes_only_what_is_sent(app: TestApp) {
    let job = app.create_job(&json!({"name": "p", "cron_expression": "0 9 * * 1", "start_time": "2030-06-03T09:00:00Z", "parameters": {"a": 1}})).await;
    let path = format!("/scheduler/jobs/{}/", job["id"]);
    let (status, patched) = send(
        &app,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"description": "new words"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(patched["description"], "new words");
    for field in [
        "name",
        "cron_expression",
        "start_time",
        "next_run",
        "parameters",
        "created_at",
    ] {
        assert_eq!(patched[field], job[field], "{field}");
    }
    assert!(instant(&patched["updated_at"]) >= instant(&job["updated_at"]));

    // Schedule fields recompute next_run.
    let (_, patched) = send(
        &app,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"cron_expression": "0 9 * * 2"})),
    )
    .await;
    assert_eq!(patched["next_run"], "2030-06-04T09:00:00Z");
    let (_, patched) = send(
        &app,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"timezone": "America/New_York"})),
    )
    .await;
    assert_eq!(patched["next_run"], "2030-06-04T13:00:00Z");
    let (_, patched) = send(
        &app,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"end_time": "2030-06-04T00:00:00Z"})),
    )
    .await;
    assert_eq!(patched["next_run"], Value::Null);
    let (_, patched) = send(
        &app,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"end_time": null})),
    )
    .await;
    assert_eq!(patched["end_time"], Value::Null);
    assert_eq!(patched["next_run"], "2030-06-04T13:00:00Z");
    let (_, fetched) = app.get_json(&path).await;
    assert_eq!(fetched, patched);
}

async fn patch_and_put_validate_like_create(app: TestApp) {
    app.create_job(&json!({"name": "taken", "cron_expression": "@daily"}))
        .await;
    let job = app
        .create_job(&json!({"name": "mine", "cron_expression": "@daily"}))
        .await;
    let path = format!("/scheduler/jobs/{}/", job["id"]);
    let (status, body) = send(
        &app,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"name": "taken"})),
    )
    .await;
    assert_eq!(
        (status, body),
        (400, json!({"name": ["job with this name already exists."]}))
    );
    let (status, body) = send(
        &app,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"is_active": "nah", "cron_expression": "99 * * * *", "parameters": 3})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["is_active"], json!(["Must be a valid boolean."]));
    assert!(
        body["cron_expression"][0]
            .as_str()
            .unwrap()
            .starts_with("Invalid CRON expression")
    );
    assert_eq!(body["parameters"], json!(["Must be a JSON object."]));
    let (status, body) = send(
        &app,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"start_time": "2030-01-02T00:00:00Z", "end_time": "2030-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"end_time": ["end_time must be after start_time."]})
        )
    );
    // Nothing was half-written.
    let (_, unchanged) = app.get_json(&path).await;
    assert_eq!(unchanged, job);

    let (status, replaced) = send(
        &app,
        reqwest::Method::PUT,
        &path,
        Some(json!({"name": "mine", "cron_expression": "0 0 1 * *"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(replaced["cron_expression"], "0 0 1 * *");
    assert_eq!(replaced["created_at"], job["created_at"]);
    let (status, body) = send(
        &app,
        reqwest::Method::PUT,
        &path,
        Some(json!({"description": "only"})),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"name": ["This field is required."], "cron_expression": ["This field is required."]})
        )
    );
    for method in [reqwest::Method::PATCH, reqwest::Method::PUT] {
        let (status, body) = send(
            &app,
            method,
            "/scheduler/jobs/987654/",
            Some(json!({"name": "x", "cron_expression": "@daily"})),
        )
        .await;
        assert_eq!((status, body), (404, json!({"error": "Job not found"})));
    }
}

async fn delete_removes_the_job(app: TestApp) {
    let job = app
        .create_job(&json!({"name": "doomed", "cron_expression": "@hourly"}))
        .await;
    let path = format!("/scheduler/jobs/{}/", job["id"]);
    let (status, body) = send(&app, reqwest::Method::DELETE, &path, None).await;
    assert_eq!((status, body), (204, Value::Null));
    assert_eq!(
        app.get_json(&path).await,
        (404, json!({"error": "Job not found"}))
    );
    assert_eq!(
        send(&app, reqwest::Method::DELETE, &path, None).await,
        (404, json!({"error": "Job not found"}))
    );
    assert_eq!(app.get_json("/scheduler/jobs/").await.1["count"], 0);
    // The name is free again.
    app.create_job(&json!({"name": "doomed", "cron_expression": "@hourly"}))
        .await;
}

async fn pause_and_resume(app: TestApp) {
    let job = app.create_job(&json!({"name": "pausable", "cron_expression": "*/5 * * * *", "start_time": "2020-01-01T00:00:00Z"})).await;
    let base = format!("/scheduler/jobs/{}", job["id"]);
    let (status, paused) = send(&app, reqwest::Method::POST, &format!("{base}/pause/"), None).await;
    assert_eq!(status, 200);
    assert_eq!(paused["is_active"], false);
    assert_eq!(paused["next_run"], Value::Null);
    let before = Utc::now();
    let (status, resumed) =
        send(&app, reqwest::Method::POST, &format!("{base}/resume"), None).await;
    assert_eq!(status, 200);
    assert_eq!(resumed["is_active"], true);
    // Computed from now: no catching up on what was missed.
    let next = instant(&resumed["next_run"]);
    assert!(
        next > before && next <= before + chrono::Duration::minutes(5),
        "{next}"
    );
    assert_eq!(
        send(
            &app,
            reqwest::Method::POST,
            "/scheduler/jobs/555555/pause/",
            None
        )
        .await
        .0,
        404
    );
}

async fn cron_preview(app: TestApp) {
    let (status, body) = app.get_json("/scheduler/cron/preview/?expression=0%209%20*%20*%201&after=2025-06-23T09:00:00Z&count=3").await;
    assert_eq!(status, 200);
    assert_eq!(body["expression"], "0 9 * * 1");
    assert_eq!(body["timezone"], "UTC");
    assert_eq!(
        body["next_runs"],
        json!([
            "2025-06-23T09:00:00Z",
            "2025-06-30T09:00:00Z",
            "2025-07-07T09:00:00Z"
        ])
    );
    let description = body["description"].as_str().unwrap();
    assert!(
        description.contains("09:00") && description.contains("Monday"),
        "{description}"
    );

    let (_, body) = app.get_json("/scheduler/cron/preview?expression=30%202%20*%20*%20*&timezone=America/New_York&after=2025-03-08T12:00:00Z&count=2").await;
    assert_eq!(
        body["next_runs"],
        json!(["2025-03-09T07:00:00Z", "2025-03-10T06:30:00Z"])
    );
    // The same fires on New York's wall clock: the gap's fire at 03:00 EDT, then 02:30 EDT.
    assert_eq!(
        body["next_runs_local"],
        json!(["2025-03-09T03:00:00-04:00", "2025-03-10T02:30:00-04:00"])
    );
    let (_, body) = app
        .get_json("/scheduler/cron/preview/?expression=@daily")
        .await;
    assert_eq!(body["next_runs"].as_array().unwrap().len(), 5);
    assert!(instant(&body["next_runs"][0]) >= Utc::now() - chrono::Duration::seconds(1));

    let (status, body) = app.get_json("/scheduler/cron/preview/?expression=0%200%2030%202%20*&timezone=Nowhere&after=soon&count=101").await;
    assert_eq!(status, 400);
    for field in ["expression", "timezone", "after", "count"] {
        assert!(body[field][0].is_string(), "{field}: {body}");
    }
    let (status, body) = app.get_json("/scheduler/cron/preview/").await;
    assert_eq!(
        (status, body),
        (400, json!({"expression": ["This parameter is required."]}))
    );
    let (_, spec) = app.get_json("/openapi.json").await;
    for path in [
        "/scheduler/cron/preview",
        "/scheduler/jobs/{id}/pause",
        "/scheduler/jobs/{id}/resume",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path}");
    }
    for method in ["patch", "put", "delete"] {
        assert!(
            spec["paths"]["/scheduler/jobs/{id}"].get(method).is_some(),
            "{method}"
        );
    }
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => crate::support::sqlite_app, postgres => crate::support::postgres_app },
    tests: [
    patch_changes_only_what_is_sent,
    patch_and_put_validate_like_create,
    delete_removes_the_job,
    pause_and_resume,
    cron_preview,
],
}
