//! `HttpExecutor`: the `JobExecutor` port for jobs with an HTTP target (reqwest, rustls).

use std::time::Duration;

use async_trait::async_trait;
use chrono::SecondsFormat;
use scheduler_core::{Job, JobExecutor, Run};

/// Most bytes of a failing response kept in the run's `error`.
const BODY_EXCERPT_BYTES: usize = 1024;

/// Delivers a run as a JSON request to the job's target; 2xx is success.
#[derive(Clone)]
pub struct HttpExecutor {
    /// Shared connection pool.
    client: reqwest::Client,
}

impl HttpExecutor {
    /// A client with a 5 s connect timeout that does not follow redirects (a target is an
    /// exact URL; the run's timeout bounds the whole request).
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("scheduler/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }
}

/// The JSON body of a delivery.
pub fn delivery_body(job: &Job, run: &Run) -> serde_json::Value {
    serde_json::json!({
        "job_id": job.id.0,
        "job_name": job.spec.name.as_str(),
        "run_id": run.id.0,
        "scheduled_for": run.scheduled_for.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        "attempt": run.attempt,
        "parameters": job.spec.parameters.as_map(),
    })
}

async fn body_excerpt(mut response: reqwest::Response) -> String {
    let mut excerpt = Vec::new();
    while excerpt.len() < BODY_EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
            _ => break,
        }
    }
    excerpt.truncate(BODY_EXCERPT_BYTES);
    String::from_utf8_lossy(&excerpt).into_owned()
}

#[async_trait]
impl JobExecutor for HttpExecutor {
    async fn execute(&self, job: &Job, run: &Run) -> Result<(), String> {
        let target = job
            .spec
            .target
            .as_ref()
            .ok_or("the job has no HTTP target")?;
        let method = reqwest::Method::from_bytes(target.method.as_bytes())
            .map_err(|_| format!("invalid method {}", target.method))?;
        let mut request = self
            .client
            .request(method, &target.url)
            .header(
                "Idempotency-Key",
                format!(
                    "{}:{}",
                    job.id,
                    run.scheduled_for
                        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
                ),
            )
            .json(&delivery_body(job, run));
        for (name, value) in &target.headers {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("request to {} failed: {e}", target.url))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = body_excerpt(response).await;
        Err(format!("HTTP {}: {body}", status.as_u16()))
    }
}
