//! The groups Swagger UI shows the operations in.

/// Swagger tags.
#[derive(poem_openapi::Tags)]
pub enum ApiTags {
    /// Jobs: create, read, list, update, delete, pause, resume.
    Jobs,
    /// Pause or resume many jobs at once (a maintenance switch).
    Maintenance,
    /// Run history and manual runs.
    Runs,
    /// Named calendars of excluded days (holidays, freezes) that jobs list.
    Calendars,
    /// Who changed what and when: the audit trail.
    Audit,
    /// Being told when runs fail, time out or go missing: channels and notifications.
    Notifications,
    /// Cron expression tools.
    Cron,
    /// Liveness and readiness.
    Health,
    /// API keys of your tenant (admin scope).
    Keys,
}
