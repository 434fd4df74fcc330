//! The core's errors: what a use case can fail with, and what a port may report.

use std::fmt;

/// One failing input field and why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The wire name of the field (`name`, `cron_expression`, `page_size`, ...).
    pub field: String,
    /// A sentence for the user saying what is wrong.
    pub message: String,
}

/// Every failing field of one request, in the order they were found.
///
/// Collected rather than returned on the first failure so a client sees all of its mistakes
/// at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// A collection holding one error.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    /// Records that `field` failed with `message`.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
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
            if !self.has(&error.field) {
                self.0.push(error);
            }
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
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}

/// What a repository port may report. Adapters translate their driver errors into these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepositoryError {
    /// The row addressed by id does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule of the store rejected the write (e.g. a duplicate job name).
    #[error("conflict on {field}")]
    Conflict {
        /// The wire name of the field whose value is taken.
        field: String,
    },
    /// The store could not be reached or failed; the text is for logs, never for clients.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// What a use case of [`crate::service::JobService`] can fail with.
///
/// The server maps each variant to one HTTP status; internal causes are only logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// No job with that id.
    #[error("job not found")]
    NotFound,
    /// The input broke one or more rules.
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    /// The input is valid but collides with existing data (a duplicate name).
    #[error("conflict on {field}: {message}")]
    Conflict {
        /// The wire name of the colliding field.
        field: String,
        /// The message shown to the client.
        message: String,
    },
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
    fn from(error: RepositoryError) -> Self {
        match error {
            RepositoryError::NotFound => Self::NotFound,
            RepositoryError::Conflict { field } => Self::Conflict {
                message: format!("job with this {field} already exists."),
                field,
            },
            RepositoryError::Unavailable(cause) => Self::Unavailable(cause),
        }
    }
}
