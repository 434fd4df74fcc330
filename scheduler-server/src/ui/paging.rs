//! How the dashboard's tables are paged and filtered: the one place that turns a table's
//! query string into the core's list requests and its page links back into URLs.
//!
//! Tables use the core's cursor pages (`?cursor=<token>`, the API's `cursor=`): read from an
//! index range, never counted or offset, so a page deep in a million runs costs what the
//! first does. The name search is the core's (`search`: part of the name, any case). Audit
//! tables page forward only (the trail's cursors name an entry to read on from): their
//! links are "older" and back to the newest page ([`AuditPaged`]).

use chrono::{DateTime, Utc};
use scheduler_core::service::{AuditFilter, AuditPage};
use scheduler_core::{
    AuditEntry, Job, JobId, JobListRequest, JobRun, JobService, Listing, PageLink, RunListRequest,
    RunService, ServiceError, ValidationErrors,
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
    /// A filter or cursor parameter is invalid (named, with the core's reason).
    Invalid(ValidationErrors),
    /// The use case failed (an unknown job, a cursor that is not ours, an outage).
    Service(ServiceError),
}

impl From<ServiceError> for ListError {
    fn from(error: ServiceError) -> Self {
        Self::Service(error)
    }
}

/// `path?query` with the filter `fields` (empty ones dropped) and the page `link`.
fn page_url(path: &str, fields: &[(&str, String)], link: &PageLink) -> String {
    let mut pairs: Vec<(&str, String)> = fields
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .cloned()
        .collect();
    match link {
        PageLink::Cursor(token) => pairs.push(("cursor", token.clone())),
        PageLink::Number(page) if *page > 1 => pairs.push(("page", page.to_string())),
        PageLink::Number(_) => {}
    }
    match serde_urlencoded::to_string(&pairs) {
        Ok(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path.to_string(),
    }
}

/// A listing as a table page of `path`, its links keeping `fields`.
fn paged<T>(listing: Listing<T>, path: &str, fields: &[(&str, String)]) -> Paged<T> {
    Paged {
        previous: listing
            .previous
            .as_ref()
            .map(|link| page_url(path, fields, link)),
        next: listing
            .next
            .as_ref()
            .map(|link| page_url(path, fields, link)),
        items: listing.items,
    }
}

/// The `cursor` parameter as the core's list requests take it: `Some("")` asks for the
/// first cursor page.
fn cursor(fields: &FormFields) -> Option<String> {
    Some(fields.get("cursor").unwrap_or_default().to_string())
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
/// `Invalid` for a bad filter; the use case's errors (`InvalidCursor` for a cursor that is
/// not this list's).
pub async fn jobs(
    service: &JobService,
    filter: &JobsFilter,
    fields: &FormFields,
) -> Result<Paged<Job>, ListError> {
    let query = JobListRequest {
        page_size: Some(PAGE_SIZE),
        is_active: filter.is_active(),
        search: (!filter.name.is_empty()).then(|| filter.name.clone()),
        cursor: cursor(fields),
        ..JobListRequest::default()
    }
    .validate()
    .map_err(ListError::Invalid)?;
    let listing = service.list(&query).await?;
    let kept = [
        ("name", filter.name.clone()),
        ("state", filter.state.clone()),
    ];
    Ok(paged(listing, "/ui/", &kept))
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
/// `Invalid` for a bad filter; the use case's errors.
pub async fn runs(
    runs: &RunService,
    job: Option<JobId>,
    filter: &RunsFilter,
    fields: &FormFields,
    path: &str,
    now: DateTime<Utc>,
) -> Result<Paged<JobRun>, ListError> {
    let query = RunListRequest {
        page_size: Some(PAGE_SIZE),
        status: (!filter.status.is_empty()).then(|| filter.status.clone()),
        scheduled_after: filter.scheduled_after(now)?,
        cursor: cursor(fields),
        ..RunListRequest::default()
    }
    .validate()
    .map_err(ListError::Invalid)?;
    let listing = match job {
        Some(id) => runs.list_for_job(id, &query).await?,
        None => runs.list(&query).await?,
    };
    let kept = [
        ("status", filter.status.clone()),
        ("since", filter.since.clone()),
    ];
    Ok(paged(listing, path, &kept))
}

/// One page of audit entries, newest first, and the links around it: the audit trail pages
/// forward only (each page's cursor names the oldest entry before it), so the way back is to
/// the newest page.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPaged {
    /// The entries.
    pub items: Vec<AuditEntry>,
    /// The newest page's URL, when this is a later page.
    pub newest: Option<String>,
    /// The next (older) page's URL.
    pub older: Option<String>,
}

/// An audit page of the core as a table page of `path`, its links keeping `fields`;
/// `later` when the page was read with a cursor (it links back to the newest).
fn audit_paged(page: AuditPage, path: &str, fields: &[(&str, String)], later: bool) -> AuditPaged {
    AuditPaged {
        items: page.items,
        newest: later.then(|| page_url(path, fields, &PageLink::Number(1))),
        older: page
            .next
            .map(|cursor| page_url(path, fields, &PageLink::Cursor(cursor))),
    }
}

/// The `cursor` parameter of an audit table (`None`: the newest page).
fn audit_cursor(fields: &FormFields) -> Option<String> {
    fields
        .get("cursor")
        .filter(|cursor| !cursor.is_empty())
        .map(str::to_string)
}

/// One page of `size` entries of job `id`'s history, newest first, from the query string's
/// `cursor`; `path` is the table's page, for the links.
///
/// # Errors
/// The use case's (`JobNotFound`, `InvalidCursor`, `Unavailable`).
pub async fn job_history(
    service: &JobService,
    id: JobId,
    size: i64,
    fields: &FormFields,
    path: &str,
) -> Result<AuditPaged, ListError> {
    let cursor = audit_cursor(fields);
    let later = cursor.is_some();
    let filter = AuditFilter {
        page_size: Some(size),
        cursor,
        ..AuditFilter::default()
    };
    let page = service.job_history(id, filter).await?;
    Ok(audit_paged(page, path, &[], later))
}

/// One page of the caller's tenant's audit entries with `kind` and `actor` (empty: any),
/// newest first, from the query string's `cursor`.
///
/// # Errors
/// The use case's (`Validation` naming `kind`, `InvalidCursor`, `Unavailable`).
pub async fn audit(
    service: &JobService,
    kind: &str,
    actor: &str,
    fields: &FormFields,
) -> Result<AuditPaged, ListError> {
    let cursor = audit_cursor(fields);
    let later = cursor.is_some();
    let filter = AuditFilter {
        kind: (!kind.is_empty()).then(|| kind.to_string()),
        actor: (!actor.is_empty()).then(|| actor.to_string()),
        page_size: Some(PAGE_SIZE),
        cursor,
        ..AuditFilter::default()
    };
    let page = service.audit_entries(filter).await?;
    let kept = [("kind", kind.to_string()), ("actor", actor.to_string())];
    Ok(audit_paged(page, "/ui/audit", &kept, later))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_links_keep_the_filter_and_carry_the_cursor() {
        let kept = [("state", "paused".to_string()), ("name", String::new())];
        let listing = Listing {
            total: None,
            items: vec![1, 2],
            next: Some(PageLink::Cursor("abc=".into())),
            previous: None,
        };
        let page = paged(listing, "/ui/", &kept);
        assert_eq!(
            page.next.as_deref(),
            Some("/ui/?state=paused&cursor=abc%3D")
        );
        assert_eq!(page.previous, None);
        assert_eq!(page_url("/ui/", &[], &PageLink::Number(1)), "/ui/");
    }

    #[test]
    fn audit_pages_link_older_by_cursor_and_back_to_the_newest() {
        let kept = [("kind", "job".to_string()), ("actor", String::new())];
        let page = AuditPage {
            items: Vec::new(),
            next: Some("c+1".into()),
        };
        let later = audit_paged(page.clone(), "/ui/audit", &kept, true);
        assert_eq!(
            later.older.as_deref(),
            Some("/ui/audit?kind=job&cursor=c%2B1")
        );
        assert_eq!(later.newest.as_deref(), Some("/ui/audit?kind=job"));
        let first = audit_paged(page, "/ui/audit", &kept, false);
        assert_eq!(first.newest, None);
    }
}
