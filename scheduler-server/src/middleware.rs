//! Cross-cutting HTTP concerns: the request id, one log line and the HTTP metrics per request,
//! the 1 MiB body limit, the optional trailing slash and the `Allow` header of a 405.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use poem::http::uri::PathAndQuery;
use poem::http::{HeaderValue, StatusCode, Uri, header};
use poem::{Body, Endpoint, IntoResponse, Request, Response, Result};

use tracing::Instrument;

use crate::api::openapi::RouteTable;
use crate::telemetry::HttpMetrics;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Rejects bodies over [`MAX_BODY_BYTES`] with 413, whether announced by `Content-Length` or
/// streamed without one.
pub async fn limit_body<E: Endpoint>(next: E, mut request: Request) -> Result<Response> {
    let declared = request
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(length) if length > MAX_BODY_BYTES => {
            return Err(poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        Some(_) => {}
        None if request
            .headers()
            .contains_key(poem::http::header::TRANSFER_ENCODING) =>
        {
            let body = request.take_body();
            match body.into_bytes_limit(MAX_BODY_BYTES).await {
                Ok(bytes) => request.set_body(Body::from(bytes)),
                Err(_) => return Err(poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE)),
            }
        }
        None => {}
    }
    Ok(next.call(request).await?.into_response())
}

/// Whether the request says its body is JSON (`application/json`, or any `+json` type).
fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|media| media.trim().to_ascii_lowercase())
        .is_some_and(|media| media == "application/json" || media.ends_with("+json"))
}

/// Refuses a JSON body that repeats a key anywhere (see [`crate::api::duplicate_keys`]) with
/// `400 {"<field>": ["The key \"x\" appears more than once in <path>: send it once."]}`,
/// before any handler reads it. Behind [`limit_body`], so the body read here is bounded.
pub async fn refuse_duplicate_keys<E: Endpoint>(next: E, mut request: Request) -> Result<Response> {
    if !is_json(&request) {
        return Ok(next.call(request).await?.into_response());
    }
    let bytes = match request.take_body().into_bytes_limit(MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return Err(poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE)),
    };
    if let Some(duplicate) = crate::api::duplicate_keys::first_duplicate(&bytes) {
        return Ok(poem::web::Json(serde_json::json!({
            duplicate.field(): [duplicate.message()]
        }))
        .with_status(StatusCode::BAD_REQUEST)
        .into_response());
    }
    request.set_body(Body::from(bytes));
    Ok(next.call(request).await?.into_response())
}

/// Answers a request with a method its (documented) path does not allow with 405 and an
/// `Allow` header listing the methods it does.
pub async fn allow_header<E: Endpoint>(
    next: Arc<E>,
    request: Request,
    allowed: Arc<RouteTable>,
) -> Result<Response> {
    let path = request.uri().path().to_string();
    match next.call(request).await {
        Err(error) if error.status() == StatusCode::METHOD_NOT_ALLOWED => {
            let mut response = crate::error::render_uncaught(error).await;
            if let Some(methods) = allowed
                .allow(&path)
                .and_then(|m| HeaderValue::from_str(m).ok())
            {
                response.headers_mut().insert(header::ALLOW, methods);
            }
            Ok(response)
        }
        other => Ok(other?.into_response()),
    }
}

/// Abandons a request that takes longer than `bound` — a database call stuck on a network
/// that stopped answering, say — and answers `503 {"detail": ...}`: no client waits longer.
pub async fn deadline<E: Endpoint>(
    next: Arc<E>,
    request: Request,
    bound: std::time::Duration,
) -> Result<Response> {
    match tokio::time::timeout(bound, next.call(request)).await {
        Ok(answer) => Ok(answer?.into_response()),
        Err(_) => {
            crate::telemetry::http_deadline_exceeded();
            tracing::warn!(
                bound_ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX),
                "request abandoned at its deadline"
            );
            Ok(poem::web::Json(serde_json::json!({
                "detail": format!(
                    "The request did not complete within {} ms; try again shortly.",
                    bound.as_millis()
                )
            }))
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .into_response())
        }
    }
}

/// Turns a panic while serving a request into `500 {"detail": "Internal error"}` instead of a
/// dropped connection, and counts it (`scheduler_http_panics_total`). The panic itself is
/// logged once, as one line with the request id, by the panic hook (`logging::init`).
pub fn catch_panics() -> poem::middleware::CatchPanic<PanicAnswer> {
    poem::middleware::CatchPanic::new().with_handler(PanicAnswer)
}

/// Answers a request whose handler panicked.
#[derive(Debug, Clone, Copy)]
pub struct PanicAnswer;

impl poem::middleware::PanicHandler for PanicAnswer {
    type Response = Response;

    fn get_response(&self, _panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
        crate::telemetry::http_panic();
        poem::web::Json(serde_json::json!({ "detail": "Internal error" }))
            .with_status(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response()
    }
}

/// The request id header, read from clients and echoed on every answer.
pub const REQUEST_ID: &str = "x-request-id";

/// A client's request id is kept when it is 1 to 128 visible ASCII characters; anything else
/// is replaced (it is logged on every line of the request).
fn acceptable_request_id(value: &str) -> bool {
    (1..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic())
}

/// A new request id: this process's random prefix and a counter (`3f9c2a1b7e5d4c60-42`),
/// unique across replicas and restarts without a random draw per request.
fn new_request_id() -> String {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| {
        scheduler_core::random_token(&scheduler_adapters::OsEntropy, "", 8)
            .unwrap_or_else(|_| format!("{:016x}", std::process::id()))
    });
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}-{n}")
}

/// Reads a W3C trace context (`traceparent`, `tracestate`) from request headers.
struct TraceHeaders<'a>(&'a poem::http::HeaderMap);

impl opentelemetry::propagation::Extractor for TraceHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(poem::http::HeaderName::as_str).collect()
    }
}

/// The caller's trace, when the request carries a valid `traceparent` (and traces are on:
/// without a propagator nothing is read): the request's span continues it.
fn remote_parent(headers: &poem::http::HeaderMap) -> Option<opentelemetry::Context> {
    use opentelemetry::trace::TraceContextExt as _;
    if !headers.contains_key("traceparent") {
        return None;
    }
    let context = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&TraceHeaders(headers))
    });
    context.span().span_context().is_valid().then_some(context)
}

/// A request's id, in its extensions for the handlers (the audit trail records it).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Gives every request an id — the client's `X-Request-Id` when acceptable, else a new one —
/// runs it inside a `request` span carrying the id (so every log line of the request has
/// it), and echoes the id on the answer.
///
/// Written here rather than with poem's `RequestId` middleware: that one echoes any client
/// value unchecked (length, characters) and does not put the id on answers built from errors.
pub async fn request_id<E: Endpoint>(next: E, mut request: Request) -> Result<Response> {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v))
        .map_or_else(new_request_id, str::to_string);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = request.uri().path(),
    );
    if let Some(parent) = remote_parent(request.headers()) {
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        // Refused only when traces are off, when there is nothing to continue anyway.
        let _ = span.set_parent(parent);
    }
    // The principal carries it into the audit trail (`crate::auth`).
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = match next.call(request).instrument(span).await {
        Ok(response) => response.into_response(),
        Err(error) => crate::error::render_uncaught(error).await,
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

/// Logs one line per request (method, path, status, latency) and records its HTTP metrics
/// under the route template (`/scheduler/jobs/{id}`, never the raw path; `other` for paths the
/// document does not describe).
pub async fn log_request<E: Endpoint>(
    next: Arc<E>,
    request: Request,
    metrics: Arc<HttpMetrics>,
) -> Result<Response> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = match next.call(request).await {
        Ok(response) => response.into_response(),
        Err(error) => crate::error::render_uncaught(error).await,
    };
    let status = response.status();
    let elapsed = started.elapsed();
    tracing::info!(
        target: "scheduler_server::request",
        %method,
        path,
        status = status.as_u16(),
        latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    metrics.record(&path, &method, status.as_u16(), elapsed.as_secs_f64());
    Ok(response)
}

/// Makes the trailing slash optional on every path: repeated slashes are merged and trailing
/// ones trimmed before routing (`/scheduler/jobs/7/` is routed as `/scheduler/jobs/7`).
///
/// Does the work of poem's `NormalizePath(Trim)` without its per-request regex and URI rebuild
/// for paths already in normal form.
pub async fn trim_path<E: Endpoint>(next: E, mut request: Request) -> Result<Response> {
    if let Some(path) = normalized_path(request.uri().path()) {
        let path_and_query = match request.uri().query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        let mut parts = request.uri().clone().into_parts();
        // The new path is made of the old one's characters, so both steps succeed; should one
        // fail, the request is routed as sent.
        if let Ok(path_and_query) = PathAndQuery::from_str(&path_and_query) {
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    Ok(next.call(request).await?.into_response())
}

/// `path` with repeated slashes merged and trailing ones trimmed (`/` stays `/`), or `None`
/// when it is already in that form.
fn normalized_path(path: &str) -> Option<String> {
    let trailing = path.len() > 1 && path.ends_with('/');
    if !trailing && !path.contains("//") {
        return None;
    }
    let mut normal = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && normal.ends_with('/') {
            continue;
        }
        normal.push(c);
    }
    while normal.len() > 1 && normal.ends_with('/') {
        normal.pop();
    }
    Some(normal)
}

/// Headers through which a reverse proxy describes the original request.
const FORWARDING_HEADERS: [&str; 6] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-real-ip",
];

/// The peer's IP address (the TCP connection's, never a header's).
pub fn peer_ip(request: &Request) -> Option<std::net::IpAddr> {
    request
        .remote_addr()
        .as_socket_addr()
        .map(|a| a.ip().to_canonical())
}

/// The client's address: the one a trusted proxy reports (`X-Real-IP`, else the last
/// `X-Forwarded-For` entry: the address the proxy saw), else the TCP peer's. Forwarding
/// headers from any other peer were removed by [`untrusted_forwarding`] before this.
pub fn client_ip(request: &Request) -> Option<std::net::IpAddr> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let reported = header("x-real-ip")
        .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok())
        .or_else(|| {
            header("x-forwarded-for")?
                .rsplit(',')
                .next()?
                .trim()
                .parse::<std::net::IpAddr>()
                .ok()
        });
    reported
        .map(|ip| ip.to_canonical())
        .or_else(|| peer_ip(request))
}

/// Removes the forwarding headers (`X-Forwarded-*`, `Forwarded`, `X-Real-IP`) of a request
/// whose peer is not one of the `trusted` proxies, so no client can choose the host of the
/// links it is sent or the address it is judged by.
pub async fn untrusted_forwarding<E: Endpoint>(
    next: Arc<E>,
    mut request: Request,
    trusted: Arc<Vec<ipnet::IpNet>>,
) -> Result<Response> {
    let from_proxy = peer_ip(&request).is_some_and(|ip| trusted.iter().any(|n| n.contains(&ip)));
    if !from_proxy {
        let headers = request.headers_mut();
        for name in FORWARDING_HEADERS {
            headers.remove(name);
        }
    }
    Ok(next.call(request).await?.into_response())
}

#[cfg(test)]
mod tests {
    use super::normalized_path;

    #[test]
    fn request_ids_from_clients_are_bounded_visible_ascii() {
        use super::acceptable_request_id;
        assert!(acceptable_request_id("abc-123_X.Y"));
        assert!(!acceptable_request_id(""));
        assert!(!acceptable_request_id("has space"));
        assert!(!acceptable_request_id("é"));
        assert!(!acceptable_request_id(&"x".repeat(129)));
    }

    #[test]
    fn paths_in_normal_form_are_left_alone() {
        for path in ["/", "/scheduler/jobs", "/scheduler/jobs/7", "/health", ""] {
            assert_eq!(normalized_path(path), None, "{path}");
        }
    }

    #[test]
    fn trailing_and_repeated_slashes_are_removed() {
        for (path, normal) in [
            ("/scheduler/jobs/", "/scheduler/jobs"),
            ("/scheduler/jobs/7/", "/scheduler/jobs/7"),
            ("/scheduler/jobs////", "/scheduler/jobs"),
            ("//scheduler//jobs//", "/scheduler/jobs"),
            ("///", "/"),
            ("//", "/"),
        ] {
            assert_eq!(normalized_path(path).as_deref(), Some(normal), "{path}");
        }
    }
}
