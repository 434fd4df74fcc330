//! Failure streaks and auto-pause inside an outcome batch's transaction: the core says how
//! each job's streak moves ([`scheduler_core::failure_streaks`]), whether the stored streak
//! pauses the job ([`scheduler_core::Job::auto_pause`]) and what the paused job is
//! ([`scheduler_core::Job::paused`]); this module writes them, with the pause's audit entry
//! (actor `scheduler`). It runs only for batches
//! holding outcomes of jobs that pause themselves, a statement or two per such job.

use scheduler_core::{Actor, JobId, RepositoryError, StreakChange, job_record};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use super::entity as jobs;
use super::repository_error;

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
        let Some(job) = jobs::Entity::find_by_id(change.job_id.0)
            .one(txn)
            .await
            .map_err(repository_error)?
            .map(jobs::Model::into_job)
            .transpose()?
        else {
            continue;
        };
        let Some(note) = job.auto_pause(change.last_error.as_deref(), change.at) else {
            continue;
        };
        // Paused as the core pauses (`Job::paused`); `updated_at` stays: no one edited it.
        let at = note.at;
        let after = job.clone().paused(note);
        jobs::pause_state_update(&after)
            .exec(txn)
            .await
            .map_err(repository_error)?;
        let actor = Actor::scheduler(&job.tenant);
        if let Some(record) = job_record(&actor, at, Some(&job), Some(&after)) {
            super::audit::record_in(txn, &record).await?;
        }
        paused.push(change.job_id);
    }
    Ok(paused)
}
