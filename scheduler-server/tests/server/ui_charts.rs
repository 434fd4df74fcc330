//! The dashboard's charts in a real browser (headless Chromium through chromedriver, as in
//! `ui_browser`): a job's page draws its recent runs as a timeline — one bar per run,
//! coloured by status through the stylesheet, a late scheduled fire marked — and the front
//! page draws the tenant's runs per hour by status and fire lateness p50/p99, all as
//! server-drawn SVG under the page's content policy. Screenshots at 1,400 and 400 px go to
//! `target/ui-screenshots/charts-*.png`.
//!
//! The runs are real: deliveries to a loopback receiver answering 200 or 500, and one
//! scheduled fire started about 5 s late (its `next_run` moved back while no dispatcher ran,
//! then a dispatching server on the same file claimed it).
//!
//! Without `chromium` and `chromedriver` the test fails saying how to install them, unless
//! `SCHEDULER_TEST_SKIP_SERVICES=1` asks to skip (one `skipped:` line).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::browser::{Browser, ONE_BROWSER, Present, browser_tools};
use crate::support::{TestApp, dispatching, serve_hook, spawn, test_config};
use fantoccini::Locator;
use poem::http::StatusCode;
use scheduler_adapters::{DatabaseConfig, SystemClock, connect};
use scheduler_core::{Scope, Tenant};
use serde_json::{Value, json};

/// A write key of the default tenant, made straight in the database at `url`.
async fn write_key(url: &str) -> String {
    let db = connect(&DatabaseConfig::new(url)).await.unwrap();
    let keys = scheduler_server::parts::key_service(&db, Arc::new(SystemClock));
    keys.create(Tenant::parse("default").unwrap(), "charts", Scope::Write)
        .await
        .unwrap()
        .1
}

/// `method path` with `body` as `key`; the JSON answer.
async fn api(app: &TestApp, key: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
    let request = reqwest::Client::new()
        .request(method.clone(), app.url(path))
        .bearer_auth(key);
    let request = if body.is_null() {
        request
    } else {
        request.json(&body)
    };
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{method} {path}: {response:?}"
    );
    response.json().await.unwrap()
}

/// A manual run of job `id` on `app`, waited for until it ended; its status.
async fn run_to_the_end(app: &TestApp, key: &str, id: i64) -> String {
    let run = api(
        app,
        key,
        reqwest::Method::POST,
        &format!("/scheduler/jobs/{id}/run/"),
        Value::Null,
    )
    .await;
    ended(app, key, &format!("/scheduler/runs/{}/", run["id"])).await
}

/// The status of the run at `path` once it is no longer running.
async fn ended(app: &TestApp, key: &str, path: &str) -> String {
    for _ in 0..200 {
        let run = api(app, key, reqwest::Method::GET, path, Value::Null).await;
        if run["status"] != "running" {
            return run["status"].as_str().unwrap().to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} still running");
}

#[tokio::test]
async fn the_job_page_and_the_front_page_draw_their_runs() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    // A server that does not dispatch, then one that does, on the same file.
    let stopped = crate::support::sqlite_app().await.unwrap();
    let url = stopped.sqlite.as_ref().unwrap().url.clone();
    let key = write_key(&url).await;
    let healthy = Arc::new(AtomicBool::new(true));
    let answer = healthy.clone();
    let hook = serve_hook(poem::endpoint::make(move |_: poem::Request| {
        let healthy = answer.load(Ordering::SeqCst);
        async move {
            if healthy {
                (StatusCode::OK, "fine")
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, "down")
            }
        }
    }))
    .await;
    let job = |name: &str| {
        json!({"name": name, "cron_expression": "0 0 1 1 *",
            "target": {"type": "http", "url": hook}})
    };
    let post = reqwest::Method::POST;
    let demo = api(
        &stopped,
        &key,
        post.clone(),
        "/scheduler/jobs/",
        job("charts-demo"),
    )
    .await;
    let other = api(
        &stopped,
        &key,
        post,
        "/scheduler/jobs/",
        job("charts-other"),
    )
    .await;
    let (demo, other) = (demo["id"].as_i64().unwrap(), other["id"].as_i64().unwrap());
    // Its yearly fire was due 5 s ago, while nothing dispatched.
    stopped
        .execute_sql(&format!(
            "UPDATE jobs SET next_run = '{}' WHERE id = {demo}",
            (chrono::Utc::now() - chrono::Duration::seconds(5))
                .format("%Y-%m-%d %H:%M:%S%.6f+00:00")
        ))
        .await;
    let mut config = test_config(&url);
    dispatching(&mut config);
    let app = spawn(config).await;

    let browser = Browser::start(&chromium, &driver).await;
    browser.goto(&app.url("/ui/login")).await;
    browser.wait_for("#key", 10, Present("#key")).await;
    let field = browser.client.find(Locator::Css("#key")).await.unwrap();
    field.send_keys(&key).await.unwrap();
    browser
        .client
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for("#jobs-table", 10, Present("#jobs-table"))
        .await;

    // The late fire, claimed by the dispatching server.
    let scheduled = format!("/scheduler/jobs/{demo}/runs/?trigger=schedule");
    let deadline = Instant::now() + Duration::from_secs(20);
    let late = loop {
        let runs = api(&app, &key, reqwest::Method::GET, &scheduled, Value::Null).await;
        if let Some(id) = runs["results"][0]["id"].as_i64() {
            break id;
        }
        assert!(Instant::now() < deadline, "the late fire never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        ended(&app, &key, &format!("/scheduler/runs/{late}/")).await,
        "succeeded"
    );
    // Manual runs: the demo's succeed, fail, succeed, fail; the other job's both fail.
    for (id, fine, expected) in [
        (demo, true, "succeeded"),
        (demo, false, "failed"),
        (demo, true, "succeeded"),
        (demo, false, "failed"),
        (other, false, "failed"),
        (other, false, "failed"),
    ] {
        healthy.store(fine, Ordering::SeqCst);
        assert_eq!(run_to_the_end(&app, &key, id).await, expected);
    }

    // The job page: five bars, oldest left, the late fire marked.
    browser.goto(&app.url(&format!("/ui/jobs/{demo}"))).await;
    browser
        .wait_for("#run-timeline", 10, Present("#run-timeline"))
        .await;
    assert_eq!(browser.count("#run-timeline rect.bar").await, 5);
    assert_eq!(
        browser
            .count("#run-timeline rect.status-fill-succeeded")
            .await,
        3
    );
    assert_eq!(
        browser.count("#run-timeline rect.status-fill-failed").await,
        2
    );
    assert_eq!(browser.count("#run-timeline polygon.late-mark").await, 1);
    let marked = browser
        .script("return document.querySelector('#run-timeline polygon.late-mark').dataset.runId")
        .await;
    assert_eq!(marked.as_str().unwrap(), late.to_string());
    let first = browser
        .script("return document.querySelector('#run-timeline rect.bar').dataset.runId")
        .await;
    assert_eq!(
        first.as_str().unwrap(),
        late.to_string(),
        "the oldest run is on the left"
    );
    let tip = browser
        .script(
            "return document.querySelector('#run-timeline polygon.late-mark title').textContent",
        )
        .await;
    assert!(tip.as_str().unwrap().ends_with(" s late"), "{tip}");
    // Coloured by the stylesheet (the policy allows no inline style).
    assert_eq!(
        browser
            .fill_of("#run-timeline rect.status-fill-failed")
            .await,
        "rgb(207, 34, 46)"
    );
    assert_eq!(
        browser
            .fill_of("#run-timeline rect.status-fill-succeeded")
            .await,
        "rgb(45, 164, 78)"
    );
    browser.screenshots("charts-job").await;
    // A bar is a link to its run's page.
    browser
        .client
        .find(Locator::Css("#run-timeline rect.bar"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for("#run-title", 10, Present("#run-title"))
        .await;
    assert_eq!(
        browser.client.current_url().await.unwrap().path(),
        format!("/ui/runs/{late}")
    );

    // The front page: the 7 runs by status, and the one scheduled fire's lateness.
    browser.goto(&app.url("/ui/")).await;
    browser
        .wait_for("#runs-per-hour", 10, Present("#runs-per-hour"))
        .await;
    assert_eq!(
        browser
            .data_count("#runs-per-hour rect.status-fill-succeeded")
            .await,
        3
    );
    assert_eq!(
        browser
            .data_count("#runs-per-hour rect.status-fill-failed")
            .await,
        4
    );
    assert_eq!(browser.data_count("#runs-per-hour rect.bar").await, 7);
    assert_eq!(browser.count("#lateness circle.point.p50").await, 1);
    assert_eq!(browser.count("#lateness circle.point.p99").await, 1);
    let caption = browser
        .script("return document.querySelector('#lateness-figure figcaption').textContent")
        .await;
    let caption = caption.as_str().unwrap();
    assert!(
        caption.contains("p50 ") && caption.contains(" s · p99 "),
        "{caption}"
    );
    assert_eq!(
        browser
            .fill_of("#runs-per-hour rect.status-fill-failed")
            .await,
        "rgb(207, 34, 46)"
    );
    browser.screenshots("charts-front").await;
    drop(stopped);
}
