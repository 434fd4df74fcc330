//! `apply`, `diff` and `get jobs`: schedules kept in YAML and JSON files, made true on the
//! server in one request; the plan, the drift exit code, the export round trip (secrets
//! masked), prune, and errors naming the file, the job and the field.

use crate::support::{self, Server, TempDir};

const TEAM: &str = "\
owner: team-a
jobs:
  - name: nightly-report
    cron_expression: 0 2 * * *
    timezone: Europe/London
    parameters:
      action: report
  - name: hook
    cron_expression: \"*/15 * * * *\"
    target:
      type: http
      url: http://127.0.0.1:9/hook
      headers:
        Authorization: Bearer s3cret-value
";

const MORE: &str = r#"{"owner": "team-a", "jobs": [
    {"name": "every-minute", "interval_seconds": 60, "max_retries": 2}
]}"#;

async fn job_names(ctl: &support::Ctl) -> Vec<String> {
    let mut names: Vec<String> = ctl
        .json(&["jobs", "list", "--all"])
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

async fn files_are_planned_applied_exported_and_pruned(server: Server) {
    let ctl = server.ctl();
    let dir = TempDir::new("apply");
    let team = dir.write("team.yaml", TEAM);
    dir.write("more.json", MORE);
    dir.write("notes.txt", "not a job file");
    let path = std::path::Path::new(&team)
        .parent()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();

    // diff: everything to create, exit 1, the plan on standard output.
    let drift = ctl.run(&["diff", "-f", &path]).await;
    assert_eq!(drift.code, 1, "{drift:#?}");
    assert!(
        drift.stdout.contains("+ create nightly-report\n"),
        "{drift:#?}"
    );
    assert!(
        drift.stdout.contains("+ create every-minute\n"),
        "{drift:#?}"
    );
    assert!(
        drift
            .stdout
            .contains("Plan for team-a: 3 to create, 0 to update, 0 to delete, 0 unchanged"),
        "{drift:#?}"
    );
    assert!(
        drift.stderr.contains("differs from the files: 3 job(s)"),
        "{drift:#?}"
    );
    // No colour codes into a pipe.
    assert!(!drift.stdout.contains('\u{1b}'), "{drift:#?}");

    let dry = ctl.run(&["apply", "-f", &path, "--dry-run"]).await;
    assert!(dry.ok().contains("3 to create"), "{dry:#?}");
    assert!(
        job_names(&ctl).await.is_empty(),
        "a dry run changes nothing"
    );

    let applied = ctl.run(&["apply", "-f", &path]).await;
    assert!(
        applied.ok().contains("+ created hook\n")
            && applied
                .stdout
                .contains("Applied team-a: 3 created, 0 updated, 0 deleted, 0 unchanged."),
        "{applied:#?}"
    );
    assert!(applied.stderr.is_empty(), "quiet when piped: {applied:#?}");
    assert_eq!(
        job_names(&ctl).await,
        ["every-minute", "hook", "nightly-report"]
    );

    let same = ctl.run(&["diff", "-f", &path]).await;
    assert!(
        same.ok()
            .contains("0 to create, 0 to update, 0 to delete, 3 unchanged"),
        "{same:#?}"
    );

    // Export: the file format, secrets masked; applying it back changes nothing.
    let exported = ctl.run(&["get", "jobs", "--owner", "team-a"]).await;
    let text = exported.ok();
    assert!(text.starts_with("owner: team-a\njobs:\n- name: "), "{text}");
    assert!(
        text.contains("Authorization: '***'") || text.contains("Authorization: \"***\""),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "a secret was exported: {text}");
    for absent in ["id:", "next_run", "managed_by", "fire_count", "created_at"] {
        assert!(!text.contains(absent), "{absent} in {text}");
    }
    let copy = TempDir::new("apply-export");
    let copy_path = copy.write("exported.yaml", text);
    let round = ctl.run(&["diff", "-f", &copy_path]).await;
    assert!(round.ok().contains("3 unchanged"), "{round:#?}");
    // -o json: the same file as JSON, without an owner when none is asked.
    let every = ctl.json(&["get", "jobs"]).await;
    assert_eq!(every["jobs"].as_array().unwrap().len(), 3, "{every}");
    assert!(every.get("owner").is_none(), "{every}");

    // A change, as JSON: the field, from and to.
    dir.write("team.yaml", &TEAM.replace("0 2 * * *", "30 3 * * *"));
    let changed = ctl.json(&["apply", "-f", &path]).await;
    assert_eq!(
        (changed["updated"].as_u64(), changed["unchanged"].as_u64()),
        (Some(1), Some(2)),
        "{changed}"
    );
    let update = changed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["action"] == "update")
        .unwrap();
    assert_eq!(update["changes"][0]["field"], "cron_expression");
    assert_eq!(update["changes"][0]["before"], "0 2 * * *");
    assert_eq!(update["changes"][0]["after"], "30 3 * * *");

    // A job leaves the files: kept without --prune, deleted with it.
    std::fs::remove_file(std::path::Path::new(&path).join("more.json")).unwrap();
    ctl.run(&["apply", "-f", &path]).await.ok();
    assert_eq!(job_names(&ctl).await.len(), 3);
    let pruned = ctl.run(&["apply", "-f", &path, "--prune"]).await;
    assert!(
        pruned.ok().contains("- deleted every-minute\n"),
        "{pruned:#?}"
    );
    assert_eq!(job_names(&ctl).await, ["hook", "nightly-report"]);

    // -o yaml works for every command: the server's JSON as YAML.
    let listed = ctl.run(&["jobs", "list", "-o", "yaml"]).await;
    assert!(listed.ok().contains("name: nightly-report"), "{listed:#?}");
    assert!(listed.stdout.contains("count: 2"), "{listed:#?}");
}

async fn bad_files_name_the_file_the_job_and_the_field(server: Server) {
    let ctl = server.ctl();
    let dir = TempDir::new("apply-bad");
    let good = dir.write("good.yaml", TEAM);
    ctl.run(&["apply", "-f", &good]).await.ok();
    let bad = dir.write(
        "bad.yaml",
        "owner: team-a\njobs:\n  - name: broken\n    cron_expression: 61 * * * *\n  - name: twice\n    interval_seconds: 60\n  - name: twice\n    interval_seconds: 120\n",
    );
    let refused = ctl.run(&["apply", "-f", &bad, "--prune"]).await;
    let stderr = refused.fails(5);
    assert!(
        stderr.contains("bad.yaml: job \"broken\": cron_expression:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("bad.yaml: job \"twice\": name: \"twice\" is listed twice."),
        "{stderr}"
    );
    assert_eq!(
        job_names(&ctl).await,
        ["hook", "nightly-report"],
        "nothing changed"
    );

    // What the client cannot read is a usage error naming the file; nothing is sent.
    let broken = dir.write("broken.yaml", "owner: team-a\njobs: [unclosed\n");
    assert!(
        ctl.run(&["apply", "-f", &broken])
            .await
            .fails(2)
            .contains("broken.yaml is not YAML")
    );
    let other = dir.write("other.yaml", "owner: team-b\njobs: []\n");
    let mixed = ctl.run(&["apply", "-f", &good, "-f", &other]).await;
    assert!(
        mixed
            .fails(2)
            .contains("one apply manages one owner's jobs"),
        "{mixed:#?}"
    );
    let ownerless = dir.write("ownerless.json", r#"{"jobs": []}"#);
    assert!(
        ctl.run(&["apply", "-f", &ownerless])
            .await
            .fails(2)
            .contains("--owner")
    );
    let stray = dir.write("stray.yaml", "owner: team-a\njob: []\n");
    assert!(
        ctl.run(&["apply", "-f", &stray])
            .await
            .fails(2)
            .contains("unknown key \"job\"")
    );

    // A name another owner manages is refused, by name.
    let theirs = dir.write(
        "theirs.yaml",
        "owner: team-b\njobs:\n  - name: hook\n    interval_seconds: 60\n",
    );
    let taken = ctl.run(&["apply", "-f", &theirs]).await;
    assert!(taken.fails(5).contains("theirs.yaml: job \"hook\": name: A job named \"hook\" exists and is managed by \"team-a\""), "{taken:#?}");
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => support::sqlite_server, postgres => support::postgres_server },
    tests: [
        files_are_planned_applied_exported_and_pruned,
        bad_files_name_the_file_the_job_and_the_field,
    ],
}
