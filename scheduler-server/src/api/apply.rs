//! `/scheduler/apply`: one owner's set of jobs made to match a file (`schedulerctl apply`),
//! in one transaction, or planned only (`dry_run`). Each job of the answer says what
//! happened to it and, for an update, which file fields changed from what to what.

use poem_openapi::{ApiResponse, Object, OpenApi};
use scheduler_core::{ApplyAction, ApplyOutcome, JobService, PlannedJob};
use serde_json::Value;

use super::body::read_apply;
use super::docs::{JobInputDoc, LooseBody};
use super::output::{FastJson, JobOut};
use super::tags::ApiTags;
use crate::auth::{Caller, Write};
use crate::error::{OpError, errors};

/// The fields of a job a file sets (the create body's): what an update's changes compare.
pub const FILE_FIELDS: [&str; 23] = [
    "description",
    "cron_expression",
    "interval_seconds",
    "run_at",
    "timezone",
    "start_time",
    "end_time",
    "max_runs",
    "jitter_seconds",
    "parameters",
    "is_active",
    "calendars",
    "on_excluded",
    "misfire_policy",
    "misfire_grace_seconds",
    "catch_up_window_seconds",
    "concurrency_policy",
    "max_retries",
    "retry_backoff_seconds",
    "timeout_seconds",
    "pause_after_failures",
    "dst_overlap",
    "target",
];

/// The body of an apply: the documented shape (read leniently, field by field).
#[derive(Object)]
#[oai(rename = "ApplyInput")]
pub struct ApplyInputDoc {
    /// Whose set this is: 1-64 characters of letters, digits, `-`, `_` and `.` (a team, a
    /// repository). Jobs created by the apply are managed by it; only its jobs are updated
    /// or pruned.
    pub owner: String,
    /// Every job of the set, each as the body of `POST /scheduler/jobs/`.
    pub jobs: Vec<JobInputDoc>,
    /// Delete the jobs `owner` manages that `jobs` does not list. Default false.
    pub prune: Option<bool>,
    /// Take over a listed job that no file manages yet (created through the API) instead of
    /// refusing its name. Default false.
    pub adopt: Option<bool>,
    /// Plan only: validate and compare, change nothing. Default false.
    pub dry_run: Option<bool>,
}

/// One file field an update changes.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "AppliedField")]
pub struct FieldChangeOut {
    /// The field's name, as in a job body.
    pub field: String,
    /// Its stored value (header values masked).
    pub before: Value,
    /// The file's value (header values masked).
    pub after: Value,
}

/// What an apply did (or would do) to one job.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "AppliedJob")]
pub struct AppliedJobOut {
    /// The job's name.
    pub name: String,
    /// `create`, `update`, `unchanged` or `delete`.
    pub action: String,
    /// The job's id (null for a create in a dry run).
    #[oai(nullable)]
    pub id: Option<i64>,
    /// For an update: each file field that changes.
    pub changes: Vec<FieldChangeOut>,
}

/// The answer of an apply.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "ApplyResult")]
pub struct ApplyOut {
    /// Whose set it was.
    pub owner: String,
    /// True when the changes were made (false for a dry run).
    pub applied: bool,
    /// Jobs created (or to create).
    pub created: usize,
    /// Jobs rewritten (or to rewrite).
    pub updated: usize,
    /// Jobs that already matched.
    pub unchanged: usize,
    /// Jobs deleted (or to delete).
    pub deleted: usize,
    /// Every job: the file's in file order, then the deletes.
    pub jobs: Vec<AppliedJobOut>,
}

/// The file fields of a job as the API shows them.
fn file_fields(job: &scheduler_core::Job) -> serde_json::Map<String, Value> {
    let Ok(Value::Object(mut shown)) = serde_json::to_value(JobOut::from(job.clone())) else {
        return serde_json::Map::new();
    };
    shown.retain(|key, _| FILE_FIELDS.contains(&key.as_str()));
    shown
}

/// The file fields that differ between `before` and `after`, in [`FILE_FIELDS`] order.
fn changed_fields(
    before: &scheduler_core::Job,
    after: &scheduler_core::Job,
) -> Vec<FieldChangeOut> {
    let (mut before, mut after) = (file_fields(before), file_fields(after));
    FILE_FIELDS
        .iter()
        .filter_map(|field| {
            let was = before.remove(*field).unwrap_or(Value::Null);
            let now = after.remove(*field).unwrap_or(Value::Null);
            (was != now).then(|| FieldChangeOut {
                field: (*field).to_string(),
                before: was,
                after: now,
            })
        })
        .collect()
}

impl From<PlannedJob> for AppliedJobOut {
    fn from(job: PlannedJob) -> Self {
        let changes = match (&job.before, &job.after, job.action) {
            (Some(before), Some(after), ApplyAction::Update) => changed_fields(before, after),
            _ => Vec::new(),
        };
        let id = job
            .after
            .as_ref()
            .or(job.before.as_ref())
            .map(|stored| stored.id.0)
            .filter(|id| *id > 0);
        let action: &'static str = job.action.into();
        Self {
            name: job.name().to_string(),
            action: action.to_string(),
            id,
            changes,
        }
    }
}

impl From<ApplyOutcome> for ApplyOut {
    fn from(outcome: ApplyOutcome) -> Self {
        Self {
            owner: outcome.owner.as_str().to_string(),
            applied: outcome.applied,
            created: outcome.count(ApplyAction::Create),
            updated: outcome.count(ApplyAction::Update),
            unchanged: outcome.count(ApplyAction::Unchanged),
            deleted: outcome.count(ApplyAction::Delete),
            jobs: outcome.jobs.into_iter().map(AppliedJobOut::from).collect(),
        }
    }
}

/// 200 with what the apply did.
#[derive(Debug, ApiResponse)]
pub enum Applied {
    /// The plan, and whether it was made.
    #[oai(status = 200)]
    Set(FastJson<ApplyOut>),
}

/// The apply endpoint (write scope).
pub struct ApplyApi {
    /// The job use cases.
    pub service: JobService,
}

#[OpenApi]
impl ApplyApi {
    /// Make one owner's set of jobs match a file: create the jobs no job has the name of,
    /// rewrite the ones that differ (a job paused by an operator stays paused unless the file
    /// sets `is_active`), leave the rest, and with `prune` delete the owner's jobs the file
    /// no longer lists. Every job is validated first (errors name `jobs[i].<field>`), then
    /// every change is made in one transaction: a failed apply changes nothing. A listed
    /// name that belongs to a job another owner manages, or one no file manages (unless
    /// `adopt`), is refused. `dry_run` answers the plan and changes nothing.
    #[oai(
        path = "/scheduler/apply",
        method = "post",
        tag = "ApiTags::Jobs",
        operation_id = "applyJobs"
    )]
    async fn apply(
        &self,
        caller: Caller<Write>,
        body: poem_openapi::payload::Json<LooseBody<ApplyInputDoc>>,
    ) -> Result<Applied, OpError<errors::ApplyJobs>> {
        let outcome = self
            .service
            .acting_as(caller.into_principal())
            .apply(read_apply(&body.0.raw)?)
            .await?;
        Ok(Applied::Set(FastJson(outcome.into())))
    }
}
