//! The sea-orm entity of the `job_runs` table and its conversion to the core `Run`.

use scheduler_core::{JobId, RepositoryError, Run, RunId, RunStatus, RunTrigger, WireEnum};
use sea_orm::entity::prelude::*;

/// One row of `job_runs`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "job_runs")]
pub(crate) struct Model {
    /// Identity.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The job (cascade-deleted with it).
    pub job_id: i64,
    /// The fire served.
    pub scheduled_for: DateTimeUtc,
    /// When a jittered fire was due.
    pub due_at: Option<DateTimeUtc>,
    /// `schedule`, `manual` or `retry`.
    pub trigger: String,
    /// Attempt number for this fire.
    pub attempt: i32,
    /// Failure retries used.
    pub retries: i32,
    /// Throttled attempts at the fire so far.
    pub throttles: i32,
    /// `running`, `succeeded`, ...
    pub status: String,
    /// Start instant.
    pub started_at: DateTimeUtc,
    /// End instant.
    pub finished_at: Option<DateTimeUtc>,
    /// Last heartbeat while running.
    pub heartbeat_at: DateTimeUtc,
    /// When a retry is due.
    pub retry_at: Option<DateTimeUtc>,
    /// Failure or skip reason.
    pub error: Option<String>,
    /// Executing replica.
    pub worker: String,
    /// For a replay: the run replayed (unique: a run is replayed once).
    pub replay_of: Option<i64>,
}

/// `job_runs` relations are not navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The update recording runs `cancelled` at `at` with `error`, their retry cleared (a
/// cancelled run is never retried); the caller says which runs.
pub(crate) fn cancel_update(error: &str, at: DateTimeUtc) -> sea_orm::UpdateMany<Entity> {
    Entity::update_many()
        .col_expr(Column::Status, Expr::value(RunStatus::Cancelled.as_str()))
        .col_expr(Column::Error, Expr::value(Some(error.to_string())))
        .col_expr(Column::FinishedAt, Expr::value(Some(super::micros(at))))
        .col_expr(Column::RetryAt, Expr::value(None::<DateTimeUtc>))
}

impl Model {
    /// The core run this row stores.
    ///
    /// # Errors
    /// `Unavailable` when a stored enum value is unknown.
    pub(crate) fn into_run(self) -> Result<Run, RepositoryError> {
        let invalid = |field: &str, e: scheduler_core::Invalid| {
            RepositoryError::Unavailable(format!(
                "run {} has an invalid stored {field}: {e:?}",
                self.id
            ))
        };
        Ok(Run {
            id: RunId(self.id),
            job_id: JobId(self.job_id),
            scheduled_for: self.scheduled_for,
            due_at: self.due_at,
            trigger: RunTrigger::parse(&self.trigger).map_err(|e| invalid("trigger", e))?,
            attempt: self.attempt,
            retries: self.retries,
            throttles: self.throttles,
            status: RunStatus::parse(&self.status).map_err(|e| invalid("status", e))?,
            started_at: self.started_at,
            finished_at: self.finished_at,
            heartbeat_at: self.heartbeat_at,
            retry_at: self.retry_at,
            error: self.error.clone(),
            worker: self.worker.clone(),
            replay_of: self.replay_of.map(RunId),
        })
    }
}
