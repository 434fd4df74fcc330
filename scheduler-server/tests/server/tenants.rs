//! Tenants over real HTTP on SQLite and PostgreSQL: a key sees and changes only its tenant's
//! jobs and runs; another tenant's job is `404 Job not found` for every operation; names are
//! unique per tenant; jobs record the key that created and last changed them.

use std::sync::Arc;

use crate::support::TestApp;
use reqwest::Method;
use scheduler_adapters::{DatabaseConfig, SystemClock, connect};
use scheduler_core::{Scope, Tenant};
use serde_json::{Value, json};

/// A key of `tenant` with `scope`, made straight in the app's database.
async fn key(app: &TestApp, tenant: &str, name: &str) -> String {
    let url = app
        .postgres
        .as_ref()
        .map(|pg| pg.url.clone())
        .or_else(|| app.sqlite.as_ref().map(|file| file.url.clone()))
        .unwrap();
    let db = connect(&DatabaseConfig::new(&url)).await.unwrap();
    let keys = scheduler_server::parts::key_service(&db, Arc::new(SystemClock));
    keys.create(Tenant::parse(tenant).unwrap(), name, Scope::Admin)
        .await
        .unwrap()
        .1
}

async fn call(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, app.url(path))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn a_tenant_sees_and_changes_only_its_own_jobs(app: TestApp) {
    let a = key(&app, "team-a", "alice").await;
    let b = key(&app, "team-b", "bob").await;
    let (status, job_b) = call(
        &app,
        &b,
        Method::POST,
        "/scheduler/jobs/",
        Some(json!({"name": "report", "cron_expression": "@daily"})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(job_b["created_by"], "bob");
    assert_eq!(job_b["updated_by"], "bob");
    // The same name in another tenant is fine; twice in one tenant is not.
    let (status, job_a) = call(
        &app,
        &a,
        Method::POST,
        "/scheduler/jobs/",
        Some(json!({"name": "report", "cron_expression": "@hourly"})),
    )
    .await;
    assert_eq!(status, 201, "{job_a}");
    let (status, dup) = call(
        &app,
        &a,
        Method::POST,
        "/scheduler/jobs/",
        Some(json!({"name": "report", "cron_expression": "@hourly"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(dup, json!({"name": ["job with this name already exists."]}));

    let b_path = format!("/scheduler/jobs/{}/", job_b["id"]);
    let not_found = json!({"error": "Job not found"});
    // Read.
    assert_eq!(
        call(&app, &a, Method::GET, &b_path, None).await,
        (404, not_found.clone())
    );
    // List and count.
    let (status, page) = call(&app, &a, Method::GET, "/scheduler/jobs/", None).await;
    assert_eq!(status, 200);
    assert_eq!(page["count"], 1);
    assert_eq!(page["results"][0]["id"], job_a["id"]);
    // Change (PATCH and PUT).
    assert_eq!(
        call(
            &app,
            &a,
            Method::PATCH,
            &b_path,
            Some(json!({"description": "mine"}))
        )
        .await,
        (404, not_found.clone())
    );
    assert_eq!(
        call(
            &app,
            &a,
            Method::PUT,
            &b_path,
            Some(json!({"name": "x", "cron_expression": "@daily"}))
        )
        .await,
        (404, not_found.clone())
    );
    // Pause and resume.
    for action in ["pause", "resume"] {
        assert_eq!(
            call(&app, &a, Method::POST, &format!("{b_path}{action}/"), None).await,
            (404, not_found.clone()),
            "{action}"
        );
    }
    // The maintenance switch, with every spelling of "all of them", reaches only a's jobs.
    for query in [
        "",
        "?name_prefix=",
        "?name_prefix=rep",
        "?name_prefix=%25",
        "?name_prefix=_",
    ] {
        let (status, changed) = call(
            &app,
            &a,
            Method::POST,
            &format!("/scheduler/maintenance/pause/{query}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{query}: {changed}");
        assert!(
            !changed["job_ids"]
                .as_array()
                .unwrap()
                .contains(&job_b["id"]),
            "{query}: {changed}"
        );
        call(
            &app,
            &a,
            Method::POST,
            "/scheduler/maintenance/resume/",
            None,
        )
        .await;
    }
    let (_, b_job) = call(&app, &b, Method::GET, &b_path, None).await;
    assert_eq!(
        (&b_job["is_active"], &b_job["paused_at"]),
        (&json!(true), &Value::Null)
    );
    // Run now.
    assert_eq!(
        call(&app, &a, Method::POST, &format!("{b_path}run/"), None).await,
        (404, not_found.clone())
    );
    // Runs: of the job, one run by id, and across jobs.
    let (status, run_b) = call(&app, &b, Method::POST, &format!("{b_path}run/"), None).await;
    assert_eq!(status, 202);
    assert_eq!(
        call(&app, &a, Method::GET, &format!("{b_path}runs/"), None).await,
        (404, not_found.clone())
    );
    assert_eq!(
        call(
            &app,
            &a,
            Method::GET,
            &format!("/scheduler/runs/{}/", run_b["id"]),
            None
        )
        .await,
        (404, json!({"error": "Run not found"}))
    );
    let (status, runs) = call(&app, &a, Method::GET, "/scheduler/runs/", None).await;
    assert_eq!(status, 200);
    assert_eq!(runs["count"], 0, "{runs}");
    let (_, runs) = call(&app, &b, Method::GET, "/scheduler/runs/", None).await;
    assert_eq!(runs["count"], 1);
    // Delete.
    assert_eq!(
        call(&app, &a, Method::DELETE, &b_path, None).await,
        (404, not_found.clone())
    );
    // B's job is untouched by all of it.
    let (status, still) = call(&app, &b, Method::GET, &b_path, None).await;
    assert_eq!(status, 200);
    assert_eq!(still["description"], job_b["description"]);
    assert_eq!(still["is_active"], true);
    // The owner's change is recorded.
    let carol = key(&app, "team-b", "carol").await;
    let (status, changed) = call(
        &app,
        &carol,
        Method::PATCH,
        &b_path,
        Some(json!({"description": "c"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (changed["created_by"].clone(), changed["updated_by"].clone()),
        (json!("bob"), json!("carol"))
    );
    assert_eq!(call(&app, &b, Method::DELETE, &b_path, None).await.0, 204);
    // Keys of one tenant are not listed to another.
    let (_, keys) = call(&app, &a, Method::GET, "/scheduler/keys/", None).await;
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["name"], "alice");
    // Each tenant's audit trail holds its own changes only, whatever it filters on.
    let (status, trail_a) = call(&app, &a, Method::GET, "/scheduler/audit/", None).await;
    assert_eq!(status, 200, "{trail_a}");
    let actors: Vec<&str> = trail_a["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert!(
        !actors.is_empty() && actors.iter().all(|actor| *actor == "alice"),
        "{trail_a}"
    );
    let b_subject = job_b["id"].to_string();
    let (_, peek) = call(
        &app,
        &a,
        Method::GET,
        &format!("/scheduler/audit/?kind=job&subject={b_subject}"),
        None,
    )
    .await;
    assert_eq!(peek["results"], json!([]), "{peek}");
    let (_, trail_b) = call(
        &app,
        &b,
        Method::GET,
        &format!("/scheduler/audit/?kind=job&subject={b_subject}"),
        None,
    )
    .await;
    let actions: Vec<&str> = trail_b["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.first(), Some(&"delete"), "{trail_b}");
    assert_eq!(actions.last(), Some(&"create"), "{trail_b}");
    // A cursor made for one tenant is refused to another.
    let (_, paged) = call(&app, &b, Method::GET, "/scheduler/audit/?page_size=1", None).await;
    let next = paged["next"].as_str().expect("more entries").to_string();
    let (status, _) = call(&app, &a, Method::GET, &next, None).await;
    assert_eq!(status, 404);
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => crate::support::sqlite_app, postgres => crate::support::postgres_app },
    tests: [a_tenant_sees_and_changes_only_its_own_jobs],
}
