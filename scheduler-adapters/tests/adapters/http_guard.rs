//! The SSRF guard when a run connects: a target whose name resolved to a public address when
//! the job was written, and to a forbidden one now (DNS rebinding), fails the run with the
//! reason; no packet is sent to the forbidden address (the refusal is in the resolver, before
//! any connect).

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use scheduler_adapters::HttpExecutor;
use scheduler_core::{
    HostResolver, Job, JobDraft, JobExecutor, JobId, Run, RunId, RunStatus, RunTrigger, TargetGuard,
};
use serde_json::json;

/// Answers every name with one fixed address.
struct Fixed(IpAddr);

#[async_trait]
impl HostResolver for Fixed {
    async fn resolve(&self, _host: &str, _port: u16) -> Result<Vec<IpAddr>, String> {
        Ok(vec![self.0])
    }
}

fn job(url: &str) -> Job {
    let now = Utc::now();
    let spec = JobDraft {
        name: Some("rebinding".into()),
        cron_expression: Some("@daily".into()),
        target: Some(json!({"type": "http", "url": url,
            "headers": {"Authorization": "Bearer top-secret-value"}})),
        ..JobDraft::default()
    }
    .validate(now)
    .unwrap();
    Job {
        id: JobId(1),
        spec,
        last_run: None,
        last_status: None,
        last_error: None,
        fire_count: 0,
        pause: None,
        failure_streak: 0,
        next_run: None,
        next_fire: None,
        created_at: now,
        updated_at: now,
        tenant: scheduler_core::Tenant::default_tenant(),
        created_by: None,
        updated_by: None,
    }
}

fn run() -> Run {
    let now = Utc::now();
    Run {
        id: RunId(1),
        job_id: JobId(1),
        scheduled_for: now,
        due_at: None,
        trigger: RunTrigger::Manual,
        attempt: 1,
        retries: 0,
        throttles: 0,
        status: RunStatus::Running,
        started_at: now,
        finished_at: None,
        heartbeat_at: now,
        retry_at: None,
        error: None,
        worker: "test".into(),
        replay_of: None,
    }
}

#[tokio::test]
async fn a_name_that_now_resolves_to_a_forbidden_address_fails_the_run() {
    for (address, kind) in [
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("10.1.2.3", "private (RFC 1918)"),
        ("::ffff:192.168.0.1", "private (RFC 1918)"),
    ] {
        let executor = HttpExecutor::with_resolver(
            TargetGuard::default(),
            Arc::new(Fixed(address.parse().unwrap())),
        )
        .unwrap();
        let error = executor
            .execute(&job("http://rebind.example:8080/hook"), &run())
            .await
            .unwrap_err();
        assert!(
            error.contains(&format!(
                "target refused: rebind.example resolves to {address}, a {kind} address"
            )),
            "{error}"
        );
        assert!(!error.contains("top-secret-value"), "{error}");
    }
}

#[tokio::test]
async fn literal_and_local_targets_are_refused_before_any_request() {
    let executor = HttpExecutor::new().unwrap();
    for (url, why) in [
        ("http://127.0.0.1:9/", "127.0.0.1 is a loopback address"),
        ("http://[::1]:9/", "::1 is a loopback address"),
        ("http://localhost:9/", "localhost is a local-only host name"),
    ] {
        let error = executor.execute(&job(url), &run()).await.unwrap_err();
        assert_eq!(error, format!("target refused: {why}"));
    }
}

#[tokio::test]
async fn local_only_names_are_refused_in_any_spelling() {
    let executor = HttpExecutor::new().unwrap();
    for url in [
        "http://localhost.:9/",
        "http://LocalHost:9/",
        "http://api.localhost:9/",
    ] {
        let error = executor.execute(&job(url), &run()).await.unwrap_err();
        assert!(error.starts_with("target refused: "), "{url}: {error}");
        assert!(
            error.ends_with("is a local-only host name"),
            "{url}: {error}"
        );
    }
}
