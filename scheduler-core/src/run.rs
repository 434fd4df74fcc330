//! Runs: one execution attempt of a job for one fire, the texts stored on them, and the
//! queries and pages of run history. What the dispatcher decides about runs is in
//! [`crate::plan`].

use crate::auth::Tenant;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::cursor::Keyset;
use crate::error::{Invalid, ValidationErrors};
use crate::job::{Job, JobId};
use crate::page::{Page, Window};
use crate::plan::{RunOutcome, SkipReason};
use crate::policy::WireEnum;
use crate::query::{Paging, checked_page};

/// The database identity of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a run exists.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum RunTrigger {
    /// A fire of the job's schedule.
    Schedule,
    /// `POST /scheduler/jobs/{id}/run/`.
    Manual,
    /// A retry of a failed or timed-out attempt.
    Retry,
}

/// Where a run stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum RunStatus {
    /// Being executed by `worker`, which heartbeats.
    Running,
    /// The handler or target reported success.
    Succeeded,
    /// The handler or target reported failure (see `error`).
    Failed,
    /// Stopped after the job's `timeout_seconds`.
    TimedOut,
    /// Not executed (misfire `skip`, or concurrency `forbid`); `error` says why.
    Skipped,
    /// Its worker stopped heartbeating; a new attempt was started.
    Abandoned,
}

impl WireEnum for RunTrigger {}
impl WireEnum for RunStatus {}

/// A failure text made safe to store: texts from outside (a receiver's response body, a
/// handler's message) may hold NUL or other control characters, which PostgreSQL refuses or
/// which garble logs, and may be of any length.
///
/// The only constructors sanitize: control characters other than tab and newline are
/// removed, and the text is cut to [`ErrorText::MAX_CHARS`] (with `…` marking the cut).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorText(String);

impl ErrorText {
    /// Longest error text kept on a run, in characters.
    pub const MAX_CHARS: usize = 2_000;

    /// The safe form of `raw`.
    pub fn sanitize(raw: &str) -> Self {
        let mut kept = String::with_capacity(raw.len().min(Self::MAX_CHARS * 4));
        let safe = raw
            .chars()
            .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'));
        for (count, c) in safe.enumerate() {
            if count == Self::MAX_CHARS {
                kept.push('…');
                break;
            }
            kept.push(c);
        }
        Self(kept)
    }

    /// The safe form of raw bytes: invalid UTF-8 is replaced by `�`, then sanitized.
    pub fn from_bytes(raw: &[u8]) -> Self {
        Self::sanitize(&String::from_utf8_lossy(raw))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ErrorText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One execution attempt of a job for one fire.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Identity.
    pub id: RunId,
    /// The job.
    pub job_id: JobId,
    /// The fire instant this run serves; with `job_id` the receiver's idempotency key.
    pub scheduled_for: DateTime<Utc>,
    /// Why it exists.
    pub trigger: RunTrigger,
    /// 1 for the first attempt at this fire, then 2, 3, ... (retries and recoveries).
    pub attempt: i32,
    /// Failure retries used so far for this fire (recoveries of dead workers do not count).
    pub retries: i32,
    /// Where it stands.
    pub status: RunStatus,
    /// When execution started (or the skip was recorded).
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Last sign of life of its worker while running.
    pub heartbeat_at: DateTime<Utc>,
    /// For a failed or timed-out run that will be retried: when.
    pub retry_at: Option<DateTime<Utc>>,
    /// Why it failed or was skipped (bounded).
    pub error: Option<String>,
    /// The replica that executed it.
    pub worker: String,
}

impl Run {
    /// How long it ran (or, for a skip, zero): `None` while it runs.
    pub fn duration(&self) -> Option<chrono::Duration> {
        self.finished_at.map(|end| end - self.started_at)
    }

    /// How many earlier attempts at this fire were abandoned by a dead worker (every attempt
    /// after the first is either a failure retry or a recovery).
    pub fn recoveries(&self) -> i32 {
        (self.attempt - 1 - self.retries).max(0)
    }
}

/// A run claimed for execution by this worker, with its job as claimed.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedRun {
    /// The run, status `running`.
    pub run: Run,
    /// The job at claim time.
    pub job: Job,
}

/// What one recovery of stale runs did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recovered {
    /// The next attempts to execute now (status `running`), one per stale run run again.
    pub runs: Vec<ClaimedRun>,
    /// Stale runs ended `failed` at the abandon cap, not run again.
    pub given_up: usize,
    /// Every job whose `last_status` the recovery changed.
    pub changed_jobs: Vec<JobId>,
}

/// What one claim transaction did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClaimBatch {
    /// Runs to execute now (status `running`).
    pub runs: Vec<ClaimedRun>,
    /// Every job whose `next_run`/`last_run` the claim changed (run or skipped).
    pub advanced_jobs: Vec<JobId>,
    /// How many of the advanced jobs have no target (counted against the claim's
    /// `handlers`); the rest have one (counted against its `deliveries`).
    pub advanced_handlers: u32,
    /// The fires recorded as `skipped`, with why.
    pub skipped: Vec<(JobId, SkipReason)>,
}

/// What one claim may take: up to `handlers` due jobs without a target and up to
/// `deliveries` due jobs with one (each kind has its own execution capacity, see
/// [`crate::plan::ExecutionKind`]), leaving jobs whose target's host is in `saturated_hosts`
/// (by [`crate::policy::HttpTarget::host_key`]) for later.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClaimRequest {
    /// The claim's instant: jobs with `next_run <= now` are due.
    pub now: DateTime<Utc>,
    /// The replica claiming, stored on the runs.
    pub worker: String,
    /// Most jobs without a target to take.
    pub handlers: u32,
    /// Most jobs with a target to take.
    pub deliveries: u32,
    /// Host keys at their per-host cap in this replica: their jobs are not taken.
    pub saturated_hosts: Vec<String>,
}

/// A run whose execution ended, with what to record.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedRun {
    /// The run as claimed (status `running`).
    pub run: Run,
    /// Its outcome.
    pub outcome: RunOutcome,
}

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
        let (page, page_size) = checked_page(&mut errors, self.page, self.page_size);
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
        let paging = match (&self.cursor, self.page) {
            (None, _) => Some(Paging::Number(page)),
            (Some(_), Some(_)) => errors.check("cursor", Err(Invalid::CursorWithPage)),
            (Some(token), None) if token.trim().is_empty() => Some(Paging::Cursor(None)),
            (Some(token), None) => Some(Paging::Cursor(Some(token.trim().to_string()))),
        };
        match (status, trigger, job_id, paging) {
            (Some(status), Some(trigger), Some(job_id), Some(paging)) if errors.is_empty() => {
                Ok(RunQuery {
                    page_size,
                    paging,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunQuery {
    /// Runs per page, 1 to 500.
    page_size: u64,
    /// Which page.
    paging: Paging,
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
        match self.paging {
            Paging::Number(page) => Some(page),
            Paging::Cursor(_) => None,
        }
    }

    /// How the list is paged.
    pub fn paging(&self) -> &Paging {
        &self.paging
    }

    /// Runs per page.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// Which runs the list holds.
    pub fn filter(&self) -> &RunFilter {
        &self.filter
    }

    /// Rows to skip before a numbered page (0 for cursor pages).
    pub fn offset(&self) -> u64 {
        self.page()
            .unwrap_or(1)
            .saturating_sub(1)
            .saturating_mul(self.page_size)
    }

    /// The rows a store reads: `tenant`'s runs, from `keyset` when a cursor was resolved,
    /// else the numbered page or the first cursor page.
    pub fn slice_for(&self, tenant: Option<Tenant>, keyset: Option<Keyset<RunId>>) -> RunSlice {
        let window = match (&self.paging, keyset) {
            (_, Some(keyset)) => Window::Keyset {
                keyset,
                limit: self.page_size,
            },
            (Paging::Number(_), None) => Window::Offset {
                offset: self.offset(),
                limit: self.page_size,
            },
            (Paging::Cursor(_), None) => Window::Keyset {
                keyset: Keyset::first(),
                limit: self.page_size,
            },
        };
        RunSlice {
            filter: RunFilter {
                tenant,
                ..self.filter.clone()
            },
            window,
        }
    }
}

impl Default for RunQuery {
    fn default() -> Self {
        Self {
            page_size: crate::query::JobQuery::DEFAULT_PAGE_SIZE,
            paging: Paging::Number(1),
            filter: RunFilter::default(),
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
    fn error_texts_lose_control_characters_and_are_bounded() {
        assert_eq!(ErrorText::sanitize("short").as_str(), "short");
        assert_eq!(
            ErrorText::sanitize("a\u{0}b\r\nc\td\u{7}").as_str(),
            "ab\nc\td"
        );
        let long = ErrorText::sanitize(&"x".repeat(5_000));
        assert_eq!(long.as_str().chars().count(), ErrorText::MAX_CHARS + 1);
        assert!(long.as_str().ends_with('…'));
        let exact = ErrorText::sanitize(&"x".repeat(ErrorText::MAX_CHARS));
        assert!(!exact.as_str().ends_with('…'));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        let text = ErrorText::from_bytes(b"HTTP 500: bad \xff\xfe body \x00 end");
        assert_eq!(text.as_str(), "HTTP 500: bad \u{fffd}\u{fffd} body  end");
    }

    #[test]
    fn statuses_and_triggers_have_snake_case_wire_names() {
        assert_eq!(RunStatus::TimedOut.as_str(), "timed_out");
        assert_eq!(RunStatus::parse("abandoned"), Ok(RunStatus::Abandoned));
        assert_eq!(RunTrigger::parse("retry"), Ok(RunTrigger::Retry));
        assert!(matches!(
            RunStatus::parse("exploded"),
            Err(Invalid::NotAChoice { .. })
        ));
    }

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
