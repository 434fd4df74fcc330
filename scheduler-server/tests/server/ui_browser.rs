//! The dashboard in a real browser: Debian's headless Chromium driven through chromedriver
//! (WebDriver, with `fantoccini`). Logs in, creates a job through the form after seeing the
//! inline error of a bad expression, sees it in the table with its next run, runs it now and
//! sees the run succeed, pauses it and sees its next run empty; a read-only key sees no
//! buttons; a calendar made through its form excludes a day of a job made through the job
//! form; the job form's schedule options (jitter, max runs, catch-up and its window, overlap,
//! auto-pause, calendars and what happens on their days, an interval instead of cron) are
//! saved, shown and edited; an edit made through the form is in the job page's History; the
//! pages load nothing from beyond the server. Screenshots of every page at 1,400 and 400 px
//! go to `target/ui-screenshots/`.
//!
//! Chromium runs with every host but loopback unresolvable and a dead proxy for everything
//! that is not loopback, so a page that needed the network would visibly break; the
//! no-network test also lists every resource each page loaded.
//!
//! Without `chromium` and `chromedriver` (`CHROMIUM`, `CHROMEDRIVER`, else `/usr/bin/...`)
//! the tests fail saying how to install them, unless `SCHEDULER_TEST_SKIP_SERVICES=1` asks
//! to skip (one `skipped:` line; `.ci/run` installs both and never skips).

use std::sync::Arc;

use crate::support::TestApp;
use crate::support::browser::{Browser, ONE_BROWSER, Present, browser_tools};
use fantoccini::Locator;
use scheduler_adapters::{DatabaseConfig, SystemClock, connect};
use scheduler_core::{Scope, Tenant};
use serde_json::{Value, json};

/// A key of `tenant` with `scope`, made straight in the app's database.
async fn key(app: &TestApp, scope: Scope, name: &str) -> String {
    let url = app.sqlite.as_ref().map(|file| file.url.clone()).unwrap();
    let db = connect(&DatabaseConfig::new(&url)).await.unwrap();
    let keys = scheduler_server::parts::key_service(&db, Arc::new(SystemClock));
    keys.create(Tenant::parse("default").unwrap(), name, scope)
        .await
        .unwrap()
        .1
}

async fn log_in(browser: &Browser, app: &TestApp, key: &str) {
    browser.goto(&app.url("/ui/")).await;
    browser
        .wait_for("the login page", 10, Present("#key"))
        .await;
    browser.fill("#key", key).await;
    browser.click("button[type=submit]").await;
    browser
        .wait_for(
            "the jobs page",
            10,
            Present("#new-job, #no-jobs, #jobs-table"),
        )
        .await;
}

/// The id in a job page's URL.
async fn job_id_of_page(browser: &Browser) -> i64 {
    let url = browser.client.current_url().await.unwrap();
    url.path().trim_start_matches("/ui/jobs/").parse().unwrap()
}

#[tokio::test]
async fn an_operator_creates_runs_and_pauses_a_job_in_the_browser() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    let app = crate::support::sqlite_app().await.unwrap();
    let admin = key(&app, Scope::Write, "operator").await;
    let browser = Browser::start(&chromium, &driver).await;

    browser.goto(&app.url("/ui/")).await;
    browser
        .wait_for("the login page", 10, Present("#key"))
        .await;
    browser.screenshots("login").await;
    log_in(&browser, &app, &admin).await;
    assert_eq!(browser.text("#no-jobs").await, "No jobs yet.");

    browser.click("#new-job").await;
    browser
        .wait_for("the form", 10, Present("#cron_expression"))
        .await;
    browser.fill("#name", "nightly-report").await;
    browser.fill("#cron_expression", "61 * * * *").await;
    // The live preview says what is wrong while typing.
    browser
        .wait_for(
            "the preview's error",
            10,
            Present("#cron-preview .preview-error"),
        )
        .await;
    browser.click(".job-form button[type=submit]").await;
    browser
        .wait_for("the inline error", 10, Present("#cron_expression-error"))
        .await;
    let error = browser.text("#cron_expression-error").await;
    assert!(error.starts_with("Invalid CRON expression"), "{error}");
    browser.screenshots("form-error").await;

    browser.fill("#cron_expression", "0 9 * * 1").await;
    browser
        .wait_for(
            "five fires in the preview",
            10,
            Present("#cron-preview ol.fires li:nth-child(5)"),
        )
        .await;
    browser.click(".job-form button[type=submit]").await;
    browser
        .wait_for("the job page", 10, Present("#job-title"))
        .await;
    assert_eq!(browser.text("#job-title").await, "nightly-report");
    assert_eq!(browser.text("#notice").await, "Job created.");
    let id = job_id_of_page(&browser).await;

    browser.goto(&app.url("/ui/")).await;
    let row = format!("#jobs-table tr[data-job-id=\"{id}\"]");
    assert!(browser.text(&row).await.contains("nightly-report"));
    let next_run = browser.text(&format!("{row} .next-run")).await;
    assert!(next_run.ends_with("UTC"), "next run shown: {next_run:?}");
    browser.screenshots("jobs").await;

    browser.goto(&app.url(&format!("/ui/jobs/{id}"))).await;
    browser.click("#action-run").await;
    browser.wait_for("the notice", 10, Present("#notice")).await;
    // The history refreshes itself until the run has ended.
    browser
        .wait_for(
            "the run to succeed",
            30,
            Present("#runs-table tr[data-status=\"succeeded\"]"),
        )
        .await;
    browser.screenshots("job").await;
    // Backfill June 2025's Mondays at 09:00 (the 30th is the range's excluded end).
    browser
        .script("document.querySelector('#backfill').open = true;")
        .await;
    browser.fill("#backfill-from", "2025-06-01T00:00:00Z").await;
    browser.fill("#backfill-to", "2025-06-30T09:00:00Z").await;
    browser.click("#action-backfill").await;
    browser.wait_for("the notice", 10, Present("#notice")).await;
    assert_eq!(
        browser.text("#notice").await,
        "Backfill started: its runs appear in the history below."
    );
    let backfilled: Value = reqwest::Client::new()
        .get(app.url(&format!("/scheduler/jobs/{id}/runs/?trigger=backfill")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(backfilled["count"], 4, "{backfilled}");

    browser.fill("#pause-note", "vendor maintenance").await;
    browser.fill("#pause-until", "2030-01-06T06:00:00Z").await;
    browser.click("#action-pause").await;
    browser
        .wait_for("the paused notice", 10, Present("#action-resume"))
        .await;
    assert_eq!(browser.text("#job-state").await, "paused");
    let note = browser.text("#pause-note-shown").await;
    assert!(
        note.starts_with("Paused by operator at ")
            && note.contains(": vendor maintenance")
            && note.ends_with("resumes by itself at 2030-01-06 06:00:00 UTC"),
        "{note}"
    );
    assert_eq!(browser.text("#next-run").await, "—");
    browser.goto(&app.url("/ui/")).await;
    assert_eq!(browser.text(&format!("{row} .next-run")).await, "—");
    assert!(browser.text(&row).await.contains("paused"));
    assert_eq!(browser.text("#paused-count").await, "1 job");
    // The maintenance switch resumes every paused job whose name starts with "nightly".
    browser
        .script("document.querySelector('#maintenance').open = true;")
        .await;
    browser.fill("#name_prefix", "nightly").await;
    browser.click("#resume-many").await;
    browser
        .wait_for("the switch's notice", 10, Present("p.notice"))
        .await;
    assert_eq!(browser.text("#paused-count").await, "no jobs");
    assert!(!browser.text(&row).await.contains("paused"));
    let next_run = browser.text(&format!("{row} .next-run")).await;
    assert!(next_run.ends_with("UTC"), "resumed: {next_run:?}");

    // A run that fails (its target refuses the connection), to see failures highlighted.
    let failing: Value = reqwest::Client::new()
        .post(app.url("/scheduler/jobs/"))
        .bearer_auth(&admin)
        .json(
            &json!({"name": "flaky-export", "cron_expression": "*/15 * * * *",
                      "pause_after_failures": 1,
                      "target": {"type": "http", "url": "http://127.0.0.1:9/export"}}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run = reqwest::Client::new()
        .post(app.url(&format!("/scheduler/jobs/{}/run/", failing["id"])))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 202);
    browser.goto(&app.url("/ui/runs")).await;
    assert!(
        browser
            .exists("#runs-table tr[data-status=\"succeeded\"]")
            .await
    );
    browser
        .wait_for(
            "the failed run, highlighted",
            30,
            Present("#runs-table tr.failure[data-status=\"failed\"]"),
        )
        .await;
    browser.screenshots("runs").await;
    // One failure was all it allowed: the job paused itself and says so.
    browser
        .goto(&app.url(&format!("/ui/jobs/{}", failing["id"])))
        .await;
    browser
        .wait_for("the auto-pause badge", 10, Present("#auto-paused-badge"))
        .await;
    assert_eq!(browser.text("#auto-paused-badge").await, "auto-paused");
    let why = browser.text("#pause-note-shown").await;
    assert!(
        why.starts_with("Paused by the scheduler at ")
            && why.contains(": auto-paused after 1 consecutive failures: "),
        "{why}"
    );
    assert!(
        browser
            .text("#auto-pause")
            .await
            .starts_with("after 1 consecutive failures")
    );

    browser.goto(&app.url(&format!("/ui/jobs/{id}/edit"))).await;
    browser.screenshots("form-edit").await;
    // Two schedule kinds at once: the form says so beside both fields.
    browser.fill("#interval_seconds", "5400").await;
    browser.click(".job-form button[type=submit]").await;
    browser
        .wait_for("the kinds error", 10, Present("#interval_seconds-error"))
        .await;
    assert!(
        browser
            .text("#cron_expression-error")
            .await
            .contains("exactly one of cron_expression, interval_seconds or run_at"),
    );
    // An interval instead of cron, limited to 3 runs.
    browser.fill("#cron_expression", "").await;
    browser
        .script("document.querySelectorAll('details').forEach(d => d.open = true);")
        .await;
    browser.fill("#max_runs", "3").await;
    browser.fill("#pause_after_failures", "4").await;
    browser.click(".job-form button[type=submit]").await;
    browser
        .wait_for("the job page", 10, Present("#schedule"))
        .await;
    assert!(
        browser
            .text("#schedule")
            .await
            .starts_with("every 90 minutes"),
        "{}",
        browser.text("#schedule").await
    );
    assert!(browser.text("#fire-count").await.ends_with("of at most 3"));
    assert_eq!(
        browser.text("#auto-pause").await,
        "after 4 consecutive failures (0 so far)"
    );
    browser.goto(&app.url(&format!("/ui/jobs/{id}/edit"))).await;
    browser
        .wait_for("the edit form", 10, Present("#interval_seconds"))
        .await;
    let kept: Value = browser
        .script("return [document.querySelector('#interval_seconds').value, document.querySelector('#cron_expression').value, document.querySelector('#max_runs').value, document.querySelector('#pause_after_failures').value];")
        .await;
    assert_eq!(kept, json!(["5400", "", "3", "4"]));
    browser
        .goto(&app.url(&format!("/ui/jobs/{id}/delete")))
        .await;
    browser.click("#confirm-delete").await;
    browser
        .wait_for("the jobs page", 10, Present("#jobs-table"))
        .await;
    assert!(
        !browser.exists(&row).await,
        "the deleted job is gone from the table"
    );
    let gone: Value = reqwest::Client::new()
        .get(app.url(&format!("/scheduler/jobs/{id}/")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(gone, json!({"error": "Job not found"}));
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_calendar_made_in_the_browser_moves_a_jobs_fire_off_its_day() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    let app = crate::support::sqlite_app().await.unwrap();
    let writer = key(&app, Scope::Write, "operator").await;
    let browser = Browser::start(&chromium, &driver).await;
    log_in(&browser, &app, &writer).await;

    browser.click("#nav-calendars").await;
    browser
        .wait_for("the calendar form", 10, Present("#calendar-dates"))
        .await;
    assert_eq!(browser.text("#no-calendars").await, "No calendars yet.");
    browser.fill("#calendar-name", "holidays").await;
    browser
        .fill(
            "#calendar-dates",
            "2030-07-01 Opening day\nyearly 2030-12-25 Christmas",
        )
        .await;
    browser.click("#save-calendar").await;
    browser
        .wait_for("the calendar page", 10, Present("#calendar-title"))
        .await;
    assert_eq!(browser.text("#calendar-title").await, "holidays");
    assert_eq!(browser.text("#notice").await, "Calendar created.");
    let dates = browser.text("#dates-table tbody").await;
    assert!(
        dates.contains("Opening day") && dates.contains("every year"),
        "{dates}"
    );
    browser.screenshots("calendar").await;

    browser.goto(&app.url("/ui/jobs/new")).await;
    browser
        .wait_for("the job form", 10, Present("#calendars"))
        .await;
    browser.fill("#name", "opening").await;
    browser.fill("#cron_expression", "0 9 * * *").await;
    browser.fill("#calendars", "holidays").await;
    browser
        .client
        .find(Locator::Css("#on_excluded"))
        .await
        .unwrap()
        .select_by_value("move")
        .await
        .unwrap();
    browser
        .script("document.querySelectorAll('details').forEach(d => d.open = true);")
        .await;
    browser.fill("#start_time", "2030-07-01T00:00:00Z").await;
    browser.click(".job-form button[type=submit]").await;
    browser
        .wait_for("the job page", 10, Present("#job-title"))
        .await;
    assert_eq!(browser.text("#job-calendars a").await, "holidays");
    assert_eq!(browser.text("#on-excluded").await, "move");
    // 1 July 09:00 is on the calendar: it runs on the 2nd at 09:00 instead.
    let first = browser.text("#upcoming li:first-child").await;
    assert!(
        first.starts_with("2030-07-01 09:00:00 UTC")
            && first.ends_with("moved to 2030-07-02 09:00 UTC (excluded by holidays)"),
        "{first}"
    );
    browser.screenshots("job-calendar").await;
    browser.click("#job-calendars a").await;
    browser
        .wait_for("the calendar page", 10, Present("#calendar-title"))
        .await;
    browser.client.clone().close().await.unwrap();
}

/// Chooses `value` in the `<select>` matching `css`.
async fn choose(browser: &Browser, css: &str, value: &str) {
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .select_by_value(value)
        .await
        .unwrap();
}

/// The text of the job page's setting labelled `label` (its `<dd>`).
async fn setting(browser: &Browser, label: &str) -> String {
    let source = format!(
        "const dt = [...document.querySelectorAll('dl.settings dt')]
             .find(d => d.textContent.trim() === {label:?});
         return dt ? dt.nextElementSibling.innerText : null;"
    );
    browser
        .script(&source)
        .await
        .as_str()
        .unwrap_or_else(|| panic!("no setting {label:?} on the job page"))
        .to_string()
}

/// The job as the API has it.
async fn job_json(app: &TestApp, key: &str, id: i64) -> Value {
    reqwest::Client::new()
        .get(app.url(&format!("/scheduler/jobs/{id}/")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_schedule_option_of_the_job_form_is_saved_shown_and_edited() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    let app = crate::support::sqlite_app().await.unwrap();
    let writer = key(&app, Scope::Write, "operator").await;
    let calendar = reqwest::Client::new()
        .post(app.url("/scheduler/calendars/"))
        .bearer_auth(&writer)
        .json(&json!({"name": "plant-shutdown", "dates": [{"date": "2030-08-05"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(calendar.status(), 201);
    let browser = Browser::start(&chromium, &driver).await;
    log_in(&browser, &app, &writer).await;

    browser.click("#new-job").await;
    browser
        .wait_for("the job form", 10, Present("#cron_expression"))
        .await;
    browser
        .script("document.querySelectorAll('details').forEach(d => d.open = true);")
        .await;
    browser.fill("#name", "ledger-sync").await;
    browser.fill("#cron_expression", "30 1 * * *").await;
    browser.fill("#timezone", "America/New_York").await;
    browser.fill("#calendars", "plant-shutdown").await;
    choose(&browser, "#on_excluded", "move").await;
    browser.fill("#max_runs", "5").await;
    choose(&browser, "#misfire_policy", "catch_up").await;
    browser.fill("#catch_up_window_seconds", "600").await;
    choose(&browser, "#concurrency_policy", "buffer_one").await;
    choose(&browser, "#dst_overlap", "twice").await;
    browser.fill("#pause_after_failures", "3").await;
    browser.fill("#jitter_seconds", "60").await;
    browser.screenshots("form-schedule-options").await;
    browser.click(".job-form button[type=submit]").await;
    browser
        .wait_for("the job page", 10, Present("#job-title"))
        .await;
    assert!(
        !browser.exists("#form-errors").await,
        "the form was refused: {}",
        browser.text(".job-form").await
    );
    assert_eq!(browser.text("#notice").await, "Job created.");
    let id = job_id_of_page(&browser).await;

    // The page, as it words each option.
    assert_eq!(browser.text("#schedule code.expr").await, "30 1 * * *");
    assert_eq!(setting(&browser, "Time zone").await, "America/New_York");
    assert_eq!(
        browser.text("#fire-count").await,
        "0 scheduled fires run of at most 5"
    );
    assert_eq!(browser.text("#jitter").await, "up to 60 s per fire");
    assert_eq!(
        browser.text("#auto-pause").await,
        "after 3 consecutive failures (0 so far)"
    );
    assert_eq!(browser.text("#job-calendars a").await, "plant-shutdown");
    assert_eq!(browser.text("#on-excluded").await, "move");
    assert!(
        browser
            .text("#job-calendars")
            .await
            .contains("a fire on their days moves to the next allowed day"),
    );
    let policies = setting(&browser, "Policies").await;
    assert!(
        policies.starts_with("missed fires catch_up within 600 s (grace ")
            && policies.contains("overlap buffer_one,")
            && policies.ends_with("when clocks go back: twice"),
        "{policies}"
    );
    browser.screenshots("job-schedule-options").await;

    // The stored fields, exactly (the form once dropped "When clocks go back": a new job got
    // `once` whatever was chosen).
    let stored = job_json(&app, &writer, id).await;
    let fields = |job: &Value| {
        json!({
            "cron_expression": job["cron_expression"], "interval_seconds": job["interval_seconds"],
            "timezone": job["timezone"], "jitter_seconds": job["jitter_seconds"],
            "max_runs": job["max_runs"], "misfire_policy": job["misfire_policy"],
            "catch_up_window_seconds": job["catch_up_window_seconds"],
            "concurrency_policy": job["concurrency_policy"],
            "pause_after_failures": job["pause_after_failures"],
            "calendars": job["calendars"],
            "on_excluded": job["on_excluded"],
            "dst_overlap": job["dst_overlap"],
        })
    };
    assert_eq!(
        fields(&stored),
        json!({
            "cron_expression": "30 1 * * *", "interval_seconds": null,
            "timezone": "America/New_York", "jitter_seconds": 60, "max_runs": 5,
            "misfire_policy": "catch_up", "catch_up_window_seconds": 600,
            "concurrency_policy": "buffer_one", "pause_after_failures": 3,
            "calendars": ["plant-shutdown"], "on_excluded": "move", "dst_overlap": "twice",
        }),
        "{stored}"
    );

    // The edit form holds what was stored; an interval instead of cron, other choices.
    browser.click("#action-edit").await;
    browser
        .wait_for("the edit form", 10, Present("#interval_seconds"))
        .await;
    let shown = browser
        .script(
            "return ['cron_expression', 'timezone', 'max_runs', 'jitter_seconds', 'misfire_policy',
                     'catch_up_window_seconds', 'concurrency_policy', 'pause_after_failures',
                     'calendars', 'on_excluded', 'dst_overlap']
                    .map(id => document.getElementById(id).value);",
        )
        .await;
    assert_eq!(
        shown,
        json!([
            "30 1 * * *",
            "America/New_York",
            "5",
            "60",
            "catch_up",
            "600",
            "buffer_one",
            "3",
            "plant-shutdown",
            "move",
            "twice"
        ])
    );
    browser
        .script("document.querySelectorAll('details').forEach(d => d.open = true);")
        .await;
    browser.fill("#cron_expression", "").await;
    browser.fill("#interval_seconds", "5400").await;
    choose(&browser, "#concurrency_policy", "replace").await;
    choose(&browser, "#dst_overlap", "once").await;
    choose(&browser, "#on_excluded", "skip").await;
    browser.click(".job-form button[type=submit]").await;
    browser
        .wait_for("the job page", 10, Present("#notice"))
        .await;
    assert_eq!(browser.text("#notice").await, "Changes saved.");
    let schedule = browser.text("#schedule").await;
    assert!(schedule.starts_with("every 90 minutes"), "{schedule}");
    assert_eq!(browser.text("#on-excluded").await, "skip");
    assert!(
        browser
            .text("#job-calendars")
            .await
            .contains("a fire on their days is skipped"),
    );
    let policies = setting(&browser, "Policies").await;
    assert!(
        policies.starts_with("missed fires catch_up within 600 s (grace ")
            && policies.contains("overlap replace,"),
        "{policies}"
    );
    assert_eq!(browser.text("#jitter").await, "up to 60 s per fire");
    assert_eq!(
        browser.text("#fire-count").await,
        "0 scheduled fires run of at most 5"
    );
    let edited = job_json(&app, &writer, id).await;
    assert_eq!(
        fields(&edited),
        json!({
            "cron_expression": null, "interval_seconds": 5400,
            "timezone": "America/New_York", "jitter_seconds": 60, "max_runs": 5,
            "misfire_policy": "catch_up", "catch_up_window_seconds": 600,
            "concurrency_policy": "replace", "pause_after_failures": 3,
            "calendars": ["plant-shutdown"], "on_excluded": "skip", "dst_overlap": "once",
        }),
        "{edited}"
    );
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_read_only_key_sees_no_buttons_in_the_browser() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    let app = crate::support::sqlite_app().await.unwrap();
    let writer = key(&app, Scope::Write, "operator").await;
    let reader = key(&app, Scope::Read, "auditor").await;
    let created: Value = reqwest::Client::new()
        .post(app.url("/scheduler/jobs/"))
        .bearer_auth(&writer)
        .json(&json!({"name": "weekly-export", "cron_expression": "0 6 * * 1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    let browser = Browser::start(&chromium, &driver).await;
    log_in(&browser, &app, &reader).await;
    assert!(browser.exists("#jobs-table").await);
    assert!(!browser.exists("#new-job").await);
    browser.goto(&app.url(&format!("/ui/jobs/{id}"))).await;
    browser
        .wait_for("the job page", 10, Present("#job-title"))
        .await;
    assert!(!browser.exists("#job-actions").await);
    assert!(!browser.exists("button.primary").await);
    assert_eq!(browser.script("return document.querySelectorAll('form[method=post]:not([action=\"/ui/logout\"])').length").await, json!(0));
    browser.screenshots("job-read-only").await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn an_edit_made_in_the_browser_is_in_the_jobs_history() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    let app = crate::support::sqlite_app().await.unwrap();
    let writer = key(&app, Scope::Write, "operator").await;
    let created: Value = reqwest::Client::new()
        .post(app.url("/scheduler/jobs/"))
        .bearer_auth(&writer)
        .json(
            &json!({"name": "ledger-close", "cron_expression": "0 6 * * 1",
                      "timezone": "America/New_York"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    let browser = Browser::start(&chromium, &driver).await;
    log_in(&browser, &app, &writer).await;
    browser.goto(&app.url(&format!("/ui/jobs/{id}/edit"))).await;
    browser
        .wait_for("the edit form", 10, Present("#description"))
        .await;
    browser.fill("#description", "month-end <ledger>").await;
    browser.click(".job-form button[type=submit]").await;
    browser
        .wait_for("the job page", 10, Present("#notice"))
        .await;
    assert_eq!(browser.text("#notice").await, "Changes saved.");
    assert_eq!(browser.text("#audit-title").await, "History");
    // Newest first: the edit, by this dashboard session, then the API's create.
    let edit = browser.text("#history-table tbody tr:first-child").await;
    assert!(
        edit.contains("dashboard: operator")
            && edit.contains("update")
            && edit.contains("description: \"\" → month-end <ledger>")
            && edit.contains(" UTC · "),
        "{edit}"
    );
    let create = browser.text("#history-table tbody tr:nth-child(2)").await;
    assert!(
        create.contains("operator") && create.contains("create"),
        "{create}"
    );
    assert!(!browser.exists("#history-table tbody tr:nth-child(3)").await);
    assert!(
        !browser.exists("#nav-audit").await,
        "a write key is no admin"
    );
    browser.screenshots("job-history").await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_pages_need_nothing_beyond_the_server() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    let app = crate::support::sqlite_app().await.unwrap();
    let admin = key(&app, Scope::Admin, "ops").await;
    let created: Value = reqwest::Client::new()
        .post(app.url("/scheduler/jobs/"))
        .bearer_auth(&admin)
        .json(&json!({"name": "offline", "cron_expression": "*/5 * * * *"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    let browser = Browser::start(&chromium, &driver).await;
    // A control: this browser really cannot reach anything beyond loopback.
    let _ = browser.client.goto("http://example.com/").await;
    let reached = browser
        .script("return document.body ? document.body.innerText : ''")
        .await;
    assert!(
        !reached
            .as_str()
            .unwrap_or_default()
            .contains("Example Domain"),
        "the browser reached the network: the check below would prove nothing"
    );
    log_in(&browser, &app, &admin).await;
    let origin = app.base.clone();
    for path in [
        "/ui/".to_string(),
        format!("/ui/jobs/{id}"),
        "/ui/jobs/new".into(),
        "/ui/runs".into(),
        "/ui/calendars".into(),
        format!("/ui/jobs/{id}/history"),
        "/ui/audit".into(),
        "/ui/login".into(),
    ] {
        browser.goto(&app.url(&path)).await;
        browser
            .wait_for("the page", 10, Present("header.top"))
            .await;
        // Every asset loaded, from the server: htmx runs, the stylesheet applies.
        let loaded = browser
            .script(
                "return {htmx: typeof window.htmx === 'object',
                         header: getComputedStyle(document.querySelector('header.top')).backgroundColor,
                         resources: performance.getEntriesByType('resource').map(e => e.name)}",
            )
            .await;
        assert_eq!(loaded["htmx"], true, "{path}: htmx did not load");
        assert_eq!(
            loaded["header"], "rgb(36, 41, 47)",
            "{path}: the stylesheet did not apply"
        );
        let resources = loaded["resources"].as_array().unwrap();
        assert!(resources.len() >= 2, "{path}: {resources:?}");
        for resource in resources {
            let url = resource.as_str().unwrap();
            assert!(
                url.starts_with(&format!("{origin}/ui/")),
                "{path} loaded {url}"
            );
        }
    }
    browser.client.clone().close().await.unwrap();
}
