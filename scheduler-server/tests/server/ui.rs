//! The dashboard over real HTTP, without a browser: login and the session cookie, CSRF
//! refusals, read-only keys, tenants, the form's inline errors, escaping, the content policy,
//! the preview fragment, the runs page and a run's page with its Replay button. The browser
//! tests are in `ui_browser.rs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::TestApp;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use scheduler_adapters::{DatabaseConfig, SystemClock, connect};
use scheduler_core::{Scope, Tenant};
use serde_json::{Value, json};

/// A key of `tenant` with `scope`, made straight in the app's database.
async fn key(app: &TestApp, tenant: &str, name: &str, scope: Scope) -> String {
    let url = app
        .postgres
        .as_ref()
        .map(|pg| pg.url.clone())
        .or_else(|| app.sqlite.as_ref().map(|file| file.url.clone()))
        .unwrap();
    let db = connect(&DatabaseConfig::new(&url)).await.unwrap();
    let keys = scheduler_server::parts::key_service(&db, Arc::new(SystemClock));
    keys.create(Tenant::parse(tenant).unwrap(), name, scope)
        .await
        .unwrap()
        .1
}

/// A browser-like visitor: keeps the dashboard's cookies, follows no redirect by itself,
/// sends `Origin` on posts like a browser does.
struct Visitor {
    app_base: String,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

/// One answer: status, headers, body.
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The CSRF token the page's forms carry.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a token");
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

impl Visitor {
    fn new(app: &TestApp) -> Self {
        Self {
            app_base: app.base.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
        }
    }

    fn remember(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !text.contains("Max-Age=0") {
                self.cookies.push((name.to_string(), value.to_string()));
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, response: reqwest::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        self.remember(&headers);
        let body = response.text().await.unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let response = self
            .http
            .get(format!("{}{path}", self.app_base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(response).await
    }

    async fn post_from(&mut self, origin: &str, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .http
            .post(format!("{}{path}", self.app_base))
            .header("cookie", self.cookie_header())
            .header("origin", origin)
            .form(form)
            .send()
            .await
            .unwrap();
        self.finish(response).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let origin = self.app_base.clone();
        self.post_from(&origin, path, form).await
    }

    /// Logs in with `key` through the login form.
    async fn login(&mut self, key: &str) -> Page {
        let login = self.get("/ui/login").await;
        let csrf = login.csrf();
        self.post("/ui/login", &[("csrf", &csrf), ("key", key)])
            .await
    }
}

async fn api(
    app: &TestApp,
    key: &str,
    method: reqwest::Method,
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
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn logging_in_keeps_the_key_in_a_strict_http_only_cookie_for_the_dashboard_only() {
    let app = crate::support::sqlite_app().await.unwrap();
    let admin = key(&app, "default", "ops", Scope::Admin).await;
    let mut visitor = Visitor::new(&app);

    let anonymous = visitor.get("/ui/").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.location(), "/ui/login");

    let refused = visitor.login("sk_not_a_key").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(
        refused.body.contains("was not accepted"),
        "{}",
        refused.body
    );

    let logged_in = visitor.login(&admin).await;
    assert_eq!(
        logged_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        logged_in.body
    );
    assert_eq!(logged_in.location(), "/ui/");
    let cookie = logged_in
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("scheduler_key="))
        .expect("the session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }

    let jobs = visitor.get("/ui/").await;
    assert_eq!(jobs.status, StatusCode::OK);
    assert!(jobs.body.contains("<h1>Jobs</h1>"), "{}", jobs.body);
    assert!(jobs.body.contains("No jobs yet."));

    // The cookie opens the dashboard only: the API ignores it.
    let with_cookie_only = reqwest::Client::new()
        .get(app.url("/scheduler/jobs/"))
        .header("cookie", visitor.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie_only.status(), 401);

    let csrf = jobs.csrf();
    let out = visitor.post("/ui/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(visitor.get("/ui/").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn posts_from_another_origin_or_without_the_token_change_nothing() {
    let app = crate::support::sqlite_app().await.unwrap();
    let admin = key(&app, "default", "ops", Scope::Admin).await;
    let mut visitor = Visitor::new(&app);
    visitor.login(&admin).await;
    let form = visitor.get("/ui/jobs/new").await;
    let csrf = form.csrf();
    let job = [
        ("csrf", csrf.as_str()),
        ("name", "forged"),
        ("cron_expression", "@daily"),
        ("is_active", "true"),
    ];
    let cross_site = visitor
        .post_from("https://evil.example", "/ui/jobs", &job)
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    let no_token = visitor
        .post(
            "/ui/jobs",
            &[("name", "forged"), ("cron_expression", "@daily")],
        )
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let wrong_token = visitor
        .post(
            "/ui/jobs",
            &[
                ("csrf", "0123456789abcdef0123456789abcdef"),
                ("name", "forged"),
            ],
        )
        .await;
    assert_eq!(wrong_token.status, StatusCode::FORBIDDEN);
    let (_, listed) = api(&app, &admin, reqwest::Method::GET, "/scheduler/jobs/", None).await;
    assert_eq!(listed["count"], 0, "{listed}");

    let created = visitor.post("/ui/jobs", &job).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let (_, listed) = api(&app, &admin, reqwest::Method::GET, "/scheduler/jobs/", None).await;
    assert_eq!(listed["count"], 1, "{listed}");
}

#[tokio::test]
async fn the_form_shows_the_apis_errors_inline_then_creates_the_job() {
    let app = crate::support::sqlite_app().await.unwrap();
    let admin = key(&app, "default", "ops", Scope::Admin).await;
    let mut visitor = Visitor::new(&app);
    visitor.login(&admin).await;
    let csrf = visitor.get("/ui/jobs/new").await.csrf();
    let bad = visitor
        .post(
            "/ui/jobs",
            &[
                ("csrf", &csrf),
                ("name", "  "),
                ("cron_expression", "61 * * * *"),
                ("timezone", "Mars/Olympus"),
                ("parameters", "not json"),
                ("max_retries", "many"),
                ("is_active", "true"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // The API's own sentences, each beside its field.
    let (_, api_errors) = api(
        &app,
        &admin,
        reqwest::Method::POST,
        "/scheduler/jobs/",
        Some(
            json!({"name": "  ", "cron_expression": "61 * * * *", "timezone": "Mars/Olympus",
                    "parameters": "not json", "max_retries": "many"}),
        ),
    )
    .await;
    for (field, id) in [
        ("name", "name-error"),
        ("cron_expression", "cron_expression-error"),
        ("timezone", "timezone-error"),
        ("parameters", "parameters-error"),
        ("max_retries", "max_retries-error"),
    ] {
        let message = api_errors[field][0].as_str().expect(field);
        let at = bad.body.find(&format!("id=\"{id}\"")).expect(id);
        let escaped = message.replace('\'', "&#39;").replace('"', "&quot;");
        assert!(
            bad.body[at..].starts_with(&format!("id=\"{id}\" role=\"alert\"><li>{escaped}</li>"))
                || bad.body[at..at + 400].contains(message)
                || bad.body[at..at + 400].contains(&escaped),
            "{field}: {message} not beside the field"
        );
    }
    // What was typed is kept.
    assert!(bad.body.contains("value=\"61 * * * *\""));

    let good = visitor
        .post(
            "/ui/jobs",
            &[
                ("csrf", &csrf),
                ("name", "Weekly Report"),
                ("cron_expression", "0 9 * * 1"),
                ("timezone", "Europe/London"),
                ("parameters", "{\"report_type\": \"weekly\"}"),
                ("is_active", "true"),
            ],
        )
        .await;
    assert_eq!(good.status, StatusCode::SEE_OTHER, "{}", good.body);
    let page = visitor.get(good.location()).await;
    assert!(page.body.contains("Job created."));
    assert!(page.body.contains("At 09:00, on Monday"), "{}", page.body);
    assert_eq!(
        page.body.matches("<li><time").count(),
        10,
        "ten upcoming fires"
    );
    let (_, listed) = api(&app, &admin, reqwest::Method::GET, "/scheduler/jobs/", None).await;
    let job = &listed["results"][0];
    assert_eq!(job["timezone"], "Europe/London");
    assert_eq!(job["parameters"]["report_type"], "weekly");
    assert!(job["next_run"].is_string());
    assert_eq!(job["created_by"], "ops");
}

#[tokio::test]
async fn editing_keeps_what_the_form_does_not_show_and_validates_like_patch() {
    let app = crate::support::sqlite_app().await.unwrap();
    let admin = key(&app, "default", "ops", Scope::Admin).await;
    let (status, job) = api(
        &app,
        &admin,
        reqwest::Method::POST,
        "/scheduler/jobs/",
        Some(json!({"name": "hook", "cron_expression": "@hourly",
            "target": {"type": "http", "url": "http://127.0.0.1:9/hook",
                       "headers": {"Authorization": "Bearer secret"}}})),
    )
    .await;
    assert_eq!(status, 201, "{job}");
    let id = job["id"].as_i64().unwrap();
    let mut visitor = Visitor::new(&app);
    visitor.login(&admin).await;
    let form = visitor.get(&format!("/ui/jobs/{id}/edit")).await;
    assert!(form.body.contains("value=\"@hourly\""));
    assert!(!form.body.contains("secret"), "header values never shown");
    let csrf = form.csrf();
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("name", "hook"),
        ("cron_expression", "*/5 * * * *"),
        ("timezone", "UTC"),
        ("parameters", "{}"),
        ("target_url", "http://127.0.0.1:9/hook"),
        ("target_method", "POST"),
        ("is_active", "true"),
    ];
    let saved = visitor.post(&format!("/ui/jobs/{id}"), &fields).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, after) = api(
        &app,
        &admin,
        reqwest::Method::GET,
        &format!("/scheduler/jobs/{id}/"),
        None,
    )
    .await;
    assert_eq!(after["cron_expression"], "*/5 * * * *");
    assert_eq!(
        after["target"]["headers"]["Authorization"], "***",
        "the header is kept"
    );
    fields[3] = ("timezone", "Nowhere/Land");
    let refused = visitor.post(&format!("/ui/jobs/{id}"), &fields).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("Unknown time zone"),
        "{}",
        refused.body
    );
}

#[tokio::test]
async fn the_jobs_list_shows_each_next_run_in_utc_and_in_the_jobs_zone() {
    let app = crate::support::sqlite_app().await.unwrap();
    let admin = key(&app, "default", "ops", Scope::Admin).await;
    for (name, zone) in [("ny-report", "America/New_York"), ("utc-report", "UTC")] {
        api(
            &app,
            &admin,
            reqwest::Method::POST,
            "/scheduler/jobs/",
            Some(
                json!({"name": name, "cron_expression": "0 9 * * *", "timezone": zone,
                "start_time": "2030-07-01T00:00:00Z"}),
            ),
        )
        .await;
    }
    let mut visitor = Visitor::new(&app);
    visitor.login(&admin).await;
    let jobs = visitor.get("/ui/").await;
    // 09:00 in New York in July is 13:00 UTC (EDT); the UTC job shows UTC only.
    assert!(
        jobs.body.contains(
            "2030-07-01 13:00:00 UTC</time> · <span class=\"local\">2030-07-01 09:00 EDT"
        ),
        "{}",
        jobs.body
    );
    assert!(!jobs.body.contains("09:00 UTC</span>"));
}

#[tokio::test]
async fn a_read_key_sees_no_write_buttons_and_its_posts_are_refused() {
    let app = crate::support::sqlite_app().await.unwrap();
    let admin = key(&app, "default", "ops", Scope::Admin).await;
    let reader = key(&app, "default", "viewer", Scope::Read).await;
    let (_, job) = api(
        &app,
        &admin,
        reqwest::Method::POST,
        "/scheduler/jobs/",
        Some(json!({"name": "nightly", "cron_expression": "0 2 * * *"})),
    )
    .await;
    let id = job["id"].as_i64().unwrap();
    let mut visitor = Visitor::new(&app);
    assert_eq!(visitor.login(&reader).await.status, StatusCode::SEE_OTHER);
    let jobs = visitor.get("/ui/").await;
    assert!(jobs.body.contains("nightly"));
    assert!(jobs.body.contains("read-only"));
    assert!(!jobs.body.contains("New job"));
    let page = visitor.get(&format!("/ui/jobs/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    // The strip says "Paused"; the buttons are what must be missing.
    for button in ["Run now", "action-pause", "pause-note", "Edit", "Delete"] {
        assert!(!page.body.contains(button), "{button} shown to a read key");
    }
    assert!(
        !jobs.body.contains("pause-many"),
        "the maintenance switch shown"
    );
    assert_eq!(
        visitor.get("/ui/jobs/new").await.status,
        StatusCode::FORBIDDEN
    );
    let csrf = page.csrf();
    for action in ["pause", "run", "delete"] {
        let refused = visitor
            .post(&format!("/ui/jobs/{id}/{action}"), &[("csrf", &csrf)])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{action}");
        assert!(refused.body.contains("Read-only key"));
    }
    let refused = visitor
        .post("/ui/maintenance", &[("csrf", &csrf), ("action", "pause")])
        .await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "the maintenance switch"
    );
    let (_, after) = api(
        &app,
        &admin,
        reqwest::Method::GET,
        &format!("/scheduler/jobs/{id}/"),
        None,
    )
    .await;
    assert_eq!(after["is_active"], true);
    assert!(after["last_run"].is_null());
}

#[tokio::test]
async fn a_tenant_sees_only_its_own_jobs_and_runs() {
    let app = crate::support::sqlite_app().await.unwrap();
    let a = key(&app, "team-a", "alice", Scope::Admin).await;
    let b = key(&app, "team-b", "bob", Scope::Admin).await;
    let (_, job) = api(
        &app,
        &a,
        reqwest::Method::POST,
        "/scheduler/jobs/",
        Some(json!({"name": "a-secret-job", "cron_expression": "@daily"})),
    )
    .await;
    let id = job["id"].as_i64().unwrap();
    let (status, _) = api(
        &app,
        &a,
        reqwest::Method::POST,
        &format!("/scheduler/jobs/{id}/run/"),
        None,
    )
    .await;
    assert_eq!(status, 202);
    let mut bob = Visitor::new(&app);
    bob.login(&b).await;
    assert!(!bob.get("/ui/").await.body.contains("a-secret-job"));
    let searched = bob.get("/ui/?name=a-secret-job").await;
    assert!(!searched.body.contains("data-job-id="), "{}", searched.body);
    assert!(searched.body.contains("No job matches this filter."));
    assert_eq!(
        bob.get(&format!("/ui/jobs/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let runs = bob.get("/ui/runs").await;
    assert!(runs.body.contains("No runs match."), "{}", runs.body);
    let csrf = runs.csrf();
    let paused = bob
        .post(&format!("/ui/jobs/{id}/pause"), &[("csrf", &csrf)])
        .await;
    assert_eq!(paused.status, StatusCode::NOT_FOUND);
    let mut alice = Visitor::new(&app);
    alice.login(&a).await;
    let found = alice.get("/ui/?name=a-secret-job").await;
    assert!(
        found.body.contains(&format!("data-job-id=\"{id}\"")),
        "{}",
        found.body
    );
    assert!(alice.get("/ui/runs").await.body.contains("a-secret-job"));
}

#[tokio::test]
async fn text_from_users_is_escaped_and_pages_carry_a_strict_content_policy() {
    let app = crate::support::sqlite_app_with(|c| c.auth = scheduler_server::AuthMode::Off)
        .await
        .unwrap();
    let name = "<script>alert('x')</script>";
    let (status, _) = api(
        &app,
        "unused",
        reqwest::Method::POST,
        "/scheduler/jobs/",
        Some(json!({"name": name, "cron_expression": "@daily", "description": "<b>bold</b>"})),
    )
    .await;
    assert_eq!(status, 201);
    let mut visitor = Visitor::new(&app);
    // Keys off: the dashboard needs no login, like the API.
    let jobs = visitor.get("/ui/").await;
    assert_eq!(jobs.status, StatusCode::OK);
    assert!(!jobs.body.contains(name));
    assert!(jobs.body.contains("&lt;script&gt;"));
    let policy = jobs
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"));
    assert_eq!(jobs.headers["x-frame-options"], "DENY");
    assert!(!jobs.body.contains("<style") && !jobs.body.contains("<script>"));
    for (asset, kind) in [
        ("style.css", "text/css"),
        ("htmx.min.js", "text/javascript"),
    ] {
        let served = visitor.get(&format!("/ui/static/{asset}")).await;
        assert_eq!(served.status, StatusCode::OK);
        assert!(
            served.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(served.body.len() > 1_000);
    }
    assert_eq!(
        visitor.get("/ui/static/other.js").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        visitor.get("/ui/no/such/page").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        visitor.get("/ui/jobs/abc").await.status,
        StatusCode::NOT_FOUND
    );
    let forged = visitor.get("/ui/?cursor=not-a-cursor").await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND);
    assert!(forged.body.contains("Invalid cursor"), "{}", forged.body);
    let bad_filter = visitor.get("/ui/runs?since=forever").await;
    assert_eq!(bad_filter.status, StatusCode::BAD_REQUEST);
    assert!(bad_filter.body.contains("since: "), "{}", bad_filter.body);
}

#[tokio::test]
async fn the_preview_fragment_lists_five_fires_or_says_what_is_wrong() {
    let app = crate::support::sqlite_app_with(|c| c.auth = scheduler_server::AuthMode::Off)
        .await
        .unwrap();
    let mut visitor = Visitor::new(&app);
    let fires = visitor
        .get("/ui/preview?cron_expression=0+9+*+*+1&timezone=Europe%2FParis")
        .await;
    assert_eq!(fires.status, StatusCode::OK);
    assert_eq!(fires.body.matches("<li>").count(), 5, "{}", fires.body);
    assert!(fires.body.contains("(Europe/Paris)"));
    assert!(!fires.body.contains("<html"), "a fragment, not a page");
    let wrong = visitor.get("/ui/preview?cron_expression=0+0+30+2+*").await;
    assert!(
        wrong.body.contains("Invalid CRON expression"),
        "{}",
        wrong.body
    );
}

/// Waits until the API shows the run `run` ended.
async fn settled(app: &TestApp, key: &str, run: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, run) = api(
            app,
            key,
            reqwest::Method::GET,
            &format!("/scheduler/runs/{run}/"),
            None,
        )
        .await;
        if run["status"] != "running" || Instant::now() > deadline {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn the_runs_page_highlights_failures_and_filters_by_status(app: TestApp) {
    let admin = key(&app, "default", "ops", Scope::Admin).await;
    let mut ids = Vec::new();
    for (name, target) in [
        (
            "fails",
            json!({"type": "http", "url": "http://127.0.0.1:9/refused"}),
        ),
        ("logs", Value::Null),
    ] {
        let (status, job) = api(
            &app,
            &admin,
            reqwest::Method::POST,
            "/scheduler/jobs/",
            Some(json!({"name": name, "cron_expression": "@daily", "target": target})),
        )
        .await;
        assert_eq!(status, 201, "{job}");
        let id = job["id"].as_i64().unwrap();
        let (_, run) = api(
            &app,
            &admin,
            reqwest::Method::POST,
            &format!("/scheduler/jobs/{id}/run/"),
            None,
        )
        .await;
        settled(&app, &admin, run["id"].as_i64().unwrap()).await;
        ids.push(id);
    }
    let mut visitor = Visitor::new(&app);
    visitor.login(&admin).await;
    let all = visitor.get("/ui/runs").await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body.matches("data-run-id=").count(), 2, "{}", all.body);
    assert!(
        all.body.contains("class=\"failure\" data-run-id="),
        "the failure is highlighted"
    );
    assert!(
        all.body.contains("hx-trigger=\"every 3s\""),
        "the table refreshes itself"
    );
    assert!(all.body.contains("hx-get=\"/ui/runs\""), "from its own URL");
    // Newest first: the second job's run is listed before the first's.
    assert!(all.body.find(">logs<").unwrap() < all.body.find(">fails<").unwrap());
    let failed = visitor.get("/ui/runs?status=failed&since=1h").await;
    assert_eq!(failed.body.matches("data-run-id=").count(), 1);
    assert!(failed.body.contains(">fails<"));
    // The strip counts the last hour's runs by status.
    let strip = &all.body[all.body.find("id=\"last-hour\"").unwrap()..];
    assert!(
        strip.contains("1 succeeded") && strip.contains("1 failed"),
        "{strip}"
    );
    assert!(all.body.contains("id=\"backlog\">0 due"));
    // A refresh answers the table alone.
    let refresh = visitor
        .http
        .get(app.url("/ui/runs?status=failed"))
        .header("cookie", visitor.cookie_header())
        .header("hx-request", "true")
        .header("hx-target", "runs-region")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(refresh.starts_with("<div id=\"runs-region\""), "{refresh}");
    let bad = visitor.get("/ui/runs?status=exploded").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("status: "), "{}", bad.body);
    let job_page = visitor
        .get(&format!("/ui/jobs/{}?status=succeeded", ids[0]))
        .await;
    assert!(job_page.body.contains("No runs match."));
}

#[tokio::test]
async fn the_runs_page_highlights_failures_and_filters_by_status_on_sqlite() {
    let app = crate::support::sqlite_app().await.unwrap();
    the_runs_page_highlights_failures_and_filters_by_status(app).await;
}

#[tokio::test]
async fn the_runs_page_highlights_failures_and_filters_by_status_on_postgres() {
    let Some(app) = crate::support::postgres_app().await else {
        return;
    };
    the_runs_page_highlights_failures_and_filters_by_status(app).await;
}

#[tokio::test]
async fn tables_page_by_cursor_keeping_the_filter_and_search_by_name() {
    let app = crate::support::sqlite_app().await.unwrap();
    let admin = key(&app, "default", "ops", Scope::Admin).await;
    for i in 1..=56 {
        let body = json!({"name": format!("job-{i:02}"), "cron_expression": "@daily",
                          "is_active": i % 8 != 0});
        let (status, _) = api(
            &app,
            &admin,
            reqwest::Method::POST,
            "/scheduler/jobs/",
            Some(body),
        )
        .await;
        assert_eq!(status, 201);
    }
    let mut visitor = Visitor::new(&app);
    visitor.login(&admin).await;
    let first = visitor.get("/ui/").await;
    assert_eq!(first.body.matches("data-job-id=").count(), 50);
    assert!(!first.body.contains("rel=\"prev\""));
    let next = first.body.split("rel=\"next\"").next().unwrap();
    let href = &next[next.rfind("href=\"").unwrap() + 6..];
    let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
    assert!(href.starts_with("/ui/?cursor="), "{href}");
    let second = visitor.get(&href).await;
    assert_eq!(second.body.matches("data-job-id=").count(), 6);
    assert!(second.body.contains(">job-56<") && second.body.contains("rel=\"prev\""));
    assert!(!second.body.contains("rel=\"next\""));
    let paused = visitor.get("/ui/?state=paused").await;
    assert_eq!(
        paused.body.matches("data-job-id=").count(),
        7,
        "{}",
        paused.body
    );
    assert!(paused.body.matches("class=\"state paused\"").count() == 7);
    // Part of a name, any case; the filter and the search combine (job-10..19 but 16).
    let searched = visitor.get("/ui/?name=JOB-1&state=active").await;
    assert_eq!(
        searched.body.matches("data-job-id=").count(),
        9,
        "{}",
        searched.body
    );
    assert!(!searched.body.contains(">job-16<"), "job-16 is paused");
}

/// The `<li>` of the first upcoming fire on a job page.
fn first_upcoming(body: &str) -> &str {
    let list = &body[body.find("id=\"upcoming\"").expect("upcoming fires")..];
    let item = &list[list.find("<li>").unwrap()..];
    &item[..item.find("</li>").unwrap()]
}

#[tokio::test]
async fn calendars_are_made_in_the_dashboard_and_jobs_skip_or_move_their_days() {
    let app = crate::support::sqlite_app().await.unwrap();
    let admin = key(&app, "default", "ops", Scope::Admin).await;
    let reader = key(&app, "default", "viewer", Scope::Read).await;
    let mut visitor = Visitor::new(&app);
    visitor.login(&admin).await;
    let list = visitor.get("/ui/calendars").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("No calendars yet."), "{}", list.body);
    assert!(
        list.body.contains("id=\"nav-calendars\""),
        "the header links here"
    );
    let csrf = list.csrf();

    // An entry the core refuses is named as the API names it, with its line.
    let bad = visitor
        .post(
            "/ui/calendars",
            &[
                ("csrf", &csrf),
                ("name", "holidays"),
                ("timezone", "UTC"),
                ("dates", "2030-07-01 Opening day\r\n\r\n2030-02-30 Nope"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body.contains(
            "<code>dates[1]</code> (line 3: <code>2030-02-30 Nope</code>): Enter a real date"
        ),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("2030-02-30 Nope</textarea>"), "kept");

    // A day of the next five for the preview, and 1 July 2030 for the job below.
    let soon = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    let dates = format!(
        "2030-07-01 Opening day\n2030-12-24..2030-12-26 Christmas\nyearly 2030-01-01 New Year\n\
         {soon} Preview day"
    );
    let created = visitor
        .post(
            "/ui/calendars",
            &[
                ("csrf", &csrf),
                ("name", "holidays"),
                ("timezone", "UTC"),
                ("description", "<b>Ops</b> days"),
                ("dates", &dates),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    assert_eq!(created.location(), "/ui/calendars/holidays?done=created");
    let page = visitor.get(created.location()).await;
    assert!(page.body.contains("Calendar created."));
    assert_eq!(page.body.matches("<td data-label=\"From\"").count(), 4);
    assert!(page.body.contains("2030-12-26") && page.body.contains("every year"));
    assert!(page.body.contains("&lt;b&gt;Ops&lt;/b&gt; days"), "escaped");
    let list = visitor.get("/ui/calendars").await;
    let row = &list.body[list.body.find("data-calendar=\"holidays\"").unwrap()..];
    assert!(
        row.contains("class=\"date-count\" data-label=\"Dates\"><span class=\"cell\">4<"),
        "{row}"
    );
    let taken = visitor
        .post(
            "/ui/calendars",
            &[("csrf", &csrf), ("name", "holidays"), ("dates", "")],
        )
        .await;
    assert_eq!(taken.status, StatusCode::BAD_REQUEST);
    assert!(
        taken
            .body
            .contains("calendar with this name already exists.")
    );

    // The preview marks the fire on the calendar's day.
    let preview = visitor
        .get("/ui/preview?cron_expression=0+12+*+*+*&calendars=holidays&on_excluded=skip")
        .await;
    assert_eq!(
        preview.body.matches("excluded by holidays").count(),
        1,
        "{}",
        preview.body
    );
    let unknown = visitor
        .get("/ui/preview?cron_expression=0+12+*+*+*&calendars=nope")
        .await;
    assert!(
        unknown.body.contains("No calendar named &quot;nope&quot;"),
        "{}",
        unknown.body
    );

    // The job form: an unknown calendar is refused beside the field.
    let csrf = visitor.get("/ui/jobs/new").await.csrf();
    let mut job = vec![
        ("csrf", csrf.as_str()),
        ("name", "opening"),
        ("cron_expression", "0 9 * * *"),
        ("timezone", "UTC"),
        ("start_time", "2030-07-01T00:00:00Z"),
        ("parameters", "{}"),
        ("calendars", "nope"),
        ("on_excluded", "skip"),
        ("is_active", "true"),
    ];
    let refused = visitor.post("/ui/jobs", &job).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let at = refused
        .body
        .find("id=\"calendars-error\"")
        .expect("the calendars error");
    assert!(
        refused.body[at..at + 300].contains("No calendar named &quot;nope&quot;"),
        "{}",
        &refused.body[at..]
    );
    assert!(refused.body.contains("value=\"nope\""), "kept");

    job[6] = ("calendars", "holidays");
    let saved = visitor.post("/ui/jobs", &job).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = visitor.get(saved.location()).await;
    let calendars = &page.body[page.body.find("id=\"job-calendars\"").unwrap()..];
    assert!(
        calendars.contains("href=\"/ui/calendars/holidays\">holidays</a>")
            && calendars.contains("id=\"on-excluded\">skip<"),
        "{calendars}"
    );
    // 1 July is skipped: it is marked, and the next run is the 2nd.
    let first = first_upcoming(&page.body);
    assert!(
        first.contains("2030-07-01 09:00:00 UTC") && first.contains("excluded by holidays"),
        "{first}"
    );
    let next = &page.body[page.body.find("id=\"next-run\"").unwrap()..];
    assert!(next.contains(">2030-07-02 09:00:00 UTC<"), "{next}");
    let jobs = visitor.get("/ui/").await;
    let cell = &jobs.body[jobs.body.find("class=\"next-run\"").unwrap()..];
    assert!(cell.contains(">2030-07-02 09:00:00 UTC<"), "{cell}");

    // Edited to move such fires: 1 July's runs on the 2nd at 09:00.
    let id = saved.location().trim_start_matches("/ui/jobs/");
    let id = &id[..id.find('?').unwrap()];
    let form = visitor.get(&format!("/ui/jobs/{id}/edit")).await;
    assert!(
        form.body
            .contains("id=\"calendars\" name=\"calendars\" type=\"text\" value=\"holidays\"")
    );
    assert!(
        form.body.contains("<option value=\"skip\" selected>"),
        "{}",
        form.body
    );
    let csrf = form.csrf();
    job[0] = ("csrf", csrf.as_str());
    job[7] = ("on_excluded", "move");
    let edited = visitor.post(&format!("/ui/jobs/{id}"), &job).await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    let page = visitor.get(&format!("/ui/jobs/{id}")).await;
    let first = first_upcoming(&page.body);
    assert!(
        first.contains("moved to <time datetime=\"2030-07-02T09:00:00Z\">2030-07-02 09:00 UTC")
            && first.contains("(excluded by holidays)"),
        "{first}"
    );

    // A reader sees no form and may not write.
    let mut viewer = Visitor::new(&app);
    viewer.login(&reader).await;
    let read_only = viewer.get("/ui/calendars/holidays").await;
    assert_eq!(read_only.status, StatusCode::OK);
    assert!(!read_only.body.contains("action-delete-calendar"));
    assert!(
        !viewer
            .get("/ui/calendars")
            .await
            .body
            .contains("new-calendar")
    );
    let csrf_r = read_only.csrf();
    let refused = viewer
        .post("/ui/calendars/holidays/delete", &[("csrf", &csrf_r)])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // In use: deleting it is refused as the API refuses it.
    let confirm = visitor.get("/ui/calendars/holidays/delete").await;
    assert!(confirm.body.contains("confirm-delete-calendar"));
    let in_use = visitor
        .post(
            "/ui/calendars/holidays/delete",
            &[("csrf", &confirm.csrf())],
        )
        .await;
    assert_eq!(in_use.status, StatusCode::CONFLICT);
    assert!(
        in_use.body.contains("Jobs still exclude this calendar"),
        "{}",
        in_use.body
    );
    assert_eq!(
        visitor.get("/ui/calendars/holidays").await.status,
        StatusCode::OK
    );
    assert_eq!(
        visitor.get("/ui/calendars/no-such").await.status,
        StatusCode::NOT_FOUND
    );

    // Replaced without 1 July: the job runs that day again.
    let edit = visitor.get("/ui/calendars/holidays/edit").await;
    assert!(
        edit.body
            .contains(">2030-07-01 Opening day\n2030-12-24..2030-12-26 Christmas\nyearly 2030-01-01 New Year\n"),
        "{}",
        edit.body
    );
    let replaced = visitor
        .post(
            "/ui/calendars/holidays",
            &[
                ("csrf", &edit.csrf()),
                ("name", "ignored"),
                ("timezone", "UTC"),
                ("dates", "yearly 2030-01-01 New Year"),
            ],
        )
        .await;
    assert_eq!(replaced.status, StatusCode::SEE_OTHER, "{}", replaced.body);
    assert_eq!(replaced.location(), "/ui/calendars/holidays?done=saved");
    let page = visitor.get(&format!("/ui/jobs/{id}")).await;
    let next = &page.body[page.body.find("id=\"next-run\"").unwrap()..];
    assert!(next.contains(">2030-07-01 09:00:00 UTC<"), "{next}");
    assert!(!first_upcoming(&page.body).contains("holidays"));
}

/// One row of a history or audit table, as the page shows it.
#[derive(Debug)]
struct EntryRow {
    action: String,
    actor: String,
    changes: Vec<String>,
    html: String,
}

/// The rows of the table `table` (`history-table`, `audit-table`) of a page, top first.
fn entry_rows(body: &str, table: &str) -> Vec<EntryRow> {
    let Some(at) = body.find(&format!("id=\"{table}\"")) else {
        return Vec::new();
    };
    let rest = &body[at..];
    let rest = &rest[..rest.find("</table>").unwrap()];
    let between = |text: &str, from: &str, to: &str| -> String {
        let start = text.find(from).map(|i| i + from.len()).unwrap();
        text[start..start + text[start..].find(to).unwrap()].to_string()
    };
    rest.split("<tr data-entry-id=")
        .skip(1)
        .map(|row| EntryRow {
            action: between(row, "data-action=\"", "\""),
            actor: between(
                row,
                "class=\"actor\" data-label=\"Who\"><span class=\"cell\">",
                "<",
            ),
            changes: row
                .split("<li ")
                .skip(1)
                .map(|item| {
                    let text = &item[item.find('>').unwrap() + 1..];
                    text[..text.find("</li>").unwrap()].to_string()
                })
                .collect(),
            html: row.to_string(),
        })
        .collect()
}

/// The `href` of the link marked `marker` (an attribute such as `rel="next"`).
fn link(body: &str, marker: &str) -> Option<String> {
    let at = body.find(marker)?;
    let tag = &body[body[..at].rfind('<')?..at + body[at..].find('>')?];
    let href = &tag[tag.find("href=\"")? + 6..];
    Some(href[..href.find('"')?].replace("&amp;", "&"))
}

async fn dashboard_changes_are_in_the_jobs_history_and_the_audit_page(app: TestApp) {
    let admin = key(&app, "default", "ops", Scope::Admin).await;
    let writer = key(&app, "default", "deployer", Scope::Write).await;
    let reader = key(&app, "default", "viewer", Scope::Read).await;
    let mut visitor = Visitor::new(&app);
    visitor.login(&admin).await;
    let csrf = visitor.get("/ui/jobs/new").await.csrf();
    let mut job = vec![
        ("csrf", csrf.as_str()),
        ("name", "nightly-export"),
        ("cron_expression", "@daily"),
        ("timezone", "Europe/Paris"),
        ("parameters", "{}"),
        ("description", ""),
        ("is_active", "true"),
    ];
    let created = visitor.post("/ui/jobs", &job).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let id = created.location().trim_start_matches("/ui/jobs/");
    let id: i64 = id[..id.find('?').unwrap()].parse().unwrap();
    let page = visitor.get(&format!("/ui/jobs/{id}")).await;
    let rows = entry_rows(&page.body, "history-table");
    assert_eq!(rows.len(), 1, "{}", page.body);
    assert_eq!(rows[0].action, "create");
    assert!(
        rows[0]
            .changes
            .contains(&"cron_expression: — → @daily".to_string()),
        "{:?}",
        rows[0].changes
    );

    // Edit, pause, resume: each through the dashboard's own forms.
    job[2] = ("cron_expression", "0 3 * * *");
    job[5] = ("description", "<b>bold</b> export");
    let edited = visitor.post(&format!("/ui/jobs/{id}"), &job).await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    // As a browser sends it: the empty "until" input too.
    let paused = visitor
        .post(
            &format!("/ui/jobs/{id}/pause"),
            &[("csrf", &csrf), ("note", "db upgrade"), ("until", "")],
        )
        .await;
    assert_eq!(paused.status, StatusCode::SEE_OTHER, "{}", paused.body);
    let resumed = visitor
        .post(&format!("/ui/jobs/{id}/resume"), &[("csrf", &csrf)])
        .await;
    assert_eq!(resumed.status, StatusCode::SEE_OTHER, "{}", resumed.body);

    let page = visitor.get(&format!("/ui/jobs/{id}")).await;
    assert!(page.body.contains("id=\"audit-title\">History</h2>"));
    let rows = entry_rows(&page.body, "history-table");
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["resume", "pause", "update", "create"]);
    for row in &rows {
        assert_eq!(row.actor, "dashboard: ops");
        // When: in UTC and on the job's wall clock.
        assert!(
            row.html.contains(" UTC</time> · <span class=\"local\">"),
            "{}",
            row.html
        );
    }
    // The fields the edit changed, and nothing else (the field order is the core's).
    let mut edit = rows[2].changes.clone();
    edit.sort();
    assert_eq!(
        edit,
        [
            "cron_expression: @daily → 0 3 * * *",
            "description: &quot;&quot; → &lt;b&gt;bold&lt;/b&gt; export",
        ]
    );
    assert!(!page.body.contains("<b>bold</b>"), "escaped");
    assert_eq!(
        rows[1].changes,
        ["is_active: true → false", "pause_note: — → db upgrade"]
    );
    assert_eq!(
        rows[0].changes,
        ["is_active: false → true", "pause_note: db upgrade → —"]
    );
    assert!(!page.body.contains("id=\"history-older\""), "20 or fewer");
    assert!(
        page.body.contains("id=\"nav-audit\""),
        "an admin has the link"
    );

    // The audit page lists them, each linked to its subject's page, and a calendar's.
    let calendar = visitor
        .post(
            "/ui/calendars",
            &[
                ("csrf", &csrf),
                ("name", "holidays"),
                ("timezone", "UTC"),
                ("dates", "2030-07-01 Opening day"),
            ],
        )
        .await;
    assert_eq!(calendar.status, StatusCode::SEE_OTHER, "{}", calendar.body);
    let audit = visitor.get("/ui/audit").await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    assert!(audit.body.contains("aria-current=\"page\">Audit<"));
    let rows = entry_rows(&audit.body, "audit-table");
    let calendar_row = &rows[0];
    assert_eq!(calendar_row.action, "create");
    assert!(
        calendar_row
            .html
            .contains("<a class=\"subject\" href=\"/ui/calendars/holidays\">holidays</a>"),
        "{}",
        calendar_row.html
    );
    let job_rows: Vec<&EntryRow> = rows
        .iter()
        .filter(|r| {
            r.html.contains(&format!(
                "<a class=\"subject\" href=\"/ui/jobs/{id}\">nightly-export</a>"
            ))
        })
        .collect();
    assert_eq!(job_rows.len(), 4, "{}", audit.body);
    assert!(job_rows.iter().all(|r| r.actor == "dashboard: ops"));
    assert_eq!(
        job_rows[1].changes,
        ["is_active: true → false", "pause_note: — → db upgrade"]
    );
    let only_jobs = visitor
        .get("/ui/audit?kind=job&actor=dashboard%3A+ops")
        .await;
    assert_eq!(entry_rows(&only_jobs.body, "audit-table").len(), 4);
    assert!(only_jobs.body.contains("value=\"dashboard: ops\""), "kept");
    let bad = visitor.get("/ui/audit?kind=planet").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("kind: "), "{}", bad.body);

    // Only admin keys see it: a read-only key and a write key are refused, without the link.
    for (name, secret) in [("reader", &reader), ("writer", &writer)] {
        let mut other = Visitor::new(&app);
        other.login(secret).await;
        let refused = other.get("/ui/audit").await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{name}");
        assert!(refused.body.contains("Admins only"), "{}", refused.body);
        let job_page = other.get(&format!("/ui/jobs/{id}")).await;
        assert!(!job_page.body.contains("nav-audit"), "{name} has the link");
        // The job's history is theirs to read.
        assert_eq!(entry_rows(&job_page.body, "history-table").len(), 4);
    }

    // More than 20: the job page shows the latest 20 and "Older…"; the history page pages
    // 50 at a time.
    for i in 0..50 {
        let (status, _) = api(
            &app,
            &admin,
            reqwest::Method::PATCH,
            &format!("/scheduler/jobs/{id}/"),
            Some(json!({"description": format!("run {i}")})),
        )
        .await;
        assert_eq!(status, 200);
    }
    let page = visitor.get(&format!("/ui/jobs/{id}")).await;
    let rows = entry_rows(&page.body, "history-table");
    assert_eq!(rows.len(), 20);
    assert_eq!(rows[0].actor, "ops", "through the API");
    assert_eq!(rows[0].changes, ["description: run 48 → run 49"]);
    let older = link(&page.body, "id=\"history-older\"").expect("Older…");
    assert!(
        older.starts_with(&format!("/ui/jobs/{id}/history?cursor=")),
        "{older}"
    );
    let rest = visitor.get(&older).await;
    assert_eq!(rest.status, StatusCode::OK);
    assert_eq!(entry_rows(&rest.body, "history-table").len(), 34);
    assert!(link(&rest.body, "rel=\"next\"").is_none());
    assert_eq!(
        link(&rest.body, "rel=\"first\"").as_deref(),
        Some(format!("/ui/jobs/{id}/history").as_str())
    );

    let first = visitor.get(&format!("/ui/jobs/{id}/history")).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains("History of nightly-export"));
    assert_eq!(entry_rows(&first.body, "history-table").len(), 50);
    assert!(link(&first.body, "rel=\"first\"").is_none());
    let next = link(&first.body, "rel=\"next\"").expect("a next page");
    let second = visitor.get(&next).await;
    let rows = entry_rows(&second.body, "history-table");
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["resume", "pause", "update", "create"]);
    assert!(link(&second.body, "rel=\"next\"").is_none());
    let forged = visitor
        .get(&format!("/ui/jobs/{id}/history?cursor=not-a-cursor"))
        .await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND);
    assert!(forged.body.contains("Invalid cursor"), "{}", forged.body);
    assert_eq!(
        visitor.get("/ui/jobs/999999/history").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn dashboard_changes_are_in_the_jobs_history_and_the_audit_page_on_sqlite() {
    let app = crate::support::sqlite_app().await.unwrap();
    dashboard_changes_are_in_the_jobs_history_and_the_audit_page(app).await;
}

#[tokio::test]
async fn dashboard_changes_are_in_the_jobs_history_and_the_audit_page_on_postgres() {
    let Some(app) = crate::support::postgres_app().await else {
        return;
    };
    dashboard_changes_are_in_the_jobs_history_and_the_audit_page(app).await;
}

#[tokio::test]
async fn without_keys_the_dashboard_acts_as_dashboard_local_and_escapes_the_trail() {
    let app = crate::support::sqlite_app_with(|c| c.auth = scheduler_server::AuthMode::Off)
        .await
        .unwrap();
    let mut visitor = Visitor::new(&app);
    let csrf = visitor.get("/ui/jobs/new").await.csrf();
    let name = "<script>alert('x')</script>";
    let created = visitor
        .post(
            "/ui/jobs",
            &[
                ("csrf", &csrf),
                ("name", name),
                ("cron_expression", "@hourly"),
                ("timezone", "UTC"),
                ("parameters", "{\"note\": \"<i>long</i>\"}"),
                ("is_active", "true"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let page = visitor.get(created.location()).await;
    let rows = entry_rows(&page.body, "history-table");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor, "dashboard: local");
    assert!(
        rows[0].changes.contains(
            &"parameters: — → {&quot;note&quot;:&quot;&lt;i&gt;long&lt;/i&gt;&quot;}".to_string()
        ),
        "{:?}",
        rows[0].changes
    );
    // A UTC job's times are in UTC alone.
    assert!(!rows[0].html.contains("class=\"local\""));
    // Without keys, the caller may do everything: the audit page is open.
    let audit = visitor.get("/ui/audit").await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(!audit.body.contains(name) && !page.body.contains(name));
    assert!(
        audit
            .body
            .contains("&lt;script&gt;alert('x')&lt;/script&gt;</a>")
    );
}

/// Answers 200 after a few seconds: its run is still running while the test looks at it.
#[poem::handler]
async fn slow_hook() -> &'static str {
    tokio::time::sleep(Duration::from_secs(3)).await;
    "ok"
}

/// Creates a job delivering to `target` and starts a manual run of it; returns the run's id.
async fn job_with_a_run(app: &TestApp, key: &str, name: &str, target: Value) -> i64 {
    let (status, job) = api(
        app,
        key,
        reqwest::Method::POST,
        "/scheduler/jobs/",
        Some(json!({"name": name, "cron_expression": "0 0 1 1 *", "target": target})),
    )
    .await;
    assert_eq!(status, 201, "{job}");
    let (status, run) = api(
        app,
        key,
        reqwest::Method::POST,
        &format!("/scheduler/jobs/{}/run/", job["id"]),
        None,
    )
    .await;
    assert_eq!(status, 202, "{run}");
    run["id"].as_i64().unwrap()
}

/// The run id of a run page's path (`/ui/runs/7?done=...` → 7).
fn run_of(location: &str) -> i64 {
    let rest = location.strip_prefix("/ui/runs/").expect("a run page");
    rest.split('?').next().unwrap().parse().unwrap()
}

/// A failed run's page replays it once (a second post shows that replay); a running run and
/// a read key get no button, and their posts are refused.
async fn an_ended_run_is_replayed_from_its_page_once(app: TestApp) {
    let admin = key(&app, "default", "ops", Scope::Admin).await;
    let reader = key(&app, "default", "viewer", Scope::Read).await;
    let refused = json!({"type": "http", "url": "http://127.0.0.1:9/hook"});
    let original = job_with_a_run(&app, &admin, "flaky", refused).await;
    let failed = settled(&app, &admin, original).await;
    assert_eq!(failed["status"], "failed", "{failed}");

    let mut visitor = Visitor::new(&app);
    visitor.login(&admin).await;
    let page = visitor.get(&format!("/ui/runs/{original}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"action-replay\""), "{}", page.body);
    assert!(!page.body.contains("Replay of"));
    let csrf = page.csrf();
    let path = format!("/ui/runs/{original}/replay");

    let first = visitor.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    assert!(
        first.location().ends_with("?done=replayed"),
        "{}",
        first.location()
    );
    let replay = run_of(first.location());
    assert_ne!(replay, original);
    let shown = visitor.get(first.location()).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        shown.body.contains(&format!(
            "Replay of <a href=\"/ui/runs/{original}\">run #{original}</a>"
        )),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("Replay started"));
    assert!(shown.body.contains("id=\"run-trigger\">replay<"));

    // Asked again: the same replay, said so.
    let again = visitor.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(run_of(again.location()), replay);
    assert!(again.location().ends_with("?done=replayed-before"));
    let shown = visitor.get(again.location()).await;
    assert!(shown.body.contains("was replayed before"), "{}", shown.body);

    // The runs table lists it with its trigger and links each run to its page.
    settled(&app, &admin, replay).await;
    let runs = visitor.get("/ui/runs").await;
    assert!(
        runs.body
            .contains("data-label=\"Trigger\"><span class=\"cell\">replay</span>"),
        "{}",
        runs.body
    );
    assert!(runs.body.contains(&format!("href=\"/ui/runs/{replay}\"")));

    // A running run has no button, and its replay is refused.
    let hook = crate::support::serve_hook(slow_hook).await;
    let busy = job_with_a_run(&app, &admin, "slow", json!({"type": "http", "url": hook})).await;
    let running = visitor.get(&format!("/ui/runs/{busy}")).await;
    assert_eq!(running.status, StatusCode::OK);
    assert!(running.body.contains("status-running"), "{}", running.body);
    assert!(!running.body.contains("action-replay"));
    let refused = visitor
        .post(&format!("/ui/runs/{busy}/replay"), &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("Still running"), "{}", refused.body);

    // A read key sees no button and its post is refused.
    let mut viewer = Visitor::new(&app);
    viewer.login(&reader).await;
    let read_only = viewer.get(&format!("/ui/runs/{original}")).await;
    assert_eq!(read_only.status, StatusCode::OK);
    assert!(!read_only.body.contains("action-replay"));
    let csrf_r = read_only.csrf();
    let refused = viewer.post(&path, &[("csrf", &csrf_r)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("Read-only key"));
    let (_, replays) = api(
        &app,
        &admin,
        reqwest::Method::GET,
        "/scheduler/runs/?trigger=replay",
        None,
    )
    .await;
    assert_eq!(replays["count"], 1, "{replays}");
    settled(&app, &admin, busy).await;
}

#[tokio::test]
async fn an_ended_run_is_replayed_from_its_page_once_on_sqlite() {
    let app = crate::support::sqlite_app().await.unwrap();
    an_ended_run_is_replayed_from_its_page_once(app).await;
}

#[tokio::test]
async fn an_ended_run_is_replayed_from_its_page_once_on_postgres() {
    let Some(app) = crate::support::postgres_app().await else {
        return;
    };
    an_ended_run_is_replayed_from_its_page_once(app).await;
}
