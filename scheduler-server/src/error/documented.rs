//! Which errors each operation documents: its error type [`OpError<S>`] answers an
//! [`ApiError`] and lists, in the OpenAPI document, exactly the answers its marker `S`
//! names ([`errors`]).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::registry::{
    MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::Type;
use scheduler_core::{ServiceError, ValidationErrors};

use super::{ApiError, Detail, ErrorMessage};

/// One documented error answer of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorDoc {
    /// 400: invalid fields or parameters.
    BadInput,
    /// 400, 413 and 415 of an operation with a JSON body: malformed JSON, too large, not JSON.
    BadBody,
    /// 404 Job not found.
    JobNotFound,
    /// 404 Run not found.
    RunNotFound,
    /// 404 Invalid page.
    InvalidPage,
    /// 404 Invalid cursor.
    InvalidCursor,
    /// 409 a run at the same instant.
    RunConflict,
    /// 409 the run is not running.
    RunEnded,
    /// 409 the run is still running.
    RunRunning,
    /// 503 store unavailable.
    Unavailable,
    /// 404 no such key.
    KeyNotFound,
    /// 404 no such calendar.
    CalendarNotFound,
    /// 409 a job lists the calendar.
    CalendarInUse,
    /// 404 no such channel.
    ChannelNotFound,
}

/// The errors an operation documents: a marker type per operation kind.
pub trait ErrorSet: Send + Sync + 'static {
    /// The documented answers.
    const DOCUMENTED: &'static [ErrorDoc];
}

/// The error type of one operation: an [`ApiError`], documented in the OpenAPI document as the
/// answers `S` lists.
#[derive(Debug)]
pub struct OpError<S>(pub ApiError, PhantomData<S>);

impl<S> OpError<S> {
    /// Wraps an error.
    pub fn new(error: ApiError) -> Self {
        Self(error, PhantomData)
    }
}

impl<S> From<ApiError> for OpError<S> {
    fn from(error: ApiError) -> Self {
        Self::new(error)
    }
}

impl<S> From<ServiceError> for OpError<S> {
    fn from(error: ServiceError) -> Self {
        Self::new(error.into())
    }
}

impl<S> From<ValidationErrors> for OpError<S> {
    fn from(errors: ValidationErrors) -> Self {
        Self::new(errors.into())
    }
}

impl<S: Send> IntoResponse for OpError<S> {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl<S: Send> From<OpError<S>> for poem::Error {
    fn from(error: OpError<S>) -> Self {
        poem::Error::from_response(error.0.into_response())
    }
}

fn json_response(status: u16, description: &'static str, schema: MetaSchemaRef) -> MetaResponse {
    MetaResponse {
        description,
        status: Some(status),
        status_range: None,
        content: vec![MetaMediaType {
            content_type: "application/json",
            schema,
        }],
        headers: vec![],
    }
}

/// `a Or: b`, as the `'static` text poem-openapi's registry wants: each distinct pair is
/// made once per process (there are only a few), not once per built document.
fn merged_description(a: &str, b: &str) -> &'static str {
    static MERGED: std::sync::OnceLock<std::sync::Mutex<BTreeMap<String, &'static str>>> =
        std::sync::OnceLock::new();
    let text = format!("{a} Or: {b}");
    let mut merged = scheduler_core::lock(MERGED.get_or_init(Default::default));
    merged
        .entry(text.clone())
        .or_insert_with(|| Box::leak(text.into_boxed_str()))
}

/// Adds `response`, or merges it into the answer already documented with its status (one
/// status, several possible bodies: their descriptions joined, their schemas as `anyOf`).
fn push_merged(responses: &mut Vec<MetaResponse>, response: MetaResponse) {
    let Some(same) = responses.iter_mut().find(|r| r.status == response.status) else {
        responses.push(response);
        return;
    };
    same.description = merged_description(same.description, response.description);
    let schemas: Vec<MetaSchemaRef> = same
        .content
        .drain(..)
        .chain(response.content)
        .map(|media| media.schema)
        .collect();
    same.content = vec![MetaMediaType {
        content_type: "application/json",
        schema: MetaSchemaRef::Inline(Box::new(MetaSchema {
            any_of: schemas,
            ..MetaSchema::ANY
        })),
    }];
}

/// The schema of `{"<field>": ["<message>", ...]}`.
fn field_errors_schema() -> MetaSchemaRef {
    MetaSchemaRef::Reference("FieldErrors".into())
}

fn register_field_errors(registry: &mut Registry) {
    registry.create_schema::<FieldErrorsDoc, _>("FieldErrors".into(), |_| MetaSchema {
        description: Some(
            "Every failing field (or query parameter) with its messages, e.g. \
             {\"cron_expression\": [\"Invalid CRON expression: ...\"]}.",
        ),
        additional_properties: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema {
            items: Some(Box::new(String::schema_ref())),
            ..MetaSchema::new("array")
        })))),
        ..MetaSchema::new("object")
    });
}

/// Stands for [`FieldErrors`] in the registry.
struct FieldErrorsDoc;

impl<S: ErrorSet> ApiResponse for OpError<S> {
    fn meta() -> MetaResponses {
        let mut responses = Vec::new();
        let documented = S::DOCUMENTED;
        let bad_input = documented.contains(&ErrorDoc::BadInput);
        let bad_body = documented.contains(&ErrorDoc::BadBody);
        if bad_input || bad_body {
            let (description, schema) = if bad_body {
                (
                    "Invalid input: `{\"<field>\": [\"<message>\", ...]}` naming every failing \
                     field (a duplicate name is `{\"name\": [\"job with this name already \
                     exists.\"]}`), or malformed JSON: `{\"detail\": \"JSON parse error - ...\"}`.",
                    MetaSchemaRef::Inline(Box::new(MetaSchema {
                        any_of: vec![field_errors_schema(), Detail::schema_ref()],
                        ..MetaSchema::ANY
                    })),
                )
            } else {
                (
                    "Invalid parameters: `{\"<param>\": [\"<message>\", ...]}` naming each.",
                    field_errors_schema(),
                )
            };
            responses.push(json_response(400, description, schema));
        }
        for doc in documented {
            let response = match doc {
                ErrorDoc::BadInput | ErrorDoc::BadBody => continue,
                ErrorDoc::JobNotFound => json_response(
                    404,
                    "No job with that id: `{\"error\": \"Job not found\"}`.",
                    ErrorMessage::schema_ref(),
                ),
                ErrorDoc::RunNotFound => json_response(
                    404,
                    "No run with that id: `{\"error\": \"Run not found\"}`.",
                    ErrorMessage::schema_ref(),
                ),
                ErrorDoc::InvalidPage => json_response(
                    404,
                    "The page is past the last page: `{\"detail\": \"Invalid page.\"}`.",
                    Detail::schema_ref(),
                ),
                ErrorDoc::InvalidCursor => json_response(
                    404,
                    "The cursor is unreadable, was changed, or belongs to another tenant or \
                     list: `{\"detail\": \"Invalid cursor\"}`.",
                    Detail::schema_ref(),
                ),
                ErrorDoc::RunConflict => json_response(
                    409,
                    "A run of this job started at the same instant: `{\"detail\": ...}`.",
                    Detail::schema_ref(),
                ),
                ErrorDoc::RunEnded => json_response(
                    409,
                    "The run is not running (it ended before the cancel): \
                     `{\"detail\": \"The run is not running.\"}`.",
                    Detail::schema_ref(),
                ),
                ErrorDoc::RunRunning => json_response(
                    409,
                    "The run is still running: `{\"detail\": \"The run is still running; \
                     replay it once it has ended.\"}`.",
                    Detail::schema_ref(),
                ),
                ErrorDoc::Unavailable => json_response(
                    503,
                    "The store is unavailable: `{\"detail\": ...}`. Retry later.",
                    Detail::schema_ref(),
                ),
                ErrorDoc::CalendarNotFound => json_response(
                    404,
                    "No calendar of that name in your tenant: \
                     `{\"error\": \"Calendar not found\"}`.",
                    ErrorMessage::schema_ref(),
                ),
                ErrorDoc::CalendarInUse => json_response(
                    409,
                    "Jobs still exclude the calendar: `{\"detail\": ...}`; remove it from \
                     their `calendars` first.",
                    Detail::schema_ref(),
                ),
                ErrorDoc::ChannelNotFound => json_response(
                    404,
                    "No channel of that name in your tenant: \
                     `{\"error\": \"Channel not found\"}`.",
                    ErrorMessage::schema_ref(),
                ),
                ErrorDoc::KeyNotFound => json_response(
                    404,
                    "No unrevoked key with that id in your tenant: `{\"detail\": \"Not found.\"}`.",
                    Detail::schema_ref(),
                ),
            };
            push_merged(&mut responses, response);
        }
        // Every operation with typed errors is behind the front door (crate::auth).
        push_merged(
            &mut responses,
            json_response(
                401,
                "No key, or an unknown or revoked one: `{\"detail\": ...}`, with \
                 `WWW-Authenticate: Bearer`.",
                Detail::schema_ref(),
            ),
        );
        push_merged(
            &mut responses,
            json_response(
                429,
                "The key is over its rate limit: `{\"detail\": \"Request was throttled. \
                 Expected available in N seconds.\"}` with `Retry-After: N`.",
                Detail::schema_ref(),
            ),
        );
        push_merged(
            &mut responses,
            json_response(
                403,
                "The key's scope does not allow this: `{\"detail\": \"You do not have \
                 permission to perform this action.\"}`.",
                Detail::schema_ref(),
            ),
        );
        if bad_body {
            responses.push(json_response(
                413,
                "The body is over 1 MiB: `{\"detail\": ...}`.",
                Detail::schema_ref(),
            ));
            responses.push(json_response(
                415,
                "The body is not `application/json`: `{\"detail\": ...}`.",
                Detail::schema_ref(),
            ));
        }
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        Detail::register(registry);
        ErrorMessage::register(registry);
        register_field_errors(registry);
    }
}

/// The error sets of the operations.
pub mod errors {
    use super::{ErrorDoc, ErrorSet};

    macro_rules! error_set {
        ($(#[$doc:meta])* $name:ident: [$($entry:ident),* $(,)?]) => {
            $(#[$doc])*
            #[derive(Debug)]
            pub struct $name;

            impl ErrorSet for $name {
                const DOCUMENTED: &'static [ErrorDoc] = &[$(ErrorDoc::$entry),*];
            }
        };
    }

    error_set!(
        /// POST a job.
        CreateJob: [BadBody, Unavailable]
    );
    error_set!(
        /// PUT or PATCH a job.
        ChangeJob: [BadBody, JobNotFound, Unavailable]
    );
    error_set!(
        /// GET, DELETE, pause or resume a job.
        OneJob: [JobNotFound, Unavailable]
    );
    error_set!(
        /// Pause a job (its `note` parameter may be refused).
        PauseJob: [BadInput, JobNotFound, Unavailable]
    );
    error_set!(
        /// Apply a file set of jobs.
        ApplyJobs: [BadBody, Unavailable]
    );
    error_set!(
        /// Pause or resume many jobs (the maintenance switch).
        Maintenance: [BadInput, Unavailable]
    );
    error_set!(
        /// List jobs.
        ListJobs: [BadInput, InvalidPage, InvalidCursor, Unavailable]
    );
    error_set!(
        /// List a job's runs.
        ListRuns: [BadInput, JobNotFound, InvalidPage, InvalidCursor, Unavailable]
    );
    error_set!(
        /// List runs across jobs.
        ListAllRuns: [BadInput, InvalidPage, InvalidCursor, Unavailable]
    );
    error_set!(
        /// Get a run.
        OneRun: [RunNotFound, Unavailable]
    );
    error_set!(
        /// Run a job now.
        RunNow: [JobNotFound, RunConflict, Unavailable]
    );
    error_set!(
        /// Backfill a job.
        Backfill: [BadBody, JobNotFound, Unavailable]
    );
    error_set!(
        /// Cancel a run.
        CancelRun: [RunNotFound, RunEnded, Unavailable]
    );
    error_set!(
        /// Replay a run.
        ReplayRun: [RunNotFound, RunRunning, Unavailable]
    );
    error_set!(
        /// Preview a cron expression (its `calendars` are the tenant's).
        Preview: [BadInput, Unavailable]
    );
    error_set!(
        /// Read the audit trail.
        Audit: [BadInput, InvalidCursor, Unavailable]
    );
    error_set!(
        /// Read a job's history.
        JobHistory: [BadInput, JobNotFound, InvalidCursor, Unavailable]
    );
    error_set!(
        /// Create or replace a calendar.
        SaveCalendar: [BadBody, Unavailable]
    );
    error_set!(
        /// List calendars.
        ListCalendars: [Unavailable]
    );
    error_set!(
        /// Get a calendar.
        OneCalendar: [CalendarNotFound, Unavailable]
    );
    error_set!(
        /// Delete a calendar.
        DeleteCalendar: [CalendarNotFound, CalendarInUse, Unavailable]
    );
    error_set!(
        /// Create or replace a channel.
        SaveChannel: [BadBody, Unavailable]
    );
    error_set!(
        /// List channels.
        ListChannels: [Unavailable]
    );
    error_set!(
        /// Get, delete or test a channel.
        OneChannel: [ChannelNotFound, Unavailable]
    );
    error_set!(
        /// List notifications.
        Notifications: [BadInput, Unavailable]
    );
    error_set!(
        /// Create or list keys.
        Keys: [BadBody, Unavailable]
    );
    error_set!(
        /// Revoke a key.
        OneKey: [KeyNotFound, Unavailable]
    );
}
