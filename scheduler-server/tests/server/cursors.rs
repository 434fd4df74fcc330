//! Cursor pagination over real HTTP, on SQLite and PostgreSQL: `cursor=` pages carry DRF's
//! `{"next", "previous", "results"}` shape and walk a list both ways; a changed, unreadable,
//! another ordering's, another job's or another tenant's cursor is `404 {"detail": "Invalid
//! cursor"}`; `page` with `cursor` is a 400 naming `cursor`; a name search filters and
//! counts. Every answer is checked against the served OpenAPI document.

use std::sync::Arc;

use crate::support::TestApp;
use scheduler_adapters::{DatabaseConfig, SystemClock, connect};
use scheduler_core::{Scope, Tenant};
use serde_json::{Value, json};

fn names(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["name"].as_str().unwrap().to_string())
        .collect()
}

/// The path and query of an absolute link.
fn path_of<'a>(app: &TestApp, link: &'a Value) -> &'a str {
    let link = link.as_str().unwrap();
    assert!(link.starts_with(&app.base), "{link}");
    &link[app.base.len()..]
}

/// The value of `cursor` in a link.
fn cursor_of(link: &Value) -> String {
    let query = link.as_str().unwrap().split_once('?').unwrap().1;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    assert!(pairs.iter().all(|(key, _)| key != "page"), "{query}");
    pairs
        .into_iter()
        .find(|(key, _)| key == "cursor")
        .map(|(_, value)| value)
        .unwrap()
}

async fn cursor_pages_walk_the_list_both_ways(app: TestApp) {
    let all = [
        "golf", "alpha", "echo", "bravo", "foxtrot", "delta", "charlie",
    ];
    for name in all {
        let body = json!({"name": name, "cron_expression": "@daily"});
        assert_eq!(app.post_job(&body).await.status(), 201);
    }
    let (status, first) = app
        .get_json("/scheduler/jobs/?cursor=&ordering=name&page_size=3")
        .await;
    assert_eq!(status, 200);
    assert!(first.get("count").is_none(), "{first}");
    assert_eq!(first["previous"], Value::Null);
    assert_eq!(names(&first), ["alpha", "bravo", "charlie"]);
    let (_, second) = app.get_json(path_of(&app, &first["next"])).await;
    assert_eq!(names(&second), ["delta", "echo", "foxtrot"]);
    let (_, third) = app.get_json(path_of(&app, &second["next"])).await;
    assert_eq!(names(&third), ["golf"]);
    assert_eq!(third["next"], Value::Null);
    // Back again.
    let (_, back) = app.get_json(path_of(&app, &third["previous"])).await;
    assert_eq!(names(&back), ["delta", "echo", "foxtrot"]);
    let (_, start) = app.get_json(path_of(&app, &back["previous"])).await;
    assert_eq!(names(&start), ["alpha", "bravo", "charlie"]);
    assert_eq!(start["previous"], Value::Null);
    // The links keep the other parameters.
    let next = first["next"].as_str().unwrap();
    assert!(
        next.contains("ordering=name") && next.contains("page_size=3"),
        "{next}"
    );

    let token = cursor_of(&first["next"]);
    let invalid = json!({"detail": "Invalid cursor"});
    let mut changed: Vec<char> = token.chars().collect();
    let last = changed.len() - 1;
    changed[last] = if changed[last] == 'A' { 'B' } else { 'A' };
    let changed: String = changed.into_iter().collect();
    for query in [
        format!("cursor={changed}&ordering=name"),
        format!("cursor={token}&ordering=-name"),
        format!("cursor={token}"),
        "cursor=not-a-cursor".to_string(),
    ] {
        let (status, body) = app.get_json(&format!("/scheduler/jobs/?{query}")).await;
        assert_eq!((status, &body), (404, &invalid), "{query}");
    }
    let (status, body) = app
        .get_json(&format!("/scheduler/jobs/?page=2&cursor={token}"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"cursor": ["Send either page or cursor, not both."]})
    );

    // Numbered pages keep the original's shape and count.
    let (_, numbered) = app.get_json("/scheduler/jobs/?page_size=3").await;
    assert_eq!(numbered["count"], 7);
    // A search filters and is counted.
    let (_, found) = app.get_json("/scheduler/jobs/?search=HA").await;
    assert_eq!(names(&found), ["alpha", "charlie"]);
    assert_eq!(found["count"], 2);
}

async fn run_cursors_belong_to_their_list(app: TestApp) {
    let create = |name: &str| {
        let body = json!({"name": name, "cron_expression": "@daily"});
        let app = &app;
        async move {
            let response = app.post_job(&body).await;
            assert_eq!(response.status(), 201);
            response.json::<Value>().await.unwrap()["id"].clone()
        }
    };
    let job = create("history").await;
    let other = create("other").await;
    let mut started = Vec::new();
    for _ in 0..5 {
        let run = crate::support::run_now(&app, &job).await;
        crate::support::settled(&app, &run["id"]).await;
        started.push(run["id"].clone());
    }
    crate::support::run_now(&app, &other).await;
    started.reverse();
    let mut walked = Vec::new();
    let mut path = format!("/scheduler/jobs/{job}/runs/?cursor=&page_size=2");
    loop {
        let (status, page) = app.get_json(&path).await;
        assert_eq!(status, 200, "{path}");
        assert!(page.get("count").is_none());
        walked.extend(
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].clone()),
        );
        if page["next"].is_null() {
            break;
        }
        path = path_of(&app, &page["next"]).to_string();
    }
    assert_eq!(walked, started);
    // The cursor of one job's runs is not a cursor of another's, nor of the runs list.
    let (_, first) = app
        .get_json(&format!("/scheduler/jobs/{job}/runs/?cursor=&page_size=2"))
        .await;
    let token = cursor_of(&first["next"]);
    for path in [
        format!("/scheduler/jobs/{other}/runs/?cursor={token}"),
        format!("/scheduler/runs/?cursor={token}"),
    ] {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(
            (status, body),
            (404, json!({"detail": "Invalid cursor"})),
            "{path}"
        );
    }
    let (status, across) = app.get_json("/scheduler/runs/?cursor=&page_size=10").await;
    assert_eq!(status, 200);
    assert_eq!(across["results"].as_array().unwrap().len(), 6);
}

/// A key of `tenant`, made straight in the app's database.
async fn key(app: &TestApp, tenant: &str) -> String {
    let url = app
        .postgres
        .as_ref()
        .map(|pg| pg.url.clone())
        .or_else(|| app.sqlite.as_ref().map(|file| file.url.clone()))
        .unwrap();
    let db = connect(&DatabaseConfig::new(&url)).await.unwrap();
    let keys = scheduler_server::parts::key_service(&db, Arc::new(SystemClock));
    keys.create(Tenant::parse(tenant).unwrap(), tenant, Scope::Admin)
        .await
        .unwrap()
        .1
}

async fn a_cursor_of_another_tenant_is_invalid(app: TestApp) {
    let a = key(&app, "team-a").await;
    let b = key(&app, "team-b").await;
    let client = reqwest::Client::new();
    for (owner, name) in [(&a, "a1"), (&a, "a2"), (&b, "b1"), (&b, "b2")] {
        let response = client
            .post(app.url("/scheduler/jobs/"))
            .bearer_auth(owner)
            .json(&json!({"name": name, "cron_expression": "@daily"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let get = |key: &str, path: &str| {
        let request = client.get(app.url(path)).bearer_auth(key);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (_, page) = get(&a, "/scheduler/jobs/?cursor=&page_size=1").await;
    assert_eq!(names(&page), ["a1"]);
    let token = cursor_of(&page["next"]);
    let (_, next) = get(&a, &format!("/scheduler/jobs/?cursor={token}&page_size=1")).await;
    assert_eq!(names(&next), ["a2"]);
    let (status, body) = get(&b, &format!("/scheduler/jobs/?cursor={token}&page_size=1")).await;
    assert_eq!((status, body), (404, json!({"detail": "Invalid cursor"})));
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => crate::support::sqlite_app, postgres => crate::support::postgres_app },
    tests: [
    cursor_pages_walk_the_list_both_ways,
    run_cursors_belong_to_their_list,
    a_cursor_of_another_tenant_is_invalid,
    ],
}

/// Two replicas on one database share the cursor key: a `next` link made by one is followed
/// on the other.
#[tokio::test]
async fn a_cursor_made_by_one_replica_is_followed_by_another() {
    let Some(a) = crate::support::postgres_app().await else {
        return;
    };
    let url = a.postgres.as_ref().unwrap().url.clone();
    let b = crate::support::spawn(crate::support::test_config(&url)).await;
    for name in ["one", "two", "three"] {
        let body = json!({"name": name, "cron_expression": "@daily"});
        assert_eq!(a.post_job(&body).await.status(), 201);
    }
    let (_, first) = a.get_json("/scheduler/jobs/?cursor=&page_size=2").await;
    let token = cursor_of(&first["next"]);
    let (status, second) = b
        .get_json(&format!("/scheduler/jobs/?cursor={token}&page_size=2"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(names(&second), ["three"]);
}
