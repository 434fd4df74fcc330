//! `jobs list|get|create|update|delete|pause|resume|run`.

use serde_json::Value;

use crate::support::{self, Server};

async fn every_jobs_command_against_the_server(server: Server) {
    let ctl = server.ctl();
    // create from flags, as a table
    let created = ctl
        .run(&[
            "jobs",
            "create",
            "--name",
            "Weekly Report",
            "--cron",
            "0 9 * * 1",
            "--timezone",
            "Europe/Paris",
            "--description",
            "sales",
            "--params",
            r#"{"report_type": "weekly", "recipients": ["sales@example.com"]}"#,
            "--max-retries",
            "2",
        ])
        .await;
    let table = created.ok();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("name") && l.ends_with("Weekly Report")),
        "{table}"
    );
    assert!(
        table.contains("Europe/Paris") && table.contains("sales@example.com"),
        "{table}"
    );
    // create from a file on standard input, flags overriding it, as JSON
    let from_stdin = ctl
        .run_with_input(
            &["jobs", "create", "--file", "-", "--paused", "--output", "json"],
            r#"{"name": "Monthly Cleanup", "cron_expression": "0 9 1 * *", "parameters": {"older_than_days": 90}}"#,
        )
        .await
        .json();
    assert_eq!(from_stdin["name"], "Monthly Cleanup");
    assert_eq!(from_stdin["is_active"], false);
    assert_eq!(from_stdin["next_run"], Value::Null);
    let cleanup = from_stdin["id"].as_i64().unwrap();

    // list: a table of both, and the server's page as JSON
    let list = ctl.run(&["jobs", "list"]).await;
    let table = list.ok();
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(table.starts_with("ID  NAME"), "{table}");
    assert!(table.contains("Weekly Report") && table.contains("Monthly Cleanup"));
    assert!(table.contains("paused"), "{table}");
    let page = ctl.json(&["jobs", "list", "--ordering", "-name"]).await;
    assert_eq!(page["count"], 2);
    assert_eq!(page["results"][0]["name"], "Weekly Report");
    let paused = ctl.json(&["jobs", "list", "--paused"]).await;
    assert_eq!(paused["count"], 1);
    assert_eq!(paused["results"][0]["id"], cleanup);
    // --page-size 1: a note says more exist; --all follows the pages into one array
    let first = ctl.run(&["jobs", "list", "--page-size", "1"]).await;
    assert_eq!(first.ok().lines().count(), 2);
    assert!(
        first
            .stderr
            .contains("showing 1 of 2 jobs; more with --page 2"),
        "{first:#?}"
    );
    let all = ctl
        .json(&["jobs", "list", "--page-size", "1", "--all"])
        .await;
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{all}");
    assert!(names.contains(&"Weekly Report") && names.contains(&"Monthly Cleanup"));
    // --search filters by name; --cursor walks cursor pages, whose note names the next one
    let found = ctl.json(&["jobs", "list", "--search", "weekly"]).await;
    assert_eq!(found["count"], 1);
    assert_eq!(found["results"][0]["name"], "Weekly Report");
    let cursor_page = ctl
        .run(&["jobs", "list", "--page-size", "1", "--cursor", ""])
        .await;
    assert_eq!(cursor_page.ok().lines().count(), 2);
    let note = cursor_page.stderr.trim().to_string();
    let cursor = note
        .split("--cursor ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no cursor in {note:?}"))
        .to_string();
    let second = ctl
        .json(&["jobs", "list", "--page-size", "1", "--cursor", &cursor])
        .await;
    assert_eq!(second["results"].as_array().unwrap().len(), 1);
    assert_eq!(second["next"], serde_json::Value::Null);
    assert!(second.get("count").is_none());
    let tampered = ctl
        .run(&["jobs", "list", "--cursor", &format!("{cursor}x")])
        .await;
    assert!(
        tampered.fails(3).contains("Invalid cursor"),
        "{tampered:#?}"
    );

    let weekly = page["results"][0]["id"].as_i64().unwrap();
    let id = weekly.to_string();
    // get
    let job = ctl.json(&["jobs", "get", &id]).await;
    assert_eq!(job["cron_expression"], "0 9 * * 1");
    assert_eq!(job["max_retries"], 2);
    let shown = ctl.run(&["jobs", "get", &id]).await;
    let first_line: Vec<&str> = shown
        .ok()
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(first_line, ["id", id.as_str()], "{shown:#?}");
    // update: only what is given changes
    let updated = ctl
        .json(&[
            "jobs",
            "update",
            &id,
            "--cron",
            "30 8 * * 1-5",
            "--end-time",
            "2031-01-01T00:00:00Z",
        ])
        .await;
    assert_eq!(updated["cron_expression"], "30 8 * * 1-5");
    assert_eq!(updated["end_time"], "2031-01-01T00:00:00Z");
    assert_eq!(updated["description"], "sales");
    let cleared = ctl.json(&["jobs", "update", &id, "--no-end-time"]).await;
    assert_eq!(cleared["end_time"], Value::Null);
    // pause, resume
    let paused = ctl.json(&["jobs", "pause", &id]).await;
    assert_eq!(paused["is_active"], false);
    assert_eq!(paused["next_run"], Value::Null);
    let resumed = ctl.run(&["jobs", "resume", &id]).await;
    let table = resumed.ok();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("is_active") && l.ends_with("true")),
        "{table}"
    );
    assert!(
        !table
            .lines()
            .any(|l| l.starts_with("next_run") && l.ends_with('-')),
        "{table}"
    );
    // run now: 202 with the run
    let run = ctl.json(&["jobs", "run", &id]).await;
    assert_eq!(run["job_id"], weekly);
    assert_eq!(run["trigger"], "manual");
    // delete, then it is gone
    let deleted = ctl.run(&["jobs", "delete", &id]).await;
    assert_eq!(deleted.ok().trim(), format!("Deleted job {id}."));
    let gone = ctl.run(&["jobs", "get", &id]).await;
    assert!(
        gone.fails(3)
            .contains("not found (404 Not Found): Job not found"),
        "{gone:#?}"
    );
    let deleted = ctl.json(&["jobs", "delete", &cleanup.to_string()]).await;
    assert_eq!(deleted, serde_json::json!({"id": cleanup, "deleted": true}));
    assert_eq!(ctl.json(&["jobs", "list"]).await["count"], 0);
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => support::sqlite_server, postgres => support::postgres_server },
    tests: [every_jobs_command_against_the_server],
}

#[tokio::test]
async fn an_invalid_expression_exits_5_with_the_servers_field_error() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let refused = ctl
        .run(&["jobs", "create", "--name", "bad", "--cron", "61 * * * *"])
        .await;
    let stderr = refused.fails(5);
    assert!(
        stderr.starts_with("error: the server refused the input (400 Bad Request)\n"),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("  cron_expression: Invalid CRON expression: ")),
        "{stderr}"
    );
    // Every field at once, one per line.
    let refused = ctl
        .run(&["jobs", "create", "--timezone", "Mars/Olympus"])
        .await;
    let stderr = refused.fails(5);
    for field in ["  name: ", "  cron_expression: ", "  timezone: "] {
        assert!(stderr.contains(field), "{field} in {stderr}");
    }
    // A duplicate name is the same kind of refusal.
    ctl.run(&["jobs", "create", "--name", "dup", "--cron", "@daily"])
        .await
        .ok();
    let duplicate = ctl
        .run(&["jobs", "create", "--name", "dup", "--cron", "@daily"])
        .await;
    assert!(
        duplicate
            .fails(5)
            .contains("name: job with this name already exists.")
    );
    // An update is checked the same way.
    let id = ctl.json(&["jobs", "list"]).await["results"][0]["id"].to_string();
    let refused = ctl
        .run(&["jobs", "update", &id, "--cron", "0 0 30 2 *"])
        .await;
    assert!(
        refused.fails(5).contains("cron_expression: "),
        "{refused:#?}"
    );
}

#[tokio::test]
async fn an_unknown_job_exits_3_for_every_command_that_names_one() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    for args in [
        &["jobs", "get", "999"][..],
        &["jobs", "update", "999", "--name", "x"],
        &["jobs", "delete", "999"],
        &["jobs", "pause", "999"],
        &["jobs", "resume", "999"],
        &["jobs", "run", "999"],
    ] {
        let outcome = ctl.run(args).await;
        assert!(
            outcome.fails(3).contains("Job not found"),
            "{args:?}: {outcome:#?}"
        );
    }
}

#[tokio::test]
async fn input_the_client_cannot_send_exits_2_and_sends_nothing() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let not_json = ctl
        .run(&[
            "jobs", "create", "--name", "x", "--cron", "@daily", "--params", "{oops",
        ])
        .await;
    assert!(
        not_json.fails(2).contains("--params is not JSON"),
        "{not_json:#?}"
    );
    let missing = ctl
        .run(&["jobs", "create", "--file", "/nonexistent/job.json"])
        .await;
    assert!(
        missing
            .fails(2)
            .contains("cannot read /nonexistent/job.json"),
        "{missing:#?}"
    );
    let nothing = ctl.run(&["jobs", "update", "1"]).await;
    assert!(
        nothing.fails(2).contains("nothing to change"),
        "{nothing:#?}"
    );
    let not_a_number = ctl.run(&["jobs", "get", "seven"]).await;
    assert!(
        not_a_number.fails(2).contains("invalid value 'seven'"),
        "{not_a_number:#?}"
    );
    let bad_ordering = ctl.run(&["jobs", "list", "--ordering", "colour"]).await;
    assert!(
        bad_ordering.fails(5).contains("ordering: "),
        "{bad_ordering:#?}"
    );
    let method_without_url = ctl.run(&["jobs", "create", "--target-method", "PUT"]).await;
    method_without_url.fails(2);
    assert_eq!(ctl.json(&["jobs", "list"]).await["count"], 0);
}

#[tokio::test]
async fn a_target_is_set_from_flags_its_headers_are_never_shown_and_it_can_be_removed() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let job = ctl
        .json(&[
            "jobs",
            "create",
            "--name",
            "hook",
            "--cron",
            "@hourly",
            "--target-url",
            "http://127.0.0.1:9/hook",
            "--target-method",
            "PUT",
            "--target-header",
            "Authorization: Bearer hunter2",
        ])
        .await;
    assert_eq!(job["target"]["url"], "http://127.0.0.1:9/hook");
    assert_eq!(job["target"]["method"], "PUT");
    assert_eq!(job["target"]["headers"]["Authorization"], "***");
    let id = job["id"].to_string();
    let shown = ctl.run(&["jobs", "get", &id]).await;
    assert!(!shown.ok().contains("hunter2"), "{shown:#?}");
    let removed = ctl.json(&["jobs", "update", &id, "--no-target"]).await;
    assert_eq!(removed["target"], Value::Null);
}

/// Interval and one-off jobs from flags: the table names the kind, `update --cron` switches
/// the kind back, `--max-runs 0` lifts the limit.
#[tokio::test]
async fn interval_and_one_off_jobs_from_flags() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let every = ctl
        .json(&[
            "jobs",
            "create",
            "--name",
            "sync",
            "--every",
            "5400",
            "--max-runs",
            "10",
        ])
        .await;
    assert_eq!(
        (&every["interval_seconds"], &every["max_runs"]),
        (&Value::from(5400), &Value::from(10))
    );
    let once = ctl
        .json(&[
            "jobs",
            "create",
            "--name",
            "launch",
            "--run-at",
            "2031-07-01T14:00:00Z",
        ])
        .await;
    assert_eq!(once["next_run"], "2031-07-01T14:00:00Z");
    let list = ctl.run(&["jobs", "list"]).await;
    let table = list.ok();
    assert!(table.contains("every 5400s"), "{table}");
    assert!(table.contains("once at 2031-07-01T14:00:00Z"), "{table}");
    let id = every["id"].to_string();
    let paused = ctl
        .json(&[
            "jobs",
            "pause",
            &id,
            "--note",
            "vendor outage",
            "--until",
            "2031-01-06T06:00:00Z",
        ])
        .await;
    assert_eq!(
        (&paused["is_active"], &paused["pause_note"]),
        (&Value::Bool(false), &Value::from("vendor outage"))
    );
    assert_eq!(paused["paused_until"], "2031-01-06T06:00:00Z");
    let limited = ctl
        .json(&["jobs", "update", &id, "--pause-after-failures", "3"])
        .await;
    assert_eq!(
        (&limited["pause_after_failures"], &limited["is_active"]),
        (&Value::from(3), &Value::Bool(false))
    );
    let resumed = ctl.json(&["jobs", "resume", &id]).await;
    assert_eq!(resumed["pause_note"], Value::Null);
    // Nine hours of a 90-minute interval, on its grid continued before start_time.
    let backfilled = ctl
        .json(&[
            "jobs",
            "backfill",
            &id,
            "--from",
            "2025-01-01T00:00:00Z",
            "--to",
            "2025-01-01T09:00:00Z",
        ])
        .await;
    assert_eq!(
        (&backfilled["created"], &backfilled["already_run"]),
        (&Value::from(6), &Value::from(0)),
        "{backfilled}"
    );
    assert_eq!(backfilled["runs"][0]["trigger"], "backfill");
    let again = ctl
        .run(&[
            "jobs",
            "backfill",
            &id,
            "--from",
            "2025-01-01T00:00:00Z",
            "--to",
            "2025-01-01T09:00:00Z",
        ])
        .await;
    assert_eq!(again.ok().trim(), "0 runs created, 6 instants already run");
    let many = ctl
        .json(&[
            "jobs",
            "pause-many",
            "--name-prefix",
            "laun",
            "--note",
            "freeze",
        ])
        .await;
    assert_eq!(many["count"], 1);
    assert_eq!(many["job_ids"][0], once["id"]);
    let resumed_many = ctl.run(&["jobs", "resume-many"]).await;
    assert_eq!(resumed_many.ok().trim(), format!("1 jobs: {}", once["id"]));
    let switched = ctl
        .json(&["jobs", "update", &id, "--cron", "@daily", "--max-runs", "0"])
        .await;
    assert_eq!(
        (
            &switched["cron_expression"],
            &switched["interval_seconds"],
            &switched["max_runs"]
        ),
        (&Value::from("@daily"), &Value::Null, &Value::Null)
    );
}
