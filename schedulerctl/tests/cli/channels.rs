//! `channels list|show|create|apply|delete|test` and `notifications list`. The server is the
//! test one (no dispatcher, so nothing queued is ever sent; no DNS): channels point at
//! `hooks.example.com`, which creating, applying and testing a channel never contact.

use serde_json::{Value, json};

use crate::support::{self, Server, TempDir};

/// The words of each line of `text`.
fn rows(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .map(|l| l.split_whitespace().collect())
        .collect()
}

/// The value column of the `field` line of a `channels show` table.
fn field<'a>(text: &'a str, field: &str) -> &'a str {
    text.lines()
        .find_map(|line| {
            line.strip_prefix(field)
                .filter(|rest| rest.starts_with(' '))
                .map(str::trim)
        })
        .unwrap_or_else(|| panic!("no {field} in {text}"))
}

/// The ids of a `notifications list -o json` array.
fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|n| n["id"].as_i64().unwrap())
        .collect()
}

/// Create (a header shown masked), list, show, apply (replace and create), test and the
/// notification it queued, delete, and what the server refuses.
async fn every_channels_command_against_the_server(server: Server) {
    let ctl = server.ctl();
    let dir = TempDir::new("channels");

    // create: a webhook with a header, whose value never comes back
    let created = ctl
        .run(&[
            "channels",
            "create",
            "ops",
            "--kind",
            "webhook",
            "--target-url",
            "https://hooks.example.com/x",
            "--header",
            "X-Token: s3cret",
            "--event",
            "recovered",
            "--event",
            "failed",
        ])
        .await;
    let text = created.ok();
    assert_eq!(field(text, "name"), "ops", "{text}");
    assert_eq!(field(text, "kind"), "webhook", "{text}");
    assert_eq!(field(text, "url"), "https://hooks.example.com/x", "{text}");
    assert_eq!(field(text, "headers"), "X-Token: ***", "{text}");
    assert_eq!(field(text, "events"), "failed, recovered", "{text}");
    assert_eq!(field(text, "jobs"), "all", "{text}");
    assert_eq!(field(text, "enabled"), "yes", "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(created.stderr.is_empty(), "{created:#?}");

    // an email channel for one job, disabled; -o json is the server's channel
    let job = ctl
        .json(&["jobs", "create", "--name", "report", "--cron", "0 9 * * 1"])
        .await;
    let job_id = job["id"].to_string();
    let mail = ctl
        .json(&[
            "channels",
            "create",
            "mail",
            "--kind",
            "email",
            "--to",
            "ops@example.com",
            "--to",
            "oncall@example.com",
            "--job",
            &job_id,
            "--disabled",
        ])
        .await;
    assert_eq!(mail["url"], Value::Null, "{mail}");
    assert_eq!(
        mail["to"],
        json!(["ops@example.com", "oncall@example.com"]),
        "{mail}"
    );
    assert_eq!(mail["jobs"], json!([job["id"]]), "{mail}");
    assert_eq!(mail["enabled"], false, "{mail}");
    assert_eq!(
        mail["events"],
        json!(["failed", "timed_out", "missed", "auto_paused", "recovered"]),
        "{mail}"
    );

    // a taken name: the server's name error, exit 5
    let again = ctl
        .run(&[
            "channels",
            "create",
            "ops",
            "--kind",
            "slack",
            "--target-url",
            "https://hooks.example.com/y",
        ])
        .await;
    assert!(
        again
            .fails(5)
            .contains("\n  name: channel with this name already exists."),
        "{again:#?}"
    );

    // list: a table (by name) and the server's JSON
    let list = ctl.run(&["channels", "list"]).await;
    let text = list.ok();
    assert_eq!(
        rows(text),
        [
            vec!["NAME", "KIND", "TARGET", "EVENTS", "JOBS", "ENABLED"],
            vec![
                "mail",
                "email",
                "ops@example.com,",
                "oncall@example.com",
                "failed,",
                "timed_out,",
                "missed,",
                "auto_paused,",
                "recovered",
                job_id.as_str(),
                "no"
            ],
            vec![
                "ops",
                "webhook",
                "https://hooks.example.com/x",
                "failed,",
                "recovered",
                "all",
                "yes"
            ],
        ],
        "{text}"
    );
    let listed = ctl.json(&["channels", "list"]).await;
    assert_eq!(listed["count"], 2, "{listed}");
    assert_eq!(listed["results"][1]["headers"], json!({"X-Token": "***"}));

    // show: a table, its alias get, and JSON
    let shown = ctl.json(&["channels", "show", "ops"]).await;
    assert_eq!(shown["headers"], json!({"X-Token": "***"}), "{shown}");
    assert_eq!(shown["events"], json!(["failed", "recovered"]), "{shown}");
    let got = ctl.run(&["channels", "get", "mail"]).await;
    let text = got.ok();
    assert_eq!(field(text, "to"), "ops@example.com, oncall@example.com");
    assert_eq!(field(text, "jobs"), job_id, "{text}");
    assert_eq!(field(text, "url"), "-", "{text}");

    // apply a list: ops replaced (its header kept by ***), chat created; in order
    let both = dir.write(
        "channels.json",
        &json!([
            {"name": "ops", "kind": "webhook", "url": "https://hooks.example.com/v2",
             "headers": {"X-Token": "***"}, "events": ["failed"]},
            {"name": "chat", "kind": "slack",
             "url": "https://hooks.example.com/services/T0/B0/SECRET"},
        ])
        .to_string(),
    );
    let applied = ctl.run(&["channels", "apply", &both]).await;
    assert_eq!(
        applied.ok(),
        "Channel ops replaced.\nChannel chat created.\n",
        "{applied:#?}"
    );
    let ops = ctl.json(&["channels", "show", "ops"]).await;
    assert_eq!(ops["url"], "https://hooks.example.com/v2", "{ops}");
    assert_eq!(ops["headers"], json!({"X-Token": "***"}), "{ops}");
    assert_eq!(ops["events"], json!(["failed"]), "{ops}");
    let chat = ctl.run(&["channels", "show", "chat"]).await;
    let text = chat.ok();
    assert_eq!(
        field(text, "url"),
        "https://hooks.example.com/***",
        "{text}"
    );
    assert!(!text.contains("SECRET"), "{text}");
    // one object, by --file as calendars apply takes it: -o json is the server's channel
    let one = dir.write(
        "chat.json",
        r#"{"name": "chat", "kind": "slack", "url": "https://hooks.example.com/services/T1",
            "enabled": false}"#,
    );
    let reapplied = ctl.json(&["channels", "apply", "--file", &one]).await;
    assert_eq!(reapplied["name"], "chat", "{reapplied}");
    assert_eq!(reapplied["enabled"], false, "{reapplied}");
    let listed = ctl.json(&["channels", "apply", &both]).await;
    let names: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, ["ops", "chat"], "{listed}");
    // a list stopped by its second channel: the first was written, the rest not sent
    let stopped = dir.write(
        "stopped.json",
        &json!([
            {"name": "ops", "kind": "webhook", "url": "https://hooks.example.com/v3"},
            {"name": "bad", "kind": "pager"},
            {"name": "never", "kind": "slack", "url": "https://hooks.example.com/z"},
        ])
        .to_string(),
    );
    let refused = ctl.run(&["channels", "apply", &stopped]).await;
    assert_eq!(refused.code, 5, "{refused:#?}");
    assert_eq!(refused.stdout, "Channel ops replaced.\n", "{refused:#?}");
    assert!(refused.stderr.contains("\n  kind: "), "{refused:#?}");
    assert!(
        refused.stderr.contains(
            "channel bad (2 of 3) was not applied; 1 before it were, the 1 after it were not \
             sent"
        ),
        "{refused:#?}"
    );
    ctl.run(&["channels", "show", "never"]).await.fails(3);

    // test: the id alone on stdout; the notification waits (no dispatcher sends it)
    let tested = ctl.run(&["channels", "test", "ops"]).await;
    let id: i64 = tested
        .ok()
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("not an id ({e}): {tested:#?}"));
    assert!(
        tested
            .stderr
            .contains(&format!("channel ops: notification {id}")),
        "{tested:#?}"
    );
    let queued = ctl.json(&["channels", "test", "ops"]).await;
    let second = queued["notification_id"].as_i64().unwrap();
    assert!(second > id, "{queued}");
    let notes = ctl.json(&["notifications", "list"]).await;
    assert_eq!(ids(&notes), [second, id], "{notes}");
    let note = &notes[1];
    assert_eq!(note["channel"], "ops", "{note}");
    assert_eq!(note["event"], "test", "{note}");
    assert_eq!(note["status"], "pending", "{note}");
    let table = ctl.run(&["notifications", "list"]).await;
    let text = table.ok();
    let lines = rows(text);
    assert_eq!(
        lines[0],
        [
            "ID", "CREATED", "CHANNEL", "EVENT", "JOB", "STATUS", "ATTEMPTS", "LAST", "ERROR"
        ],
        "{text}"
    );
    assert_eq!(lines.len(), 3, "{text}");
    let row = &lines[2];
    assert_eq!(row[0], id.to_string(), "{text}");
    assert_eq!(
        row[2..],
        ["ops", "test", "(test)", "pending", "0", "-"],
        "{text}"
    );
    assert!(table.stderr.is_empty(), "{table:#?}");
    // --limit follows pages only as far as asked, and says when more match
    let newest = ctl.run(&["notifications", "list", "--limit", "1"]).await;
    assert_eq!(newest.ok().lines().count(), 2, "{newest:#?}");
    assert!(
        newest
            .stderr
            .contains("showing the newest 1 notifications; more match"),
        "{newest:#?}"
    );
    let two = ctl.run(&["notifications", "list", "--limit", "2"]).await;
    assert!(two.stderr.is_empty(), "{two:#?}");
    let pending = ctl
        .json(&["notifications", "list", "--status", "pending"])
        .await;
    assert_eq!(ids(&pending), [second, id], "{pending}");
    let sent = ctl
        .json(&["notifications", "list", "--status", "sent"])
        .await;
    assert_eq!(sent, json!([]));
    let of_job = ctl.json(&["notifications", "list", "--job", &job_id]).await;
    assert_eq!(of_job, json!([]));

    // a private address is refused naming url: exit 5, the server's message
    let private = ctl
        .run(&[
            "channels",
            "create",
            "internal",
            "--kind",
            "webhook",
            "--target-url",
            "http://10.0.0.1/hook",
        ])
        .await;
    let stderr = private.fails(5);
    assert!(
        stderr.starts_with("error: the server refused the input (400 Bad Request)\n  url: "),
        "{stderr}"
    );
    assert!(stderr.contains("private"), "{stderr}");

    // delete, then it is gone: every command on it exits 3 with the server's sentence
    let deleted = ctl.run(&["channels", "delete", "chat"]).await;
    assert_eq!(deleted.ok().trim(), "Deleted channel chat.");
    let deleted = ctl.json(&["channels", "delete", "mail"]).await;
    assert_eq!(deleted, json!({"name": "mail", "deleted": true}));
    for args in [
        ["channels", "show", "chat"],
        ["channels", "delete", "chat"],
        ["channels", "test", "chat"],
    ] {
        let gone = ctl.run(&args).await;
        assert!(
            gone.fails(3)
                .contains("not found (404 Not Found): Channel not found"),
            "{args:?}: {gone:#?}"
        );
    }
    let left = ctl.json(&["channels", "list"]).await;
    assert_eq!(left["count"], 1, "{left}");

    // the channel changes are in the audit trail
    let trail = ctl.json(&["audit", "list", "--kind", "channel"]).await;
    let chat_entries = trail["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["subject"] == "chat")
        .count();
    assert!(chat_entries >= 2, "{trail}");
    assert!(!trail.to_string().contains("s3cret"), "{trail}");
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => support::sqlite_server, postgres => support::postgres_server },
    tests: [every_channels_command_against_the_server],
}

/// What the client cannot send exits 2 and sends nothing.
#[tokio::test]
async fn input_the_client_cannot_send_exits_2_naming_the_problem() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let dir = TempDir::new("channel-input");
    let header = ctl
        .run(&[
            "channels",
            "create",
            "ops",
            "--kind",
            "webhook",
            "--target-url",
            "https://hooks.example.com/x",
            "--header",
            "no-colon-secret",
        ])
        .await;
    let stderr = header.fails(2);
    assert!(stderr.contains("--header must read"), "{stderr}");
    assert!(!stderr.contains("no-colon-secret"), "{stderr}");
    // `--url` is the server's (global) option: after `channels create` it is refused, since
    // the request and the key would go to it. (A loopback port nothing listens on, should
    // the check ever fail.)
    let misplaced = ctl
        .run(&[
            "channels",
            "create",
            "ops",
            "--kind",
            "webhook",
            "--url",
            "http://127.0.0.1:1/hook",
        ])
        .await;
    let stderr = misplaced.fails(2);
    assert!(
        stderr.starts_with("error: --url after `channels create` is the server's URL"),
        "{stderr}"
    );
    assert!(stderr.contains("--target-url"), "{stderr}");
    for args in [
        vec!["channels", "create", "x"],
        vec!["channels", "create", "x", "--kind", "pager"],
        vec![
            "channels", "create", "x", "--kind", "slack", "--event", "boom",
        ],
        vec!["channels", "apply"],
        vec!["channels", "apply", "a.json", "--file", "b.json"],
        vec!["notifications", "list", "--status", "lost"],
        vec!["notifications", "list", "--limit", "0"],
    ] {
        ctl.run(&args).await.fails(2);
    }
    let unnamed = dir.write("unnamed.json", r#"[{"name": "a"}, {"kind": "slack"}]"#);
    let refused = ctl.run(&["channels", "apply", &unnamed]).await;
    assert!(
        refused.fails(2).contains("channel 2 must name the channel"),
        "{refused:#?}"
    );
    let missing = ctl
        .run(&["channels", "apply", "/nonexistent/channels.json"])
        .await;
    assert!(
        missing
            .fails(2)
            .contains("cannot read /nonexistent/channels.json"),
        "{missing:#?}"
    );
    let dots = ctl.run(&["channels", "show", ".."]).await;
    assert!(dots.fails(2).contains("is not a channel name"), "{dots:#?}");
    // A name with a slash stays one segment: the server answers for that name, not a path.
    let slash = ctl.run(&["channels", "test", "a/../../keys"]).await;
    assert!(slash.fails(3).contains("Channel not found"), "{slash:#?}");
    // From standard input too.
    let piped = ctl
        .run_with_input(
            &["channels", "apply", "-"],
            r#"{"name": "piped", "kind": "slack", "url": "https://hooks.example.com/p"}"#,
        )
        .await;
    assert_eq!(piped.ok(), "Channel piped created.\n", "{piped:#?}");
    let broken = ctl.run_with_input(&["channels", "apply", "-"], "{").await;
    assert!(
        broken
            .fails(2)
            .starts_with("error: standard input is not JSON"),
        "{broken:#?}"
    );
    assert_eq!(ctl.json(&["channels", "list"]).await["count"], 1);
}

/// Channels need an admin key; a read key lists notifications.
#[tokio::test]
async fn a_read_key_lists_notifications_but_not_channels() {
    let server = support::sqlite_server().await.unwrap();
    let admin = server
        .ctl()
        .with_key(&support::first_admin_key(&server).await);
    admin
        .run(&[
            "channels",
            "create",
            "ops",
            "--kind",
            "slack",
            "--target-url",
            "https://hooks.example.com/services/T0",
        ])
        .await
        .ok();
    let id: i64 = admin
        .run(&["channels", "test", "ops"])
        .await
        .ok()
        .trim()
        .parse()
        .unwrap();
    let reader_key = admin
        .run(&["keys", "create", "--name", "viewer", "--scope", "read"])
        .await
        .ok()
        .trim()
        .to_string();
    let reader = server.ctl().with_key(&reader_key);
    reader.run(&["channels", "list"]).await.fails(4);
    reader.run(&["channels", "test", "ops"]).await.fails(4);
    let notes = reader.json(&["notifications", "list"]).await;
    assert_eq!(ids(&notes), [id], "{notes}");
    server.ctl().run(&["notifications", "list"]).await.fails(4);
}
