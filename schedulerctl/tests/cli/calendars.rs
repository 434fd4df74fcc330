//! `calendars list|show|import|apply|delete`, and the calendar flags of `jobs create|update`
//! and `cron preview`.

use serde_json::json;

use crate::support::{self, Server, TempDir};

/// `lines` joined with CRLF, as RFC 5545 writes them.
fn crlf(lines: &[&str]) -> String {
    let mut text = lines.join("\r\n");
    text.push_str("\r\n");
    text
}

/// Closures for 2030: a yearly Christmas Day (with a folded summary) and the first two days
/// of January (DTEND is exclusive).
fn holidays() -> String {
    crlf(&[
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//schedulerctl tests//EN",
        "BEGIN:VEVENT",
        "UID:new-year@example.test",
        "DTSTART;VALUE=DATE:20300101",
        "DTEND;VALUE=DATE:20300103",
        "SUMMARY:New Year closure",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:christmas@example.test",
        "DTSTART;VALUE=DATE:20301225",
        "DTEND;VALUE=DATE:20301226",
        "RRULE:FREQ=YEARLY",
        "SUMMARY:Christmas",
        "  Day",
        "END:VEVENT",
        "END:VCALENDAR",
    ])
}

/// Import (created, then refused, then replaced), show, list, a job that skips the days, a
/// delete refused while the job lists the calendar and done once it does not, and apply.
async fn every_calendars_command_against_the_server(server: Server) {
    let ctl = server.ctl();
    let dir = TempDir::new("calendars");
    let ics = dir.write("holidays.ics", &holidays());

    // import: created, the dates as the file has them
    let imported = ctl
        .run(&[
            "calendars",
            "import",
            "closures",
            "--file",
            &ics,
            "--description",
            "office closed",
        ])
        .await;
    assert_eq!(
        imported.ok().trim(),
        "Calendar closures created: 2 dates imported; no job uses it.",
        "{imported:#?}"
    );
    let shown = ctl.json(&["calendars", "show", "closures"]).await;
    assert_eq!(shown["name"], "closures");
    assert_eq!(shown["timezone"], "UTC");
    assert_eq!(shown["description"], "office closed");
    assert_eq!(
        shown["dates"],
        json!([
            {"from": "2030-01-01", "to": "2030-01-02", "yearly": false,
             "label": "New Year closure"},
            {"from": "2030-12-25", "to": "2030-12-25", "yearly": true,
             "label": "Christmas Day"},
        ])
    );
    // show as a table: the fields, then one row per date
    let table = ctl.run(&["calendars", "show", "closures"]).await;
    let text = table.ok();
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .position(|line| line.starts_with("FROM"))
        .unwrap_or_else(|| panic!("no dates table: {text}"));
    let rows: Vec<Vec<&str>> = lines[header + 1..]
        .iter()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["2030-01-01", "2030-01-02", "no", "New", "Year", "closure"],
            vec!["2030-12-25", "2030-12-25", "yes", "Christmas", "Day"],
        ],
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("description") && line.ends_with("office closed")),
        "{text}"
    );
    // list: a table and the server's JSON
    let list = ctl.run(&["calendars", "list"]).await;
    let text = list.ok();
    assert!(text.starts_with("NAME"), "{text}");
    let row: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row, ["closures", "UTC", "2", "office", "closed"], "{text}");
    let listed = ctl.json(&["calendars", "list"]).await;
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["results"][0]["name"], "closures");

    // the same name again: the server's name error, exit 5; --replace replaces it
    let again = ctl
        .run(&["calendars", "import", "closures", "--file", &ics])
        .await;
    assert!(
        again
            .fails(5)
            .contains("\n  name: calendar with this name already exists."),
        "{again:#?}"
    );
    let replaced = ctl
        .run(&[
            "calendars",
            "import",
            "closures",
            "--file",
            &ics,
            "--timezone",
            "Europe/London",
            "--replace",
        ])
        .await;
    assert_eq!(
        replaced.ok().trim(),
        "Calendar closures replaced: 2 dates imported; no job uses it.",
        "{replaced:#?}"
    );
    // A PUT replaces it whole: the zone given, the description gone.
    let shown = ctl.json(&["calendars", "show", "closures"]).await;
    assert_eq!(shown["timezone"], "Europe/London");
    assert_eq!(shown["description"], "");
    assert_eq!(shown["dates"].as_array().unwrap().len(), 2);

    // a job listing it skips the excluded days
    let job = ctl
        .json(&[
            "jobs",
            "create",
            "--name",
            "daily",
            "--cron",
            "0 9 * * *",
            "--timezone",
            "UTC",
            "--start-time",
            "2030-01-01T00:00:00Z",
            "--calendar",
            "closures",
        ])
        .await;
    assert_eq!(job["calendars"], json!(["closures"]));
    assert_eq!(job["on_excluded"], "skip");
    assert_eq!(job["next_run"], "2030-01-03T09:00:00Z");
    let id = job["id"].to_string();
    let shown = ctl.run(&["jobs", "get", &id]).await;
    let text = shown.ok();
    assert!(
        text.lines()
            .any(|line| line.starts_with("calendars") && line.ends_with("closures")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|line| line.starts_with("on_excluded") && line.ends_with("skip")),
        "{text}"
    );
    // replacing the calendar names the job it recomputed
    let recomputed = ctl
        .run(&[
            "calendars",
            "import",
            "closures",
            "--file",
            &ics,
            "--replace",
        ])
        .await;
    assert_eq!(
        recomputed.ok().trim(),
        format!("Calendar closures replaced: 2 dates imported; next run recomputed for job {id}."),
        "{recomputed:#?}"
    );
    let saved = ctl
        .json(&[
            "calendars",
            "import",
            "closures",
            "--file",
            &ics,
            "--replace",
        ])
        .await;
    assert_eq!(saved["job_ids"], json!([job["id"]]));
    assert_eq!(saved["calendar"]["name"], "closures");

    // deleting it while the job lists it: a conflict naming the job
    let refused = ctl.run(&["calendars", "delete", "closures"]).await;
    let stderr = refused.fails(6);
    assert!(stderr.contains("conflict (409 Conflict)"), "{stderr}");
    assert!(
        stderr.contains(&format!("calendar closures is used by job {id}")),
        "{stderr}"
    );
    let cleared = ctl.json(&["jobs", "update", &id, "--no-calendars"]).await;
    assert_eq!(cleared["calendars"], json!([]));
    assert_eq!(cleared["next_run"], "2030-01-01T09:00:00Z");
    let deleted = ctl.run(&["calendars", "delete", "closures"]).await;
    assert_eq!(deleted.ok().trim(), "Deleted calendar closures.");
    let gone = ctl.run(&["calendars", "show", "closures"]).await;
    assert!(
        gone.fails(3)
            .contains("not found (404 Not Found): Calendar not found"),
        "{gone:#?}"
    );

    // apply: a JSON body naming the calendar, created then replaced
    let body = dir.write(
        "freeze.json",
        r#"{"name": "freeze", "dates": [{"date": "2030-06-01", "label": "release"}]}"#,
    );
    let applied = ctl.run(&["calendars", "apply", "--file", &body]).await;
    assert_eq!(
        applied.ok().trim(),
        "Calendar freeze created: 1 date; no job uses it.",
        "{applied:#?}"
    );
    let reapplied = ctl.json(&["calendars", "apply", "-f", &body]).await;
    assert_eq!(
        reapplied["calendar"]["dates"],
        json!([{"from": "2030-06-01", "to": "2030-06-01", "yearly": false, "label": "release"}])
    );
    let deleted = ctl.json(&["calendars", "delete", "freeze"]).await;
    assert_eq!(deleted, json!({"name": "freeze", "deleted": true}));
    assert_eq!(ctl.json(&["calendars", "list"]).await["count"], 0);
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => support::sqlite_server, postgres => support::postgres_server },
    tests: [every_calendars_command_against_the_server],
}

/// `--calendar` replaces a job's list on update, `--on-excluded move` moves the excluded
/// fires, a name the tenant has no calendar of is the server's field error, and `cron
/// preview --calendar` marks the fires.
#[tokio::test]
async fn calendar_flags_of_jobs_and_cron_preview() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let dir = TempDir::new("calendar-flags");
    let ics = dir.write("holidays.ics", &holidays());
    ctl.run(&["calendars", "import", "closures", "--file", &ics])
        .await
        .ok();
    let body = dir.write(
        "freeze.json",
        r#"{"name": "freeze", "dates": [{"from": "2030-01-03", "to": "2030-01-04"}]}"#,
    );
    ctl.run(&["calendars", "apply", "--file", &body]).await.ok();

    let unknown = ctl
        .run(&[
            "jobs",
            "create",
            "--name",
            "nightly",
            "--cron",
            "0 9 * * *",
            "--calendar",
            "nope",
        ])
        .await;
    assert!(
        unknown
            .fails(5)
            .contains("\n  calendars: No calendar named \"nope\""),
        "{unknown:#?}"
    );
    let job = ctl
        .json(&[
            "jobs",
            "create",
            "--name",
            "nightly",
            "--cron",
            "0 9 * * *",
            "--start-time",
            "2030-01-01T00:00:00Z",
            "--calendar",
            "closures",
            "--on-excluded",
            "move",
        ])
        .await;
    assert_eq!(job["on_excluded"], "move");
    assert_eq!(job["next_run"], "2030-01-03T09:00:00Z");
    let id = job["id"].to_string();
    let both = ctl
        .json(&[
            "jobs",
            "update",
            &id,
            "--calendar",
            "closures",
            "--calendar",
            "freeze",
            "--on-excluded",
            "skip",
        ])
        .await;
    assert_eq!(both["calendars"], json!(["closures", "freeze"]));
    assert_eq!(both["on_excluded"], "skip");
    assert_eq!(both["next_run"], "2030-01-05T09:00:00Z");
    let replaced = ctl
        .json(&["jobs", "update", &id, "--calendar", "freeze"])
        .await;
    assert_eq!(replaced["calendars"], json!(["freeze"]));
    assert_eq!(replaced["next_run"], "2030-01-01T09:00:00Z");
    let shown = ctl.run(&["jobs", "get", &id]).await;
    assert!(
        shown
            .ok()
            .lines()
            .any(|line| line.starts_with("calendars") && line.ends_with("freeze")),
        "{shown:#?}"
    );
    let both_ways = ctl
        .run(&["jobs", "update", &id, "--calendar", "x", "--no-calendars"])
        .await;
    both_ways.fails(2);

    // cron preview marks the excluded fires, skipped or moved
    let preview = ctl
        .json(&[
            "cron",
            "preview",
            "0 9 * * *",
            "--after",
            "2030-01-01T00:00:00Z",
            "-n",
            "3",
            "--calendar",
            "closures",
            "--calendar",
            "freeze",
            "--on-excluded",
            "move",
        ])
        .await;
    assert_eq!(
        preview["excluded"],
        json!([
            {"at": "2030-01-01T09:00:00Z", "calendar": "closures",
             "moved_to": "2030-01-05T09:00:00Z"},
            {"at": "2030-01-02T09:00:00Z", "calendar": "closures",
             "moved_to": "2030-01-05T09:00:00Z"},
            {"at": "2030-01-03T09:00:00Z", "calendar": "freeze",
             "moved_to": "2030-01-05T09:00:00Z"},
        ])
    );
    let table = ctl
        .run(&[
            "cron",
            "preview",
            "0 9 * * *",
            "--after",
            "2030-01-01T00:00:00Z",
            "-n",
            "3",
            "--calendar",
            "closures",
        ])
        .await;
    let text = table.ok();
    let fires: Vec<&str> = text.lines().skip(3).collect();
    assert_eq!(fires.len(), 3, "{text}");
    assert!(
        fires[0].ends_with("2030-01-01T09:00:00Z  skipped (excluded by closures)"),
        "{text}"
    );
    assert!(
        fires[1].ends_with("2030-01-02T09:00:00Z  skipped (excluded by closures)"),
        "{text}"
    );
    assert!(fires[2].ends_with("2030-01-03T09:00:00Z"), "{text}");
    let moved = ctl
        .run(&[
            "cron",
            "preview",
            "0 9 * * *",
            "--after",
            "2030-01-01T00:00:00Z",
            "-n",
            "1",
            "--calendar",
            "closures",
            "--on-excluded",
            "move",
        ])
        .await;
    assert!(
        moved.ok().lines().nth(3).is_some_and(|line| line.ends_with(
            "2030-01-01T09:00:00Z  moved to 2030-01-03T09:00:00Z (excluded by closures)"
        )),
        "{moved:#?}"
    );
}

/// What the client cannot send exits 2 and sends nothing: an .ics that is wrong (the line
/// named), a file without events, an `apply` body without a name, a name that is a path.
#[tokio::test]
async fn input_the_client_cannot_send_exits_2_naming_the_problem() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let dir = TempDir::new("calendar-input");
    let bad = dir.write(
        "bad.ics",
        &crlf(&[
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "BEGIN:VEVENT",
            "SUMMARY:Founders' Day",
            "DTSTART;VALUE=DATE:2030-13-45",
            "END:VEVENT",
            "END:VCALENDAR",
        ]),
    );
    let refused = ctl
        .run(&["calendars", "import", "founders", "--file", &bad])
        .await;
    let stderr = refused.fails(2);
    assert!(
        stderr.starts_with(&format!("error: {bad}: line 5: ")),
        "{stderr}"
    );
    let not_ics = dir.write("notes.txt", "just some notes\n");
    let refused = ctl
        .run(&["calendars", "import", "notes", "--file", &not_ics])
        .await;
    assert!(
        refused.fails(2).contains("line 1: not an iCalendar file"),
        "{refused:#?}"
    );
    let empty = dir.write(
        "empty.ics",
        &crlf(&["BEGIN:VCALENDAR", "VERSION:2.0", "END:VCALENDAR"]),
    );
    let refused = ctl
        .run(&["calendars", "import", "empty", "--file", &empty])
        .await;
    assert!(
        refused.fails(2).contains("no dates to import"),
        "{refused:#?}"
    );
    let missing = ctl
        .run(&["calendars", "import", "x", "--file", "/nonexistent/h.ics"])
        .await;
    assert!(
        missing.fails(2).contains("cannot read /nonexistent/h.ics"),
        "{missing:#?}"
    );
    let unnamed = dir.write("unnamed.json", r#"{"dates": []}"#);
    let refused = ctl.run(&["calendars", "apply", "--file", &unnamed]).await;
    assert!(
        refused.fails(2).contains("must name the calendar"),
        "{refused:#?}"
    );
    let dots = ctl.run(&["calendars", "delete", ".."]).await;
    assert!(
        dots.fails(2).contains("is not a calendar name"),
        "{dots:#?}"
    );
    // A name with a slash stays one segment: the server answers for that name, not a path.
    let slash = ctl.run(&["calendars", "show", "a/../../jobs"]).await;
    assert!(slash.fails(3).contains("Calendar not found"), "{slash:#?}");
    // The stdin form works too, and its errors say where the text came from.
    let piped = ctl
        .run_with_input(
            &["calendars", "import", "piped", "--file", "-"],
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VEVENT\nEND:VCALENDAR\n",
        )
        .await;
    assert!(
        piped
            .fails(2)
            .starts_with("error: standard input: line 2: "),
        "{piped:#?}"
    );
    assert_eq!(ctl.json(&["calendars", "list"]).await["count"], 0);
}
