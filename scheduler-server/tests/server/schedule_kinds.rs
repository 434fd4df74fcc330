//! Schedules beyond cron through the API: `interval_seconds`, `run_at` and `max_runs` on
//! both backends — exactly one kind per job, each answer checked against the served
//! document, and a dispatching server that completes a limited interval job by itself.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestApp;

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().expect("a string").parse().expect("RFC 3339")
}

async fn send(app: &TestApp, method: Method, path: &str, body: &Value) -> (u16, Value) {
    let reply = app
        .client
        .request(method, app.url(path))
        .json(body)
        .send()
        .await
        .expect("request");
    let status = reply.status().as_u16();
    (status, reply.json().await.expect("JSON body"))
}

async fn interval_and_one_off_jobs_are_created_read_and_written_back(app: TestApp) {
    let every = app
        .create_job(&json!({"name": "every-90m", "interval_seconds": 5400,
            "start_time": "2030-01-01T09:00:00Z", "max_runs": 10}))
        .await;
    assert_eq!(every["cron_expression"], Value::Null);
    assert_eq!(every["interval_seconds"], 5400);
    assert_eq!(every["max_runs"], 10);
    assert_eq!(every["fire_count"], 0);
    assert_eq!(every["schedule_status"], "scheduled");
    assert_eq!(
        instant(&every["next_run"]),
        instant(&json!("2030-01-01T09:00:00Z"))
    );

    let at = "2030-07-02T14:00:00Z";
    let once = app
        .create_job(&json!({"name": "launch", "run_at": at, "cron_expression": null}))
        .await;
    assert_eq!(
        (&once["run_at"], &once["next_run"]),
        (&json!(at), &json!(at))
    );

    // What GET returns, PUT back unchanged, is accepted (the null kinds count as absent).
    let path = format!("/scheduler/jobs/{}/", every["id"]);
    let (status, read) = app.get_json(&path).await;
    assert_eq!(status, 200);
    let (status, put) = send(&app, Method::PUT, &path, &read).await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(put["interval_seconds"], 5400);
    assert_eq!(put["next_run"], read["next_run"]);

    // A PATCH switches the kind: the job becomes a cron job, and the limit is lifted.
    let (status, cron) = send(
        &app,
        Method::PATCH,
        &path,
        &json!({"cron_expression": "0 9 * * 1", "max_runs": null}),
    )
    .await;
    assert_eq!(status, 200, "{cron}");
    assert_eq!(
        (
            &cron["cron_expression"],
            &cron["interval_seconds"],
            &cron["max_runs"]
        ),
        (&json!("0 9 * * 1"), &Value::Null, &Value::Null)
    );
}

/// Jitter through the API: the next run is the delayed due time, within the bound, the same
/// when read again; a jitter at the schedule's gap is refused naming the gap.
async fn jitter_delays_next_run_within_its_bound(app: TestApp) {
    let job = app
        .create_job(&json!({"name": "spread", "cron_expression": "0 9 * * *",
            "jitter_seconds": 900, "start_time": "2030-01-01T00:00:00Z"}))
        .await;
    assert_eq!(job["jitter_seconds"], 900);
    let next = instant(&job["next_run"]);
    let nominal = instant(&json!("2030-01-01T09:00:00Z"));
    assert!(
        next >= nominal && next <= nominal + chrono::Duration::seconds(900),
        "{next}"
    );
    let (_, read) = app
        .get_json(&format!("/scheduler/jobs/{}/", job["id"]))
        .await;
    assert_eq!(read["next_run"], job["next_run"]);
    let (status, body) = send(
        &app,
        Method::POST,
        "/scheduler/jobs/",
        &json!({"name": "tight", "cron_expression": "*/5 * * * *", "jitter_seconds": 300}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"jitter_seconds": ["jitter_seconds must be less than the shortest gap between two fires of the schedule (300 s)."]})
    );
}

/// `catch_up` and its window through the API: set, read back, bounded.
async fn catch_up_is_a_misfire_policy_with_a_window(app: TestApp) {
    let job = app
        .create_job(&json!({"name": "catching", "cron_expression": "@hourly",
            "misfire_policy": "catch_up", "catch_up_window_seconds": 7200}))
        .await;
    assert_eq!(
        (&job["misfire_policy"], &job["catch_up_window_seconds"]),
        (&json!("catch_up"), &json!(7200))
    );
    let (status, body) = send(
        &app,
        Method::PATCH,
        &format!("/scheduler/jobs/{}/", job["id"]),
        &json!({"catch_up_window_seconds": 0, "misfire_policy": "later"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["catch_up_window_seconds"],
        json!(["Ensure this value is between 1 and 604800."])
    );
    assert_eq!(
        body["misfire_policy"],
        json!(["\"later\" is not a valid choice: use fire_once, skip or catch_up."])
    );
}

/// Pausing with a note records who, when and why; pausing again replaces the note; resuming
/// clears all three; a note over 1,000 characters is refused naming `note`.
async fn a_pause_keeps_who_when_and_why_until_resumed(app: TestApp) {
    let job = app
        .create_job(&json!({"name": "noted", "cron_expression": "@hourly"}))
        .await;
    let path = format!("/scheduler/jobs/{}/", job["id"]);
    assert_eq!(
        (&job["paused_by"], &job["pause_note"], &job["paused_at"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    let (status, paused) = send(
        &app,
        Method::POST,
        &format!("{path}pause/?note=upstream%20maintenance"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["is_active"], false);
    assert_eq!(paused["pause_note"], "upstream maintenance");
    assert!(paused["paused_at"].is_string(), "{paused}");
    assert_eq!(paused["schedule_status"], "paused");
    let (_, read) = app.get_json(&path).await;
    assert_eq!(read["pause_note"], "upstream maintenance");
    let (_, again) = send(
        &app,
        Method::POST,
        &format!("{path}pause/?note=still"),
        &json!({}),
    )
    .await;
    assert_eq!(again["pause_note"], "still");
    let long = "x".repeat(1_001);
    let (status, body) = send(
        &app,
        Method::POST,
        &format!("{path}pause/?note={long}"),
        &json!({}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"note": ["Ensure this field has no more than 1000 characters."]})
        )
    );
    let (status, resumed) = send(&app, Method::POST, &format!("{path}resume/"), &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            &resumed["paused_by"],
            &resumed["pause_note"],
            &resumed["paused_at"]
        ),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    // An end that is not an instant, or not ahead, is refused naming `until`.
    let (status, body) = send(
        &app,
        Method::POST,
        &format!("{path}pause/?until=friday"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["until"]
    );
    let (status, body) = send(
        &app,
        Method::POST,
        &format!("{path}pause/?until=2020-01-01T00:00:00Z&note=x"),
        &json!({}),
    )
    .await;
    assert_eq!(
        (status, body),
        (400, json!({"until": ["until must be in the future."]}))
    );
    let (_, read) = app.get_json(&path).await;
    assert_eq!(read["is_active"], true, "a refused pause changes nothing");
    let (status, until) = send(
        &app,
        Method::POST,
        &format!("{path}pause/?until=2030-01-06T06:00:00%2B01:00"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{until}");
    assert_eq!(until["paused_until"], "2030-01-06T05:00:00Z");
    let (_, resumed) = send(&app, Method::POST, &format!("{path}resume/"), &json!({})).await;
    assert_eq!(resumed["paused_until"], Value::Null);
    // Paused through a PATCH: recorded without a note.
    let (_, patched) = send(&app, Method::PATCH, &path, &json!({"is_active": false})).await;
    assert!(patched["paused_at"].is_string(), "{patched}");
    assert_eq!(patched["pause_note"], Value::Null);
}

/// The maintenance switch pauses the active jobs whose name starts with the prefix, with the
/// note, and resumes every paused one; bad input is refused naming the field.
async fn the_maintenance_switch_pauses_and_resumes_by_name_prefix(app: TestApp) {
    let mut ids = Vec::new();
    for name in ["etl-orders", "etl-stock", "report"] {
        let job = app
            .create_job(&json!({"name": name, "cron_expression": "@hourly"}))
            .await;
        ids.push(job["id"].clone());
    }
    let (status, paused) = send(
        &app,
        Method::POST,
        "/scheduler/maintenance/pause/?name_prefix=etl-&note=warehouse%20migration",
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused, json!({"count": 2, "job_ids": [ids[0], ids[1]]}));
    let (_, orders) = app.get_json(&format!("/scheduler/jobs/{}/", ids[0])).await;
    assert_eq!(
        (
            &orders["is_active"],
            &orders["pause_note"],
            &orders["next_run"]
        ),
        (&json!(false), &json!("warehouse migration"), &Value::Null)
    );
    let (_, report) = app.get_json(&format!("/scheduler/jobs/{}/", ids[2])).await;
    assert_eq!(report["is_active"], true);
    for (query, field) in [
        ("until=tomorrow", "until"),
        ("until=2020-01-01T00:00:00Z", "until"),
        ("name_prefix=a%00b", "name_prefix"),
    ] {
        let (status, body) = send(
            &app,
            Method::POST,
            &format!("/scheduler/maintenance/pause/?{query}"),
            &json!({}),
        )
        .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(
            body.as_object().unwrap().keys().collect::<Vec<_>>(),
            [field],
            "{body}"
        );
    }
    let (_, report) = app.get_json(&format!("/scheduler/jobs/{}/", ids[2])).await;
    assert_eq!(
        report["is_active"], true,
        "a refused switch changes nothing"
    );
    let (status, resumed) = send(
        &app,
        Method::POST,
        "/scheduler/maintenance/resume/",
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed, json!({"count": 2, "job_ids": [ids[0], ids[1]]}));
    let (_, orders) = app.get_json(&format!("/scheduler/jobs/{}/", ids[0])).await;
    assert_eq!(
        (&orders["is_active"], &orders["pause_note"]),
        (&json!(true), &Value::Null)
    );
    assert!(orders["next_run"].is_string());
}

/// `dst_overlap: twice`: a New York 01:30 job fires at both 01:30s of the night clocks go
/// back (2027-11-07); `once` (the default) only at the first; `/preview` says the same.
async fn a_job_may_fire_twice_when_clocks_go_back(app: TestApp) {
    let body = |name: &str, overlap: Option<&str>| {
        let mut body = json!({"name": name, "cron_expression": "30 1 * * *",
            "timezone": "America/New_York", "start_time": "2027-11-07T05:31:00Z"});
        if let Some(overlap) = overlap {
            body["dst_overlap"] = json!(overlap);
        }
        body
    };
    let twice = app.create_job(&body("twice", Some("twice"))).await;
    assert_eq!(twice["dst_overlap"], "twice");
    // After the first 01:30 (EDT, 05:30 UTC): the second (EST, 06:30 UTC) is next.
    assert_eq!(twice["next_run"], "2027-11-07T06:30:00Z");
    let once = app.create_job(&body("once", None)).await;
    assert_eq!(once["dst_overlap"], "once");
    assert_eq!(once["next_run"], "2027-11-08T06:30:00Z");
    let (status, refused) = send(
        &app,
        Method::PATCH,
        &format!("/scheduler/jobs/{}/", once["id"]),
        &json!({"dst_overlap": "thrice"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        refused.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["dst_overlap"]
    );
    let (_, patched) = send(
        &app,
        Method::PATCH,
        &format!("/scheduler/jobs/{}/", once["id"]),
        &json!({"dst_overlap": "twice"}),
    )
    .await;
    assert_eq!(patched["next_run"], "2027-11-07T06:30:00Z");
    let (status, preview) = app
        .get_json(
            "/scheduler/cron/preview?expression=30%201%20*%20*%20*&timezone=America/New_York\
             &after=2027-11-07T00:00:00Z&count=3&dst_overlap=twice",
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        preview["next_runs"],
        json!([
            "2027-11-07T05:30:00Z",
            "2027-11-07T06:30:00Z",
            "2027-11-08T06:30:00Z"
        ])
    );
}

async fn a_job_has_exactly_one_schedule_kind_and_each_is_checked(app: TestApp) {
    let (status, body) = send(
        &app,
        Method::POST,
        "/scheduler/jobs/",
        &json!({"name": "two", "cron_expression": "@daily", "interval_seconds": 60}),
    )
    .await;
    assert_eq!(status, 400);
    let both = json!(["Give exactly one of cron_expression, interval_seconds or run_at."]);
    assert_eq!(
        body,
        json!({"cron_expression": both, "interval_seconds": both})
    );

    // None at all: the seed's answer, naming cron_expression.
    let (status, body) = send(
        &app,
        Method::POST,
        "/scheduler/jobs/",
        &json!({"name": "none"}),
    )
    .await;
    assert_eq!(
        (status, body),
        (400, json!({"cron_expression": ["This field is required."]}))
    );

    let (status, body) = send(
        &app,
        Method::POST,
        "/scheduler/jobs/",
        &json!({"name": "bad", "interval_seconds": 0, "max_runs": -1}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["interval_seconds"],
        json!(["Ensure this value is between 1 and 31622400."])
    );
    assert_eq!(
        body["max_runs"],
        json!(["Ensure this value is between 1 and 1000000."])
    );

    let (status, body) = send(
        &app,
        Method::POST,
        "/scheduler/jobs/",
        &json!({"name": "past", "run_at": "2001-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(
        (status, body),
        (400, json!({"run_at": ["run_at must be in the future."]}))
    );
    let (status, body) = send(
        &app,
        Method::POST,
        "/scheduler/jobs/",
        &json!({"name": "text", "interval_seconds": "often"}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"interval_seconds": ["A valid integer is required."]})
        )
    );
    // Nothing was half-written.
    let (_, list) = app.get_json("/scheduler/jobs/").await;
    assert_eq!(list["count"], 0);
}

/// A dispatching server: an every-second job limited to 2 runs fires twice, then says it
/// completed, and fires no more.
async fn a_limited_interval_job_completes_after_max_runs(app: TestApp) {
    let job = app
        .create_job(
            &json!({"name": "twice", "interval_seconds": 1, "max_runs": 2,
            "parameters": {"action": "log"}}),
        )
        .await;
    let path = format!("/scheduler/jobs/{}/", job["id"]);
    let mut read = Value::Null;
    for _ in 0..100 {
        read = app.get_json(&path).await.1;
        if read["schedule_status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(read["schedule_status"], "completed", "{read}");
    assert_eq!(read["fire_count"], 2);
    assert_eq!(read["next_run"], Value::Null);
    assert_eq!(
        read["schedule_status_reason"],
        "completed after max_runs (2) fires"
    );
    // Still two runs a while later.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, runs) = app
        .get_json(&format!("/scheduler/jobs/{}/runs/", job["id"]))
        .await;
    assert_eq!(runs["count"], 2, "{runs}");
}

/// A dispatching server resumes a job paused until an instant once it has come, its next
/// run computed from then.
async fn a_pause_with_an_end_resumes_by_itself(app: TestApp) {
    let job = app
        .create_job(&json!({"name": "window", "interval_seconds": 3600}))
        .await;
    let path = format!("/scheduler/jobs/{}/", job["id"]);
    let until = chrono::Utc::now() + chrono::Duration::seconds(2);
    let (status, paused) = send(
        &app,
        Method::POST,
        &format!(
            "{path}pause/?note=deploy&until={}",
            until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(
        (&paused["is_active"], &paused["next_run"]),
        (&json!(false), &Value::Null)
    );
    assert_eq!(instant(&paused["paused_until"]), until.trunc_subsecs(3));
    let mut read = Value::Null;
    for _ in 0..100 {
        read = app.get_json(&path).await.1;
        if read["is_active"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(read["is_active"], true, "never resumed: {read}");
    assert!(chrono::Utc::now() >= until, "resumed early");
    assert_eq!(
        (
            &read["paused_until"],
            &read["pause_note"],
            &read["paused_at"]
        ),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    // The trail: paused by the caller, resumed by the scheduler.
    let (_, history) = app.get_json(&format!("{path}history/")).await;
    let who: Vec<(&str, &str)> = history["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        who,
        [
            ("resume", "scheduler"),
            ("pause", "local"),
            ("create", "local")
        ],
        "{history}"
    );
    // Hourly from start_time: the next run follows the grid, after the pause's end.
    let next = instant(&read["next_run"]);
    assert!(next > until, "{read}");
    assert_eq!((next - instant(&job["start_time"])).num_seconds() % 3600, 0);
}

/// A dispatching server and a jittered interval job: each run keeps the grid instant as
/// `scheduled_for` and records a `due_at` within the jitter after it.
async fn jittered_runs_record_their_due_time(app: TestApp) {
    let job = app
        .create_job(
            &json!({"name": "spread", "interval_seconds": 2, "jitter_seconds": 1,
            "max_runs": 2, "parameters": {"action": "log"}}),
        )
        .await;
    let path = format!("/scheduler/jobs/{}/runs/", job["id"]);
    let mut runs = Value::Null;
    for _ in 0..100 {
        runs = app.get_json(&path).await.1;
        if runs["count"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(runs["count"], 2, "{runs}");
    let start = instant(&job["start_time"]);
    for run in runs["results"].as_array().unwrap() {
        let scheduled = instant(&run["scheduled_for"]);
        let due = instant(&run["due_at"]);
        let step = (scheduled - start).num_milliseconds();
        assert_eq!(step % 2_000, 0, "on the 2 s grid from start_time: {run}");
        let delay = (due - scheduled).num_milliseconds();
        assert!((0..=1_000).contains(&delay), "{run}");
    }
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => crate::support::sqlite_app, postgres => crate::support::postgres_app },
    tests: [
    interval_and_one_off_jobs_are_created_read_and_written_back,
    jitter_delays_next_run_within_its_bound,
    catch_up_is_a_misfire_policy_with_a_window,
    a_pause_keeps_who_when_and_why_until_resumed,
    the_maintenance_switch_pauses_and_resumes_by_name_prefix,
    a_job_may_fire_twice_when_clocks_go_back,
    a_job_has_exactly_one_schedule_kind_and_each_is_checked,
],
}

mod dispatching {
    use super::{
        a_limited_interval_job_completes_after_max_runs, a_pause_with_an_end_resumes_by_itself,
        jittered_runs_record_their_due_time,
    };
    use crate::support::{postgres_dispatching, sqlite_dispatching};

    scheduler_test_support::backend_tests! {
        attribute: tokio::test,
        setups: { sqlite => sqlite_dispatching, postgres => postgres_dispatching },
        tests: [
            a_limited_interval_job_completes_after_max_runs,
            a_pause_with_an_end_resumes_by_itself,
            jittered_runs_record_their_due_time,
        ],
    }
}
