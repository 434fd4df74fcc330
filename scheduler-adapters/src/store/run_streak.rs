//! Failure streaks and auto-pause inside an outcome batch's transaction: the core says how
//! each job's streak moves ([`scheduler_core::failure_streaks`]) and whether the stored
//! streak pauses the job ([`Job::auto_pause`]); this module writes both. It runs only for
//! batches holding outcomes of jobs that pause themselves, a statement or two per such job.

use scheduler_core::{Job, JobId, RepositoryError, StreakChange};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use super::entity as jobs;
use super::{micros, repository_error};

/// Moves each job's streak as `changes` say (active jobs only), then pauses every job whose
/// stored streak calls for it. Returns the jobs it paused.
pub(super) async fn apply(
    txn: &DatabaseTransaction,
    changes: &[StreakChange],
) -> Result<Vec<JobId>, RepositoryError> {
    let mut paused = Vec::new();
    for change in changes {
        let failures = i32::try_from(change.failures).unwrap_or(i32::MAX);
        let streak = if change.restart {
            Expr::value(failures)
        } else {
            Expr::col(jobs::Column::FailureStreak).add(failures)
        };
        let moved = jobs::Entity::update_many()
            .col_expr(jobs::Column::FailureStreak, streak)
            .filter(jobs::Column::Id.eq(change.job_id.0))
            .filter(jobs::Column::IsActive.eq(true))
            .exec(txn)
            .await
            .map_err(repository_error)?;
        if moved.rows_affected == 0 || change.failures == 0 {
            continue;
        }
        let job: Option<Job> = jobs::Entity::find_by_id(change.job_id.0)
            .one(txn)
            .await
            .map_err(repository_error)?
            .map(jobs::Model::into_job)
            .transpose()?;
        let Some(note) =
            job.and_then(|job| job.auto_pause(change.last_error.as_deref(), change.at))
        else {
            continue;
        };
        // Paused as `JobService::pause` pauses: inactive, no next fire, the note kept.
        jobs::Entity::update_many()
            .col_expr(jobs::Column::IsActive, Expr::value(false))
            .col_expr(
                jobs::Column::NextRun,
                Expr::value(None::<chrono::DateTime<chrono::Utc>>),
            )
            .col_expr(
                jobs::Column::NextFire,
                Expr::value(None::<chrono::DateTime<chrono::Utc>>),
            )
            .col_expr(jobs::Column::PausedBy, Expr::value(note.by))
            .col_expr(jobs::Column::PauseNote, Expr::value(note.note))
            .col_expr(jobs::Column::PausedAt, Expr::value(Some(micros(note.at))))
            .col_expr(jobs::Column::PauseAuto, Expr::value(note.auto))
            .filter(jobs::Column::Id.eq(change.job_id.0))
            .exec(txn)
            .await
            .map_err(repository_error)?;
        paused.push(change.job_id);
    }
    Ok(paused)
}
