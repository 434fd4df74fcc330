//! The dashboard's static files, compiled into the binary: the stylesheet, the tab icon and htmx
//! (`assets/README.md` says where htmx comes from). Served at `/ui/static/...` with a
//! long cache lifetime; their URLs change with the server version.

use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};

/// The stylesheet.
pub const STYLE_CSS: &str = include_str!("assets/style.css");
/// The tab icon (a clock face).
pub const FAVICON_SVG: &str = include_str!("assets/favicon.svg");
/// htmx 2.0.11, minified, unmodified (Zero-Clause BSD).
pub const HTMX_JS: &str = include_str!("assets/htmx.min.js");

/// The asset called `name`, or 404.
pub fn serve(name: &str) -> Response {
    let (body, content_type) = match name {
        "style.css" => (STYLE_CSS, "text/css; charset=utf-8"),
        "htmx.min.js" => (HTMX_JS, "text/javascript; charset=utf-8"),
        "favicon.svg" => (FAVICON_SVG, "image/svg+xml"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let mut response = body.with_content_type(content_type).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}
