//! Notifications, from outside: a webhook channel gets exactly one signed `failed` message
//! per failure streak and one `recovered` when it ends, even with two replicas sending; a
//! cluster that was down reports the fire it missed when it comes back; e-mail reaches an
//! SMTP sink with the right subject, and an SMTP server that hangs holds up no run; channel
//! URLs to forbidden addresses are refused naming `url`; every channel change is in the
//! audit trail.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::support::smtp::{SmtpSink, smtp_sink};
use crate::support::{TestApp, dispatching, serve_hook, spawn, test_config};

/// A webhook sink keeping each message's signature, idempotency key and body.
type Seen = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

async fn webhook_sink() -> (String, Seen) {
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    let hook = poem::endpoint::make(move |mut request: poem::Request| {
        let kept = kept.clone();
        async move {
            let header = |name: &str| {
                request
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            let (signature, key) = (header("scheduler-signature"), header("idempotency-key"));
            let body = request.take_body().into_vec().await.unwrap_or_default();
            kept.lock().unwrap().push((signature, key, body));
            "ok"
        }
    });
    (serve_hook(hook).await, seen)
}

/// A receiver for deliveries that fails (500) until `healthy` is set.
async fn switchable_receiver(healthy: Arc<AtomicBool>) -> String {
    let hook = poem::endpoint::make(move |_: poem::Request| {
        let healthy = healthy.clone();
        async move {
            if healthy.load(Ordering::SeqCst) {
                (StatusCode::OK, "fine")
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, "database down")
            }
        }
    });
    serve_hook(hook).await
}

async fn create_channel(app: &TestApp, body: &Value) -> Value {
    let reply = app
        .client
        .post(app.url("/scheduler/channels/"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201, "{body}");
    reply.json().await.unwrap()
}

/// Waits (at most `seconds`) until `done` holds for the job's runs; returns them.
async fn runs_until(
    app: &TestApp,
    job: &Value,
    seconds: u64,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut runs = Vec::new();
    for _ in 0..seconds * 10 {
        let (_, page) = app
            .get_json(&format!(
                "/scheduler/jobs/{}/runs/?page_size=100",
                job["id"]
            ))
            .await;
        runs = page["results"].as_array().cloned().unwrap_or_default();
        if done(&runs) {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("runs never got there: {runs:?}");
}

/// Waits (at most `seconds`) until the sink holds `count` messages; returns their bodies.
async fn messages(seen: &Seen, count: usize, seconds: u64) -> Vec<Value> {
    for _ in 0..seconds * 10 {
        if seen.lock().unwrap().len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen.lock()
        .unwrap()
        .iter()
        .map(|(_, _, body)| serde_json::from_slice(body).unwrap())
        .collect()
}

fn status_count(runs: &[Value], status: &str) -> usize {
    runs.iter().filter(|r| r["status"] == status).count()
}

async fn one_message_per_failure_streak((a, b): (TestApp, TestApp)) {
    let (sink, seen) = webhook_sink().await;
    let channel = create_channel(
        &a,
        &json!({"name": "ops", "kind": "webhook", "url": sink,
            "headers": {"Authorization": "Bearer s3cret"}}),
    )
    .await;
    assert_eq!(channel["headers"], json!({"Authorization": "***"}));
    assert_eq!(
        channel["events"],
        json!(["failed", "timed_out", "missed", "auto_paused", "recovered"])
    );
    let healthy = Arc::new(AtomicBool::new(false));
    let target = switchable_receiver(healthy.clone()).await;
    let job = a
        .create_job(&json!({"name": "nightly-etl", "interval_seconds": 1,
            "concurrency_policy": "forbid", "target": {"type": "http", "url": target}}))
        .await;
    // A streak of at least four failed runs, fired by both replicas...
    runs_until(&a, &job, 30, |runs| status_count(runs, "failed") >= 4).await;
    // ...then the receiver is back and a run succeeds.
    healthy.store(true, Ordering::SeqCst);
    let runs = runs_until(&b, &job, 30, |runs| status_count(runs, "succeeded") >= 1).await;
    let failed = status_count(&runs, "failed");
    let got = messages(&seen, 2, 15).await;
    // Let any doubled send arrive before counting.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let got_now = messages(&seen, 2, 0).await;
    assert_eq!(got_now.len(), 2, "exactly two messages: {got_now:?}");
    assert_eq!(got, got_now);
    let first = &got[0];
    assert_eq!(
        (&first["event"], &first["count"], &first["digest"]),
        (&json!("failed"), &json!(1), &json!(false)),
        "{first}"
    );
    assert_eq!(
        first["job"],
        json!({"id": job["id"], "name": "nightly-etl"})
    );
    assert_eq!(first["summary"], "Job \"nightly-etl\" failed");
    assert_eq!(first["run"]["status"], "failed");
    assert!(
        first["run"]["error"]
            .as_str()
            .unwrap()
            .contains("HTTP 500: database down"),
        "{first}"
    );
    let run_id = first["run"]["id"].as_i64().unwrap();
    assert_eq!(
        first["links"]["run"],
        json!(format!("/scheduler/runs/{run_id}/"))
    );
    let recovered = &got[1];
    assert_eq!(recovered["event"], "recovered", "{recovered}");
    // The streak it closes: every failure before the success (one more may have failed
    // while the receiver was switched).
    let streak = recovered["count"].as_u64().unwrap() as usize;
    assert!((4..=failed).contains(&streak), "{streak} of {failed}");
    // Signed as deliveries are, with the tenant's secret; never the same id twice.
    let (_, secrets) = a.get_json("/scheduler/signing-secrets/").await;
    let secret = secrets[0]["secret"].as_str().unwrap().to_string();
    let now = chrono::Utc::now().timestamp();
    let sent = seen.lock().unwrap().clone();
    let mut keys = Vec::new();
    for (signature, key, body) in &sent {
        assert!(
            scheduler_core::verify(signature, &secret, body, now, 300),
            "{signature}"
        );
        keys.push(key.clone());
    }
    keys.dedup();
    assert_eq!(keys.len(), 2, "{keys:?}");
    // The API lists both as sent, newest first.
    let (status, listed) = b.get_json("/scheduler/notifications/").await;
    assert_eq!(status, 200);
    let listed = listed["results"].as_array().unwrap().clone();
    let summary: Vec<(&str, &str, &str)> = listed
        .iter()
        .map(|n| {
            (
                n["event"].as_str().unwrap(),
                n["status"].as_str().unwrap(),
                n["channel"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("recovered", "sent", "ops"), ("failed", "sent", "ops")]
    );
    assert_eq!(listed[1]["attempts"], 1);
    a.client
        .post(a.url(&format!("/scheduler/jobs/{}/pause/", job["id"])))
        .send()
        .await
        .unwrap();
}

/// A stopped cluster (no dispatcher), a job whose fire came due while it was down, and a
/// replica that starts: the fire is reported missed.
async fn a_stopped_cluster_reports_the_missed_fire(stopped: TestApp) {
    let (sink, seen) = webhook_sink().await;
    create_channel(
        &stopped,
        &json!({"name": "pager", "kind": "webhook", "url": sink, "events": ["missed"]}),
    )
    .await;
    let job = stopped
        .create_job(
            &json!({"name": "hourly-report", "cron_expression": "0 * * * *",
            "misfire_policy": "skip", "misfire_grace_seconds": 30}),
        )
        .await;
    let id = job["id"].as_i64().unwrap();
    // Its fire was due ten minutes ago, while nothing ran.
    let due = if stopped.sqlite.is_some() {
        format!(
            "UPDATE jobs SET next_run = '{}' WHERE id = {id}",
            (chrono::Utc::now() - chrono::Duration::minutes(10))
                .format("%Y-%m-%d %H:%M:%S%.6f+00:00")
        )
    } else {
        format!("UPDATE jobs SET next_run = now() - interval '10 minutes' WHERE id = {id}")
    };
    stopped.execute_sql(&due).await;
    let url = match (&stopped.sqlite, &stopped.postgres) {
        (Some(file), _) => file.url.clone(),
        (None, Some(pg)) => pg.url.clone(),
        _ => unreachable!(),
    };
    let mut config = test_config(&url);
    dispatching(&mut config);
    let _back = spawn(config).await;
    let got = messages(&seen, 1, 20).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let missed = &got[0];
    assert_eq!(missed["event"], "missed", "{missed}");
    assert_eq!(missed["job"]["name"], "hourly-report");
    assert_eq!(missed["run"]["status"], "skipped");
    assert!(
        missed["run"]["error"]
            .as_str()
            .unwrap()
            .contains("beyond misfire_grace_seconds=30"),
        "{missed}"
    );
    assert_eq!(missed["summary"], "Job \"hourly-report\" missed a fire");
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
    setups: {
        sqlite => crate::support::sqlite_replicas,
        postgres => crate::support::postgres_replicas
    },
    tests: [one_message_per_failure_streak],
}

mod stopped {
    scheduler_test_support::backend_tests! {
        attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
        setups: {
            sqlite => crate::support::sqlite_app,
            postgres => crate::support::postgres_app
        },
        tests: [a_stopped_cluster_reports_the_missed_fire],
    }
    use super::a_stopped_cluster_reports_the_missed_fire;
}

/// A dispatching server sending e-mail through a local SMTP sink, on each backend.
async fn mailing_sqlite() -> Option<(TestApp, SmtpSink)> {
    let sink = smtp_sink(false).await;
    let app = crate::support::sqlite_app_with(|config| mailing(config, &sink.url)).await?;
    Some((app, sink))
}

async fn mailing_postgres() -> Option<(TestApp, SmtpSink)> {
    let sink = smtp_sink(false).await;
    let app = crate::support::postgres_app_with(|config| mailing(config, &sink.url)).await?;
    Some((app, sink))
}

fn mailing(config: &mut scheduler_server::Config, smtp: &str) {
    dispatching(config);
    config.smtp_url = Some(smtp.to_string());
    config.smtp_from = "Scheduler <scheduler@example.com>".into();
    config.notify_timeout_seconds = 2;
    config.public_url = Some("https://scheduler.example.com".into());
}

/// E-mail reaches the SMTP sink with the event as its subject, to every recipient, with
/// the error and a link under the public URL.
async fn email_reaches_the_sink_with_its_subject((app, sink): (TestApp, SmtpSink)) {
    create_channel(
        &app,
        &json!({"name": "mail", "kind": "email", "to": ["ops@example.com", "oncall@example.com"],
            "events": ["failed"]}),
    )
    .await;
    let broken = switchable_receiver(Arc::new(AtomicBool::new(false))).await;
    let job = app
        .create_job(&json!({"name": "billing", "cron_expression": "0 0 1 1 *",
            "target": {"type": "http", "url": broken}}))
        .await;
    crate::support::run_now(&app, &job["id"]).await;
    let mut mail = Vec::new();
    for _ in 0..100 {
        mail = sink.mail.lock().unwrap().clone();
        if !mail.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(
        mail[0].header("Subject").as_deref(),
        Some("Job \"billing\" failed")
    );
    assert_eq!(mail[0].to, ["ops@example.com", "oncall@example.com"]);
    assert!(
        mail[0].data.contains("HTTP 500: database down"),
        "{}",
        mail[0].data
    );
    assert!(
        mail[0]
            .data
            .contains("https://scheduler.example.com/ui/runs/"),
        "{}",
        mail[0].data
    );
}

mod mail {
    scheduler_test_support::backend_tests! {
        attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
        setups: {
            sqlite => crate::notifications::mailing_sqlite,
            postgres => crate::notifications::mailing_postgres
        },
        tests: [email_reaches_the_sink_with_its_subject],
    }
    use super::email_reaches_the_sink_with_its_subject;
}

/// An SMTP server that accepts and never answers: the notification fails after the send
/// timeout and is retried later, while an every-second job keeps running on time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_smtp_server_holds_up_no_run() {
    let hanging = smtp_sink(true).await;
    let Some(app) = crate::support::sqlite_app_with(|config| {
        dispatching(config);
        config.smtp_url = Some(hanging.url.clone());
        config.notify_timeout_seconds = 2;
    })
    .await
    else {
        return;
    };
    create_channel(
        &app,
        &json!({"name": "mail", "kind": "email", "to": ["ops@example.com"]}),
    )
    .await;
    let broken = switchable_receiver(Arc::new(AtomicBool::new(false))).await;
    let failing = app
        .create_job(&json!({"name": "failing", "cron_expression": "0 0 1 1 *",
            "target": {"type": "http", "url": broken}}))
        .await;
    let ticking = app
        .create_job(&json!({"name": "ticking", "interval_seconds": 1}))
        .await;
    let started = std::time::Instant::now();
    crate::support::run_now(&app, &failing["id"]).await;
    // Four seconds: the notification hangs for its 2 s timeout (and again at its retry)...
    tokio::time::sleep(Duration::from_secs(4)).await;
    let runs = runs_until(&app, &ticking, 5, |runs| runs.len() >= 3).await;
    // ...and the every-second job fired on time throughout.
    let late: Vec<f64> = runs
        .iter()
        .map(|r| {
            let at =
                |f: &str| chrono::DateTime::parse_from_rfc3339(r[f].as_str().unwrap()).unwrap();
            (at("started_at") - at("scheduled_for")).as_seconds_f64()
        })
        .collect();
    eprintln!("fire lateness during the SMTP hang (s): {late:?}");
    assert!(late.iter().all(|l| *l < 1.0), "fires were late: {late:?}");
    let (_, listed) = app.get_json("/scheduler/notifications/").await;
    let note = &listed["results"][0];
    assert_eq!(note["event"], "failed", "{listed}");
    assert!(
        note["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("no answer within 2 s") || e.contains("timed out")),
        "{note}"
    );
    assert_ne!(note["status"], "sent");
    assert!(started.elapsed() < Duration::from_secs(15));
}

/// Channel URLs to forbidden addresses are refused naming `url`, in every spelling; the
/// channel changes that succeed are in the audit trail, with header values masked, and the
/// refused ones are not.
async fn channel_urls_pass_the_guard_and_changes_are_audited(app: TestApp) {
    for url in [
        "http://127.0.0.1/hook",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost:8080/",
        "http://app.localhost/",
        "http://0.0.0.0/",
    ] {
        for kind in ["webhook", "slack"] {
            let reply = app
                .client
                .post(app.url("/scheduler/channels/"))
                .json(&json!({"name": "x", "kind": kind, "url": url}))
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 400, "{kind} {url}");
            let body: Value = reply.json().await.unwrap();
            let fields: Vec<&String> = body.as_object().unwrap().keys().collect();
            assert_eq!(fields, ["url"], "{kind} {url}: {body}");
        }
    }
    for (body, field) in [
        (
            json!({"name": "x", "kind": "email", "to": ["not an address"]}),
            "to[0]",
        ),
        (json!({"name": "x", "kind": "pager"}), "kind"),
        (
            json!({"name": "x y", "kind": "slack", "url": "https://hooks.example.com/x"}),
            "name",
        ),
        (
            json!({"name": "x", "kind": "webhook", "url": "https://hooks.example.com/x", "events": ["boom"]}),
            "events[0]",
        ),
    ] {
        let reply = app
            .client
            .post(app.url("/scheduler/channels/"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 400, "{body}");
        let answer: Value = reply.json().await.unwrap();
        assert!(answer.get(field).is_some(), "{body}: {answer}");
    }
    create_channel(
        &app,
        &json!({"name": "hooks", "kind": "webhook", "url": "https://hooks.example.com/a",
            "headers": {"X-Token": "t0ken"}}),
    )
    .await;
    let replaced = app
        .client
        .put(app.url("/scheduler/channels/hooks/"))
        .json(
            &json!({"kind": "webhook", "url": "https://hooks.example.com/b",
            "headers": {"X-Token": "***"}, "events": ["failed"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), 200);
    let slack = create_channel(
        &app,
        &json!({"name": "chat", "kind": "slack",
            "url": "https://hooks.slack.example.com/services/T0/B0/SECRET"}),
    )
    .await;
    assert_eq!(slack["url"], "https://hooks.slack.example.com/***");
    let gone = app
        .client
        .delete(app.url("/scheduler/channels/chat/"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let (status, _) = app.get_json("/scheduler/channels/chat/").await;
    assert_eq!(status, 404);
    let (_, trail) = app.get_json("/scheduler/audit/?kind=channel").await;
    let entries = trail["results"].as_array().unwrap();
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["subject"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("chat", "delete"),
            ("chat", "create"),
            ("hooks", "update"),
            ("hooks", "create")
        ],
        "{trail}"
    );
    let update = &entries[2]["changes"];
    let fields: Vec<&str> = update
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["events", "url"], "{update}");
    assert!(!trail.to_string().contains("t0ken"), "{trail}");
    assert!(!trail.to_string().contains("SECRET"), "{trail}");
}

/// The default guard (no loopback allowed), on both backends.
async fn guarded_sqlite() -> Option<TestApp> {
    crate::support::sqlite_app_with(|config| config.target_allow = String::new()).await
}

async fn guarded_postgres() -> Option<TestApp> {
    crate::support::postgres_app_with(|config| config.target_allow = String::new()).await
}

mod guard {
    scheduler_test_support::backend_tests! {
        attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
        setups: {
            sqlite => crate::notifications::guarded_sqlite,
            postgres => crate::notifications::guarded_postgres
        },
        tests: [channel_urls_pass_the_guard_and_changes_are_audited],
    }
    use super::channel_urls_pass_the_guard_and_changes_are_audited;
}

/// Every metric the alert rules in `deploy/prometheus/alerts.yaml` use is one the server
/// exports (a fresh dispatching server after a run). On PostgreSQL without Redis: that server
/// has no cache, so its scrape does not touch the process-wide cache counters other tests
/// count exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_rules_use_metrics_the_server_exports() {
    let Some(app) = crate::support::postgres_dispatching().await else {
        return;
    };
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/prometheus/alerts.yaml"
    ))
    .unwrap();
    let job = app
        .create_job(&json!({"name": "once", "interval_seconds": 1}))
        .await;
    runs_until(&app, &job, 10, |runs| !runs.is_empty()).await;
    let mut exported = String::new();
    for _ in 0..60 {
        exported = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if exported.contains("scheduler_fire_lateness_seconds_bucket")
            && exported.contains("scheduler_notification_outbox_depth")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut used: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("scheduler_"))
        .collect();
    used.sort_unstable();
    used.dedup();
    assert!(used.len() >= 10, "{used:?}");
    for name in used {
        assert!(
            exported
                .lines()
                .any(|line| line.starts_with(&format!("{name} "))
                    || line.starts_with(&format!("{name}{{"))),
            "{name} is used by an alert rule but not exported:\n{exported}"
        );
    }
}
