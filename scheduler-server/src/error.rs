//! Core errors → HTTP statuses and the original service's error shapes. The one place that
//! decides status codes; internal causes are logged here and never sent to clients.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use scheduler_core::{ServiceError, ValidationErrors};

use crate::api::dto::{FieldErrors, field_errors};

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
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// Invalid input: `{"<field>": ["<message>", ...]}` naming every failing field (a
    /// duplicate name is `{"name": ["job with this name already exists."]}`). Malformed JSON is
    /// `{"detail": "JSON parse error - ..."}`.
    #[oai(status = 400)]
    Validation(Json<FieldErrors>),
    /// No job with that id: `{"error": "Job not found"}`.
    #[oai(status = 404)]
    NotFound(Json<ErrorMessage>),
    /// The body is over 1 MiB: `{"detail": "..."}`.
    #[oai(status = 413)]
    TooLarge(Json<Detail>),
    /// The body is not `application/json`: `{"detail": "..."}`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<Detail>),
    /// The store is down: `{"detail": "..."}`. Retry later.
    #[oai(status = 503)]
    Unavailable(Json<Detail>),
}

impl ApiError {
    /// The 404 for an unknown (or non-numeric) job id.
    pub fn job_not_found() -> Self {
        Self::NotFound(Json(ErrorMessage {
            error: "Job not found".into(),
        }))
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Validation(Json(field_errors(&errors)))
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NotFound => Self::job_not_found(),
            ServiceError::Validation(errors) => errors.into(),
            ServiceError::Conflict { field, message } => {
                Self::Validation(Json(FieldErrors::from([(field, vec![message])])))
            }
            ServiceError::Unavailable(cause) => {
                tracing::error!(%cause, "job store unavailable");
                Self::Unavailable(Json(Detail {
                    detail: UNAVAILABLE.into(),
                }))
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
