//! The API paths the commands call that more than one command builds.

/// The runs collection: one job's (`/scheduler/jobs/{id}/runs/`, which answers 404 for an
/// unknown job) or every job's.
pub(crate) fn runs_path(job: Option<i64>) -> String {
    match job {
        Some(id) => format!("/scheduler/jobs/{id}/runs/"),
        None => "/scheduler/runs/".into(),
    }
}
