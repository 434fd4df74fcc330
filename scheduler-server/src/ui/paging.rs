//! How the dashboard's tables are paged and filtered: the one place that turns a table's
//! query string into the core's list queries and back into `Previous`/`Next` links.
//!
//! Tables are read by keyset, never counted or offset (a count of a million runs alone takes
//! longer than a page may): jobs in id order from `?after=<id>`, runs newest first from
//! `?before=<id>`, one row more than shown to know whether a next page exists. The links are
//! "Next" and back to the first page. The name search is an exact-name lookup
//! (`JobService::find_by_name`) until the core has a name filter; then, and when the core's
//! own cursors land, only this module changes.

use chrono::{DateTime, Utc};
use scheduler_core::{
    Job, JobId, JobQuery, JobService, Run, RunId, RunListRequest, RunService, ServiceError,
    ValidationErrors,
};

use super::form::FormFields;

/// Rows per table page.
pub const PAGE_SIZE: i64 = 50;

/// One page of a table and the links around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    /// The rows.
    pub items: Vec<T>,
    /// The previous page's URL.
    pub previous: Option<String>,
    /// The next page's URL.
    pub next: Option<String>,
}

/// Why a table could not be listed.
#[derive(Debug)]
pub enum ListError {
    /// A filter or page parameter is invalid (named, with the core's reason).
    Invalid(ValidationErrors),
    /// The use case failed.
    Service(ServiceError),
}

impl From<ServiceError> for ListError {
    fn from(error: ServiceError) -> Self {
        Self::Service(error)
    }
}

/// The cursor `name` as sent: absent, or a positive id; else the core's "A valid integer"
/// error naming it.
fn cursor(fields: &FormFields, name: &str) -> Result<Option<i64>, ListError> {
    match fields.get(name).map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(Some)
            .ok_or_else(|| {
                ListError::Invalid(ValidationErrors::single(
                    name,
                    scheduler_core::Invalid::NotAnInteger,
                ))
            }),
    }
}

/// `path?query` with `cursor` set (left out when `None`) and empty values dropped.
fn page_url(path: &str, fields: &[(&str, String)], cursor: Option<(&str, i64)>) -> String {
    let mut pairs: Vec<(&str, String)> = fields
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .cloned()
        .collect();
    if let Some((name, id)) = cursor {
        pairs.push((name, id.to_string()));
    }
    match serde_urlencoded::to_string(&pairs) {
        Ok(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path.to_string(),
    }
}

/// Keeps the first `PAGE_SIZE` of `rows` (read one more) and makes the links: "first page"
/// when this is not it, "next" from the last row shown when more follow.
fn paged<T>(
    mut rows: Vec<T>,
    path: &str,
    fields: &[(&str, String)],
    cursor_name: &str,
    first: bool,
    id_of: impl Fn(&T) -> i64,
) -> Paged<T> {
    let shown = usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
    let more = rows.len() > shown;
    rows.truncate(shown);
    let next = more
        .then(|| {
            rows.last()
                .map(|row| page_url(path, fields, Some((cursor_name, id_of(row)))))
        })
        .flatten();
    let previous = (!first).then(|| page_url(path, fields, None));
    Paged {
        items: rows,
        previous,
        next,
    }
}

/// The jobs table's filter, as read from its query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobsFilter {
    /// The name searched for (empty: every job).
    pub name: String,
    /// `active`, `paused`, or empty for both.
    pub state: String,
}

impl JobsFilter {
    /// Reads `?name=&state=`.
    pub fn read(fields: &FormFields) -> Self {
        Self {
            name: fields.get("name").unwrap_or_default().trim().to_string(),
            state: fields.get("state").unwrap_or_default().to_string(),
        }
    }

    /// The `is_active` filter the state asks for.
    fn is_active(&self) -> Option<bool> {
        match self.state.as_str() {
            "active" => Some(true),
            "paused" => Some(false),
            _ => None,
        }
    }
}

/// One page of the caller's jobs matching `filter`, in id order.
///
/// # Errors
/// `Invalid` for a bad cursor; the use case's errors.
pub async fn jobs(
    service: &JobService,
    filter: &JobsFilter,
    fields: &FormFields,
) -> Result<Paged<Job>, ListError> {
    let after = cursor(fields, "after")?;
    if !filter.name.is_empty() {
        // Exact name until the core has a name filter.
        let found = match service.find_by_name(&filter.name).await {
            Ok(job) => vec![job],
            Err(ServiceError::JobNotFound) => Vec::new(),
            Err(other) => return Err(other.into()),
        };
        let items = found
            .into_iter()
            .filter(|job| filter.is_active().is_none_or(|a| a == job.spec.is_active))
            .collect();
        return Ok(Paged {
            items,
            previous: None,
            next: None,
        });
    }
    let query = JobQuery::new(None, None, filter.is_active(), None).map_err(ListError::Invalid)?;
    let limit = PAGE_SIZE.unsigned_abs() + 1;
    let rows = service.list_after(&query, after.map(JobId), limit).await?;
    let kept = [("state", filter.state.clone())];
    Ok(paged(
        rows,
        "/ui/",
        &kept,
        "after",
        after.is_none(),
        |job| job.id.0,
    ))
}

/// A run table's filter, as read from its query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunsFilter {
    /// A status name, or empty for all.
    pub status: String,
    /// How far back: `1h`, `24h`, `7d`, or empty for all the history kept.
    pub since: String,
}

impl RunsFilter {
    /// The choices of `since`, with their labels.
    pub const SINCE: [(&'static str, &'static str); 4] = [
        ("", "Any time"),
        ("1h", "Last hour"),
        ("24h", "Last 24 hours"),
        ("7d", "Last 7 days"),
    ];

    /// Reads `?status=&since=`.
    pub fn read(fields: &FormFields) -> Self {
        Self {
            status: fields.get("status").unwrap_or_default().to_string(),
            since: fields.get("since").unwrap_or_default().to_string(),
        }
    }

    /// The earliest fire instant `since` asks for.
    fn scheduled_after(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ListError> {
        let back = match self.since.as_str() {
            "" => return Ok(None),
            "1h" => chrono::Duration::hours(1),
            "24h" => chrono::Duration::hours(24),
            "7d" => chrono::Duration::days(7),
            other => {
                return Err(ListError::Invalid(ValidationErrors::single(
                    "since",
                    scheduler_core::Invalid::NotAChoice {
                        value: other.to_string(),
                        choices: &["1h", "24h", "7d"],
                    },
                )));
            }
        };
        Ok(Some(now - back))
    }
}

/// One page of runs matching `filter`, newest first: of job `job` (its page), or of all the
/// caller's jobs. `path` is the table's page, for the links.
///
/// # Errors
/// `Invalid` for a bad filter or cursor; the use case's errors.
pub async fn runs(
    runs: &RunService,
    job: Option<JobId>,
    filter: &RunsFilter,
    fields: &FormFields,
    path: &str,
    now: DateTime<Utc>,
) -> Result<Paged<Run>, ListError> {
    let before = cursor(fields, "before")?;
    let query = RunListRequest {
        status: (!filter.status.is_empty()).then(|| filter.status.clone()),
        scheduled_after: filter.scheduled_after(now)?,
        ..RunListRequest::default()
    }
    .validate()
    .map_err(ListError::Invalid)?;
    let limit = PAGE_SIZE.unsigned_abs() + 1;
    let rows = runs
        .list_before(job, &query, before.map(RunId), limit)
        .await?;
    let kept = [
        ("status", filter.status.clone()),
        ("since", filter.since.clone()),
    ];
    Ok(paged(
        rows,
        path,
        &kept,
        "before",
        before.is_none(),
        |run| run.id.0,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_links_on_from_its_last_row_and_back_to_the_first() {
        let kept = [("state", "paused".to_string()), ("name", String::new())];
        let rows: Vec<i64> = (1..=51).collect();
        let page = paged(rows, "/ui/", &kept, "after", false, |id| *id);
        assert_eq!(page.items.len(), 50);
        assert_eq!(page.next.as_deref(), Some("/ui/?state=paused&after=50"));
        assert_eq!(page.previous.as_deref(), Some("/ui/?state=paused"));
        let last = paged(vec![1_i64, 2], "/ui/", &[], "after", true, |id| *id);
        assert_eq!((last.next, last.previous), (None, None));
    }

    #[test]
    fn a_cursor_that_is_not_an_id_is_named() {
        for raw in ["two", "0", "-3"] {
            let fields = FormFields::parse(&format!("before={raw}"));
            let Err(ListError::Invalid(errors)) = cursor(&fields, "before") else {
                panic!("{raw} accepted");
            };
            assert_eq!(
                errors.iter().next().map(|e| e.field.as_str()),
                Some("before")
            );
        }
    }
}
