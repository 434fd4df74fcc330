//! `runs replay`: one run (started, then "replayed before"), a run still running (409) and an
//! unknown one (404), and the bulk form (`--dry-run` sends nothing; without it every
//! matching run is replayed, a replay's own failure included), against a receiver that
//! answers 500 to every delivery.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::time::Duration;

use serde_json::Value;

use crate::support::{self, Ctl};

/// Serves every connection on a random loopback port with `status` after `delay`; returns
/// `http://127.0.0.1:<port>/hook`.
fn receiver(status: &'static str, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else {
                return;
            };
            std::thread::spawn(move || {
                let mut request = [0u8; 8192];
                let _ = stream.read(&mut request);
                std::thread::sleep(delay);
                let body = "down for maintenance";
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            });
        }
    });
    url
}

/// Creates a job delivering to `url`, never retried, and returns its id.
async fn job(ctl: &Ctl, name: &str, url: &str) -> String {
    ctl.json(&[
        "jobs",
        "create",
        "--name",
        name,
        "--cron",
        "@daily",
        "--target-url",
        url,
        "--max-retries",
        "0",
    ])
    .await["id"]
        .to_string()
}

/// Polls `runs get` until the run is no longer running.
async fn settled(ctl: &Ctl, run: &str) -> Value {
    for _ in 0..400 {
        let run = ctl.json(&["runs", "get", run]).await;
        if run["status"] != "running" {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("run {run} still running");
}

/// Starts a run of `job` and waits until it has failed; returns its id.
async fn failed_run(ctl: &Ctl, job: &str) -> String {
    let run = ctl.json(&["jobs", "run", job]).await["id"].to_string();
    let done = settled(ctl, &run).await;
    assert_eq!(done["status"], "failed", "{done}");
    run
}

/// How many runs `job` has.
async fn run_count(ctl: &Ctl, job: &str) -> usize {
    let all = ctl.json(&["runs", "list", "--job", job, "--all"]).await;
    all.as_array().unwrap().len()
}

#[tokio::test]
async fn a_failed_run_is_replayed_once_and_then_in_bulk_with_its_replay() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let url = receiver("500 Internal Server Error", Duration::ZERO);
    let id = job(&ctl, "push", &url).await;
    let first = failed_run(&ctl, &id).await;
    let second = failed_run(&ctl, &id).await;

    // One run: a new run of the same fire, linked to it.
    let started = ctl
        .run(&["runs", "replay", &first, "--output", "json"])
        .await;
    let replay: Value = serde_json::from_str(started.ok()).unwrap();
    assert!(started.stderr.contains("replay started"), "{started:#?}");
    assert_eq!(replay["trigger"], "replay");
    assert_eq!(replay["replay_of"].to_string(), first);
    assert_eq!(replay["attempt"], 2);
    let original = ctl.json(&["runs", "get", &first]).await;
    assert_eq!(replay["scheduled_for"], original["scheduled_for"]);
    let replay_id = replay["id"].to_string();
    let done = settled(&ctl, &replay_id).await;
    assert_eq!(done["status"], "failed", "{done}");

    // Asked again: the same replay, exit 0, and runs get shows what it replays.
    let again = ctl.run(&["runs", "replay", &first]).await;
    let table = again.ok();
    assert!(again.stderr.contains("replayed before"), "{again:#?}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("id") && l.ends_with(&replay_id)),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("replay_of") && l.ends_with(&first)),
        "{table}"
    );
    let plain = ctl.run(&["runs", "get", &first]).await;
    assert!(!plain.ok().contains("replay_of"), "{plain:#?}");
    assert_eq!(run_count(&ctl, &id).await, 3);

    // Bulk, dry run: the failed runs (the replay's own failure included), nothing sent.
    let dry = ctl
        .run(&[
            "runs",
            "replay",
            "--status",
            "failed",
            "--job",
            &id,
            "--dry-run",
        ])
        .await;
    let table = dry.ok();
    assert!(table.starts_with("ID  JOB"), "{table}");
    let mut listed: Vec<&str> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    listed.sort_unstable();
    let mut expected = [first.as_str(), second.as_str(), replay_id.as_str()];
    expected.sort_unstable();
    assert_eq!(listed, expected, "{table}");
    assert!(
        dry.stderr
            .contains("3 runs would be replayed, nothing was sent"),
        "{dry:#?}"
    );
    let dry_json = ctl
        .json(&[
            "runs",
            "replay",
            "--status",
            "failed",
            "--job",
            &id,
            "--dry-run",
        ])
        .await;
    assert_eq!(dry_json.as_array().unwrap().len(), 3);
    let limited = ctl
        .run(&[
            "runs",
            "replay",
            "--status",
            "failed",
            "--job",
            &id,
            "--dry-run",
            "--limit",
            "2",
        ])
        .await;
    assert_eq!(limited.ok().lines().count(), 3, "{limited:#?}");
    assert!(
        limited.stderr.contains(
            "2 runs would be replayed, nothing was sent; more runs match beyond --limit 2"
        ),
        "{limited:#?}"
    );
    assert_eq!(run_count(&ctl, &id).await, 3);

    // Bulk: the first was replayed before; the second and the replay start now.
    let bulk = ctl
        .run(&["runs", "replay", "--status", "failed", "--job", &id])
        .await;
    let table = bulk.ok();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["ORIGINAL", "REPLAY", "STATUS"], "{table}");
    let rows: HashMap<String, Vec<String>> = lines
        .map(|l| {
            let cells: Vec<String> = l.split_whitespace().map(str::to_string).collect();
            (cells[0].clone(), cells[1..].to_vec())
        })
        .collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert_eq!(rows[&first], [&replay_id, "already", "replayed"], "{table}");
    assert_eq!(rows[&second][1], "started", "{table}");
    assert_eq!(rows[&replay_id][1], "started", "{table}");
    assert!(
        bulk.stderr
            .contains("3 runs: 2 replays started, 1 already replayed, 0 failed"),
        "{bulk:#?}"
    );
    assert_eq!(run_count(&ctl, &id).await, 5);
    // The replay of a replay is its next attempt.
    let replay_of_replay = ctl.json(&["runs", "get", &rows[&replay_id][0]]).await;
    assert_eq!(replay_of_replay["replay_of"].to_string(), replay_id);
    assert_eq!(replay_of_replay["attempt"], 3);
    assert_eq!(replay_of_replay["trigger"], "replay");
    let replays = ctl
        .json(&["runs", "list", "--job", &id, "--trigger", "replay"])
        .await;
    assert_eq!(replays["count"], 3, "{replays}");
    for run in [&rows[&second][0], &rows[&replay_id][0]] {
        settled(&ctl, run).await;
    }
}

#[tokio::test]
async fn a_running_run_is_a_conflict_and_an_unknown_one_is_not_found() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let url = receiver("200 OK", Duration::from_secs(3));
    let id = job(&ctl, "slow", &url).await;
    let running = ctl.json(&["jobs", "run", &id]).await["id"].to_string();

    let refused = ctl.run(&["runs", "replay", &running]).await;
    assert!(
        refused.fails(6).contains(
            "conflict (409 Conflict): The run is still running; replay it once it has ended."
        ),
        "{refused:#?}"
    );
    // In bulk the failure is the run's STATUS, and the exit code is its.
    let bulk = ctl
        .run(&["runs", "replay", "--status", "running", "--job", &id])
        .await;
    assert_eq!(bulk.code, 6, "{bulk:#?}");
    let row = bulk.stdout.lines().nth(1).unwrap_or_default();
    assert!(
        row.starts_with(&format!("{running} ")) && row.contains("The run is still running"),
        "{bulk:#?}"
    );
    assert!(
        bulk.stderr
            .contains("1 runs: 0 replays started, 0 already replayed, 1 failed"),
        "{bulk:#?}"
    );
    settled(&ctl, &running).await;

    let missing = ctl.run(&["runs", "replay", "999999"]).await;
    assert!(missing.fails(3).contains("Run not found"), "{missing:#?}");
    let usage = ctl
        .run(&["runs", "replay", &running, "--status", "failed"])
        .await;
    usage.fails(2);
    let usage = ctl.run(&["runs", "replay", "--job", &id]).await;
    usage.fails(2);
}
