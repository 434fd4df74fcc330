//! [`Error`]: what went wrong starting or stopping a [`crate::Scheduler`], each cause named.

use scheduler_core::{ServiceError, ValidationErrors};

/// What went wrong starting or stopping a [`crate::Scheduler`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No database was given.
    #[error("no database: call .database(url) or .connection(pool)")]
    NoDatabase,
    /// The database could not be reached or migrated.
    #[error("database {url}: {cause}")]
    Database {
        /// The URL, password masked.
        url: String,
        /// What the driver said.
        cause: String,
    },
    /// A declared schedule is invalid; every problem is named.
    #[error("schedule \"{name}\": {errors}")]
    Schedule {
        /// The schedule's name.
        name: String,
        /// What is wrong, by field.
        errors: ValidationErrors,
    },
    /// A declared calendar is invalid; every problem is named.
    #[error("calendar \"{name}\": {errors}")]
    Calendar {
        /// The calendar's name.
        name: String,
        /// What is wrong, by field.
        errors: ValidationErrors,
    },
    /// A declared schedule names no handler, or its parameters fit none.
    #[error("schedule \"{name}\": {reason}")]
    Handler {
        /// The schedule's name.
        name: String,
        /// Why no handler was found.
        reason: String,
    },
    /// The store failed while reconciling.
    #[error("job store: {0}")]
    Store(String),
    /// The dispatcher's settings contradict each other (e.g. a shutdown grace not shorter
    /// than the lease).
    #[error("dispatcher settings: {0}")]
    Dispatcher(String),
}

impl Error {
    pub(crate) fn from_service(name: &str, error: ServiceError) -> Self {
        match error {
            ServiceError::Validation(errors) => Error::Schedule {
                name: name.to_string(),
                errors,
            },
            other => Error::Store(other.to_string()),
        }
    }
}
