//! Run lists: what a client asks of run history (filters and a page), and what a store reads
//! for it, newest first.

use chrono::{DateTime, Utc};

use crate::cursor::Keyset;
use crate::error::{Invalid, ValidationErrors};
use crate::job::JobId;
use crate::page::{Page, Window};
use crate::paging::{PageRequest, Paging};
use crate::run::{Run, RunId};
use crate::run_status::{RunStatus, RunTrigger};
use crate::tenant::Tenant;
use crate::wire::WireEnum;

/// Raw input of a run list, as read from a request: every filter optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunListRequest {
    /// 1-based page; default 1. Not with `cursor`.
    pub page: Option<i64>,
    /// Runs per page, 1 to 500; default 50.
    pub page_size: Option<i64>,
    /// Only runs with this status.
    pub status: Option<String>,
    /// Only runs with this trigger.
    pub trigger: Option<String>,
    /// Only runs of this job.
    pub job_id: Option<i64>,
    /// Only runs for fires at or after this instant.
    pub scheduled_after: Option<DateTime<Utc>>,
    /// Only runs for fires before this instant.
    pub scheduled_before: Option<DateTime<Utc>>,
    /// Cursor pages: `Some("")` for the first, or the token of a `next`/`previous` link.
    pub cursor: Option<String>,
}

impl RunListRequest {
    /// Validates every parameter, naming each bad one (the cursor token itself is verified by
    /// the use case).
    ///
    /// # Errors
    /// `page`, `page_size`, `status`, `trigger`, `job_id`, `scheduled_before` (not after
    /// `scheduled_after`), `cursor` (with `page`).
    pub fn validate(self) -> Result<RunQuery, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let page = PageRequest::read(
            &mut errors,
            self.page,
            self.page_size,
            self.cursor.as_deref(),
        );
        let status = match &self.status {
            None => Some(None),
            Some(raw) => errors.check("status", RunStatus::parse(raw).map(Some)),
        };
        let trigger = match &self.trigger {
            None => Some(None),
            Some(raw) => errors.check("trigger", RunTrigger::parse(raw).map(Some)),
        };
        let job_id = match self.job_id {
            None => Some(None),
            Some(id) if id >= 1 => Some(Some(JobId(id))),
            Some(_) => errors.check("job_id", Err(Invalid::BelowMinimum { min: 1 })),
        };
        if let (Some(after), Some(before)) = (self.scheduled_after, self.scheduled_before)
            && before <= after
        {
            errors.add("scheduled_before", Invalid::BeforeNotAfterAfter);
        }
        match (status, trigger, job_id, page) {
            (Some(status), Some(trigger), Some(job_id), Some(page)) if errors.is_empty() => {
                Ok(RunQuery {
                    page,
                    filter: RunFilter {
                        status,
                        trigger,
                        job_id,
                        scheduled_after: self.scheduled_after,
                        scheduled_before: self.scheduled_before,
                        tenant: None,
                    },
                })
            }
            _ => Err(errors),
        }
    }
}

/// Which runs a list holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RunFilter {
    /// Only runs with this status.
    pub status: Option<RunStatus>,
    /// Only runs with this trigger.
    pub trigger: Option<RunTrigger>,
    /// Only runs of this job.
    pub job_id: Option<JobId>,
    /// Only runs for fires at or after this instant.
    pub scheduled_after: Option<DateTime<Utc>>,
    /// Only runs for fires before this instant.
    pub scheduled_before: Option<DateTime<Utc>>,
    /// Only runs of this tenant's jobs.
    pub tenant: Option<Tenant>,
}

/// A validated request for one page of runs, newest first. Built only by
/// [`RunListRequest::validate`] (or `default()`: the first page of every run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunQuery {
    /// Which page, and its size.
    page: PageRequest,
    /// Which runs.
    filter: RunFilter,
}

impl RunQuery {
    /// The same query restricted to the runs of `job_id`.
    #[must_use]
    pub fn for_job(mut self, job_id: JobId) -> Self {
        self.filter.job_id = Some(job_id);
        self
    }

    /// The numbered page, or `None` for cursor pages.
    pub fn page(&self) -> Option<u64> {
        self.page.page()
    }

    /// How the list is paged.
    pub fn paging(&self) -> &Paging {
        self.page.paging()
    }

    /// Runs per page.
    pub fn page_size(&self) -> u64 {
        self.page.page_size()
    }

    /// Which runs the list holds.
    pub fn filter(&self) -> &RunFilter {
        &self.filter
    }

    /// Rows to skip before a numbered page (0 for cursor pages).
    pub fn offset(&self) -> u64 {
        self.page.offset()
    }

    /// The rows a store reads: `tenant`'s runs, from `keyset` when a cursor was resolved,
    /// else the numbered page or the first cursor page.
    pub fn slice_for(&self, tenant: Option<Tenant>, keyset: Option<Keyset<RunId>>) -> RunSlice {
        let window = self.page.window(keyset);
        RunSlice {
            filter: RunFilter {
                tenant,
                ..self.filter.clone()
            },
            window,
        }
    }
}

/// What a store reads for one run list page, newest first (by id, descending).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunSlice {
    /// Which runs.
    pub filter: RunFilter,
    /// Which rows; a cursor position is a run's id.
    pub window: Window<RunId>,
}

/// One page of runs as a store returns it.
pub type RunPage = Page<Run>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_lists_name_bad_parameters() {
        let errors = RunListRequest {
            page: Some(0),
            status: Some("exploded".into()),
            trigger: Some("whim".into()),
            job_id: Some(0),
            scheduled_after: Some("2025-06-23T10:00:00Z".parse().unwrap()),
            scheduled_before: Some("2025-06-23T09:00:00Z".parse().unwrap()),
            ..RunListRequest::default()
        }
        .validate()
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["page", "status", "trigger", "job_id", "scheduled_before"]
        );
        let query = RunListRequest {
            status: Some("timed_out".into()),
            trigger: Some("retry".into()),
            ..RunListRequest::default()
        }
        .validate()
        .unwrap();
        assert_eq!(query.filter().status, Some(RunStatus::TimedOut));
        assert_eq!(query.filter().trigger, Some(RunTrigger::Retry));
        assert_eq!(query.for_job(JobId(3)).filter().job_id, Some(JobId(3)));
    }

    #[test]
    fn run_lists_take_a_cursor_but_not_with_a_page() {
        let first = RunListRequest {
            cursor: Some(" ".into()),
            ..RunListRequest::default()
        }
        .validate()
        .unwrap();
        assert_eq!(first.paging(), &Paging::Cursor(None));
        let both = RunListRequest {
            page: Some(1),
            cursor: Some("x".into()),
            ..RunListRequest::default()
        }
        .validate();
        assert_eq!(
            both,
            Err(ValidationErrors::single("cursor", Invalid::CursorWithPage))
        );
    }
}
