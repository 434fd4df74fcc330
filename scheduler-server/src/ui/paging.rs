//! How the dashboard's tables are paged and filtered: the one place that turns a table's
//! query string into the core's list queries and back into `Previous`/`Next` links.
//!
//! For now the tables use the core's page-numbered queries (`?page=N`, the API's paginator)
//! and the name search is an exact-name lookup (`JobService::find_by_name`); when the core's
//! cursor queries and name filter are there, only this module changes.

use chrono::{DateTime, Utc};
use scheduler_core::{
    Job, JobId, JobQuery, JobService, Run, RunListRequest, RunService, ServiceError,
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

/// A page number as sent: absent or a number, else the core's "A valid integer" error.
fn page_number(fields: &FormFields) -> Result<Option<i64>, ValidationErrors> {
    match fields.get("page").map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(raw) => raw
            .parse()
            .map(Some)
            .map_err(|_| ValidationErrors::single("page", scheduler_core::Invalid::NotAnInteger)),
    }
}

/// `path?query` with `page` set to `page` (left out for page 1) and empty values dropped.
fn page_url(path: &str, fields: &[(&str, String)], page: u64) -> String {
    let mut pairs: Vec<(&str, String)> = fields
        .iter()
        .filter(|(key, value)| *key != "page" && !value.is_empty())
        .cloned()
        .collect();
    if page > 1 {
        pairs.push(("page", page.to_string()));
    }
    match serde_urlencoded::to_string(&pairs) {
        Ok(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path.to_string(),
    }
}

/// The links around page `page`.
fn links(
    path: &str,
    fields: &[(&str, String)],
    page: u64,
    has_next: bool,
) -> (Option<String>, Option<String>) {
    let previous = (page > 1).then(|| page_url(path, fields, page - 1));
    let next = has_next.then(|| page_url(path, fields, page.saturating_add(1)));
    (previous, next)
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

/// One page of the caller's jobs matching `filter`, by id.
///
/// # Errors
/// `Invalid` for a bad page; the use case's errors.
pub async fn jobs(
    service: &JobService,
    filter: &JobsFilter,
    fields: &FormFields,
) -> Result<Paged<Job>, ListError> {
    let page = page_number(fields).map_err(ListError::Invalid)?;
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
    let query = JobQuery::new(page, Some(PAGE_SIZE), filter.is_active(), None)
        .map_err(ListError::Invalid)?;
    let listed = service.list(&query).await?;
    let has_next = listed.has_next(&query);
    let kept = [("state", filter.state.clone())];
    let (previous, next) = links("/ui/", &kept, query.page(), has_next);
    Ok(Paged {
        items: listed.items,
        previous,
        next,
    })
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
/// `Invalid` for a bad filter or page; the use case's errors.
pub async fn runs(
    runs: &RunService,
    job: Option<JobId>,
    filter: &RunsFilter,
    fields: &FormFields,
    path: &str,
    now: DateTime<Utc>,
) -> Result<Paged<Run>, ListError> {
    let page = page_number(fields).map_err(ListError::Invalid)?;
    let query = RunListRequest {
        page,
        page_size: Some(PAGE_SIZE),
        status: (!filter.status.is_empty()).then(|| filter.status.clone()),
        scheduled_after: filter.scheduled_after(now)?,
        ..RunListRequest::default()
    }
    .validate()
    .map_err(ListError::Invalid)?;
    let listed = match job {
        Some(id) => runs.list_for_job(id, &query).await?,
        None => runs.list(&query).await?,
    };
    let has_next = listed.has_next(&query);
    let kept = [
        ("status", filter.status.clone()),
        ("since", filter.since.clone()),
    ];
    let (previous, next) = links(path, &kept, query.page(), has_next);
    Ok(Paged {
        items: listed.items,
        previous,
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_links_keep_the_filter_and_drop_page_one() {
        let kept = [("state", "paused".to_string()), ("q", String::new())];
        let (previous, next) = links("/ui/", &kept, 2, true);
        assert_eq!(previous.as_deref(), Some("/ui/?state=paused"));
        assert_eq!(next.as_deref(), Some("/ui/?state=paused&page=3"));
        assert_eq!(links("/ui/", &[], 1, false), (None, None));
    }

    #[test]
    fn a_page_that_is_not_a_number_is_named() {
        let fields = FormFields::parse("page=two");
        let errors = page_number(&fields).unwrap_err();
        assert_eq!(errors.iter().next().map(|e| e.field.as_str()), Some("page"));
    }
}
