//! The REST API over HTTP against the real server, on SQLite and on PostgreSQL.

use crate::support::TestApp;
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc, Weekday};
use serde_json::{Value, json};

/// The original README's weekly example body.
fn weekly_report() -> Value {
    json!({
        "name": "Weekly Report",
        "description": "Generate weekly sales report",
        "cron_expression": "0 9 * * 1",
        "start_time": "2025-06-23T09:00:00Z",
        "parameters": {"report_type": "weekly", "recipients": ["sales@example.com"]}
    })
}

/// The original README's monthly example body.
fn monthly_cleanup() -> Value {
    json!({
        "name": "Monthly Cleanup",
        "description": "Clean up old records",
        "cron_expression": "0 9 1 * *",
        "parameters": {"older_than_days": 90}
    })
}

/// The first Monday 09:00 UTC strictly after `now`, computed without the code under test.
fn next_monday_9(now: DateTime<Utc>) -> DateTime<Utc> {
    let mut day = now.date_naive();
    loop {
        let candidate = Utc.from_utc_datetime(&day.and_hms_opt(9, 0, 0).unwrap());
        if day.weekday() == Weekday::Mon && candidate > now {
            return candidate;
        }
        day += Duration::days(1);
    }
}

/// The first 1st-of-month 09:00 UTC strictly after `now`.
fn next_first_9(now: DateTime<Utc>) -> DateTime<Utc> {
    let mut day = now.date_naive();
    loop {
        let candidate = Utc.from_utc_datetime(&day.and_hms_opt(9, 0, 0).unwrap());
        if day.day() == 1 && candidate > now {
            return candidate;
        }
        day += Duration::days(1);
    }
}

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().expect("a string").parse().expect("RFC 3339")
}

async fn the_original_examples_create_jobs_with_correct_next_run(app: TestApp) {
    let before = Utc::now();
    let response = app.post_job(&weekly_report()).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let job: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/scheduler/jobs/{}/", job["id"]));
    let after = Utc::now();
    // start_time is in the past, so next_run is the next Monday 09:00 after now.
    let next = instant(&job["next_run"]);
    assert!(
        next == next_monday_9(before) || next == next_monday_9(after),
        "{job}"
    );
    assert_eq!(next.weekday(), Weekday::Mon);
    assert_eq!(job["start_time"], "2025-06-23T09:00:00Z");
    for field in [
        "id",
        "name",
        "description",
        "cron_expression",
        "timezone",
        "start_time",
        "end_time",
        "last_run",
        "next_run",
        "parameters",
        "is_active",
        "created_at",
        "updated_at",
    ] {
        assert!(job.get(field).is_some(), "missing {field}: {job}");
    }
    // The seed's fields, the policies, then what schedules beyond cron and files added (all
    // additive).
    assert_eq!(job.as_object().unwrap().len(), 44);
    assert_eq!(job["managed_by"], serde_json::Value::Null);
    assert_eq!(job["catch_up_window_seconds"], 3600);
    assert_eq!(
        (
            &job["pause_after_failures"],
            &job["failure_streak"],
            &job["auto_paused"]
        ),
        (&json!(0), &json!(0), &json!(false))
    );
    assert_eq!(
        (&job["interval_seconds"], &job["run_at"], &job["max_runs"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    assert_eq!(
        (&job["fire_count"], &job["schedule_status"]),
        (&json!(0), &json!("scheduled"))
    );
    assert_eq!(
        (&job["created_by"], &job["updated_by"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(job["last_status"], Value::Null);
    assert_eq!(job["source"], "api");
    assert_eq!(job["last_error"], Value::Null);
    assert_eq!(job["misfire_policy"], "fire_once");
    assert_eq!(job["timeout_seconds"], 300);
    assert_eq!(job["target"], Value::Null);
    assert_eq!(job["timezone"], "UTC");
    assert_eq!(job["is_active"], true);
    assert_eq!(job["last_run"], Value::Null);
    assert_eq!(job["end_time"], Value::Null);
    assert_eq!(job["parameters"]["recipients"][0], "sales@example.com");
    assert!(job["created_at"].as_str().unwrap().ends_with('Z'));

    let response = app.post_job(&monthly_cleanup()).await;
    assert_eq!(response.status(), 201);
    let job: Value = response.json().await.unwrap();
    let next = instant(&job["next_run"]);
    assert!(
        next == next_first_9(before) || next == next_first_9(Utc::now()),
        "{job}"
    );
    // start_time defaults to now.
    let start = instant(&job["start_time"]);
    assert!(start >= before - Duration::seconds(1) && start <= Utc::now());

    let (status, fetched) = app.get_json(&location).await;
    assert_eq!(status, 200);
    assert_eq!(fetched["name"], "Weekly Report");
    // Fields come in the original serializer's order, id first.
    let raw = app
        .client
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        raw.starts_with("{\"id\":") && raw.find("\"name\"") < raw.find("\"cron_expression\""),
        "{raw}"
    );
}

async fn a_future_start_time_is_the_first_run_when_it_matches(app: TestApp) {
    // 2030-06-03 is a Monday: the first run is start_time itself, never a copy of a
    // non-matching start_time.
    let mut body = weekly_report();
    body["start_time"] = json!("2030-06-03T09:00:00Z");
    let job: Value = app.post_job(&body).await.json().await.unwrap();
    assert_eq!(job["next_run"], "2030-06-03T09:00:00Z");

    let body = json!({"name": "tuesday start", "cron_expression": "0 9 * * 1",
                      "start_time": "2030-06-04T09:00:00+02:00", "timezone": "Europe/Paris"});
    let job: Value = app.post_job(&body).await.json().await.unwrap();
    // 09:00 in Paris in June is 07:00 UTC; the first Monday after Tuesday the 4th is the 10th.
    assert_eq!(job["next_run"], "2030-06-10T07:00:00Z");
    assert_eq!(job["start_time"], "2030-06-04T07:00:00Z");

    let body = json!({"name": "ended", "cron_expression": "0 9 * * 1",
                      "start_time": "2020-01-01T00:00:00Z", "end_time": "2020-02-01T00:00:00Z"});
    let job: Value = app.post_job(&body).await.json().await.unwrap();
    assert_eq!(job["next_run"], Value::Null);

    let body = json!({"name": "paused", "cron_expression": "0 9 * * 1", "is_active": false});
    let job: Value = app.post_job(&body).await.json().await.unwrap();
    assert_eq!(job["next_run"], Value::Null);
}

async fn unknown_fields_are_ignored_and_trailing_slashes_optional(app: TestApp) {
    let body = json!({"name": "x", "cron_expression": "@daily", "color": "red", "id": 999});
    let response = app
        .client
        .post(app.url("/scheduler/jobs"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let job: Value = response.json().await.unwrap();
    assert_ne!(job["id"], 999);
    assert!(job.get("color").is_none());
    let id = job["id"].as_i64().unwrap();
    assert_eq!(app.get_json(&format!("/scheduler/jobs/{id}")).await.0, 200);
    assert_eq!(app.get_json(&format!("/scheduler/jobs/{id}/")).await.0, 200);
    assert_eq!(app.get_json("/scheduler/jobs").await.0, 200);
    assert_eq!(app.get_json("/health/").await.0, 200);
}

async fn listing_paginates_filters_and_orders(app: TestApp) {
    for (name, active) in [
        ("delta", true),
        ("alpha", false),
        ("echo", true),
        ("charlie", true),
        ("bravo", false),
    ] {
        let body = json!({"name": name, "cron_expression": "*/5 * * * *", "is_active": active});
        assert_eq!(app.post_job(&body).await.status(), 201);
    }
    let (status, page) = app.get_json("/scheduler/jobs/").await;
    assert_eq!(status, 200);
    assert_eq!(page["count"], 5);
    assert_eq!(page["next"], Value::Null);
    assert_eq!(page["previous"], Value::Null);
    assert_eq!(page["results"].as_array().unwrap().len(), 5);

    let (_, page) = app
        .get_json("/scheduler/jobs/?page_size=2&ordering=name")
        .await;
    assert_eq!(page["count"], 5);
    let names: Vec<&str> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "bravo"]);
    let next = page["next"].as_str().unwrap();
    assert_eq!(
        next,
        format!(
            "{}/scheduler/jobs/?ordering=name&page=2&page_size=2",
            app.base
        )
    );
    let (_, page2) = app.get_json(next.trim_start_matches(&app.base)).await;
    let names: Vec<&str> = page2["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["charlie", "delta"]);
    assert_eq!(
        page2["previous"].as_str().unwrap(),
        format!("{}/scheduler/jobs/?ordering=name&page_size=2", app.base)
    );
    let (_, page3) = app
        .get_json("/scheduler/jobs/?page_size=2&ordering=name&page=3")
        .await;
    assert_eq!(page3["results"].as_array().unwrap().len(), 1);
    assert_eq!(page3["next"], Value::Null);

    let (_, inactive) = app
        .get_json("/scheduler/jobs/?is_active=false&ordering=-name")
        .await;
    assert_eq!(inactive["count"], 2);
    assert_eq!(inactive["results"][0]["name"], "bravo");
    assert_eq!(inactive["results"][1]["name"], "alpha");
    let (_, active) = app
        .get_json("/scheduler/jobs/?is_active=true&ordering=-id")
        .await;
    assert_eq!(active["count"], 3);
    assert_eq!(active["results"][0]["name"], "charlie");
    let (_, by_next) = app.get_json("/scheduler/jobs/?ordering=next_run").await;
    // Paused jobs never run and sort last.
    assert_eq!(by_next["results"][4]["next_run"], Value::Null);

    let (status, body) = app.get_json("/scheduler/jobs/?page=9").await;
    assert_eq!((status, body), (404, json!({"detail": "Invalid page."})));
    for (query, field) in [
        ("page=abc", "page"),
        ("page=0", "page"),
        ("page_size=501", "page_size"),
        ("page_size=x", "page_size"),
        ("is_active=maybe", "is_active"),
        ("ordering=color", "ordering"),
    ] {
        let (status, body) = app.get_json(&format!("/scheduler/jobs/?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(body[field][0].is_string(), "{query}: {body}");
    }
}

async fn field_errors_name_every_failing_field(app: TestApp) {
    let response = app
        .post_job(
            &json!({"name": "  ", "cron_expression": "0 0 9 * * 1", "timezone": "Mars/Base",
                          "parameters": [1], "start_time": "yesterday", "is_active": "perhaps"}),
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], json!(["This field may not be blank."]));
    assert!(
        body["cron_expression"][0]
            .as_str()
            .unwrap()
            .starts_with("Invalid CRON expression: ")
    );
    assert!(
        body["cron_expression"][0]
            .as_str()
            .unwrap()
            .contains("seconds")
    );
    assert!(body["timezone"][0].as_str().unwrap().contains("Mars/Base"));
    assert_eq!(body["parameters"], json!(["Must be a JSON object."]));
    assert!(
        body["start_time"][0]
            .as_str()
            .unwrap()
            .starts_with("Datetime has wrong format")
    );
    assert_eq!(body["is_active"], json!(["Must be a valid boolean."]));
    assert_eq!(body.as_object().unwrap().len(), 6);

    let body: Value = app.post_job(&json!({})).await.json().await.unwrap();
    assert_eq!(
        body,
        json!({"name": ["This field is required."], "cron_expression": ["This field is required."]})
    );

    for (expr, fragment) in [
        ("61 * * * *", "out of range for the minute field"),
        ("0 9 * * FOO", "unknown name 'FOO'"),
        ("@reboot", "@reboot is not supported"),
        ("0 0 30 2 *", "never fires"),
    ] {
        let body: Value = app
            .post_job(&json!({"name": "n", "cron_expression": expr}))
            .await
            .json()
            .await
            .unwrap();
        let message = body["cron_expression"][0].as_str().unwrap();
        assert!(message.contains(fragment), "{expr}: {message}");
    }
    let body: Value = app
        .post_job(&json!({"name": "w", "cron_expression": "* * * * *", "start_time": "2025-01-02T00:00:00Z", "end_time": "2025-01-01T00:00:00Z"}))
        .await.json().await.unwrap();
    assert_eq!(
        body,
        json!({"end_time": ["end_time must be after start_time."]})
    );
    let body: Value = app.post_job(&json!([1, 2])).await.json().await.unwrap();
    assert_eq!(
        body,
        json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
    );
}

async fn duplicate_names_are_field_errors_even_under_a_race(app: TestApp) {
    assert_eq!(app.post_job(&weekly_report()).await.status(), 201);
    let response = app.post_job(&weekly_report()).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"name": ["job with this name already exists."]})
    );

    let body = json!({"name": "racer", "cron_expression": "* * * * *"});
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let request = app.client.post(app.url("/scheduler/jobs/")).json(&body);
        attempts.spawn(async move { request.send().await.expect("request") });
    }
    let mut created = 0;
    while let Some(response) = attempts.join_next().await {
        let response = response.unwrap();
        match response.status().as_u16() {
            201 => created += 1,
            400 => assert_eq!(
                response.json::<Value>().await.unwrap(),
                json!({"name": ["job with this name already exists."]})
            ),
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(created, 1);
}

async fn malformed_bodies_have_the_original_shapes(app: TestApp) {
    let response = app
        .client
        .post(app.url("/scheduler/jobs/"))
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - "),
        "{body}"
    );

    let response = app
        .client
        .post(app.url("/scheduler/jobs/"))
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("text/plain"),
        "{body}"
    );

    let big = format!(
        "{{\"name\": \"big\", \"cron_expression\": \"* * * * *\", \"description\": \"{}\"}}",
        "x".repeat(1024 * 1024 + 1)
    );
    let response = app
        .client
        .post(app.url("/scheduler/jobs/"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(response.json::<Value>().await.unwrap()["detail"].is_string());

    for path in [
        "/scheduler/jobs/424242/",
        "/scheduler/jobs/abc/",
        "/scheduler/jobs/-1",
        "/scheduler/jobs/99999999999999999999999/",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(
            (status, body),
            (404, json!({"error": "Job not found"})),
            "{path}"
        );
    }
    let (status, body) = app.get_json("/no/such/path").await;
    assert_eq!(status, 404);
    assert!(body["detail"].is_string());
}

async fn docs_health_and_readiness(app: TestApp) {
    for path in ["/swagger/", "/swagger"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("swagger") && html.contains("Monthly Cleanup"));
    }
    let (status, spec) = app.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    for path in [
        "/scheduler/jobs",
        "/scheduler/jobs/{id}",
        "/health",
        "/ready",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} missing");
    }
    let post = &spec["paths"]["/scheduler/jobs"]["post"];
    let content = post["requestBody"]["content"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(
        content["examples"]["weekly_report"]["value"]["cron_expression"],
        "0 9 * * 1"
    );
    assert_eq!(
        content["examples"]["monthly_cleanup"]["value"]["cron_expression"],
        "0 9 1 * *"
    );
    for status in ["201", "400", "413", "415", "503"] {
        assert!(
            post["responses"].get(status).is_some(),
            "POST lacks {status}"
        );
    }
    assert!(
        spec["paths"]["/scheduler/jobs/{id}"]["get"]["responses"]
            .get("404")
            .is_some()
    );
    let job_schema = &spec["components"]["schemas"]["Job"]["properties"];
    assert_eq!(job_schema.as_object().unwrap().len(), 44);

    assert_eq!(
        app.get_json("/health").await,
        (200, json!({"status": "ok", "dispatcher": "off"}))
    );
    let (status, ready) = app.get_json("/ready").await;
    assert_eq!(status, 200);
    assert_eq!(ready["status"], "ok");
    assert_eq!(ready["database"], "ok");
    // SQLite uses the in-process cache, PostgreSQL without Redis uses none.
    let expected_cache = if app.sqlite.is_some() {
        "ok"
    } else {
        "disabled"
    };
    assert_eq!(ready["cache"], expected_cache, "{ready}");
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => crate::support::sqlite_app, postgres => crate::support::postgres_app },
    tests: [
    the_original_examples_create_jobs_with_correct_next_run,
    a_future_start_time_is_the_first_run_when_it_matches,
    unknown_fields_are_ignored_and_trailing_slashes_optional,
    listing_paginates_filters_and_orders,
    field_errors_name_every_failing_field,
    duplicate_names_are_field_errors_even_under_a_race,
    malformed_bodies_have_the_original_shapes,
    docs_health_and_readiness,
],
}

/// A PostgreSQL outage: requests answer 503 `{"detail": ...}` quickly, `/ready` turns 503,
/// nothing leaks SQL; after the outage the same server recovers without a restart.
#[tokio::test]
async fn a_database_outage_is_a_503_and_recovers() {
    let Some(app) = crate::support::postgres_app().await else {
        return;
    };
    let created: Value = app.post_job(&monthly_cleanup()).await.json().await.unwrap();
    let pg = app.postgres.as_ref().unwrap();
    pg.refuse_connections().await;
    let (status, body) = app
        .get_json(&format!("/scheduler/jobs/{}/", created["id"]))
        .await;
    assert_eq!(status, 503);
    let detail = body["detail"].as_str().unwrap();
    assert!(
        !detail.to_lowercase().contains("select") && !detail.contains("sqlx"),
        "{detail}"
    );
    assert_eq!(app.post_job(&weekly_report()).await.status(), 503);
    assert_eq!(app.get_json("/scheduler/jobs/").await.0, 503);
    assert_eq!(
        app.get_json("/ready").await,
        (
            503,
            json!({"status": "unavailable", "database": "unavailable", "cache": "disabled"})
        )
    );
    assert_eq!(app.get_json("/health").await.0, 200);

    pg.accept_connections().await;
    assert_eq!(
        app.get_json(&format!("/scheduler/jobs/{}/", created["id"]))
            .await
            .0,
        200
    );
    assert_eq!(app.get_json("/ready").await.0, 200);
}

/// The container health probe sees a running server, and fails for a closed port.
#[tokio::test]
async fn the_health_probe_answers_for_a_running_server_only() {
    let Some(app) = crate::support::sqlite_app().await else {
        return;
    };
    let port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
    assert!(scheduler_server::app::probe_health(port).await);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert!(!scheduler_server::app::probe_health(closed).await);
}
