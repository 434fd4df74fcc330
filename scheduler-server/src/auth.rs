//! The API's front door: which requests need a key, which key they bring, and whether its
//! scope allows what they ask.
//!
//! A key comes as `Authorization: Bearer <key>` or `X-API-Key: <key>`. `/health`, `/ready`,
//! the OpenAPI document and Swagger UI are always open, `/metrics` unless configured keyed.
//! Reading needs `read`, every other method `write`, `/scheduler/keys/` `admin`. The caller
//! ([`Principal`]) travels to the handlers in the request's extensions.
//!
//! Answers follow Django REST framework's: 401 `{"detail": "Authentication credentials were
//! not provided."}` or `{"detail": "Invalid token."}` with `WWW-Authenticate: Bearer`, 403
//! `{"detail": "You do not have permission to perform this action."}`.
//!
//! The dashboard (`/ui/`) goes through the same door: its session cookie carries the key
//! (see [`crate::ui::session`]), and its refusals are pages (a redirect to the login page for
//! a 401) instead of JSON.

use std::sync::Arc;

use poem::http::{Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response, Result};
use scheduler_adapters::RateLimiter;
use scheduler_core::{KeyService, Principal, Scope};

use crate::config::AuthMode;
use crate::error::UNAVAILABLE;
use crate::middleware::peer_ip;

/// What the front door needs.
pub struct Auth {
    /// Who must present a key.
    pub mode: AuthMode,
    /// Key lookups (cached for under a second).
    pub keys: KeyService,
    /// Whether `/metrics` is open.
    pub metrics_public: bool,
}

/// DRF's 401 for a request without credentials.
pub const NOT_PROVIDED: &str = "Authentication credentials were not provided.";
/// DRF's 401 for a key that is unknown or revoked.
pub const INVALID_KEY: &str = "Invalid token.";
/// DRF's 403.
pub const FORBIDDEN: &str = "You do not have permission to perform this action.";
/// The 401 of `auto` mode for a remote client before any key exists.
pub const FIRST_KEY: &str = "No API key exists yet, so only clients on this host are \
    served. Create one with `scheduler-server keys create --tenant default --scope admin` \
    and send it as `Authorization: Bearer <key>`.";

fn open_path(path: &str, metrics_public: bool) -> bool {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    matches!(path, "/health" | "/ready" | "/openapi.json" | "/swagger")
        || path.starts_with("/swagger/")
        || (metrics_public && path == "/metrics")
        || crate::ui::session::open_path(path)
}

/// The scope a request needs.
pub fn needed_scope(method: &Method, path: &str) -> Scope {
    if path.starts_with("/scheduler/keys") || path.starts_with("/scheduler/signing-secrets") {
        Scope::Admin
    } else if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        Scope::Read
    } else {
        Scope::Write
    }
}

/// The key a request presents, if any: a header, or on dashboard pages (`/ui/...`) the
/// dashboard's session cookie.
fn presented_key(request: &Request) -> Option<&str> {
    let headers = request.headers();
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .or_else(|| crate::ui::session::cookie_key(request))
        .map(str::trim)
}

/// Whether the request comes from this host and not through a proxy.
fn local(request: &Request) -> bool {
    let forwarded = ["forwarded", "x-forwarded-for", "x-real-ip"]
        .iter()
        .any(|name| request.headers().contains_key(*name));
    !forwarded && peer_ip(request).is_some_and(|ip| ip.is_loopback())
}

fn detail(status: StatusCode, text: &str) -> Response {
    let response = poem::web::Json(serde_json::json!({ "detail": text }))
        .with_status(status)
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        let mut response = response;
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            poem::http::HeaderValue::from_static("Bearer"),
        );
        response
    } else {
        response
    }
}

impl Auth {
    /// Who is calling, or the answer that refuses the request.
    pub(crate) async fn principal(
        &self,
        request: &Request,
    ) -> std::result::Result<Principal, Response> {
        if self.mode == AuthMode::Off {
            return Ok(Principal::unauthenticated());
        }
        let unavailable = |error: scheduler_core::ServiceError| {
            tracing::error!(%error, "key store unavailable");
            detail(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE)
        };
        if let Some(presented) = presented_key(request) {
            return match self.keys.authenticate(presented).await {
                Ok(Some(key)) => Ok(Principal {
                    key_id: Some(key.id),
                    tenant: key.tenant,
                    key_name: Some(key.name),
                    scope: key.scope,
                }),
                Ok(None) => Err(detail(StatusCode::UNAUTHORIZED, INVALID_KEY)),
                Err(error) => Err(unavailable(error)),
            };
        }
        if self.mode == AuthMode::Keys {
            return Err(detail(StatusCode::UNAUTHORIZED, NOT_PROVIDED));
        }
        match self.keys.any_active().await {
            Ok(true) => Err(detail(StatusCode::UNAUTHORIZED, NOT_PROVIDED)),
            Ok(false) if local(request) => Ok(Principal::unauthenticated()),
            Ok(false) => Err(detail(StatusCode::UNAUTHORIZED, FIRST_KEY)),
            Err(error) => Err(unavailable(error)),
        }
    }
}

/// Admits a request with its [`Principal`] in its extensions, or answers 401/403/503.
pub async fn authenticate<E: Endpoint>(
    next: Arc<E>,
    mut request: Request,
    auth: Arc<Auth>,
) -> Result<Response> {
    if open_path(request.uri().path(), auth.metrics_public) {
        return Ok(next.call(request).await?.into_response());
    }
    let principal = match auth.principal(&request).await {
        Ok(principal) => principal,
        Err(refusal) => return Ok(crate::ui::session::refusal(&request, refusal)),
    };
    if !principal.allows(needed_scope(request.method(), request.uri().path())) {
        let refusal = detail(StatusCode::FORBIDDEN, FORBIDDEN);
        return Ok(crate::ui::session::refusal(&request, refusal));
    }
    request.extensions_mut().insert(principal);
    Ok(next.call(request).await?.into_response())
}

/// The caller of a request admitted by [`authenticate`] (the default tenant's admin for a
/// request that did not pass through it).
pub fn principal_of(request: &Request) -> Principal {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .unwrap_or_else(Principal::unauthenticated)
}

/// DRF's 429 text.
fn throttled(seconds: u64) -> String {
    format!("Request was throttled. Expected available in {seconds} seconds.")
}

/// Limits each key's request rate (requests served without a key are not limited): over the
/// limit, 429 `{"detail": "Request was throttled. ..."}` with `Retry-After` in seconds.
pub async fn rate_limit<E: Endpoint>(
    next: Arc<E>,
    request: Request,
    limiter: Option<Arc<RateLimiter>>,
) -> Result<Response> {
    let key = request
        .extensions()
        .get::<Principal>()
        .and_then(|p| p.key_id);
    if let (Some(limiter), Some(key)) = (limiter, key) {
        let decision = limiter.check(&key.to_string()).await;
        if let Some(seconds) = decision.retry_after_secs() {
            let mut response = detail(StatusCode::TOO_MANY_REQUESTS, &throttled(seconds));
            if let Ok(value) = poem::http::HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return Ok(response);
        }
    }
    Ok(next.call(request).await?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_follow_method_and_path() {
        assert_eq!(needed_scope(&Method::GET, "/scheduler/jobs/"), Scope::Read);
        assert_eq!(needed_scope(&Method::HEAD, "/scheduler/runs/"), Scope::Read);
        assert_eq!(
            needed_scope(&Method::POST, "/scheduler/jobs/"),
            Scope::Write
        );
        assert_eq!(
            needed_scope(&Method::DELETE, "/scheduler/jobs/1/"),
            Scope::Write
        );
        assert_eq!(needed_scope(&Method::GET, "/scheduler/keys/"), Scope::Admin);
        assert!(open_path("/health", false) && open_path("/swagger/", false));
        assert!(open_path("/metrics", true) && !open_path("/metrics", false));
        assert!(!open_path("/scheduler/jobs/", true));
    }
}
