//! The core's errors: what is wrong with an input field ([`Invalid`], collected in
//! [`ValidationErrors`]), what a port may report ([`RepositoryError`]) and what a use case
//! can fail with ([`ServiceError`]).
//!
//! The core only says *what* is wrong, as data. The words a client reads (the original
//! service's Django sentences) are chosen by the HTTP layer.

use std::fmt;

use crate::schedule::CronParseError;

/// What is wrong with one input value. Every variant is a rule of the domain or of reading the
/// wire format; the server words each one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// A required field is absent.
    Required,
    /// A required query parameter is absent.
    RequiredParameter,
    /// The field is `null` where a value is needed.
    Null,
    /// The text is empty or only whitespace.
    Blank,
    /// The text is longer than `max` characters.
    TooLong {
        /// The longest text accepted, in characters.
        max: usize,
    },
    /// The text contains a NUL character (`\u0000`), which no store keeps faithfully.
    NulCharacter,
    /// Wire type: a string was expected.
    NotAString,
    /// Wire type: an integer was expected.
    NotAnInteger,
    /// Wire type: a boolean was expected.
    NotABoolean,
    /// Wire type: the instant could not be read.
    NotAnInstant,
    /// The request body is not a JSON object; `found` names what it is (`list`, `str`, ...).
    NotAnObjectBody {
        /// The JSON kind received.
        found: &'static str,
    },
    /// A number below `min` where only `min` and above are accepted.
    BelowMinimum {
        /// The smallest value accepted.
        min: i64,
    },
    /// A number outside `min..=max`.
    OutOfRange {
        /// The smallest value accepted.
        min: i64,
        /// The largest value accepted.
        max: i64,
    },
    /// A value that is not one of a fixed set of choices.
    NotAChoice {
        /// The value received.
        value: String,
        /// The values accepted.
        choices: &'static [&'static str],
    },
    /// An IANA time-zone name that does not exist.
    UnknownTimezone {
        /// The name received.
        name: String,
    },
    /// The cron expression does not parse or never fires.
    Cron(CronParseError),
    /// `end_time` is not after `start_time`.
    EndNotAfterStart,
    /// More than one of `cron_expression`, `interval_seconds` and `run_at` was given.
    OneScheduleKind,
    /// A `run_at` that is not after now.
    RunAtNotAhead,
    /// A `run_at` before `start_time` or after `end_time`: it would never fire.
    RunAtOutsideWindow,
    /// A pause's `until` that is not after now.
    UntilNotAhead,
    /// A backfill's `to` not after its `from`.
    ToNotAfterFrom,
    /// A backfill's `to` in the future.
    ToInFuture,
    /// A backfill range holding more than `max` fires.
    TooManyFires {
        /// The most fires one backfill may create.
        max: usize,
    },
    /// A jitter not below the smallest gap between the schedule's fires (jittered fires
    /// could swap order).
    JitterNotBelowGap {
        /// The smallest gap, in seconds.
        gap_seconds: i64,
    },
    /// `scheduled_before` is not after `scheduled_after`.
    BeforeNotAfterAfter,
    /// `parameters` is not a JSON object.
    ParametersNotAnObject,
    /// `parameters` is larger than `max` bytes when serialized.
    ParametersTooLarge {
        /// The largest size accepted, in bytes.
        max: usize,
        /// The size received, in bytes.
        size: usize,
    },
    /// The HTTP target is malformed.
    Target(TargetError),
    /// A tenant name that is not 1-64 characters of `a-z`, `0-9`, `-`, `_`.
    TenantName,
    /// A list asked for both a numbered page and a cursor.
    CursorWithPage,
    /// A calendar name that is not 1-64 characters of ASCII letters, digits, `-`, `_`, `.`
    /// starting with a letter or digit.
    CalendarName,
    /// A calendar entry that is not an object with `date`, or `from` and `to` (and optionally
    /// `yearly` and `label`).
    CalendarEntry,
    /// A date that is not a real `YYYY-MM-DD` day.
    NotADate,
    /// An owner name (of jobs applied from files) that is not 1-64 characters of ASCII
    /// letters, digits, `-`, `_`, `.` starting with a letter or digit.
    OwnerName,
    /// A job applied from a file whose name belongs to a job the file's owner does not
    /// manage (created through the API, declared in code, or another owner's).
    ManagedElsewhere {
        /// The job's name.
        name: String,
        /// The owner managing it, if any.
        owner: Option<String>,
    },
    /// A date range whose `to` is before its `from`.
    DateRangeReversed,
    /// A yearly range of a year or more.
    YearlyRangeTooLong,
    /// A list longer than `max` items.
    TooMany {
        /// The most items accepted.
        max: usize,
    },
    /// Wire type: a list was expected.
    NotAList,
    /// The same name twice in one list.
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// A calendar name the tenant has no calendar of.
    UnknownCalendar {
        /// The name received.
        name: String,
    },
    /// A channel name that is not 1-64 characters of ASCII letters, digits, `-`, `_`, `.`
    /// starting with a letter or digit.
    ChannelName,
    /// Not an e-mail address.
    EmailAddress,
    /// A field this kind of channel does not take.
    NotForKind {
        /// The channel's kind.
        kind: &'static str,
    },
}

/// One failing input field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The wire name of the field (`name`, `cron_expression`, `page_size`, ...).
    pub field: String,
    /// What is wrong.
    pub problem: Invalid,
}

/// Every failing field of one request, in the order they were found.
///
/// Collected rather than returned on the first failure so a client sees all of its mistakes
/// at once. A field has at most one error: later checks of a field that already failed are
/// skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// A collection holding one error.
    pub fn single(field: impl Into<String>, problem: Invalid) -> Self {
        let mut errors = Self::new();
        errors.add(field, problem);
        errors
    }

    /// Records that `field` failed with `problem`, unless it already failed.
    pub fn add(&mut self, field: impl Into<String>, problem: Invalid) {
        let field = field.into();
        if !self.has(&field) {
            self.0.push(FieldError { field, problem });
        }
    }

    /// True when `field` already has an error (later checks of it are then skipped).
    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    /// True when nothing failed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors in the order found.
    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }

    /// Appends every error of `other` whose field has no error yet.
    pub fn merge(&mut self, other: ValidationErrors) {
        for error in other.0 {
            self.add(error.field, error.problem);
        }
    }

    /// `Ok(value)` when empty, otherwise these errors.
    pub fn into_result<T>(self, value: T) -> Result<T, ValidationErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// The value of `result`, or `None` after recording its error for `field`. A field that
    /// already failed keeps its first error.
    pub fn check<T>(&mut self, field: &str, result: Result<T, Invalid>) -> Option<T> {
        result.map_err(|problem| self.add(field, problem)).ok()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {:?}", e.field, e.problem))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}

/// Which uniqueness rule a write broke, decided by the store's constraint name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// Another job has this name (`jobs_name_key`).
    JobName,
    /// A run of this job for this fire and attempt exists (`job_runs_fire_key`).
    RunFire,
    /// The run is no longer running (a cancel came after it ended).
    RunEnded,
    /// The run is still running (a replay asked before it ended).
    RunRunning,
    /// The tenant has a calendar of this name (`calendars_tenant_name_key`).
    CalendarName,
    /// The calendar is listed by one of the tenant's jobs, so it cannot be deleted.
    CalendarInUse,
    /// The tenant has a channel of this name (`channels_tenant_name_key`).
    ChannelName,
}

/// What a repository port may report. Adapters translate their driver errors into these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepositoryError {
    /// The row addressed by id does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule of the store rejected the write.
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// The store refused the statement for its content (a value it cannot keep). Domain limits
    /// exist so this never happens; the text is for logs.
    #[error("the store refused the values: {0}")]
    Rejected(String),
    /// The store could not be reached or failed; the text is for logs, never for clients.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// What a use case of [`crate::service::JobService`] or [`crate::RunService`] can
/// fail with.
///
/// The server maps each variant to one HTTP status; internal causes are only logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// No job with that id.
    #[error("job not found")]
    JobNotFound,
    /// No run with that id.
    #[error("run not found")]
    RunNotFound,
    /// No unrevoked API key with that id (in the caller's tenant).
    #[error("key not found")]
    KeyNotFound,
    /// No calendar of that name in the caller's tenant.
    #[error("calendar not found")]
    CalendarNotFound,
    /// No channel of that name in the caller's tenant.
    #[error("channel not found")]
    ChannelNotFound,
    /// The page number is past the last page.
    #[error("invalid page")]
    InvalidPage,
    /// The cursor is unreadable, was changed, or belongs to another tenant or list.
    #[error("invalid cursor")]
    InvalidCursor,
    /// The input broke one or more rules.
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    /// The input is valid but collides with existing data.
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// The store refused a value that passed validation: a gap in the domain's limits. The
    /// text is for logs.
    #[error("the store refused a valid value: {0}")]
    Rejected(String),
    /// The store is down or failing; retry later. The text is for logs.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl From<ValidationErrors> for ServiceError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Validation(errors)
    }
}

impl From<RepositoryError> for ServiceError {
    /// A missing row is a missing job: run lookups map `None` to [`ServiceError::RunNotFound`]
    /// themselves.
    fn from(error: RepositoryError) -> Self {
        match error {
            RepositoryError::NotFound => Self::JobNotFound,
            RepositoryError::Conflict(conflict) => Self::Conflict(conflict),
            RepositoryError::Rejected(cause) => Self::Rejected(cause),
            RepositoryError::Unavailable(cause) => Self::Unavailable(cause),
        }
    }
}

/// What is wrong with an HTTP target; the server words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// The target is not a JSON object.
    NotAnObject,
    /// `type` is absent or not `"http"`.
    TypeNotHttp,
    /// `url` is absent or not a string.
    UrlMissing,
    /// `url` is not an `http://` or `https://` URL.
    UrlScheme,
    /// `url` names no host, or contains whitespace.
    UrlNoHost,
    /// `url` is longer than [`crate::HttpTarget::MAX_URL_CHARS`].
    UrlTooLong,
    /// `method` is not one of [`crate::HttpTarget::METHODS`].
    MethodNotAllowed,
    /// `method` is not a string.
    MethodNotAString,
    /// `headers` is not an object of strings.
    HeadersNotAnObject,
    /// More than [`crate::HttpTarget::MAX_HEADERS`] headers.
    TooManyHeaders,
    /// This header's value is not a string.
    HeaderNotAString {
        /// The header's name.
        name: String,
    },
    /// This header's name or value is not valid in HTTP, or too long.
    HeaderInvalid {
        /// The header's name.
        name: String,
    },
    /// This header is set by the scheduler or by HTTP itself ([`crate::HttpTarget::is_reserved`]):
    /// a target may not set or override it.
    HeaderReserved {
        /// The header's name, as sent.
        name: String,
    },
    /// A NUL character in the URL or a header.
    NulCharacter,
    /// `url` does not parse (the parser's reason).
    UrlInvalid(String),
    /// `url` carries credentials (`user:pass@`); they belong in `headers`, which are never
    /// returned.
    UrlCredentials,
    /// `url` reaches an address the SSRF guard refuses (the guard's reason).
    Forbidden(String),
    /// A header value is the mask `***` but there is no stored value of that header to keep.
    MaskedWithoutValue {
        /// The header's name.
        name: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_keeps_its_first_error() {
        let mut errors = ValidationErrors::single("name", Invalid::NotAString);
        errors.add("name", Invalid::Required);
        errors.merge(ValidationErrors::single("name", Invalid::Blank));
        errors.add("description", Invalid::NulCharacter);
        let found: Vec<(&str, &Invalid)> = errors
            .iter()
            .map(|e| (e.field.as_str(), &e.problem))
            .collect();
        assert_eq!(
            found,
            [
                ("name", &Invalid::NotAString),
                ("description", &Invalid::NulCharacter)
            ]
        );
    }

    #[test]
    fn check_records_failures_and_passes_values_through() {
        let mut errors = ValidationErrors::new();
        assert_eq!(errors.check("a", Ok::<_, Invalid>(3)), Some(3));
        assert_eq!(errors.check::<u8>("b", Err(Invalid::Blank)), None);
        assert!(errors.has("b") && !errors.has("a"));
        assert_eq!(
            errors.into_result(()),
            Err(ValidationErrors::single("b", Invalid::Blank))
        );
    }
}
