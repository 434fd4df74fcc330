//! The dashboard's error pages: a use case's error with the status and sentence the API
//! answers with, bad parameters named, a read-only key refused a write form, a key without
//! the admin scope refused an admins' page.

use poem::Response;
use poem::http::StatusCode;
use scheduler_core::ServiceError;

use super::layout::message_page;
use super::paging::ListError;
use crate::error::{ApiError, FieldErrors, field_errors};

/// The page for an error of a use case (causes were logged by the mapping): the status and
/// sentence the API answers with, as a page.
pub(crate) fn error_page(error: ServiceError) -> Response {
    let error = ApiError::from(error);
    let status = error.status();
    match error {
        ApiError::Validation(fields) => invalid_page(&fields),
        ApiError::InvalidPage => message_page(status, "No such page", error.message()),
        ApiError::InvalidCursor => message_page(
            status,
            "No such page",
            "Invalid cursor: this link was made for another list; start from the first page.",
        ),
        ApiError::RunConflict => message_page(status, "Try again", error.message()),
        ApiError::RunEnded => message_page(status, "Already ended", error.message()),
        ApiError::RunRunning => message_page(status, "Still running", error.message()),
        ApiError::CalendarInUse => message_page(status, "In use", error.message()),
        ApiError::Unavailable => message_page(status, "Unavailable", error.message()),
        ApiError::Internal => message_page(status, "Error", error.message()),
        ApiError::JobNotFound
        | ApiError::RunNotFound
        | ApiError::KeyNotFound
        | ApiError::CalendarNotFound
        | ApiError::ChannelNotFound => message_page(status, "Not found", error.message()),
    }
}

/// A 400 page listing bad parameters by name.
pub(crate) fn invalid_page(fields: &FieldErrors) -> Response {
    let text = fields
        .iter()
        .map(|(field, problems)| format!("{field}: {}", problems.join(" ")))
        .collect::<Vec<_>>()
        .join("; ");
    message_page(StatusCode::BAD_REQUEST, "Invalid request", &text)
}

pub(crate) fn list_error_page(error: ListError) -> Response {
    match error {
        ListError::Invalid(errors) => invalid_page(&field_errors(&errors)),
        ListError::Service(error) => error_page(error),
    }
}

/// The page refusing a read-only key a write form.
pub(crate) fn read_only_page() -> Response {
    message_page(
        StatusCode::FORBIDDEN,
        "Read-only key",
        "Your key may only read: changing, running, pausing and deleting jobs need a key \
         with the write scope.",
    )
}

/// The page refusing a key without the admin scope a page only admins see (the audit
/// trail).
pub(crate) fn admin_only_page() -> Response {
    message_page(
        StatusCode::FORBIDDEN,
        "Admins only",
        "Your key may not see this page: the audit trail needs a key with the admin scope.",
    )
}

/// Field errors of a failed create or update, or the page for any other failure.
pub(crate) fn form_errors(error: ServiceError) -> Result<FieldErrors, Box<Response>> {
    match ApiError::from(error) {
        ApiError::Validation(fields) => Ok(fields),
        ApiError::JobNotFound => Err(Box::new(error_page(ServiceError::JobNotFound))),
        ApiError::Unavailable => Err(Box::new(error_page(ServiceError::Unavailable(
            String::new(),
        )))),
        _ => Err(Box::new(message_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error",
            "Internal server error.",
        ))),
    }
}
