//! `HttpExecutor`: the `JobExecutor` port for jobs with an HTTP target (reqwest, rustls),
//! behind the SSRF guard: every address a run dials passes [`TargetGuard`] first — a literal
//! address before the request, a host name's addresses in the client's resolver
//! ([`GuardedResolver`]), so a name that re-resolves to a forbidden address fails the run.
//! Proxies from the environment are not used (they would dial on the guard's behalf); an
//! egress proxy is used only when configured explicitly. Redirects are not followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::retry_after::throttle_delay;
use async_trait::async_trait;
use chrono::SecondsFormat;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use scheduler_core::{
    Executed, HostResolver, HttpTarget, Job, JobExecutor, Run, RunOutput, SIGNATURE_HEADER,
    SigningService, TargetGuard, Tenant, signature_header,
};
use tracing::Instrument;

/// How long resolving a target's host may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// The system resolver (`getaddrinfo` through tokio), bounded by a timeout: the
/// [`HostResolver`] port for the guard, at write time and when runs connect.
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsResolver;

#[async_trait]
impl HostResolver for DnsResolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        let lookup = tokio::net::lookup_host((host, port));
        match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
            Ok(Ok(addresses)) => Ok(addresses.map(|a| a.ip()).collect()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("resolving {host} took over {RESOLVE_TIMEOUT:?}")),
        }
    }
}

/// The HTTP client's resolver: a [`HostResolver`] (the system's by default), keeping only
/// the addresses the guard allows for the name; a name with none left fails to resolve,
/// naming the first refused address.
#[derive(Clone)]
pub struct GuardedResolver {
    /// The policy.
    guard: Arc<TargetGuard>,
    /// Where addresses come from.
    resolver: Arc<dyn HostResolver>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = Arc::clone(&self.guard);
        let resolver = Arc::clone(&self.resolver);
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found = resolver.resolve(&host, 0).await?;
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|ip| match guard.check_resolved(&host, *ip) {
                    Ok(()) => true,
                    Err(r) => {
                        refusal.get_or_insert(r);
                        false
                    }
                })
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            match (allowed.is_empty(), refusal) {
                (true, Some(refusal)) => Err(format!("target refused: {refusal}").into()),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

/// Most bytes of a failing response kept in the run's `error`.
const BODY_EXCERPT_BYTES: usize = 1024;

/// Delivers a run as a JSON request to the job's target; 2xx is success.
#[derive(Clone)]
pub struct HttpExecutor {
    /// Shared connection pool.
    client: reqwest::Client,
    /// The SSRF policy every dialled address passes.
    guard: Arc<TargetGuard>,
    /// Signs each delivery with its tenant's secrets, when set.
    signing: Option<Signer>,
}

/// How long a tenant's signing secrets are remembered: a rotation reaches every replica
/// within it (the old secret stays valid for the rotation's overlap, so nothing fails).
const SECRETS_TTL: Duration = Duration::from_secs(10);

/// The signing service with a short-lived memory of each tenant's secrets.
#[derive(Clone)]
struct Signer {
    /// The secrets' source.
    service: SigningService,
    /// Tenant → valid secrets, newest first.
    secrets: moka::sync::Cache<Tenant, Arc<Vec<String>>>,
}

impl Signer {
    async fn secrets(&self, tenant: &Tenant) -> Result<Arc<Vec<String>>, String> {
        if let Some(known) = self.secrets.get(tenant) {
            return Ok(known);
        }
        let secrets: Arc<Vec<String>> = Arc::new(
            self.service
                .secrets(tenant)
                .await
                .map_err(|e| format!("cannot sign the delivery: {e}"))?
                .into_iter()
                .map(|s| s.secret)
                .collect(),
        );
        self.secrets.insert(tenant.clone(), Arc::clone(&secrets));
        Ok(secrets)
    }
}

impl HttpExecutor {
    /// [`HttpExecutor::with_guard`] with the default guard (every forbidden address refused).
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn new() -> Result<Self, reqwest::Error> {
        Self::with_guard(TargetGuard::default())
    }

    /// A client with a 5 s connect timeout that does not follow redirects (a target is an
    /// exact URL; the run's timeout bounds the whole request), uses no proxy, and dials only
    /// addresses `guard` allows.
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn with_guard(guard: TargetGuard) -> Result<Self, reqwest::Error> {
        Self::with_resolver(guard, Arc::new(DnsResolver))
    }

    /// [`HttpExecutor::with_guard`] resolving host names with `resolver` (tests simulate DNS
    /// rebinding with it).
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn with_resolver(
        guard: TargetGuard,
        resolver: Arc<dyn HostResolver>,
    ) -> Result<Self, reqwest::Error> {
        Self::build(guard, resolver, None)
    }

    /// [`HttpExecutor::with_guard`] sending every delivery through the egress proxy at
    /// `proxy_url` (`http://proxy:3128`). The guard still refuses forbidden literal addresses
    /// and local-only names before a request; the final address is the proxy's to check, as
    /// the proxy resolves the target's name.
    ///
    /// # Errors
    /// When `proxy_url` is not a proxy URL or the TLS backend cannot be initialised.
    pub fn with_egress_proxy(guard: TargetGuard, proxy_url: &str) -> Result<Self, reqwest::Error> {
        let proxy = reqwest::Proxy::all(proxy_url)?;
        Self::build(guard, Arc::new(DnsResolver), Some(proxy))
    }

    fn build(
        guard: TargetGuard,
        resolver: Arc<dyn HostResolver>,
        proxy: Option<reqwest::Proxy>,
    ) -> Result<Self, reqwest::Error> {
        let guard = Arc::new(guard);
        let builder = match proxy {
            // Only this proxy: never one from the environment.
            Some(proxy) => reqwest::Client::builder().no_proxy().proxy(proxy),
            None => reqwest::Client::builder().no_proxy(),
        };
        let client = builder
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver {
                guard: Arc::clone(&guard),
                resolver,
            }))
            .user_agent(concat!("scheduler/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            guard,
            signing: None,
        })
    }

    /// Signs every delivery (`Scheduler-Signature`) with the job's tenant's secrets.
    #[must_use]
    pub fn with_signing(mut self, service: SigningService) -> Self {
        self.signing = Some(Signer {
            service,
            secrets: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(SECRETS_TTL)
                .build(),
        });
        self
    }
}

/// An error with its chain of causes (reqwest's own text names only the outermost).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `text` with every header value of the target replaced by the mask, so a receiver that
/// echoes its request cannot put a secret into a run's stored error.
fn redact(mut text: String, headers: &std::collections::BTreeMap<String, String>) -> String {
    for value in headers.values().filter(|v| v.len() >= 3) {
        if text.contains(value.as_str()) {
            text = text.replace(value.as_str(), scheduler_core::HttpTarget::MASK);
        }
    }
    text
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

/// Reads the answer's body up to a byte past [`RunOutput::MAX_BYTES`] (never more: a huge
/// answer costs at most that), returning what was read and the output kept of it.
async fn read_answer(mut response: reqwest::Response) -> (Vec<u8>, Option<RunOutput>) {
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = Vec::new();
    while body.len() <= RunOutput::MAX_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let output = RunOutput::capture(content_type.as_deref(), &body, body.len() as u64);
    (body, output)
}

/// The start of an answer's body, as a failed run's error shows it.
fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(BODY_EXCERPT_BYTES)]).into_owned()
}

#[async_trait]
impl JobExecutor for HttpExecutor {
    async fn execute(&self, job: &Job, run: &Run) -> Result<(), String> {
        self.execute_with_output(job, run).await.result
    }

    async fn execute_with_output(&self, job: &Job, run: &Run) -> Executed {
        let Some(target) = job.spec.target.as_ref() else {
            return Executed::new(Err("the job has no HTTP target".into()), None);
        };
        // A target stored before reserved headers were refused: fail, never send it.
        if let Some(name) = target.reserved_header() {
            let refused = format!(
                "not sent: the target sets header \"{name}\", which only the scheduler or \
                 HTTP itself may set; edit the job's target to remove it"
            );
            return Executed::new(Err(refused), None);
        }
        let idempotency = format!(
            "{}:{}",
            job.id,
            run.scheduled_for
                .to_rfc3339_opts(SecondsFormat::AutoSi, true)
        );
        let span = tracing::info_span!(
            "delivery",
            host = %target.host_key(),
            method = %target.method,
            http.status = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        );
        self.exchange(target, &job.tenant, &idempotency, &delivery_body(job, run))
            .instrument(span)
            .await
    }
}

/// Collects the header fields a propagator writes.
struct HeaderFields(Vec<(String, String)>);

impl opentelemetry::propagation::Injector for HeaderFields {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_string(), value));
    }
}

/// The W3C trace context (`traceparent`, `tracestate`) of the current span, when traces are
/// on (otherwise the span has no trace and nothing is sent); its trace id is recorded on the
/// span (`trace_id`), so the delivery's log lines carry it.
fn trace_headers() -> Vec<(String, String)> {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let span = tracing::Span::current();
    let context = span.context();
    let trace = context.span().span_context().clone();
    if !trace.is_valid() {
        return Vec::new();
    }
    span.record("trace_id", tracing::field::display(trace.trace_id()));
    let mut fields = HeaderFields(Vec::new());
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut fields);
    });
    fields.0
}

impl HttpExecutor {
    /// Sends `body` as JSON to `target` behind the guard, signed with `tenant`'s secrets
    /// (when signing is on) and carrying `idempotency` as `Idempotency-Key`; 2xx is success.
    /// The error names the status and an excerpt of the answer, or the failed connection,
    /// with the target's header values masked. A delivery's and a notification's request.
    ///
    /// # Errors
    /// The refusal, the failed request, or a non-2xx answer, as text.
    pub async fn send_json(
        &self,
        target: &HttpTarget,
        tenant: &Tenant,
        idempotency: &str,
        body: &serde_json::Value,
    ) -> Result<(), String> {
        self.exchange(target, tenant, idempotency, body)
            .await
            .result
    }

    /// [`HttpExecutor::send_json`], with the output kept of the answer (any status) and the
    /// delay a 429 or 503 asked for with `Retry-After`.
    async fn exchange(
        &self,
        target: &HttpTarget,
        tenant: &Tenant,
        idempotency: &str,
        body: &serde_json::Value,
    ) -> Executed {
        match self.request(target, tenant, idempotency, body).await {
            Err(error) => Executed::new(Err(error), None),
            Ok(response) => {
                let status = response.status();
                tracing::Span::current().record("http.status", status.as_u16());
                let retry_after = throttle_delay(status, response.headers(), chrono::Utc::now());
                let (body, output) = read_answer(response).await;
                // What a receiver echoed of a header value is masked in the output, as in
                // the error.
                let output = output.map(|mut output| {
                    output.body = redact(std::mem::take(&mut output.body), &target.headers);
                    output
                });
                if status.is_success() {
                    return Executed::new(Ok(()), output);
                }
                let error = redact(
                    format!("HTTP {}: {}", status.as_u16(), excerpt(&body)),
                    &target.headers,
                );
                Executed {
                    result: Err(error),
                    output,
                    retry_after,
                }
            }
        }
    }

    /// Sends the request and returns the answer's head (the body unread).
    async fn request(
        &self,
        target: &HttpTarget,
        tenant: &Tenant,
        idempotency: &str,
        body: &serde_json::Value,
    ) -> Result<reqwest::Response, String> {
        self.guard
            .check_url(&target.url)
            .map_err(|refusal| format!("target refused: {refusal}"))?;
        let method = reqwest::Method::from_bytes(target.method.as_bytes())
            .map_err(|_| format!("invalid method {}", target.method))?;
        let body =
            serde_json::to_vec(body).map_err(|e| format!("cannot encode the request: {e}"))?;
        let mut request = self.client.request(method, &target.url);
        if let Some(signer) = &self.signing {
            let secrets = signer.secrets(tenant).await?;
            let header = signature_header(
                secrets.iter().map(String::as_str),
                chrono::Utc::now().timestamp(),
                &body,
            );
            request = request.header(SIGNATURE_HEADER, header);
        }
        request = request
            .header("Idempotency-Key", idempotency)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in &target.headers {
            request = request.header(name, value);
        }
        // The run's trace continues at the receiver (`traceparent` is a reserved header: no
        // target sets it).
        for (name, value) in trace_headers() {
            request = request.header(name, value);
        }
        request.send().await.map_err(|e| {
            let why = error_chain(&e);
            redact(
                format!("request to {} failed: {why}", target.url),
                &target.headers,
            )
        })
    }
}
