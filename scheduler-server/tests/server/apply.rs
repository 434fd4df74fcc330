//! `POST /scheduler/apply` on both backends: a file set is planned (dry run changes nothing),
//! applied (created, managed by its owner), applied again (unchanged), changed (one update
//! naming the field, from and to), pruned; an operator's pause survives; a bad file changes
//! nothing and names `jobs[i].<field>`; names managed elsewhere are refused unless adopted.

use serde_json::{Value, json};

use crate::support::TestApp;

async fn apply(app: &TestApp, body: &Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/scheduler/apply"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn file(jobs: Value) -> Value {
    json!({"owner": "team-a", "jobs": jobs})
}

fn three_jobs() -> Value {
    json!([
        {"name": "nightly-report", "cron_expression": "0 2 * * *", "timezone": "Europe/London"},
        {"name": "hourly-sync", "cron_expression": "0 * * * *", "parameters": {"action": "sync"}},
        {"name": "every-minute", "interval_seconds": 60, "max_retries": 2},
    ])
}

/// Every job of the tenant: name → the job as the API shows it.
async fn jobs(app: &TestApp) -> std::collections::BTreeMap<String, Value> {
    let (status, page) = app.get_json("/scheduler/jobs/?page_size=100").await;
    assert_eq!(status, 200, "{page}");
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| (job["name"].as_str().unwrap().to_string(), job.clone()))
        .collect()
}

fn actions(result: &Value) -> Vec<(String, String)> {
    result["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| {
            (
                job["name"].as_str().unwrap().to_string(),
                job["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn a_file_set_is_planned_applied_changed_and_pruned(app: TestApp) {
    // A dry run plans and writes nothing.
    let mut dry = file(three_jobs());
    dry["dry_run"] = json!(true);
    let (status, plan) = apply(&app, &dry).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(
        (&plan["applied"], &plan["created"], &plan["unchanged"]),
        (&json!(false), &json!(3), &json!(0))
    );
    assert!(jobs(&app).await.is_empty(), "a dry run stores nothing");

    let (status, done) = apply(&app, &file(three_jobs())).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        (&done["applied"], &done["created"]),
        (&json!(true), &json!(3))
    );
    let stored = jobs(&app).await;
    assert_eq!(stored.len(), 3);
    for job in stored.values() {
        assert_eq!(job["managed_by"], "team-a", "{job}");
        assert_eq!(job["source"], "api");
    }
    assert_eq!(stored["nightly-report"]["timezone"], "Europe/London");
    assert_eq!(stored["every-minute"]["max_retries"], 2);
    let ids: Vec<&Value> = done["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["id"])
        .collect();
    assert!(
        ids.iter().all(|id| id.as_i64().is_some_and(|id| id > 0)),
        "{done}"
    );

    // The same file again: nothing to do.
    let (_, again) = apply(&app, &file(three_jobs())).await;
    assert_eq!(
        (&again["unchanged"], &again["created"], &again["updated"]),
        (&json!(3), &json!(0), &json!(0))
    );
    assert_eq!(
        jobs(&app).await,
        stored,
        "an unchanged apply writes nothing"
    );

    // An operator pauses one; the file does not say, so it stays paused.
    let paused_id = stored["hourly-sync"]["id"].clone();
    let response = app
        .client
        .post(app.url(&format!("/scheduler/jobs/{paused_id}/pause/")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // One job changes, one leaves the file: without prune it stays.
    let changed = json!([
        {"name": "nightly-report", "cron_expression": "30 3 * * *", "timezone": "Europe/London"},
        {"name": "hourly-sync", "cron_expression": "0 * * * *", "parameters": {"action": "sync"}},
    ]);
    let (status, result) = apply(&app, &file(changed.clone())).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(
        actions(&result),
        vec![
            ("nightly-report".to_string(), "update".to_string()),
            ("hourly-sync".to_string(), "unchanged".to_string())
        ]
    );
    assert_eq!(
        result["jobs"][0]["changes"],
        json!([{"field": "cron_expression", "before": "0 2 * * *", "after": "30 3 * * *"}])
    );
    let now = jobs(&app).await;
    assert_eq!(now.len(), 3, "not pruned without prune");
    assert_eq!(now["nightly-report"]["cron_expression"], "30 3 * * *");
    assert_eq!(
        now["nightly-report"]["id"], stored["nightly-report"]["id"],
        "updated in place"
    );
    assert_eq!(
        now["hourly-sync"]["is_active"], false,
        "the operator's pause stays"
    );

    // With prune, the job the file dropped goes; a dry run of it first changes nothing.
    let mut pruning = file(changed);
    pruning["prune"] = json!(true);
    pruning["dry_run"] = json!(true);
    let (_, plan) = apply(&app, &pruning).await;
    assert_eq!(plan["deleted"], 1, "{plan}");
    assert_eq!(jobs(&app).await.len(), 3);
    pruning["dry_run"] = json!(false);
    let (status, pruned) = apply(&app, &pruning).await;
    assert_eq!(status, 200, "{pruned}");
    assert_eq!(
        actions(&pruned).last(),
        Some(&("every-minute".to_string(), "delete".to_string()))
    );
    let left = jobs(&app).await;
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        vec!["hourly-sync", "nightly-report"]
    );

    // The trail records each change of the apply.
    let (_, history) = app
        .get_json(&format!(
            "/scheduler/jobs/{}/history/",
            now["nightly-report"]["id"]
        ))
        .await;
    assert_eq!(
        history["results"].as_array().map(Vec::len),
        Some(2),
        "{history}"
    );
}

async fn a_bad_file_changes_nothing_and_names_each_job_field(app: TestApp) {
    apply(&app, &file(three_jobs())).await;
    let before = jobs(&app).await;
    let bad = json!({"owner": "team-a", "prune": true, "jobs": [
        {"name": "nightly-report", "cron_expression": "0 4 * * *"},
        {"name": "hourly-sync", "cron_expression": "61 * * * *"},
        {"name": "nightly-report", "cron_expression": "0 5 * * *"},
        {"name": "fresh", "interval_seconds": "often"},
        "not a job",
    ]});
    let (status, errors) = apply(&app, &bad).await;
    assert_eq!(status, 400, "{errors}");
    let fields: Vec<&String> = errors.as_object().unwrap().keys().collect();
    for field in [
        "jobs[1].cron_expression",
        "jobs[2].name",
        "jobs[3].interval_seconds",
        "jobs[4]",
    ] {
        assert!(errors.get(field).is_some(), "{field} missing from {errors}");
    }
    assert_eq!(fields.len(), 4, "{errors}");
    assert_eq!(jobs(&app).await, before, "nothing changed, nothing pruned");

    // An owner that is no name, a body without jobs.
    let (status, errors) = apply(&app, &json!({"owner": "no spaces please"})).await;
    assert_eq!(status, 400);
    assert!(
        errors.get("owner").is_some() && errors.get("jobs").is_some(),
        "{errors}"
    );
}

async fn names_managed_elsewhere_are_refused_unless_adopted(app: TestApp) {
    let legacy = app
        .create_job(&json!({"name": "legacy", "cron_expression": "0 9 * * 1"}))
        .await;
    assert_eq!(legacy["managed_by"], Value::Null);
    let listing = file(json!([{"name": "legacy", "cron_expression": "0 9 * * 1-5"}]));
    let (status, errors) = apply(&app, &listing).await;
    assert_eq!(status, 400, "{errors}");
    let message = errors["jobs[0].name"][0].as_str().unwrap();
    assert!(message.contains("no file manages it"), "{message}");

    let mut adopting = listing.clone();
    adopting["adopt"] = json!(true);
    let (status, adopted) = apply(&app, &adopting).await;
    assert_eq!(status, 200, "{adopted}");
    assert_eq!(
        actions(&adopted),
        vec![("legacy".to_string(), "update".to_string())]
    );
    let (_, read) = app
        .get_json(&format!("/scheduler/jobs/{}/", legacy["id"]))
        .await;
    assert_eq!(
        (&read["managed_by"], &read["cron_expression"]),
        (&json!("team-a"), &json!("0 9 * * 1-5"))
    );

    // Another owner may neither take it nor prune it.
    let theirs = json!({"owner": "team-b", "adopt": true, "prune": true,
        "jobs": [{"name": "legacy", "cron_expression": "0 9 * * *"}]});
    let (status, errors) = apply(&app, &theirs).await;
    assert_eq!(status, 400, "{errors}");
    assert!(
        errors["jobs[0].name"][0]
            .as_str()
            .unwrap()
            .contains("\"team-a\""),
        "{errors}"
    );
    let (_, empty) = apply(&app, &json!({"owner": "team-b", "prune": true, "jobs": []})).await;
    assert_eq!(empty["deleted"], 0, "{empty}");
    assert_eq!(
        app.get_json(&format!("/scheduler/jobs/{}/", legacy["id"]))
            .await
            .0,
        200
    );
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => crate::support::sqlite_app, postgres => crate::support::postgres_app },
    tests: [
        a_file_set_is_planned_applied_changed_and_pruned,
        a_bad_file_changes_nothing_and_names_each_job_field,
        names_managed_elsewhere_are_refused_unless_adopted,
    ],
}
