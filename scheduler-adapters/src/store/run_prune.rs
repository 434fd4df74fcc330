//! History retention: deleting ended runs past the age cutoff and beyond the per-job cap, in
//! batches whose cost follows what they delete rather than the size of the table.
//!
//! - By age: the oldest ended runs fired before the cutoff, read from the
//!   `job_runs_scheduled_idx` range.
//! - By the per-job cap: only jobs whose `run_count` exceeds the cap are looked at (one pass
//!   over `jobs`, far smaller than `job_runs`), and for each only its `run_count - keep`
//!   oldest runs, read in order from the fire key `(job_id, scheduled_for, attempt)`. A running
//!   run or one awaiting its retry among them is kept (and looked at again next time).
//!
//! Each delete lowers its jobs' `run_count` in the same statement. On PostgreSQL one replica
//! prunes at a time (a transaction-level advisory lock; the others find it taken and skip).

use chrono::{DateTime, Utc};
use scheduler_core::{RepositoryError, RunStatus, WireEnum};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};

use super::entity as jobs;
use super::entity::RunCount;
use super::run_entity as runs;
use super::run_sql;
use super::{micros, repository_error};

/// The PostgreSQL advisory lock key that lets one replica prune run history at a time
/// ("sched-prn" in ASCII; any fixed number shared by every replica works).
const PRUNE_LOCK_KEY: i64 = 0x7363_6865_642d_7072;

fn db<T>(result: Result<T, sea_orm::DbErr>) -> Result<T, RepositoryError> {
    result.map_err(repository_error)
}

/// `RunStore::prune` inside `txn` (which the caller commits): at most `batch` runs.
pub(super) async fn prune(
    txn: &DatabaseTransaction,
    older_than: Option<DateTime<Utc>>,
    keep_per_job: Option<u32>,
    batch: u32,
) -> Result<u64, RepositoryError> {
    let postgres = txn.get_database_backend() == DbBackend::Postgres;
    if postgres && !took_prune_lock(txn).await? {
        return Ok(0);
    }
    let mut deleted = 0u64;
    if let Some(cutoff) = older_than {
        deleted = if postgres {
            deleted_by(txn, run_sql::prune_older_than(micros(cutoff), batch)).await?
        } else {
            sqlite_prune_older_than(txn, micros(cutoff), batch).await?
        };
    }
    let left = u32::try_from(u64::from(batch).saturating_sub(deleted)).unwrap_or(0);
    if let (Some(keep), true) = (keep_per_job, left > 0) {
        deleted += if postgres {
            deleted_by(txn, run_sql::prune_over_cap(keep, left)).await?
        } else {
            sqlite_prune_over_cap(txn, keep, left).await?
        };
    }
    Ok(deleted)
}

/// Whether this transaction holds the prune lock (another replica may be pruning).
async fn took_prune_lock(txn: &DatabaseTransaction) -> Result<bool, RepositoryError> {
    let row = db(txn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_try_advisory_xact_lock({PRUNE_LOCK_KEY}) AS locked"),
        ))
        .await)?;
    Ok(row
        .map(|row| row.try_get::<bool>("", "locked"))
        .transpose()
        .map_err(repository_error)?
        .unwrap_or(false))
}

/// Runs a PostgreSQL delete statement of `run_sql` and reads how many runs it deleted.
async fn deleted_by(
    txn: &DatabaseTransaction,
    statement: Statement,
) -> Result<u64, RepositoryError> {
    let row = db(txn.query_one_raw(statement).await)?;
    let deleted = row
        .map(|row| row.try_get::<i64>("", "deleted"))
        .transpose()
        .map_err(repository_error)?
        .unwrap_or(0);
    Ok(u64::try_from(deleted).unwrap_or(0))
}

/// Only runs that ended and are not waiting for a retry may go.
fn ended<S: QueryFilter>(select: S) -> S {
    select
        .filter(runs::Column::Status.ne(RunStatus::Running.as_str()))
        .filter(runs::Column::RetryAt.is_null())
}

/// SQLite, by age: the oldest `batch` ended runs fired before `cutoff`.
async fn sqlite_prune_older_than(
    txn: &DatabaseTransaction,
    cutoff: DateTime<Utc>,
    batch: u32,
) -> Result<u64, RepositoryError> {
    let victims: Vec<(i64, i64)> = db(ended(
        runs::Entity::find()
            .select_only()
            .column(runs::Column::Id)
            .column(runs::Column::JobId)
            .filter(runs::Column::ScheduledFor.lt(cutoff)),
    )
    .order_by_asc(runs::Column::ScheduledFor)
    .limit(u64::from(batch))
    .into_tuple()
    .all(txn)
    .await)?;
    sqlite_delete(txn, &victims).await
}

/// SQLite, by the per-job cap: for each job with more than `keep` runs, its oldest
/// `run_count - keep` runs that ended, at most `batch` in all.
async fn sqlite_prune_over_cap(
    txn: &DatabaseTransaction,
    keep: u32,
    batch: u32,
) -> Result<u64, RepositoryError> {
    let keep = i64::from(keep);
    let over: Vec<(i64, i64)> = db(jobs::Entity::find()
        .select_only()
        .column(jobs::Column::Id)
        .column_as(Expr::cust("run_count"), "run_count")
        .filter(Expr::cust_with_values("run_count > ?", [keep]))
        .order_by_asc(jobs::Column::Id)
        .into_tuple()
        .all(txn)
        .await)?;
    let mut victims: Vec<(i64, i64)> = Vec::new();
    for (job_id, count) in over {
        let room = u64::from(batch).saturating_sub(victims.len() as u64);
        if room == 0 {
            break;
        }
        let oldest: Vec<(i64, String, Option<DateTime<Utc>>)> = db(runs::Entity::find()
            .select_only()
            .column(runs::Column::Id)
            .column(runs::Column::Status)
            .column(runs::Column::RetryAt)
            .filter(runs::Column::JobId.eq(job_id))
            .order_by_asc(runs::Column::ScheduledFor)
            .order_by_asc(runs::Column::Attempt)
            .limit(u64::try_from(count - keep).unwrap_or(0))
            .into_tuple()
            .all(txn)
            .await)?;
        victims.extend(
            oldest
                .into_iter()
                .filter(|(_, status, retry_at)| {
                    status != RunStatus::Running.as_str() && retry_at.is_none()
                })
                .map(|(id, _, _)| (id, job_id))
                .take(usize::try_from(room).unwrap_or(usize::MAX)),
        );
    }
    sqlite_delete(txn, &victims).await
}

/// SQLite: deletes `(run id, job id)` pairs and lowers each job's `run_count`.
async fn sqlite_delete(
    txn: &DatabaseTransaction,
    victims: &[(i64, i64)],
) -> Result<u64, RepositoryError> {
    if victims.is_empty() {
        return Ok(0);
    }
    let mut per_job: std::collections::BTreeMap<i64, i64> = std::collections::BTreeMap::new();
    for (_, job_id) in victims {
        *per_job.entry(*job_id).or_default() += 1;
    }
    let mut deleted = 0;
    for chunk in victims.chunks(500) {
        deleted += db(runs::Entity::delete_many()
            .filter(runs::Column::Id.is_in(chunk.iter().map(|(id, _)| *id)))
            .exec(txn)
            .await)?
        .rows_affected;
    }
    for (job_id, n) in per_job {
        db(jobs::Entity::update_many()
            .col_expr(
                RunCount,
                Expr::cust_with_values("max(run_count - ?, 0)", [n]),
            )
            .filter(jobs::Column::Id.eq(job_id))
            .exec(txn)
            .await)?;
    }
    Ok(deleted)
}
