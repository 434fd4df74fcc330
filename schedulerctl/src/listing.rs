//! Lists: one page as the server sends it, or every page by following `next`. Only the
//! query of a `next` link is used, on the path that was asked for, so a server that names
//! itself differently (behind a proxy) still leads back to `--url`; this follows page
//! numbers and cursors alike, and `next` links that are a path alone (the audit trail's,
//! `/scheduler/audit/?...&cursor=...`) as well as full URLs. [`fetch_up_to`] follows them
//! only until it has enough items (`runs replay --limit`).

use reqwest::Url;
use serde_json::Value;

use crate::cli::PageArgs;
use crate::client::{Answer, Client};
use crate::failure::Failure;

/// The most pages `--all` follows; far beyond any real list, it only stops a server whose
/// `next` never ends.
const MAX_PAGES: usize = 100_000;

/// A list as fetched.
pub(crate) enum Listing {
    /// One page (`--page` or the first).
    Page {
        /// The answer, printed as received for `--output json`.
        answer: Answer,
        /// Its items.
        items: Vec<Value>,
        /// Its `count` (page-number pagination; cursor pages have none).
        count: Option<u64>,
        /// Whether a `next` page exists.
        has_next: bool,
        /// The cursor of the `next` page, when this is a cursor page.
        next_cursor: Option<String>,
    },
    /// Every page's items, in order (`--all`).
    All(Vec<Value>),
}

/// The items and `next` link of a page.
pub(crate) fn page_parts(page: &Value) -> Result<(Vec<Value>, Option<String>), Failure> {
    let items = page
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| Failure::BadAnswer("a list page without \"results\"".into()))?
        .clone();
    let next = page.get("next").and_then(Value::as_str).map(str::to_string);
    Ok((items, next))
}

/// The query of a `next` link (a full URL, or a path from `/`), as pairs to send on our own
/// path.
pub(crate) fn next_query(next: &str) -> Result<Vec<(String, String)>, Failure> {
    // Only the query is kept, so the host a path alone is read against never matters.
    let parsed = if next.starts_with('/') && !next.starts_with("//") {
        Url::parse(&format!("http://server.invalid{next}"))
    } else {
        Url::parse(next)
    };
    let url = parsed
        .map_err(|_| Failure::BadAnswer(format!("a \"next\" link that is not a URL: {next:?}")))?;
    Ok(url
        .query_pairs()
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect())
}

/// `path` with `filters`, as `pages` asks: one page, or all of them.
pub(crate) async fn fetch(
    client: &Client,
    path: &str,
    mut filters: Vec<(String, String)>,
    pages: &PageArgs,
) -> Result<Listing, Failure> {
    if let Some(size) = pages.page_size {
        filters.push(("page_size".into(), size.to_string()));
    }
    if !pages.all {
        if let Some(page) = pages.page {
            filters.push(("page".into(), page.to_string()));
        }
        if let Some(cursor) = &pages.cursor {
            filters.push(("cursor".into(), cursor.clone()));
        }
        let answer = client.get(path, &filters).await?;
        let page = answer.json()?;
        let (items, next) = page_parts(&page)?;
        let count = page.get("count").and_then(Value::as_u64);
        let next_cursor = match &next {
            Some(link) => next_query(link)?
                .into_iter()
                .find(|(key, _)| key == "cursor")
                .map(|(_, value)| value),
            None => None,
        };
        return Ok(Listing::Page {
            answer,
            items,
            count,
            has_next: next.is_some(),
            next_cursor,
        });
    }
    // Every page: cursor pages, so the last costs the server what the first does.
    let (every, _) = follow(client, path, filters, usize::MAX).await?;
    Ok(Listing::All(every))
}

/// The first `limit` items of `path` with `filters`, following cursor pages (at most 500
/// items each), and whether more items match beyond them.
pub(crate) async fn fetch_up_to(
    client: &Client,
    path: &str,
    mut filters: Vec<(String, String)>,
    limit: usize,
) -> Result<(Vec<Value>, bool), Failure> {
    filters.push(("page_size".into(), limit.clamp(1, 500).to_string()));
    follow(client, path, filters, limit).await
}

/// Cursor pages of `path` from the first (`filters` plus an empty cursor), following `next`
/// until it ends or `limit` items are in hand; the items (at most `limit`) and whether more
/// exist.
async fn follow(
    client: &Client,
    path: &str,
    mut filters: Vec<(String, String)>,
    limit: usize,
) -> Result<(Vec<Value>, bool), Failure> {
    filters.push(("cursor".into(), String::new()));
    let mut every = Vec::new();
    let mut query = filters;
    for _ in 0..MAX_PAGES {
        let page = client.get(path, &query).await?.json()?;
        let (items, next) = page_parts(&page)?;
        every.extend(items);
        if every.len() >= limit {
            let more = every.len() > limit || next.is_some();
            every.truncate(limit);
            return Ok((every, more));
        }
        let Some(next) = next else {
            return Ok((every, false));
        };
        let following = next_query(&next)?;
        if following == query {
            return Err(Failure::BadAnswer(format!(
                "the \"next\" link leads back to the same page: {next:?}"
            )));
        }
        query = following;
    }
    Err(Failure::BadAnswer(format!(
        "more than {MAX_PAGES} pages: stopped following \"next\""
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_next_link_gives_its_query_only() {
        assert_eq!(
            next_query("http://elsewhere:9/scheduler/jobs/?is_active=true&page=2").unwrap(),
            vec![
                ("is_active".to_string(), "true".to_string()),
                ("page".to_string(), "2".to_string())
            ]
        );
        assert_eq!(
            next_query("/scheduler/audit/?kind=job&cursor=abc_-1").unwrap(),
            vec![
                ("kind".to_string(), "job".to_string()),
                ("cursor".to_string(), "abc_-1".to_string())
            ]
        );
        assert!(next_query("relative?page=2").is_err());
        assert!(next_query("//elsewhere?page=2").is_err());
    }

    #[test]
    fn a_page_without_results_is_a_bad_answer() {
        assert!(page_parts(&json!({"count": 1})).is_err());
        let (items, next) = page_parts(&json!({"results": [1], "next": null})).unwrap();
        assert_eq!((items.len(), next), (1, None));
    }
}
