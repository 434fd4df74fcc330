//! Cross-cutting HTTP concerns: one log line per request and the 1 MiB body limit.

use std::time::Instant;

use poem::http::StatusCode;
use poem::{Body, Endpoint, IntoResponse, Request, Response, Result};

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

/// Logs one line per request: method, path, status and latency.
pub async fn log_request<E: Endpoint>(next: E, request: Request) -> Result<Response> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = match next.call(request).await {
        Ok(response) => response.into_response(),
        Err(error) => crate::error::render_uncaught(error).await,
    };
    let status = response.status();
    tracing::info!(
        target: "scheduler_server::request",
        %method,
        path,
        status = status.as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    Ok(response)
}
