//! Core errors → HTTP statuses and the original service's error shapes and sentences. The one
//! place that decides status codes and words; internal causes are logged here and never sent
//! to clients. The words of field errors are in [`wording`]; each operation documents exactly
//! the errors it can answer through its error type [`OpError<S>`], where the marker `S` lists
//! them (see `documented.rs` and [`errors`]).

mod documented;
mod wording;

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::Object;
use scheduler_core::{Conflict, ServiceError, ValidationErrors};

pub use documented::{ErrorDoc, ErrorSet, OpError, errors};
pub use wording::{DATETIME_FORMAT, FieldErrors, field_errors, wording};

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

/// The message of every 503.
pub const UNAVAILABLE: &str = "The job store is unavailable; try again shortly.";

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
    /// 409 `{"detail": "The run is not running."}`: a cancel came after it ended.
    RunEnded,
    /// 409 `{"detail": "The run is still running."}`: a replay asked before it ended.
    RunRunning,
    /// 404 `{"error": "Calendar not found"}`.
    CalendarNotFound,
    /// 409 `{"detail": ...}`: a job lists the calendar, so it cannot be deleted.
    CalendarInUse,
    /// 404 `{"error": "Channel not found"}`.
    ChannelNotFound,
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
            | Self::KeyNotFound
            | Self::CalendarNotFound
            | Self::ChannelNotFound => StatusCode::NOT_FOUND,
            Self::RunConflict | Self::RunEnded | Self::RunRunning | Self::CalendarInUse => {
                StatusCode::CONFLICT
            }
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
            Self::RunEnded => "The run is not running.",
            Self::RunRunning => "The run is still running; replay it once it has ended.",
            Self::CalendarNotFound => "Calendar not found",
            Self::ChannelNotFound => "Channel not found",
            Self::CalendarInUse => {
                "Jobs still exclude this calendar: remove it from their calendars first."
            }
            Self::Internal => "Internal server error.",
            Self::Unavailable => UNAVAILABLE,
        }
    }

    /// The status and JSON body.
    fn parts(&self) -> (StatusCode, serde_json::Value) {
        let body = match self {
            Self::Validation(fields) => serde_json::to_value(fields).unwrap_or_default(),
            // The original service's 404 bodies.
            Self::JobNotFound
            | Self::RunNotFound
            | Self::CalendarNotFound
            | Self::ChannelNotFound => {
                serde_json::json!({"error": self.message()})
            }
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
            ServiceError::Conflict(Conflict::RunEnded) => Self::RunEnded,
            ServiceError::CalendarNotFound => Self::CalendarNotFound,
            ServiceError::Conflict(Conflict::RunRunning) => Self::RunRunning,
            ServiceError::Conflict(Conflict::CalendarName) => {
                Self::Validation(FieldErrors::from([(
                    "name".to_string(),
                    vec!["calendar with this name already exists.".to_string()],
                )]))
            }
            ServiceError::Conflict(Conflict::CalendarInUse) => Self::CalendarInUse,
            ServiceError::ChannelNotFound => Self::ChannelNotFound,
            ServiceError::Conflict(Conflict::ChannelName) => {
                Self::Validation(FieldErrors::from([(
                    "name".to_string(),
                    vec!["channel with this name already exists.".to_string()],
                )]))
            }
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
