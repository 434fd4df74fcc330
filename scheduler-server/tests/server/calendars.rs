//! Calendars through the API on both backends: created, read, replaced and deleted per
//! tenant; jobs listing them skip (or move) their fires on excluded days, their `next_run`
//! recomputed when a calendar changes; the preview marks excluded fires; and a dispatching
//! server records a fire on an excluded day as a `skipped` run naming the calendar.

use std::time::Duration;

use chrono::{Days, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestApp;

async fn send(app: &TestApp, method: Method, path: &str, body: &Value) -> (u16, Value) {
    let reply = app
        .client
        .request(method, app.url(path))
        .json(body)
        .send()
        .await
        .expect("request");
    let status = reply.status().as_u16();
    let text = reply.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn holidays(dates: Value) -> Value {
    json!({"name": "holidays", "timezone": "Europe/London",
        "description": "bank holidays", "dates": dates})
}

async fn calendars_are_created_read_listed_replaced_and_checked(app: TestApp) {
    let (status, created) = send(
        &app,
        Method::POST,
        "/scheduler/calendars/",
        &holidays(json!([
            {"date": "2030-12-25", "label": "Christmas Day"},
            {"from": "2030-08-05", "to": "2030-08-09"},
            {"date": "2030-01-01", "yearly": true, "label": "New Year"},
        ])),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["job_ids"], json!([]));
    let calendar = &created["calendar"];
    assert_eq!(calendar["timezone"], "Europe/London");
    assert_eq!(
        calendar["dates"][0],
        json!({"from": "2030-12-25", "to": "2030-12-25", "yearly": false, "label": "Christmas Day"})
    );
    assert_eq!(calendar["dates"][2]["yearly"], true);

    // The name is the tenant's: a second create is refused in the job name's words.
    let (status, taken) = send(
        &app,
        Method::POST,
        "/scheduler/calendars/",
        &holidays(json!([])),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        taken,
        json!({"name": ["calendar with this name already exists."]})
    );

    let (status, read) = app.get_json("/scheduler/calendars/holidays/").await;
    assert_eq!((status, &read["dates"]), (200, &calendar["dates"]));
    let (status, list) = app.get_json("/scheduler/calendars/").await;
    assert_eq!((status, &list["count"]), (200, &json!(1)));
    assert_eq!(list["results"][0]["name"], "holidays");

    // Every bad entry is named by its index, with the other fields' problems beside.
    let (status, errors) = send(
        &app,
        Method::POST,
        "/scheduler/calendars/",
        &json!({"name": "bad name", "timezone": "Mars/Olympus", "dates": [
            {"date": "2030-01-01"},
            {"date": "2030-02-30"},
            {"from": "2030-03-02", "to": "2030-03-01"},
            {"from": "2030-01-01", "to": "2031-01-01", "yearly": true},
            {"when": "tomorrow"},
        ]}),
    )
    .await;
    assert_eq!(status, 400, "{errors}");
    let mut fields: Vec<&str> = errors
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "dates[1]", "dates[2]", "dates[3]", "dates[4]", "name", "timezone"
        ]
    );
    assert_eq!(errors["dates[1]"][0], "Enter a real date as YYYY-MM-DD.");

    // PUT replaces (200), or creates a new name (201); a body naming another calendar is
    // refused.
    let (status, replaced) = send(
        &app,
        Method::PUT,
        "/scheduler/calendars/holidays/",
        &holidays(json!([{"date": "2030-12-26"}])),
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["calendar"]["dates"][0]["from"], "2030-12-26");
    assert_eq!(
        replaced["calendar"]["created_at"], calendar["created_at"],
        "a replace keeps when it was created"
    );
    let (status, _) = send(
        &app,
        Method::PUT,
        "/scheduler/calendars/freeze/",
        &json!({"dates": [{"from": "2030-12-20", "to": "2030-12-31"}]}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, mismatch) = send(
        &app,
        Method::PUT,
        "/scheduler/calendars/freeze/",
        &json!({"name": "other"}),
    )
    .await;
    assert_eq!(status, 400, "{mismatch}");

    // Unknown names, including ones no calendar could have, are 404 in the job's shape.
    // (`%2e%2e` is resolved by the router to the parent path, itself not found.)
    let (status, _) = app.get_json("/scheduler/calendars/%2e%2e/").await;
    assert_eq!(status, 404);
    for path in ["/scheduler/calendars/nope/", "/scheduler/calendars/a%20b/"] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(
            (status, body),
            (404, json!({"error": "Calendar not found"})),
            "{path}"
        );
    }
}

async fn jobs_skip_excluded_days_and_follow_calendar_changes(app: TestApp) {
    let (status, _) = send(
        &app,
        Method::POST,
        "/scheduler/calendars/",
        &json!({"name": "holidays", "timezone": "UTC",
            "dates": [{"from": "2030-01-01", "to": "2030-01-02"}]}),
    )
    .await;
    assert_eq!(status, 201);
    let daily = json!({"name": "daily", "cron_expression": "0 9 * * *",
        "start_time": "2030-01-01T00:00:00Z", "calendars": ["holidays"]});
    let job = app.create_job(&daily).await;
    assert_eq!(job["calendars"], json!(["holidays"]));
    assert_eq!(job["on_excluded"], "skip");
    assert_eq!(job["next_run"], "2030-01-03T09:00:00Z");

    // A name the tenant has no calendar of is refused, naming the field.
    let (status, errors) = send(
        &app,
        Method::POST,
        "/scheduler/jobs/",
        &json!({"name": "x", "cron_expression": "0 9 * * *", "calendars": ["nope"]}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        errors,
        json!({"calendars": ["No calendar named \"nope\": create it under /scheduler/calendars/ first."]})
    );
    let (status, errors) = send(
        &app,
        Method::POST,
        "/scheduler/jobs/",
        &json!({"name": "x", "cron_expression": "0 9 * * *", "calendars": "holidays",
            "on_excluded": "later"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        errors["calendars"].is_array() && errors["on_excluded"].is_array(),
        "{errors}"
    );

    // Changing the calendar recomputes the job in the same call.
    let (status, saved) = send(
        &app,
        Method::PUT,
        "/scheduler/calendars/holidays/",
        &json!({"timezone": "UTC", "dates": [{"from": "2030-01-01", "to": "2030-01-05"}]}),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["job_ids"], json!([job["id"]]));
    let path = format!("/scheduler/jobs/{}/", job["id"]);
    let (_, read) = app.get_json(&path).await;
    assert_eq!(read["next_run"], "2030-01-06T09:00:00Z");

    // Moving instead of skipping: a weekly Tuesday job's excluded fire (1 January) moves
    // to the next allowed day, Sunday 6 January, 09:00.
    let weekly = app
        .create_job(&json!({"name": "weekly", "cron_expression": "0 9 * * 2",
            "start_time": "2030-01-01T00:00:00Z", "calendars": ["holidays"],
            "on_excluded": "move"}))
        .await;
    assert_eq!(weekly["next_run"], "2030-01-06T09:00:00Z");

    // The preview marks the same fires.
    let (status, preview) = app
        .get_json(
            "/scheduler/cron/preview?expression=0%209%20*%20*%20*&after=2030-01-04T00:00:00Z\
             &count=3&calendars=holidays&on_excluded=move",
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        preview["excluded"],
        json!([
            {"at": "2030-01-04T09:00:00Z", "calendar": "holidays",
                "moved_to": "2030-01-06T09:00:00Z"},
            {"at": "2030-01-05T09:00:00Z", "calendar": "holidays",
                "moved_to": "2030-01-06T09:00:00Z"},
        ])
    );
    let (status, errors) = app
        .get_json("/scheduler/cron/preview?expression=0%209%20*%20*%20*&calendars=nope")
        .await;
    assert_eq!(status, 400);
    assert!(errors["calendars"].is_array(), "{errors}");

    // A calendar in use cannot be deleted; once no job lists it, it can.
    let (status, body) = send(
        &app,
        Method::DELETE,
        "/scheduler/calendars/holidays/",
        &json!({}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    for id in [&job["id"], &weekly["id"]] {
        let (status, patched) = send(
            &app,
            Method::PATCH,
            &format!("/scheduler/jobs/{id}/"),
            &json!({"calendars": []}),
        )
        .await;
        assert_eq!(status, 200, "{patched}");
        assert_eq!(patched["calendars"], json!([]));
    }
    let (_, read) = app.get_json(&path).await;
    assert_eq!(read["next_run"], "2030-01-01T09:00:00Z");
    let (status, _) = send(
        &app,
        Method::DELETE,
        "/scheduler/calendars/holidays/",
        &json!({}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = app.get_json("/scheduler/calendars/holidays/").await;
    assert_eq!(status, 404);
}

/// A dispatching server: an every-second job whose calendar excludes today records its
/// fires as `skipped`, naming the calendar, and runs none of them.
async fn fires_on_excluded_days_are_recorded_skipped(app: TestApp) {
    let today = Utc::now().date_naive();
    let (from, to) = (
        today.checked_sub_days(Days::new(1)).expect("a day"),
        today.checked_add_days(Days::new(1)).expect("a day"),
    );
    let (status, _) = send(
        &app,
        Method::POST,
        "/scheduler/calendars/",
        &json!({"name": "freeze", "dates": [{"from": from.to_string(), "to": to.to_string(),
            "label": "change freeze"}]}),
    )
    .await;
    assert_eq!(status, 201);
    let job = app
        .create_job(&json!({"name": "frozen", "interval_seconds": 1,
            "calendars": ["freeze"], "parameters": {"action": "log"}}))
        .await;
    let path = format!("/scheduler/jobs/{}/runs/", job["id"]);
    let mut runs = Value::Null;
    for _ in 0..100 {
        runs = app.get_json(&path).await.1;
        // The page's rows, not its count: the two are read by separate statements, and a
        // fire between them made the count 2 over a page of 1.
        if runs["results"].as_array().map_or(0, Vec::len) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let results = runs["results"].as_array().expect("runs");
    assert!(results.len() >= 2, "{runs}");
    for run in results {
        assert_eq!(run["status"], "skipped", "{run}");
        assert_eq!(
            run["error"], "skipped: excluded by calendar freeze",
            "{run}"
        );
    }
    let (_, read) = app
        .get_json(&format!("/scheduler/jobs/{}/", job["id"]))
        .await;
    assert_eq!(read["last_status"], "skipped");
    assert_eq!(read["fire_count"], 0, "a skipped fire does not count");
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => crate::support::sqlite_app, postgres => crate::support::postgres_app },
    tests: [
        calendars_are_created_read_listed_replaced_and_checked,
        jobs_skip_excluded_days_and_follow_calendar_changes,
    ],
}

mod dispatching {
    use super::fires_on_excluded_days_are_recorded_skipped;
    use crate::support::{postgres_dispatching, sqlite_dispatching};

    scheduler_test_support::backend_tests! {
        attribute: tokio::test,
        setups: { sqlite => sqlite_dispatching, postgres => postgres_dispatching },
        tests: [fires_on_excluded_days_are_recorded_skipped],
    }
}
