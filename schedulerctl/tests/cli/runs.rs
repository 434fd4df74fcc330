//! `runs list|get|tail`, with runs started by `jobs run`.

use std::time::Duration;

use serde_json::Value;

use crate::support::{self, Ctl};

/// Creates a job without a target (the server's built-in handler succeeds) and returns its id.
async fn job(ctl: &Ctl, name: &str) -> String {
    ctl.json(&["jobs", "create", "--name", name, "--cron", "@daily"])
        .await["id"]
        .to_string()
}

/// Polls `runs get` until the run is no longer running.
async fn settled(ctl: &Ctl, run: &str) -> Value {
    for _ in 0..200 {
        let run = ctl.json(&["runs", "get", run]).await;
        if run["status"] != "running" {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("run {run} still running");
}

#[tokio::test]
async fn runs_are_listed_filtered_and_shown() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let a = job(&ctl, "a").await;
    let b = job(&ctl, "b").await;
    let run_a = ctl.json(&["jobs", "run", &a]).await["id"].to_string();
    let run_b = ctl.json(&["jobs", "run", &b]).await["id"].to_string();
    let finished = settled(&ctl, &run_a).await;
    assert_eq!(finished["status"], "succeeded");
    settled(&ctl, &run_b).await;

    let listed = ctl.run(&["runs", "list"]).await;
    let table = listed.ok();
    assert!(table.starts_with("ID  JOB"), "{table}");
    assert_eq!(table.lines().count(), 3, "{table}");
    // Newest first.
    assert!(table.lines().nth(1).unwrap().starts_with(&run_b), "{table}");
    assert!(
        table.contains("manual") && table.contains("succeeded"),
        "{table}"
    );
    let page = ctl.json(&["runs", "list", "--job", &a]).await;
    assert_eq!(page["count"], 1);
    assert_eq!(page["results"][0]["id"].to_string(), run_a);
    let across = ctl
        .json(&[
            "runs",
            "list",
            "--status",
            "succeeded",
            "--trigger",
            "manual",
        ])
        .await;
    assert_eq!(across["count"], 2);
    let none = ctl.json(&["runs", "list", "--status", "failed"]).await;
    assert_eq!(none["count"], 0);
    let all = ctl
        .json(&["runs", "list", "--all", "--page-size", "1"])
        .await;
    assert_eq!(all.as_array().unwrap().len(), 2);

    let shown = ctl.run(&["runs", "get", &run_a]).await;
    let table = shown.ok();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("status") && l.ends_with("succeeded")),
        "{table}"
    );
    assert!(table.lines().any(|l| l.starts_with("worker")), "{table}");
    let json = ctl.json(&["runs", "get", &run_a]).await;
    assert_eq!(json["job_id"].to_string(), a);
}

#[tokio::test]
async fn unknown_runs_and_jobs_exit_3_and_a_bad_filter_exits_5() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let missing = ctl.run(&["runs", "get", "4242"]).await;
    assert!(missing.fails(3).contains("Run not found"), "{missing:#?}");
    let no_job = ctl.run(&["runs", "list", "--job", "4242"]).await;
    assert!(no_job.fails(3).contains("Job not found"), "{no_job:#?}");
    let no_job = ctl
        .run(&["runs", "tail", "--job", "4242", "--for", "5s"])
        .await;
    assert!(no_job.fails(3).contains("Job not found"), "{no_job:#?}");
    let bad = ctl.run(&["runs", "list", "--status", "exploded"]).await;
    assert!(bad.fails(5).contains("status: "), "{bad:#?}");
    let bad = ctl.run(&["runs", "list", "--after", "yesterday"]).await;
    assert!(bad.fails(5).contains("scheduled_after: "), "{bad:#?}");
}

#[tokio::test]
async fn runs_tail_prints_a_run_started_with_jobs_run_and_stops_at_count() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let id = job(&ctl, "tailed").await;
    // A run that exists before the tail starts is not printed.
    let before = ctl.json(&["jobs", "run", &id]).await["id"].to_string();
    settled(&ctl, &before).await;
    let tail = ctl
        .start_following(&[
            "runs",
            "tail",
            "--job",
            &id,
            "--count",
            "1",
            "--for",
            "30s",
            "--interval",
            "100ms",
            "--output",
            "json",
        ])
        .await;
    let started = ctl.json(&["jobs", "run", &id]).await;
    let outcome = tail.finish().await;
    let lines: Vec<Value> = outcome
        .ok()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON run per line"))
        .collect();
    // Seen running (if a poll caught it) and then finished: the last line is the final one.
    let last = lines.last().expect("a run was printed");
    assert_eq!(last["id"], started["id"], "{outcome:#?}");
    assert_eq!(last["status"], "succeeded");
    assert_eq!(last["trigger"], "manual");
    assert!(
        lines.iter().all(|run| run["id"] == started["id"]),
        "{outcome:#?}"
    );
    assert!(lines.len() <= 2, "{outcome:#?}");
}

#[tokio::test]
async fn runs_tail_across_jobs_prints_a_table_line_per_run() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let a = job(&ctl, "a").await;
    let b = job(&ctl, "b").await;
    let tail = ctl
        .start_following(&[
            "runs",
            "tail",
            "--count",
            "2",
            "--for",
            "30s",
            "--interval",
            "100ms",
        ])
        .await;
    let run_a = ctl.json(&["jobs", "run", &a]).await["id"].to_string();
    let run_b = ctl.json(&["jobs", "run", &b]).await["id"].to_string();
    let outcome = tail.finish().await;
    let table = outcome.ok();
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("ID"), "{table}");
    let mut finished: Vec<&str> = lines
        .filter(|line| line.contains("succeeded"))
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    // Runs finishing in one poll are printed oldest first; across polls, as they finish.
    finished.sort_unstable();
    let mut started = [run_a.as_str(), run_b.as_str()];
    started.sort_unstable();
    assert_eq!(finished, started, "{table}");
}

#[tokio::test]
async fn runs_tail_for_ends_with_0_and_with_8_when_count_was_not_reached() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let quiet = ctl
        .run(&["runs", "tail", "--for", "500ms", "--interval", "100ms"])
        .await;
    assert_eq!(quiet.ok(), "", "{quiet:#?}");
    let short = ctl
        .run(&[
            "runs",
            "tail",
            "--for",
            "500ms",
            "--interval",
            "100ms",
            "--count",
            "1",
        ])
        .await;
    assert!(
        short.fails(8).contains("--for ended after 0 of the 1 runs"),
        "{short:#?}"
    );
}

#[tokio::test]
async fn runs_tail_stops_at_ctrl_c_with_0() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let id = job(&ctl, "interrupted").await;
    let tail = ctl
        .start_following(&["runs", "tail", "--for", "30s", "--interval", "100ms"])
        .await;
    let run = ctl.json(&["jobs", "run", &id]).await["id"].to_string();
    settled(&ctl, &run).await;
    // Two polls' time to print it.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let started = std::time::Instant::now();
    tail.interrupt();
    let outcome = tail.finish().await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it stopped at the signal"
    );
    let table = outcome.ok();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&format!("{run} ")) && l.contains("succeeded")),
        "{table}"
    );
}

/// Runs carry their job's name in every form (`runs list`, `runs get`, tail lines), and
/// `runs tail --last N` prints the N newest existing runs, oldest first, before following.
#[tokio::test]
async fn runs_show_their_job_name_and_tail_starts_with_the_last_runs() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let id = job(&ctl, "nightly-report").await;
    let mut runs = Vec::new();
    for _ in 0..3 {
        let run = ctl.json(&["jobs", "run", &id]).await["id"].to_string();
        settled(&ctl, &run).await;
        runs.push(run);
    }
    let got = ctl.json(&["runs", "get", &runs[0]]).await;
    assert_eq!(got["job_name"], "nightly-report");
    let listed = ctl.run(&["runs", "list"]).await;
    let table = listed.ok();
    assert!(table.starts_with("ID  JOB  NAME"), "{table}");
    assert_eq!(
        table
            .lines()
            .filter(|l| l.contains("nightly-report"))
            .count(),
        3,
        "{table}"
    );
    let tail = ctl
        .run(&[
            "runs",
            "tail",
            "--last",
            "2",
            "--for",
            "300ms",
            "--interval",
            "100ms",
        ])
        .await;
    let text = tail.ok();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("NAME"),
        "{text}"
    );
    let printed: Vec<&str> = lines[1..]
        .iter()
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    // The two newest, oldest first.
    assert_eq!(printed, [runs[1].as_str(), runs[2].as_str()], "{text}");
    assert!(
        lines[1..].iter().all(|l| l.contains("nightly-report")),
        "{text}"
    );
    let json = ctl
        .run(&[
            "runs", "tail", "--last", "1", "--for", "300ms", "--output", "json",
        ])
        .await;
    let run: Value = serde_json::from_str(json.ok().trim()).unwrap();
    assert_eq!(run["id"].to_string(), runs[2]);
    assert_eq!(run["job_name"], "nightly-report");
}
