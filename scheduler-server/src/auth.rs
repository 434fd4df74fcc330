//! The API's front door: which requests need a key, which key they bring, and whether its
//! scope allows what they ask.
//!
//! A key comes as `Authorization: Bearer <key>` or `X-API-Key: <key>`. `/health`, `/ready`,
//! the OpenAPI document and Swagger UI are always open, `/metrics` unless configured keyed.
//!
//! Two steps, in two places:
//! - **Who** ([`authenticate`], a middleware in front of routing): the key becomes a
//!   [`Principal`] in the request's extensions, or the request is refused with 401. It decides
//!   nothing about what the caller may do.
//! - **What** ([`authorize`], after routing, for the endpoint that handles the request): each
//!   API operation declares the scope it needs by taking a [`Caller`] argument
//!   (`Caller<Write>`), each dashboard route by [`crate::ui::session::RequireScope`]. So no
//!   spelling of a path (`//`, `/./`, `%2F`, case) can reach an endpoint under a weaker check:
//!   the check belongs to the endpoint, not to a reading of the path. An operation without a
//!   declared scope has no principal to act as (there is no fallback), and the served
//!   document lists every operation's scope as `x-required-scope`
//!   (see [`crate::api::openapi`]).
//!
//! Answers follow Django REST framework's: 401 `{"detail": "Authentication credentials were
//! not provided."}` or `{"detail": "Invalid token."}` with `WWW-Authenticate: Bearer`, 403
//! `{"detail": "You do not have permission to perform this action."}`.
//!
//! The dashboard (`/ui/`) goes through the same door: its session cookie carries the key
//! (see [`crate::ui::session`]), and its refusals are pages (a redirect to the login page for
//! a 401) instead of JSON.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use poem::http::{StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, RequestBody, Response, Result};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use scheduler_adapters::RateLimiter;
use scheduler_core::{ApiKey, KeyService, Principal, Scope, ServiceError};

use crate::config::AuthMode;
use crate::error::UNAVAILABLE;
use crate::middleware::{client_ip, peer_ip};

/// What the front door needs.
pub struct Auth {
    /// Who must present a key.
    pub mode: AuthMode,
    /// Key lookups (cached for under a second).
    pub keys: KeyService,
    /// Whether `/metrics` is open.
    pub metrics_public: bool,
    /// The throttle on failed authentications, when on.
    pub failures: Option<FailedAuth>,
    /// How a refusal is answered: as it is for the API, as a page on dashboard paths
    /// (`crate::ui::session::refusal`, given by the wiring so the front door does not depend
    /// on the dashboard's pages).
    pub refusal_page: fn(&Request, Response) -> Response,
}

/// Failed authentications per client address: a GCRA budget (in Redis when configured, so
/// the replicas share it) that only failures spend, and the addresses found over it, blocked
/// in process until their `Retry-After`. A request that brings a key first meets the local
/// block — an in-memory lookup, so valid keys are not slowed — and a key found invalid spends
/// from the budget. A replica learns of a block at the first failure it sees from the address
/// (from then on it refuses that address without checking keys).
pub struct FailedAuth {
    /// The budget, keyed by address.
    limiter: RateLimiter,
    /// Addresses over the budget, and until when.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

/// Above this many blocked addresses, expired blocks are dropped before a new one is added.
const BLOCKED_PRUNE_AT: usize = 10_000;

impl FailedAuth {
    /// A throttle over `limiter` (whose keys are client addresses).
    pub fn new(limiter: RateLimiter) -> Self {
        Self {
            limiter,
            blocked: Mutex::new(HashMap::new()),
        }
    }

    fn blocked(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Instant>> {
        scheduler_core::lock(&self.blocked)
    }

    /// Seconds until `ip` may try a key again, when it is blocked.
    fn retry_after(&self, ip: IpAddr) -> Option<u64> {
        let until = *self.blocked().get(&ip)?;
        let left = until.checked_duration_since(Instant::now())?;
        Some(left.as_secs() + u64::from(left.subsec_nanos() > 0))
    }

    /// Counts a failed authentication from `ip`; the seconds of `Retry-After` when that put
    /// it over the budget (it is then blocked here for as long).
    async fn failed(&self, ip: IpAddr) -> Option<u64> {
        let seconds = self
            .limiter
            .check(&ip.to_string())
            .await
            .retry_after_secs()?;
        let mut blocked = self.blocked();
        if blocked.len() >= BLOCKED_PRUNE_AT {
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
        }
        blocked.insert(ip, Instant::now() + Duration::from_secs(seconds));
        Some(seconds)
    }
}

/// What checking a presented key found.
pub(crate) enum KeyCheck {
    /// A valid key.
    Valid(ApiKey),
    /// Unknown or revoked.
    Invalid,
    /// The client's address made too many failed attempts: try again after these seconds.
    Throttled(u64),
    /// The key store did not answer.
    Unavailable(ServiceError),
}

/// DRF's 401 for a request without credentials.
pub const NOT_PROVIDED: &str = "Authentication credentials were not provided.";
/// DRF's 401 for a key that is unknown or revoked.
pub const INVALID_KEY: &str = "Invalid token.";
/// DRF's 403.
pub const FORBIDDEN: &str = "You do not have permission to perform this action.";
/// The 401 of `auto` mode for a remote client before any key exists.
pub const FIRST_KEY: &str = "No API key exists yet, so only loopback clients are served \
    (127.0.0.1 or ::1 on the server's own machine, not through a proxy). Create one on the \
    server's machine with `scheduler-server keys create --tenant default --scope admin` (where \
    the server runs, so it opens the server's database) and send it as \
    `Authorization: Bearer <key>`.";

fn open_path(path: &str, metrics_public: bool) -> bool {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    matches!(path, "/health" | "/ready" | "/openapi.json" | "/swagger")
        || path.starts_with("/swagger/")
        || (metrics_public && path == "/metrics")
        || crate::ui::cookies::open_path(path)
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
        .or_else(|| crate::ui::cookies::cookie_key(request))
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
    /// Checks a key `request` presents (in a header, a cookie or the login form), under the
    /// throttle on failed attempts from its client's address.
    pub(crate) async fn check_key(&self, request: &Request, presented: &str) -> KeyCheck {
        let throttle = self
            .failures
            .as_ref()
            .and_then(|failures| Some((failures, client_ip(request)?)));
        if let Some((failures, ip)) = throttle
            && let Some(seconds) = failures.retry_after(ip)
        {
            return KeyCheck::Throttled(seconds);
        }
        match self.keys.authenticate(presented).await {
            Ok(Some(key)) => KeyCheck::Valid(key),
            Ok(None) => match throttle {
                Some((failures, ip)) => match failures.failed(ip).await {
                    Some(seconds) => {
                        tracing::warn!(client = %ip, retry_after = seconds, "too many failed authentications; throttled");
                        KeyCheck::Throttled(seconds)
                    }
                    None => KeyCheck::Invalid,
                },
                None => KeyCheck::Invalid,
            },
            Err(error) => KeyCheck::Unavailable(error),
        }
    }

    /// Who is calling, or the answer that refuses the request.
    pub(crate) async fn principal(
        &self,
        request: &Request,
    ) -> std::result::Result<Principal, Response> {
        let anonymous = || Principal {
            request_id: request_id(request),
            ..Principal::unauthenticated()
        };
        if self.mode == AuthMode::Off {
            return Ok(anonymous());
        }
        let unavailable = |error: scheduler_core::ServiceError| {
            tracing::error!(%error, "key store unavailable");
            detail(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE)
        };
        if let Some(presented) = presented_key(request) {
            return match self.check_key(request, presented).await {
                KeyCheck::Valid(key) => Ok(Principal {
                    key_id: Some(key.id),
                    tenant: key.tenant,
                    key_name: Some(key.name),
                    scope: key.scope,
                    request_id: request_id(request),
                    dashboard: false,
                }),
                KeyCheck::Invalid => Err(detail(StatusCode::UNAUTHORIZED, INVALID_KEY)),
                KeyCheck::Throttled(seconds) => Err(throttled_response(seconds)),
                KeyCheck::Unavailable(error) => Err(unavailable(error)),
            };
        }
        if self.mode == AuthMode::Keys {
            return Err(detail(StatusCode::UNAUTHORIZED, NOT_PROVIDED));
        }
        match self.keys.any_active().await {
            Ok(true) => Err(detail(StatusCode::UNAUTHORIZED, NOT_PROVIDED)),
            Ok(false) if local(request) => Ok(anonymous()),
            Ok(false) => Err(detail(StatusCode::UNAUTHORIZED, FIRST_KEY)),
            Err(error) => Err(unavailable(error)),
        }
    }
}

/// The request's id, as the request-id middleware set it.
fn request_id(request: &Request) -> Option<String> {
    request
        .extensions()
        .get::<crate::middleware::RequestId>()
        .map(|id| id.0.clone())
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
        Err(refusal) => return Ok((auth.refusal_page)(&request, refusal)),
    };
    request.extensions_mut().insert(principal);
    Ok(next.call(request).await?.into_response())
}

/// The caller [`authenticate`] admitted, if the request went through it with a key (or was
/// served without one by the auth mode).
pub fn principal_of(request: &Request) -> Option<&Principal> {
    request.extensions().get::<Principal>()
}

/// Decides whether the request's caller may use an endpoint that needs `scope`: the caller,
/// or the refusal to answer — 401 when the request carries no admitted caller (it did not
/// pass the front door: fail closed), 403 when the caller's scope is too low. The one place
/// scopes are compared; API operations reach it through [`Caller`], dashboard routes through
/// [`crate::ui::session::RequireScope`].
///
/// # Errors
/// The 401 or 403 answer, as JSON (dashboard routes render it as a page).
pub fn authorize(request: &Request, scope: Scope) -> std::result::Result<Principal, Box<Response>> {
    match principal_of(request) {
        None => Err(Box::new(detail(StatusCode::UNAUTHORIZED, NOT_PROVIDED))),
        Some(principal) if principal.allows(scope) => Ok(principal.clone()),
        Some(_) => Err(Box::new(detail(StatusCode::FORBIDDEN, FORBIDDEN))),
    }
}

/// A scope an API operation needs, as a type ([`Read`], [`Write`], [`Admin`]).
pub trait NeededScope: Send + Sync + 'static {
    /// The scope.
    const SCOPE: Scope;
    /// The name of the marker security requirement the operation carries in the raw
    /// document; [`crate::api::openapi::document`] turns it into the key schemes and
    /// `x-required-scope`.
    const MARKER: &'static str;
}

/// The `read` scope: any valid key.
pub enum Read {}
/// The `write` scope.
pub enum Write {}
/// The `admin` scope.
pub enum Admin {}

impl NeededScope for Read {
    const SCOPE: Scope = Scope::Read;
    const MARKER: &'static str = "scope:read";
}
impl NeededScope for Write {
    const SCOPE: Scope = Scope::Write;
    const MARKER: &'static str = "scope:write";
}
impl NeededScope for Admin {
    const SCOPE: Scope = Scope::Admin;
    const MARKER: &'static str = "scope:admin";
}

/// The caller of an API operation, admitted with at least scope `S`: an operation declares
/// the scope it needs by taking `Caller<S>` as an argument (put it first, so the check runs
/// before the body is read). Extracted after routing, so the check is the handling
/// endpoint's own whatever path spelling reached it.
pub struct Caller<S: NeededScope> {
    /// Who is calling.
    principal: Principal,
    /// The scope checked.
    scope: PhantomData<S>,
}

impl<S: NeededScope> Caller<S> {
    /// The admitted caller.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The admitted caller, owned.
    pub fn into_principal(self) -> Principal {
        self.principal
    }
}

impl<'a, S: NeededScope> ApiExtractor<'a> for Caller<S> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn security_schemes() -> Vec<&'static str> {
        vec![S::MARKER]
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> Result<Self> {
        authorize(request, S::SCOPE)
            .map(|principal| Self {
                principal,
                scope: PhantomData,
            })
            .map_err(|refusal| poem::Error::from_response(*refusal))
    }
}

/// DRF's 429 text.
fn throttled(seconds: u64) -> String {
    format!("Request was throttled. Expected available in {seconds} seconds.")
}

/// DRF's 429 answer with `Retry-After: seconds`.
pub(crate) fn throttled_response(seconds: u64) -> Response {
    let mut response = detail(StatusCode::TOO_MANY_REQUESTS, &throttled(seconds));
    if let Ok(value) = poem::http::HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
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
            return Ok(throttled_response(seconds));
        }
    }
    Ok(next.call(request).await?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_paths_are_the_probes_the_document_and_public_metrics() {
        assert!(open_path("/health", false) && open_path("/swagger/", false));
        assert!(open_path("/metrics", true) && !open_path("/metrics", false));
        assert!(!open_path("/scheduler/jobs/", true));
    }

    fn request_from(principal: Option<Principal>) -> Request {
        let mut request = Request::builder().finish();
        if let Some(principal) = principal {
            request.extensions_mut().insert(principal);
        }
        request
    }

    fn key(scope: Scope) -> Principal {
        Principal {
            key_id: Some(1),
            key_name: Some("k".into()),
            scope,
            ..Principal::unauthenticated()
        }
    }

    #[test]
    fn a_request_that_did_not_pass_the_front_door_is_refused_whatever_the_scope() {
        for scope in [Scope::Read, Scope::Write, Scope::Admin] {
            let refusal = authorize(&request_from(None), scope).unwrap_err();
            assert_eq!(refusal.status(), StatusCode::UNAUTHORIZED);
        }
    }

    #[test]
    fn each_scope_allows_itself_and_those_below() {
        let order = [Scope::Read, Scope::Write, Scope::Admin];
        for (i, held) in order.iter().enumerate() {
            for (j, needed) in order.iter().enumerate() {
                let answer = authorize(&request_from(Some(key(*held))), *needed);
                if j <= i {
                    assert_eq!(answer.ok().map(|p| p.scope), Some(*held));
                } else {
                    assert_eq!(answer.unwrap_err().status(), StatusCode::FORBIDDEN);
                }
            }
        }
    }
}
