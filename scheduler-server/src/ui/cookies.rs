//! The dashboard's cookies: the session key (`scheduler_key`) and the double-submit CSRF token
//! (`scheduler_csrf`), how they are read from a request and how they are set. Both are
//! `HttpOnly`, `SameSite=Strict`, `Path=/ui`, `Secure` over HTTPS; the JSON API never reads
//! them. Also which dashboard paths are open without a key.

use poem::Request;
use poem::http::{HeaderValue, header};

/// The cookie holding the logged-in key.
pub const KEY_COOKIE: &str = "scheduler_key";

/// The cookie holding the double-submit CSRF token.
pub const CSRF_COOKIE: &str = "scheduler_csrf";

/// The form field that must equal [`CSRF_COOKIE`].
pub const CSRF_FIELD: &str = "csrf";

/// Dashboard paths that need no key: the login page, logout and the static assets.
pub fn open_path(path: &str) -> bool {
    matches!(path, "/ui/login" | "/ui/logout") || path.starts_with("/ui/static/")
}

/// Whether `path` belongs to the dashboard.
pub fn is_ui_path(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// The key in the session cookie of a dashboard request (never of an API request: the
/// cookie's `Path=/ui` keeps browsers from sending it there, and it is ignored if sent).
pub fn cookie_key(request: &Request) -> Option<&str> {
    if is_ui_path(request.uri().path()) {
        cookie(request, KEY_COOKIE)
    } else {
        None
    }
}

/// Whether the request reached us over HTTPS (as a trusted proxy reports it; forwarding
/// headers from anyone else were removed before this).
fn over_https(request: &Request) -> bool {
    request.uri().scheme_str() == Some("https")
        || request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value for a dashboard cookie; `None` value clears it.
pub(crate) fn set_cookie(
    request: &Request,
    name: &str,
    value: Option<&str>,
) -> Option<HeaderValue> {
    let secure = if over_https(request) { "; Secure" } else { "" };
    let text = match value {
        Some(value) => format!("{name}={value}; Path=/ui; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{name}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).ok()
}

/// A CSRF token we could have issued: 32 hexadecimal digits.
pub(crate) fn acceptable_token(token: &str) -> bool {
    token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit())
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
    fn cookies_are_found_among_others() {
        let r = request(&[("cookie", "a=1; scheduler_key=sk_abc ; b=2")]);
        assert_eq!(cookie(&r, KEY_COOKIE), Some("sk_abc"));
        assert_eq!(cookie(&r, "missing"), None);
        assert_eq!(cookie_key(&r), Some("sk_abc"));
    }

    #[test]
    fn the_session_cookie_is_ignored_outside_the_dashboard() {
        let r = Request::builder()
            .uri(poem::http::Uri::from_static("/scheduler/jobs/"))
            .header("cookie", "scheduler_key=sk_abc")
            .finish();
        assert_eq!(cookie_key(&r), None);
    }
}
