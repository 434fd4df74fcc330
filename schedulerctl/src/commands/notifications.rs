//! `schedulerctl notifications list` over `/scheduler/notifications/` (a read key's tenant):
//! what was sent to the tenant's channels, and what waits or failed, newest first. The API
//! pages by id (`before_id`, the previous page's `next_before_id`); the list follows those
//! pages until it has `--limit` notifications or there are no more.

use serde_json::Value;

use crate::cli::{NotificationListArgs, NotificationsCommand};
use crate::client::Client;
use crate::failure::Failure;
use crate::output::{self, Format};
use crate::tables;

/// The notifications collection.
const NOTIFICATIONS: &str = "/scheduler/notifications/";

/// The most notifications the server sends in one page.
const MAX_PAGE: usize = 500;

/// Runs `command`.
pub(crate) async fn run(
    client: &Client,
    format: Format,
    command: NotificationsCommand,
) -> Result<(), Failure> {
    match command {
        NotificationsCommand::List(args) => list(client, format, &args).await,
    }
}

/// `notifications list`: the newest `--limit` notifications matching the filters, as one
/// table or one JSON array, and a note on standard error when more match.
async fn list(client: &Client, format: Format, args: &NotificationListArgs) -> Result<(), Failure> {
    let mut filters = Vec::new();
    if let Some(status) = &args.status {
        filters.push(("status".to_string(), status.clone()));
    }
    if let Some(job) = args.job {
        filters.push(("job_id".to_string(), job.to_string()));
    }
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let (items, more) = fetch(client, filters, limit).await?;
    match format {
        Format::Json => output::emit_json(&Value::from(items.clone()))?,
        Format::Table => output::emit(&tables::notifications(&items))?,
    }
    if more {
        output::note(&format!(
            "showing the newest {} notifications; more match (raise --limit)",
            items.len()
        ));
    }
    Ok(())
}

/// The first `limit` notifications of the pages from the newest, and whether more match.
/// Each page asks for one more than is still wanted (up to [`MAX_PAGE`]), so a last page that
/// holds more than wanted says exactly that more exist (when `limit` ends a full page, one
/// more page of one says it).
async fn fetch(
    client: &Client,
    filters: Vec<(String, String)>,
    limit: usize,
) -> Result<(Vec<Value>, bool), Failure> {
    let mut every: Vec<Value> = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let wanted = limit.saturating_sub(every.len());
        let mut query = filters.clone();
        query.push((
            "page_size".into(),
            wanted.saturating_add(1).min(MAX_PAGE).to_string(),
        ));
        if let Some(before) = before {
            query.push(("before_id".into(), before.to_string()));
        }
        let page = client.get(NOTIFICATIONS, &query).await?.json()?;
        let items = page
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| Failure::BadAnswer("a notification page without \"results\"".into()))?
            .clone();
        let next = match page.get("next_before_id") {
            None | Some(Value::Null) => None,
            Some(value) => Some(value.as_i64().ok_or_else(|| {
                Failure::BadAnswer(format!("a \"next_before_id\" that is not an id: {value}"))
            })?),
        };
        let count = items.len();
        every.extend(items);
        if every.len() > limit {
            every.truncate(limit);
            return Ok((every, true));
        }
        let Some(next) = next else {
            return Ok((every, false));
        };
        // Ids only go down, and each page holds one: so the pages end.
        if count == 0 || before.is_some_and(|before| next >= before) {
            return Err(Failure::BadAnswer(format!(
                "a \"next_before_id\" ({next}) that does not lead to older notifications"
            )));
        }
        before = Some(next);
    }
}
