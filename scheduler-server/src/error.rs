//! Core errors → HTTP statuses and the original service's error shapes and sentences. The one
//! place that decides status codes and words; internal causes are logged here and never sent
//! to clients.
//!
//! Each operation documents exactly the errors it can answer: its error type is
//! [`OpError<S>`], where the marker `S` lists them (see [`errors`]).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::registry::{
    MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};
use scheduler_core::{Conflict, Invalid, ServiceError, TargetError, ValidationErrors};

/// `{"detail": "..."}`: errors about the request as a whole.
#[derive(Debug, Clone, Object)]
pub struct Detail {
    /// What went wrong.
    pub detail: String,
}

/// `{"error": "Job not found"}`: the original's 404 body.
#[derive(Debug, Clone, Object)]
pub struct ErrorMessage {
    /// What went wrong.
    pub error: String,
}

/// Field errors in the original's shape: `{"<field>": ["<message>", ...]}`.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// The message of every 503.
pub const UNAVAILABLE: &str = "The job store is unavailable; try again shortly.";

/// The message for an instant that cannot be read (the original's wording).
pub const DATETIME_FORMAT: &str = "Datetime has wrong format. Use one of these formats instead: \
     YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

/// `a`, `a or b`, `a, b or c`.
fn either(choices: &[&str]) -> String {
    match choices.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// What a target problem is called in the original's style.
fn target_wording(problem: &TargetError) -> String {
    match problem {
        TargetError::NotAnObject => {
            "Must be a JSON object like {\"type\": \"http\", \"url\": \"https://...\"}.".into()
        }
        TargetError::TypeNotHttp => "\"type\" must be \"http\".".into(),
        TargetError::UrlMissing => "\"url\" is required.".into(),
        TargetError::UrlScheme => "\"url\" must be an http:// or https:// URL.".into(),
        TargetError::UrlNoHost => "\"url\" must name a host.".into(),
        TargetError::UrlTooLong => format!(
            "\"url\" must be at most {} characters.",
            scheduler_core::HttpTarget::MAX_URL_CHARS
        ),
        TargetError::MethodNotAllowed => format!(
            "\"method\" must be {}.",
            either(&scheduler_core::HttpTarget::METHODS)
        ),
        TargetError::MethodNotAString => "\"method\" must be a string.".into(),
        TargetError::HeadersNotAnObject => "\"headers\" must be an object of strings.".into(),
        TargetError::TooManyHeaders => format!(
            "At most {} headers are allowed.",
            scheduler_core::HttpTarget::MAX_HEADERS
        ),
        TargetError::HeaderNotAString { name } => format!("header \"{name}\" must be a string."),
        TargetError::HeaderInvalid { name } => {
            format!("header \"{name}\" is not a valid HTTP header.")
        }
        TargetError::HeaderReserved { name } => format!(
            "header \"{name}\" may not be set: the scheduler sets it, or it belongs to the \
             HTTP connection (Host, Content-Length, Transfer-Encoding, Content-Type, \
             Connection and other hop-by-hop headers, Expect, Scheduler-*, Idempotency-Key, \
             trace context)."
        ),
        TargetError::NulCharacter => "Null characters are not allowed.".into(),
        TargetError::UrlInvalid(why) => format!("\"url\" is not a valid URL: {why}."),
        TargetError::UrlCredentials => "\"url\" must not contain credentials: send them in \
            \"headers\" (e.g. Authorization), whose values are never returned."
            .into(),
        TargetError::Forbidden(why) => format!(
            "\"url\" may not be reached: {why}. An operator can open internal targets with \
             SCHEDULER_TARGET_ALLOW."
        ),
        TargetError::MaskedWithoutValue { name } => format!(
            "header \"{name}\" is \"***\" (a hidden stored value) but the job has no such \
             header to keep: send its value."
        ),
    }
}

/// The sentence a client reads for `problem` in `field`.
pub fn wording(field: &str, problem: &Invalid) -> String {
    match problem {
        Invalid::Required => "This field is required.".into(),
        Invalid::RequiredParameter => "This parameter is required.".into(),
        Invalid::Null => "This field may not be null.".into(),
        Invalid::Blank => "This field may not be blank.".into(),
        Invalid::TooLong { max } => format!("Ensure this field has no more than {max} characters."),
        Invalid::NulCharacter => "Null characters are not allowed.".into(),
        Invalid::CursorWithPage => "Send either page or cursor, not both.".into(),
        Invalid::NotAString => "Not a valid string.".into(),
        Invalid::NotAnInteger => "A valid integer is required.".into(),
        Invalid::NotABoolean => "Must be a valid boolean.".into(),
        Invalid::NotAnInstant => DATETIME_FORMAT.into(),
        Invalid::NotAnObjectBody { found } => {
            format!("Invalid data. Expected a dictionary, but got {found}.")
        }
        Invalid::BelowMinimum { min } => {
            format!("Ensure this value is greater than or equal to {min}.")
        }
        Invalid::OutOfRange { min, max } => {
            format!("Ensure this value is between {min} and {max}.")
        }
        Invalid::NotAChoice { value, choices } if field == "ordering" => format!(
            "Select a valid choice. '{value}' is not one of: {}.",
            choices.join(", ")
        ),
        Invalid::NotAChoice { value, choices } => {
            format!(
                "\"{value}\" is not a valid choice: use {}.",
                either(choices)
            )
        }
        Invalid::UnknownTimezone { name } => {
            format!("Unknown time zone '{name}': use an IANA name such as 'Europe/London'.")
        }
        Invalid::Cron(error) => format!("Invalid CRON expression: {error}"),
        Invalid::EndNotAfterStart => "end_time must be after start_time.".into(),
        Invalid::BeforeNotAfterAfter => "scheduled_before must be after scheduled_after.".into(),
        Invalid::ParametersNotAnObject => "Must be a JSON object.".into(),
        Invalid::ParametersTooLarge { max, size } => {
            format!("Must be at most {max} bytes when serialized (got {size}).")
        }
        Invalid::Target(problem) => target_wording(problem),
        Invalid::TenantName => "Enter 1-64 characters: lowercase letters, digits, - and _, \
             starting with a letter or digit."
            .into(),
    }
}

/// Converts collected validation errors into the wire shape, worded.
pub fn field_errors(errors: &ValidationErrors) -> FieldErrors {
    let mut out = FieldErrors::new();
    for error in errors.iter() {
        out.entry(error.field.clone())
            .or_default()
            .push(wording(&error.field, &error.problem));
    }
    out
}

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 400 `{"<field>": ["<message>", ...]}` naming every failing field.
    Validation(FieldErrors),
    /// 404 `{"error": "Job not found"}`.
    JobNotFound,
    /// 404 `{"error": "Run not found"}`.
    RunNotFound,
    /// 404 `{"detail": "Not found."}`: no such unrevoked key in the caller's tenant.
    KeyNotFound,
    /// 404 `{"detail": "Invalid page."}`.
    InvalidPage,
    /// 404 `{"detail": "Invalid cursor"}` (DRF's words): unreadable, changed, or another
    /// tenant's or list's cursor.
    InvalidCursor,
    /// 409 `{"detail": ...}`: a run of this job for this instant exists.
    RunConflict,
    /// 500 `{"detail": "Internal server error."}`; the cause is logged.
    Internal,
    /// 503 `{"detail": ...}`: the store is down; retry later.
    Unavailable,
}

impl ApiError {
    /// The HTTP status of this error, for the API and the dashboard alike.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::BAD_REQUEST,
            Self::JobNotFound
            | Self::RunNotFound
            | Self::InvalidPage
            | Self::InvalidCursor
            | Self::KeyNotFound => StatusCode::NOT_FOUND,
            Self::RunConflict => StatusCode::CONFLICT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The sentence the client reads (field errors have their own, by field).
    pub fn message(&self) -> &'static str {
        match self {
            Self::Validation(_) => "Invalid input.",
            Self::JobNotFound => "Job not found",
            Self::RunNotFound => "Run not found",
            Self::InvalidPage => "Invalid page.",
            Self::InvalidCursor => "Invalid cursor",
            Self::KeyNotFound => "Not found.",
            Self::RunConflict => "A run of this job was started at the same instant; try again.",
            Self::Internal => "Internal server error.",
            Self::Unavailable => UNAVAILABLE,
        }
    }

    /// The status and JSON body.
    fn parts(&self) -> (StatusCode, serde_json::Value) {
        let body = match self {
            Self::Validation(fields) => serde_json::to_value(fields).unwrap_or_default(),
            // The original service's 404 bodies.
            Self::JobNotFound | Self::RunNotFound => serde_json::json!({"error": self.message()}),
            _ => serde_json::json!({"detail": self.message()}),
        };
        (self.status(), body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.parts();
        poem::web::Json(body).with_status(status).into_response()
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Validation(field_errors(&errors))
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::JobNotFound => Self::JobNotFound,
            ServiceError::RunNotFound => Self::RunNotFound,
            ServiceError::KeyNotFound => Self::KeyNotFound,
            ServiceError::InvalidPage => Self::InvalidPage,
            ServiceError::InvalidCursor => Self::InvalidCursor,
            ServiceError::Validation(errors) => errors.into(),
            ServiceError::Conflict(Conflict::JobName) => Self::Validation(FieldErrors::from([(
                "name".to_string(),
                vec!["job with this name already exists.".to_string()],
            )])),
            ServiceError::Conflict(Conflict::RunFire) => Self::RunConflict,
            ServiceError::Rejected(cause) => {
                tracing::error!(%cause, "the store refused a value that passed validation");
                Self::Internal
            }
            ServiceError::Unavailable(cause) => {
                tracing::error!(%cause, "job store unavailable");
                Self::Unavailable
            }
        }
    }
}

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
    /// 503 store unavailable.
    Unavailable,
    /// 404 no such key.
    KeyNotFound,
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
                ErrorDoc::Unavailable => json_response(
                    503,
                    "The store is unavailable: `{\"detail\": ...}`. Retry later.",
                    Detail::schema_ref(),
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
        /// Preview a cron expression.
        Preview: [BadInput]
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

/// Turns any error that escaped the typed handlers (bad JSON, wrong content type, unknown
/// route, wrong method, body too large, ...) into a JSON `{"detail": ...}` body with the same
/// status. Never echoes internals: only poem's client-facing reasons are used.
pub async fn render_uncaught(error: poem::Error) -> Response {
    if error.is_from_response() {
        // A typed API answer (e.g. `ApiError`) travelling as an error: send it as built.
        return error.into_response();
    }
    let status = error.status();
    let detail = if error.is::<poem_openapi::error::ParseRequestPayloadError>() {
        format!("JSON parse error - {error}")
    } else {
        match status {
            StatusCode::NOT_FOUND => "Not found.".to_string(),
            StatusCode::METHOD_NOT_ALLOWED => "Method not allowed.".to_string(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                format!("Unsupported media type: {error}. Send application/json.")
            }
            StatusCode::PAYLOAD_TOO_LARGE => {
                "Request body is too large: the limit is 1 MiB.".to_string()
            }
            s if s.is_server_error() => {
                tracing::error!(%error, "unhandled server error");
                "Internal server error.".to_string()
            }
            _ => error.to_string(),
        }
    };
    poem::web::Json(serde_json::json!({ "detail": detail }))
        .with_status(status)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_are_listed_in_plain_english() {
        assert_eq!(either(&["a"]), "a");
        assert_eq!(either(&["a", "b"]), "a or b");
        assert_eq!(either(&["a", "b", "c"]), "a, b or c");
        assert_eq!(
            wording(
                "misfire_policy",
                &Invalid::NotAChoice {
                    value: "x".into(),
                    choices: &["fire_once", "skip"]
                }
            ),
            "\"x\" is not a valid choice: use fire_once or skip."
        );
    }

    #[test]
    fn the_original_sentences_are_kept() {
        assert_eq!(
            wording("name", &Invalid::NulCharacter),
            "Null characters are not allowed."
        );
        assert_eq!(
            wording("name", &Invalid::TooLong { max: 255 }),
            "Ensure this field has no more than 255 characters."
        );
        assert_eq!(
            wording("page", &Invalid::BelowMinimum { min: 1 }),
            "Ensure this value is greater than or equal to 1."
        );
    }
}
