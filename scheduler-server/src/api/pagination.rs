//! The `next`/`previous` links of a list page, as absolute URLs like the original's: the
//! request's own URL with `page` (numbered pages) or `cursor` (cursor pages) replaced.

use poem::Request;
use scheduler_core::PageLink;

/// The request's own URL leading to `link`: `page` set (omitted for page 1) or `cursor` set,
/// the other parameters kept and sorted.
fn url_for(request: &Request, link: &PageLink) -> String {
    let headers = request.headers();
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(poem::http::header::HOST))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let mut pairs: Vec<(String, String)> = request
        .uri()
        .query()
        .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
        .unwrap_or_default();
    pairs.retain(|(key, _)| key != "page" && key != "cursor");
    match link {
        PageLink::Number(page) if *page > 1 => pairs.push(("page".into(), page.to_string())),
        PageLink::Number(_) => {}
        PageLink::Cursor(token) => pairs.push(("cursor".into(), token.clone())),
    }
    pairs.sort();
    let path = request.uri().path();
    let path = if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    };
    match serde_urlencoded::to_string(&pairs) {
        Ok(query) if !query.is_empty() => format!("{scheme}://{host}{path}?{query}"),
        _ => format!("{scheme}://{host}{path}"),
    }
}

/// The `(next, previous)` URLs of a page whose neighbours are `next` and `previous`.
pub fn page_links(
    request: &Request,
    next: Option<&PageLink>,
    previous: Option<&PageLink>,
) -> (Option<String>, Option<String>) {
    (
        next.map(|link| url_for(request, link)),
        previous.map(|link| url_for(request, link)),
    )
}
