//! `jobs history` and `audit list`: the audit trail of changes made through the CLI itself,
//! as JSON and as tables (a change as `field: before → after`, an empty text as `""`, null as
//! `-`), page by page and all at once.

use serde_json::{Value, json};

use crate::support::{self, Ctl, Server};

/// The actions of a page's `results` (or of an `--all` array), in order.
fn actions(entries: &Value) -> Vec<&str> {
    entries
        .get("results")
        .unwrap_or(entries)
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| entry["action"].as_str().expect("an action"))
        .collect()
}

/// The change of `field` in `entry`, as `(before, after)`.
fn change<'a>(entry: &'a Value, field: &str) -> Option<(&'a Value, &'a Value)> {
    entry["changes"]
        .as_array()?
        .iter()
        .find(|c| c["field"] == field)
        .map(|c| (&c["before"], &c["after"]))
}

/// The cursor a `showing ...; more with --cursor C, or --all` note names.
fn cursor_in(note: &str) -> String {
    note.split("--cursor ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no cursor in {note:?}"))
        .to_string()
}

/// Creates a job, then changes, pauses and resumes it with the CLI; returns its id.
async fn a_job_with_a_history(ctl: &Ctl) -> String {
    let id = ctl
        .json(&["jobs", "create", "--name", "report", "--cron", "0 9 * * 1"])
        .await["id"]
        .to_string();
    ctl.run(&["jobs", "update", &id, "--description", "x"])
        .await
        .ok();
    ctl.run(&["jobs", "pause", &id, "--note", "db upgrade"])
        .await
        .ok();
    ctl.run(&["jobs", "resume", &id]).await.ok();
    id
}

async fn a_jobs_changes_are_its_history_and_in_the_audit_trail(server: Server) {
    let ctl = server.ctl();
    let id = a_job_with_a_history(&ctl).await;

    // JSON: the server's page, newest first, each change field by field.
    let history = ctl.json(&["jobs", "history", &id]).await;
    assert_eq!(
        actions(&history),
        ["resume", "pause", "update", "create"],
        "{history}"
    );
    assert_eq!(history["next"], Value::Null);
    let entries = history["results"].as_array().unwrap();
    let (resume, pause, update, create) = (&entries[0], &entries[1], &entries[2], &entries[3]);
    for entry in entries {
        assert_eq!(entry["actor"], "local", "{entry}");
        assert_eq!(entry["kind"], "job", "{entry}");
        assert_eq!(entry["subject"], id, "{entry}");
        assert_eq!(entry["subject_name"], "report", "{entry}");
    }
    assert_eq!(
        change(create, "name"),
        Some((&Value::Null, &json!("report")))
    );
    assert_eq!(
        update["changes"],
        json!([{"field": "description", "before": "", "after": "x"}]),
        "{update}"
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

    // The table: one row per entry, changes as `field: before → after`.
    let shown = ctl.run(&["jobs", "history", &id]).await;
    let table = shown.ok();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["AT", "ACTOR", "ACTION", "CHANGES"], "{table}");
    let row: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(row[1..3], ["local", "update"], "{table}");
    assert!(
        lines[3].ends_with(r#"update  description: "" → x"#),
        "{table}"
    );
    assert!(lines[2].contains("is_active: true → false"), "{table}");
    assert!(lines[2].contains("pause_note: - → db upgrade"), "{table}");
    assert!(lines[1].contains("is_active: false → true"), "{table}");
    assert!(lines[4].contains("name: - → report"), "{table}");
    assert!(shown.stderr.is_empty(), "{shown:#?}");

    // --page-size 1: a note names the next page's cursor, which --cursor shows; --all
    // follows every page into one array (and one table).
    let first = ctl.run(&["jobs", "history", &id, "--page-size", "1"]).await;
    assert_eq!(first.ok().lines().count(), 2, "{first:#?}");
    assert!(first.stdout.contains("resume"), "{first:#?}");
    assert!(
        first
            .stderr
            .starts_with("showing 1 entries; more with --cursor "),
        "{first:#?}"
    );
    assert!(
        first.stderr.trim_end().ends_with(", or --all"),
        "{first:#?}"
    );
    let cursor = cursor_in(&first.stderr);
    let second = ctl
        .json(&[
            "jobs",
            "history",
            &id,
            "--page-size",
            "1",
            "--cursor",
            &cursor,
        ])
        .await;
    assert_eq!(actions(&second), ["pause"], "{second}");
    assert!(second["next"].is_string(), "{second}");
    let all = ctl
        .json(&["jobs", "history", &id, "--page-size", "1", "--all"])
        .await;
    assert_eq!(
        actions(&all),
        ["resume", "pause", "update", "create"],
        "{all}"
    );
    let every = ctl
        .run(&["jobs", "history", &id, "--page-size", "3", "--all"])
        .await;
    assert_eq!(every.ok().lines().count(), 5, "{every:#?}");
    assert!(every.stderr.is_empty(), "{every:#?}");
    let tampered = ctl
        .run(&["jobs", "history", &id, "--cursor", &format!("{cursor}x")])
        .await;
    assert!(
        tampered.fails(3).contains("Invalid cursor"),
        "{tampered:#?}"
    );

    // The tenant's trail has them too, with the same filters the API takes.
    let trail = ctl.json(&["audit", "list", "--kind", "job"]).await;
    let ours: Vec<&Value> = trail["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["subject"] == id)
        .collect();
    assert_eq!(ours.len(), 4, "{trail}");
    assert_eq!(ours[2], update, "{trail}");
    let filtered = ctl
        .json(&[
            "audit",
            "list",
            "--kind",
            "job",
            "--subject",
            &id,
            "--actor",
            "local",
            "--since",
            "2000-01-01T00:00:00Z",
            "--until",
            "2999-01-01T00:00:00Z",
        ])
        .await;
    assert_eq!(filtered["results"], history["results"], "{filtered}");
    let nobody = ctl.json(&["audit", "list", "--actor", "nobody"]).await;
    assert_eq!(nobody["results"], json!([]), "{nobody}");
    let all = ctl
        .json(&[
            "audit",
            "list",
            "--kind",
            "job",
            "--page-size",
            "2",
            "--all",
        ])
        .await;
    assert_eq!(all.as_array().map(Vec::len), Some(4), "{all}");
    let listed = ctl.run(&["audit", "list", "--kind", "job"]).await;
    let table = listed.ok();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "AT", "ACTOR", "KIND", "SUBJECT", "ACTION", "CHANGES"],
        "{table}"
    );
    let row: Vec<&str> = lines[3].split_whitespace().collect();
    let subject = format!("({id})");
    assert_eq!(
        row[2..7],
        ["local", "job", "report", subject.as_str(), "update"],
        "{table}"
    );
    assert!(
        lines[3].ends_with(r#"update  description: "" → x"#),
        "{table}"
    );
    let page = ctl
        .run(&["audit", "list", "--kind", "job", "--page-size", "3"])
        .await;
    assert_eq!(page.ok().lines().count(), 4, "{page:#?}");
    assert!(
        page.stderr
            .starts_with("showing 3 entries; more with --cursor "),
        "{page:#?}"
    );
    let rest = ctl
        .json(&[
            "audit",
            "list",
            "--kind",
            "job",
            "--page-size",
            "3",
            "--cursor",
            &cursor_in(&page.stderr),
        ])
        .await;
    assert_eq!(actions(&rest), ["create"], "{rest}");
    assert_eq!(rest["next"], Value::Null);
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => support::sqlite_server, postgres => support::postgres_server },
    tests: [a_jobs_changes_are_its_history_and_in_the_audit_trail],
}

#[tokio::test]
async fn an_unknown_job_exits_3_and_bad_filters_are_refused() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let missing = ctl.run(&["jobs", "history", "999999"]).await;
    assert!(
        missing
            .fails(3)
            .contains("not found (404 Not Found): Job not found"),
        "{missing:#?}"
    );
    let missing = ctl
        .run(&["jobs", "history", "999999", "--output", "json"])
        .await;
    missing.fails(3);
    let bad = ctl.run(&["audit", "list", "--since", "yesterday"]).await;
    assert!(bad.fails(5).contains("since: "), "{bad:#?}");
    // Caught before anything is sent.
    ctl.run(&["audit", "list", "--kind", "tenant"])
        .await
        .fails(2);
    ctl.run(&["audit", "list", "--page-size", "501"])
        .await
        .fails(2);
    ctl.run(&["jobs", "history", "1", "--all", "--cursor", ""])
        .await
        .fails(2);
    ctl.run(&["jobs", "history", "1", "--page", "2"])
        .await
        .fails(2);
}

#[tokio::test]
async fn keys_are_recorded_as_actors_and_a_read_key_sees_history_not_the_trail() {
    let server = support::sqlite_server().await.unwrap();
    let admin = server
        .ctl()
        .with_key(&support::first_admin_key(&server).await);
    let reader_key = admin
        .run(&["keys", "create", "--name", "viewer", "--scope", "read"])
        .await
        .ok()
        .trim()
        .to_string();
    let reader = server.ctl().with_key(&reader_key);
    let id = a_job_with_a_history(&admin).await;

    let history = reader.json(&["jobs", "history", &id]).await;
    assert_eq!(
        actions(&history),
        ["resume", "pause", "update", "create"],
        "{history}"
    );
    assert!(
        history["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|entry| entry["actor"] == "ops"),
        "{history}"
    );
    let refused = reader.run(&["audit", "list"]).await;
    refused.fails(4);

    let keys = admin.json(&["audit", "list", "--kind", "key"]).await;
    let created: Vec<&Value> = keys["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["subject_name"] == "viewer")
        .collect();
    assert_eq!(created.len(), 1, "{keys}");
    assert_eq!(created[0]["action"], "create");
    assert_eq!(created[0]["actor"], "ops");
    let by_ops = admin
        .json(&["audit", "list", "--actor", "ops", "--kind", "job"])
        .await;
    assert_eq!(actions(&by_ops).len(), 4, "{by_ops}");
    let table = admin.run(&["audit", "list", "--kind", "key"]).await;
    assert!(
        table
            .ok()
            .lines()
            .any(|line| line.contains("key") && line.contains("viewer (")),
        "{table:#?}"
    );
}
