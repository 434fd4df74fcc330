//! The page shell every dashboard page shares (head, navigation, the header strip, the
//! logout button) and message pages. The small pieces pages are made of are in
//! [`super::cells`].
//!
//! Pages load only `/ui/static/style.css` and `/ui/static/htmx.min.js`, both compiled into
//! the binary, and are served with a `Content-Security-Policy` that allows nothing from any
//! other origin, no inline script and no inline style.

use maud::{DOCTYPE, Markup, html};
use poem::http::{HeaderValue, StatusCode};
use poem::web::Html;
use poem::{IntoResponse, Response};

use super::cookies::CSRF_FIELD;
use super::summary::Summary;
use super::viewer::Viewer;

/// The policy of every dashboard answer: same-origin assets only, no inline script or style,
/// no framing, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

/// Which navigation entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// The jobs table, a job, the form.
    Jobs,
    /// The runs across jobs.
    Runs,
    /// The calendars, a calendar, its form.
    Calendars,
    /// The audit trail (shown to admin keys only).
    Audit,
}

/// The `<head>` of every page.
fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            // htmx would otherwise add an inline <style>, which the policy refuses.
            meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false}"#;
            title { (title) " · scheduler" }
            link rel="icon" href="/ui/static/favicon.svg" type="image/svg+xml";
            link rel="stylesheet" href="/ui/static/style.css";
            script src="/ui/static/htmx.min.js" defer {}
        }
    }
}

/// A full dashboard page: navigation, the header strip, then `body`.
pub fn page(title: &str, viewer: &Viewer, summary: &Summary, nav: Nav, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    nav aria-label="Main" {
                        a.brand href="/ui/" { "scheduler" }
                        a href="/ui/" aria-current=[(nav == Nav::Jobs).then_some("page")] { "Jobs" }
                        a href="/ui/runs" aria-current=[(nav == Nav::Runs).then_some("page")] { "Runs" }
                        a href="/ui/calendars" #nav-calendars aria-current=[(nav == Nav::Calendars).then_some("page")] { "Calendars" }
                        @if viewer.is_admin() {
                            a href="/ui/audit" #nav-audit aria-current=[(nav == Nav::Audit).then_some("page")] { "Audit" }
                        }
                    }
                    div.who {
                        @if let Some(principal) = &viewer.principal {
                            span.tenant title="Your tenant and key" {
                                (principal.tenant.as_str())
                                @if let Some(key) = &principal.key_name { " · " (key) }
                                @if !viewer.can_write() { " · read-only" }
                            }
                        }
                        @if viewer.logged_in {
                            form.inline method="post" action="/ui/logout" {
                                input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf);
                                button.link type="submit" { "Log out" }
                            }
                        }
                    }
                }
                (summary.render())
                main #main { (body) }
            }
        }
    }
}

/// A page without navigation (login, refusals).
pub fn bare_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top { nav aria-label="Main" { a.brand href="/ui/" { "scheduler" } } }
                (body)
            }
        }
    }
}

/// An HTML answer with the dashboard's headers.
pub fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut response = Html(markup.into_string())
        .with_status(status)
        .into_response();
    secure_headers(&mut response);
    response
}

/// The headers every dashboard answer carries: the content policy, no sniffing, no caching
/// of pages that show a tenant's data, no framing.
pub fn secure_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    headers
        .entry("cache-control")
        .or_insert(HeaderValue::from_static("no-store"));
}

/// A page that only says something (a refusal, a missing job, an outage).
pub fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = html! {
        main.narrow #main {
            h1 { (title) }
            p role="alert" { (text) }
            p { a href="/ui/" { "Back to the jobs" } }
        }
    };
    html_response(status, bare_page(title, body))
}
