//! The `next`/`previous` links of a list page, as absolute URLs like the original's.

use poem::Request;

/// The request's own URL with `page` set to `page` (omitted for page 1), other parameters
/// kept and sorted.
fn url_for_page(request: &Request, page: u64) -> String {
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
    pairs.retain(|(key, _)| key != "page");
    if page > 1 {
        pairs.push(("page".into(), page.to_string()));
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

/// `(next, previous)` URLs around page `page`.
pub fn page_links(
    request: &Request,
    page: u64,
    has_next: bool,
) -> (Option<String>, Option<String>) {
    let next = has_next.then(|| url_for_page(request, page.saturating_add(1)));
    let previous = (page > 1).then(|| url_for_page(request, page - 1));
    (next, previous)
}
