//! The visitor of a dashboard page: who they are (the caller the front door admitted) and
//! their CSRF token, which forms embed.

use poem::http::header;
use poem::{Request, Response};
use scheduler_core::{Principal, Scope};

use super::cookies::{CSRF_COOKIE, KEY_COOKIE, acceptable_token, cookie, set_cookie};

/// The visitor of one dashboard page: who they are and their CSRF token.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Who is asking (set by the front door; `None` on the open pages: login).
    pub principal: Option<Principal>,
    /// The CSRF token forms embed.
    pub csrf: String,
    /// True when the token is new and must be set as a cookie with this answer.
    new_csrf: bool,
    /// Whether the visitor came with a key (shows "log out").
    pub logged_in: bool,
}

impl Viewer {
    /// The visitor of `request`: its principal, and its CSRF token (a new one when the
    /// request has none).
    pub fn of(request: &Request) -> Self {
        let (csrf, new_csrf) = match cookie(request, CSRF_COOKIE).filter(|t| acceptable_token(t)) {
            Some(token) => (token.to_string(), false),
            // 32 hex digits, as `acceptable_token` expects; should the OS generator fail, the
            // page still renders and its forms are refused (no token matches an empty one).
            None => (
                scheduler_core::random_token(&scheduler_adapters::OsEntropy, "", 16)
                    .unwrap_or_default(),
                true,
            ),
        };
        Self {
            principal: crate::auth::principal_of(request).cloned(),
            csrf,
            new_csrf,
            logged_in: cookie(request, KEY_COOKIE).is_some(),
        }
    }

    /// Whether the visitor may change jobs (shows the write buttons).
    pub fn can_write(&self) -> bool {
        self.principal
            .as_ref()
            .is_some_and(|principal| principal.allows(Scope::Write))
    }

    /// Whether the visitor may see the admins' pages (the audit trail; shows its link).
    pub fn is_admin(&self) -> bool {
        self.principal
            .as_ref()
            .is_some_and(|principal| principal.allows(Scope::Admin))
    }

    /// `response` with the CSRF cookie set when the token is new.
    pub fn finish(&self, request: &Request, mut response: Response) -> Response {
        if self.new_csrf
            && let Some(value) = set_cookie(request, CSRF_COOKIE, Some(&self.csrf))
        {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }
}
