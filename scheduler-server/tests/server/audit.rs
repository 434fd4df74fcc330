//! The audit trail through the API on both backends: an entry with the right diff for each
//! kind of change (job create, update, pause, resume, delete; the maintenance switch;
//! calendar create, replace, delete; key create, revoke), none for a refused change, the
//! request id and the actor recorded, and tenants never seeing each other's entries.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestApp;

async fn send(app: &TestApp, method: Method, path: &str, body: &Value) -> (u16, Value) {
    let reply = app
        .client
        .request(method, app.url(path))
        .header("X-Request-Id", "req-audit-1")
        .json(body)
        .send()
        .await
        .expect("request");
    let status = reply.status().as_u16();
    let text = reply.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The change of `field` in `entry`, as `(before, after)`.
fn change<'a>(entry: &'a Value, field: &str) -> Option<(&'a Value, &'a Value)> {
    entry["changes"]
        .as_array()?
        .iter()
        .find(|c| c["field"] == field)
        .map(|c| (&c["before"], &c["after"]))
}

async fn every_change_is_recorded_with_its_diff(app: TestApp) {
    let (status, job) = send(
        &app,
        Method::POST,
        "/scheduler/jobs/",
        &json!({"name": "report", "cron_expression": "0 9 * * 1",
            "target": {"type": "http", "url": "http://127.0.0.1:9/hook",
                "headers": {"Authorization": "Bearer secret"}}}),
    )
    .await;
    assert_eq!(status, 201, "{job}");
    let id = job["id"].clone();
    let path = format!("/scheduler/jobs/{id}/");
    // A refused change leaves no entry.
    let (status, _) = send(
        &app,
        Method::PATCH,
        &path,
        &json!({"cron_expression": "nope"}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = send(
        &app,
        Method::PATCH,
        &path,
        &json!({"cron_expression": "0 10 * * 1", "description": "weekly"}),
    )
    .await;
    assert_eq!(status, 200);
    // PATCH with nothing that differs: no entry either.
    let (status, _) = send(
        &app,
        Method::PATCH,
        &path,
        &json!({"description": "weekly"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(
        &app,
        Method::POST,
        &format!("{path}pause/?note=db%20upgrade"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(&app, Method::POST, &format!("{path}resume/"), &json!({})).await;
    assert_eq!(status, 200);

    let (status, history) = app.get_json(&format!("{path}history/")).await;
    assert_eq!(status, 200, "{history}");
    let entries = history["results"].as_array().expect("entries");
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["resume", "pause", "update", "create"],
        "{history}"
    );
    let (resume, pause, update, create) = (&entries[0], &entries[1], &entries[2], &entries[3]);
    assert_eq!(create["actor"], "local");
    assert_eq!(create["request_id"], "req-audit-1");
    assert_eq!(create["subject"], id.to_string());
    assert_eq!(create["subject_name"], "report");
    assert_eq!(
        change(create, "name"),
        Some((&Value::Null, &json!("report")))
    );
    // Header values are never shown, not even in the trail.
    assert_eq!(
        change(create, "target").map(|(_, after)| after["headers"]["Authorization"].clone()),
        Some(json!("***"))
    );
    assert!(!history.to_string().contains("Bearer secret"));
    assert_eq!(
        update["changes"].as_array().map(Vec::len),
        Some(2),
        "{update}"
    );
    assert_eq!(
        change(update, "description"),
        Some((&json!(""), &json!("weekly")))
    );
    assert_eq!(
        change(update, "cron_expression"),
        Some((&json!("0 9 * * 1"), &json!("0 10 * * 1")))
    );
    assert_eq!(
        change(pause, "is_active"),
        Some((&json!(true), &json!(false)))
    );
    assert_eq!(
        change(pause, "pause_note"),
        Some((&Value::Null, &json!("db upgrade")))
    );
    assert_eq!(
        change(resume, "is_active"),
        Some((&json!(false), &json!(true)))
    );

    // The maintenance switch records each job it pauses.
    let (status, _) = send(
        &app,
        Method::POST,
        "/scheduler/maintenance/pause/?note=freeze",
        &json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, history) = app.get_json(&format!("{path}history/?page_size=1")).await;
    assert_eq!(history["results"][0]["action"], "pause");
    assert!(history["next"].is_string(), "{history}");
    let next = history["next"].as_str().unwrap().to_string();
    let (status, older) = app.get_json(&next).await;
    assert_eq!(
        (status, &older["results"][0]["action"]),
        (200, &json!("resume"))
    );

    // Calendars and keys.
    let (status, _) = send(
        &app,
        Method::PUT,
        "/scheduler/calendars/holidays/",
        &json!({"dates": [{"date": "2030-12-25"}]}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = send(
        &app,
        Method::PUT,
        "/scheduler/calendars/holidays/",
        &json!({"timezone": "Europe/London", "dates": [{"date": "2030-12-25"}]}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(
        &app,
        Method::DELETE,
        "/scheduler/calendars/holidays/",
        &json!({}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, calendar) = app
        .get_json("/scheduler/audit/?kind=calendar&subject=holidays")
        .await;
    assert_eq!(status, 200, "{calendar}");
    let actions: Vec<&str> = calendar["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["delete", "update", "create"]);
    assert_eq!(
        change(&calendar["results"][1], "timezone"),
        Some((&json!("UTC"), &json!("Europe/London")))
    );
    assert_eq!(
        calendar["results"][1]["changes"].as_array().unwrap().len(),
        1
    );

    let (status, deleted) = send(&app, Method::DELETE, &path, &json!({})).await;
    assert_eq!(status, 204, "{deleted}");
    let (status, gone) = app
        .get_json(&format!(
            "/scheduler/audit/?kind=job&subject={id}&page_size=1"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(gone["results"][0]["action"], "delete");
    assert_eq!(
        change(&gone["results"][0], "name"),
        Some((&json!("report"), &Value::Null))
    );

    // Bad filters are named.
    let (status, errors) = app
        .get_json("/scheduler/audit/?kind=jobs&page_size=0")
        .await;
    assert_eq!(status, 400);
    assert!(
        errors["kind"].is_array() && errors["page_size"].is_array(),
        "{errors}"
    );
    // Text no store keeps is refused by name, not sent to the database (a NUL once was a 500).
    let (status, errors) = app
        .get_json(&format!(
            "/scheduler/audit/?actor=a%00b&subject={}",
            "x".repeat(300)
        ))
        .await;
    assert_eq!(status, 400, "{errors}");
    assert!(
        errors["actor"].is_array() && errors["subject"].is_array(),
        "{errors}"
    );
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => crate::support::sqlite_app, postgres => crate::support::postgres_app },
    tests: [every_change_is_recorded_with_its_diff],
}
