//! The dashboard's session: login with an API key, logout, each route's scope, refusals as
//! pages, and the CSRF checks every form post passes. The cookies themselves are in
//! [`super::cookies`], the visitor of a page in [`super::viewer`].
//!
//! **Where the key lives.** `POST /ui/login` checks the key with the same [`scheduler_core::KeyService`]
//! lookup the API uses, then stores it in the `scheduler_key` cookie: `HttpOnly` (page scripts
//! cannot read it), `SameSite=Strict` (no other site's page can make the browser send it),
//! `Path=/ui` (the JSON API never receives it, so the API stays cookie-free and needs no CSRF
//! defence of its own), `Secure` when the request came over HTTPS. It is a browser-session
//! cookie: it ends when the browser closes, or at logout.
//!
//! **Who is asking.** [`crate::auth::authenticate`] reads the cookie on `/ui/...` paths as if
//! the key had come in `Authorization`, so the dashboard obeys every `SCHEDULER_AUTH` mode
//! exactly as the API does: `off` and `auto` before the first key serve without a login (as
//! the API does for this host), `keys` and `auto` after the first key need one. A refused
//! dashboard request becomes a page ([`refusal`]): 401 → the login page, 403 → a
//! "read-only key" page (an "admins only" page on the routes that need `admin`). Each route
//! declares the scope it needs with [`RequireScope`] (pages `read`, every form post
//! `write`, the audit page `admin`), checked by [`crate::auth::authorize`] after routing.
//!
//! **CSRF.** Besides `SameSite=Strict`, every form post must (1) come from this origin:
//! `Origin` (or, without one, `Referer`) names the host the request was sent to; and (2)
//! carry the `csrf` field equal to the `scheduler_csrf` cookie (a random token set with the
//! first page, `HttpOnly`, `SameSite=Strict`): a double-submit token that another site can
//! neither read nor set.

use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Html;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use scheduler_core::Scope;

use super::cookies::{
    CSRF_COOKIE, CSRF_FIELD, KEY_COOKIE, acceptable_token, cookie, is_ui_path, set_cookie,
};
use super::error_pages::admin_only_page;
use super::form::FormFields;
use super::layout;
use super::viewer::Viewer;
use crate::auth::{Auth, KeyCheck};

/// A dashboard route's declared scope: the request's caller must hold it
/// ([`crate::auth::authorize`], after routing), or the refusal is a page (401 → the login
/// page, 403 → "read-only key", or "admins only" for a route that needs `admin`).
#[derive(Debug, Clone, Copy)]
pub struct RequireScope(pub Scope);

impl<E: Endpoint> Middleware<E> for RequireScope {
    type Output = ScopedEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ScopedEndpoint {
            inner,
            scope: self.0,
        }
    }
}

/// A dashboard endpoint behind [`RequireScope`].
pub struct ScopedEndpoint<E> {
    /// The route's handler.
    inner: E,
    /// The scope it needs.
    scope: Scope,
}

impl<E: Endpoint> Endpoint for ScopedEndpoint<E> {
    type Output = Response;

    async fn call(&self, request: Request) -> poem::Result<Response> {
        match crate::auth::authorize(&request, self.scope) {
            Ok(_) => Ok(self.inner.call(request).await?.into_response()),
            // A key without the admin scope is not "read-only": it is told what it lacks.
            Err(refusal)
                if self.scope == Scope::Admin && refusal.status() == StatusCode::FORBIDDEN =>
            {
                Ok(admin_only_page())
            }
            Err(refusal) => Ok(page_for_refusal(&request, &refusal)),
        }
    }
}

/// Why a form post was refused.
const CROSS_SITE: &str = "This form was not sent from this dashboard (its origin or its \
    security token does not match). Reload the page and try again.";

/// Whether `source` (an `Origin` or `Referer` value) names the host this request was sent
/// to.
fn same_origin(request: &Request, source: &str) -> bool {
    let Some(host) = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((_, rest)) = source.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.eq_ignore_ascii_case(host)
}

/// Checks a dashboard form post: same origin and the double-submit token.
///
/// # Errors
/// The 403 page to answer.
pub fn check_post(request: &Request, form: &FormFields) -> Result<(), Box<Response>> {
    let headers = request.headers();
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let origin_ok = source.is_some_and(|source| same_origin(request, source));
    let token_ok = match (cookie(request, CSRF_COOKIE), form.get(CSRF_FIELD)) {
        (Some(cookie), Some(field)) => acceptable_token(cookie) && cookie == field,
        _ => false,
    };
    if origin_ok && token_ok {
        Ok(())
    } else {
        Err(Box::new(layout::message_page(
            StatusCode::FORBIDDEN,
            "Refused",
            CROSS_SITE,
        )))
    }
}

/// A refusal of the front door for a dashboard path, as a page: 401 → the login page
/// (through `HX-Redirect` for an htmx request), other statuses → a page saying why. Refusals
/// of API paths are returned as they are.
pub fn refusal(request: &Request, refusal: Response) -> Response {
    if !is_ui_path(request.uri().path()) {
        return refusal;
    }
    page_for_refusal(request, &refusal)
}

/// A refusal (401, 403, 429, 503) as the dashboard shows it.
pub(crate) fn page_for_refusal(request: &Request, refusal: &Response) -> Response {
    match refusal.status() {
        StatusCode::UNAUTHORIZED => {
            let mut response = if request.headers().contains_key("hx-request") {
                let mut response = StatusCode::UNAUTHORIZED.into_response();
                response
                    .headers_mut()
                    .insert("hx-redirect", HeaderValue::from_static("/ui/login"));
                response
            } else {
                see_other("/ui/login")
            };
            // A key the front door refused (revoked, say) is dropped from the browser.
            if cookie(request, KEY_COOKIE).is_some()
                && let Some(clear) = set_cookie(request, KEY_COOKIE, None)
            {
                response.headers_mut().append(header::SET_COOKIE, clear);
            }
            response
        }
        StatusCode::FORBIDDEN => layout::message_page(
            StatusCode::FORBIDDEN,
            "Read-only key",
            "Your key may only read: changing, running, pausing and deleting jobs need a \
             key with the write scope.",
        ),
        StatusCode::TOO_MANY_REQUESTS => layout::message_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Slow down",
            "Your key sent too many requests; wait a few seconds and reload.",
        ),
        status => layout::message_page(
            status,
            "Unavailable",
            "The scheduler cannot check your key right now; try again shortly.",
        ),
    }
}

/// A `303 See Other` to `location` (the answer to a successful form post).
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// What the login page says, besides the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoginNotice {
    /// Nothing.
    None,
    /// The key was not accepted.
    Refused,
    /// The key store did not answer.
    Unavailable,
    /// Too many failed logins from this address.
    Throttled,
    /// Logged out.
    LoggedOut,
}

/// `GET /ui/login`.
pub fn login_page(request: &Request, auth_off: bool) -> Response {
    let notice = match request.uri().query() {
        Some("logged_out=1") => LoginNotice::LoggedOut,
        _ => LoginNotice::None,
    };
    render_login(request, notice, auth_off, StatusCode::OK)
}

fn render_login(
    request: &Request,
    notice: LoginNotice,
    auth_off: bool,
    status: StatusCode,
) -> Response {
    let viewer = Viewer::of(request);
    let body = maud::html! {
        main.narrow {
            h1 { "Log in" }
            @match notice {
                LoginNotice::Refused => p.error role="alert" id="login-error" {
                    "That key was not accepted (unknown or revoked)."
                },
                LoginNotice::Unavailable => p.error role="alert" {
                    "The scheduler cannot check keys right now; try again shortly."
                },
                LoginNotice::Throttled => p.error role="alert" id="login-error" {
                    "Too many failed attempts from your address; wait a minute and try again."
                },
                LoginNotice::LoggedOut => p.notice role="status" { "You are logged out." },
                LoginNotice::None => {},
            }
            @if auth_off {
                p.notice { "Keys are not required on this server (SCHEDULER_AUTH=off): "
                    a href="/ui/" { "go to the jobs" } "." }
            }
            form method="post" action="/ui/login" {
                input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf);
                div.field {
                    label for="key" { "API key" }
                    input #key type="password" name="key" required autocomplete="current-password"
                        autofocus aria-describedby="key-help";
                    p.help #key-help {
                        "A key made with " code { "scheduler-server keys create" }
                        ". It is kept in a cookie this browser sends only to these pages."
                    }
                }
                button.primary type="submit" { "Log in" }
            }
        }
    };
    let page = layout::bare_page("Log in", body);
    viewer.finish(
        request,
        (Html(page.into_string()))
            .with_status(status)
            .into_response(),
    )
}

/// `POST /ui/login`: checks the key, keeps it in the session cookie and goes to the jobs.
pub async fn login(request: &Request, form: &FormFields, auth: &Auth) -> Response {
    if let Err(refused) = check_post(request, form) {
        return *refused;
    }
    let key = form.get("key").map(str::trim).unwrap_or_default();
    let found = if key.is_empty() {
        KeyCheck::Invalid
    } else {
        auth.check_key(request, key).await
    };
    match found {
        KeyCheck::Valid(_) => match set_cookie(request, KEY_COOKIE, Some(key)) {
            Some(cookie) => {
                let mut response = see_other("/ui/");
                response.headers_mut().append(header::SET_COOKIE, cookie);
                response
            }
            // A key with characters no cookie may hold is no key we issued.
            None => render_login(
                request,
                LoginNotice::Refused,
                false,
                StatusCode::UNAUTHORIZED,
            ),
        },
        KeyCheck::Invalid => render_login(
            request,
            LoginNotice::Refused,
            false,
            StatusCode::UNAUTHORIZED,
        ),
        KeyCheck::Throttled(seconds) => {
            let mut page = render_login(
                request,
                LoginNotice::Throttled,
                false,
                StatusCode::TOO_MANY_REQUESTS,
            );
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                page.headers_mut().insert(header::RETRY_AFTER, value);
            }
            page
        }
        KeyCheck::Unavailable(error) => {
            tracing::error!(%error, "key store unavailable at dashboard login");
            render_login(
                request,
                LoginNotice::Unavailable,
                false,
                StatusCode::SERVICE_UNAVAILABLE,
            )
        }
    }
}

/// `POST /ui/logout`: forgets the key and shows the login page.
pub fn logout(request: &Request, form: &FormFields) -> Response {
    if let Err(refused) = check_post(request, form) {
        return *refused;
    }
    let mut response = see_other("/ui/login?logged_out=1");
    if let Some(clear) = set_cookie(request, KEY_COOKIE, None) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().uri(poem::http::Uri::from_static("/ui/jobs"));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.finish()
    }

    #[test]
    fn a_post_needs_the_same_origin_and_the_token() {
        let token = "0123456789abcdef0123456789abcdef";
        let cookie = format!("scheduler_csrf={token}");
        let form = FormFields::parse(&format!("csrf={token}&name=x"));
        let good = request(&[
            ("host", "127.0.0.1:8000"),
            ("origin", "http://127.0.0.1:8000"),
            ("cookie", &cookie),
        ]);
        assert!(check_post(&good, &form).is_ok());
        let other_site = request(&[
            ("host", "127.0.0.1:8000"),
            ("origin", "https://evil.example"),
            ("cookie", &cookie),
        ]);
        assert!(check_post(&other_site, &form).is_err());
        let by_referer = request(&[
            ("host", "127.0.0.1:8000"),
            ("referer", "http://127.0.0.1:8000/ui/jobs/new"),
            ("cookie", &cookie),
        ]);
        assert!(check_post(&by_referer, &form).is_ok());
        let no_source = request(&[("host", "127.0.0.1:8000"), ("cookie", &cookie)]);
        assert!(check_post(&no_source, &form).is_err());
        let wrong_token = FormFields::parse("csrf=ffffffffffffffffffffffffffffffff");
        assert!(check_post(&good, &wrong_token).is_err());
        let no_cookie = request(&[
            ("host", "127.0.0.1:8000"),
            ("origin", "http://127.0.0.1:8000"),
        ]);
        assert!(check_post(&no_cookie, &form).is_err());
    }
}
