//! `SeaOrmRunStore`: run history and the claim protocol over sea-orm — SQL and row mapping
//! only. What a due fire, a failed run or a stale run becomes is decided by the core's pure
//! planners (`plan_fire`, `plan_retry`, `plan_recovery`); this module locks the rows, hands
//! them to the planner and writes what it returns.
//!
//! PostgreSQL: due job rows are locked with `FOR UPDATE SKIP LOCKED`, so concurrent claimers
//! on other replicas take disjoint sets. SQLite (one process): claims are serialized by an
//! in-process lock and SQLite's single writer. On both, the unique key
//! `(job_id, scheduled_for, attempt)` makes a second run of one fire fail the transaction.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::{
    ClaimBatch, ClaimedRun, FireDecision, FirePlan, Job, JobId, NextAttempt, Recovered,
    RepositoryError, RetryPlan, Run, RunId, RunOutcome, RunPage, RunSlice, RunStatus, RunStore,
    RunTrigger, WireEnum, needs_running_check, plan_fire, plan_recovery, plan_retry,
};
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Statement, TransactionTrait,
};

use super::entity as jobs;
use super::run_entity as runs;
use super::{micros, repository_error};

/// The PostgreSQL advisory lock key that lets one replica prune run history at a time
/// ("sched-prn" in ASCII; any fixed number shared by every replica works).
const PRUNE_LOCK_KEY: i64 = 0x7363_6865_642d_7072;

/// Runs and claims in PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SeaOrmRunStore {
    /// The pool.
    db: DatabaseConnection,
    /// Serializes claim transactions on SQLite (PostgreSQL uses row locks instead).
    claim_lock: Arc<tokio::sync::Mutex<()>>,
}

/// The columns of a new run row that differ between kinds of run.
struct NewRun<'a> {
    /// The job.
    job_id: JobId,
    /// The fire served.
    scheduled_for: DateTime<Utc>,
    /// Why it exists.
    trigger: RunTrigger,
    /// Attempt number at this fire.
    attempt: i32,
    /// Failure retries used.
    retries: i32,
    /// `running`, or `skipped` for a skipped fire.
    status: RunStatus,
    /// Start (and, when not running, end) instant.
    now: DateTime<Utc>,
    /// Why it was skipped.
    error: Option<String>,
    /// The replica executing it.
    worker: &'a str,
}

impl<'a> NewRun<'a> {
    /// The row of an attempt the core planned, running for `worker`.
    fn attempt(next: &NextAttempt, now: DateTime<Utc>, worker: &'a str) -> Self {
        Self {
            job_id: next.job_id,
            scheduled_for: next.scheduled_for,
            trigger: next.trigger,
            attempt: next.attempt,
            retries: next.retries,
            status: RunStatus::Running,
            now,
            error: None,
            worker,
        }
    }

    /// The row of a first attempt at a fire: running, or skipped with the plan's reason.
    fn first(
        job_id: JobId,
        scheduled_for: DateTime<Utc>,
        trigger: RunTrigger,
        skip: Option<String>,
        now: DateTime<Utc>,
        worker: &'a str,
    ) -> Self {
        Self {
            job_id,
            scheduled_for,
            trigger,
            attempt: 1,
            retries: 0,
            status: if skip.is_some() {
                RunStatus::Skipped
            } else {
                RunStatus::Running
            },
            now,
            error: skip,
            worker,
        }
    }

    /// The row to insert.
    fn row(self) -> runs::ActiveModel {
        let finished = self.status != RunStatus::Running;
        runs::ActiveModel {
            id: NotSet,
            job_id: Set(self.job_id.0),
            scheduled_for: Set(micros(self.scheduled_for)),
            trigger: Set(self.trigger.as_str().to_string()),
            attempt: Set(self.attempt),
            retries: Set(self.retries),
            status: Set(self.status.as_str().to_string()),
            started_at: Set(micros(self.now)),
            finished_at: Set(finished.then(|| micros(self.now))),
            heartbeat_at: Set(micros(self.now)),
            retry_at: Set(None),
            error: Set(self.error),
            worker: Set(self.worker.to_string()),
        }
    }
}

impl SeaOrmRunStore {
    /// A store over an open, migrated pool.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            claim_lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    fn is_postgres(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Postgres
    }

    /// Holds the SQLite claim lock for the caller's transaction (a no-op on PostgreSQL).
    async fn serialize(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.is_postgres() {
            None
        } else {
            Some(self.claim_lock.lock().await)
        }
    }

    /// Begins a transaction that will write. On SQLite the write lock is taken by the first
    /// statement: a transaction that reads first and writes later fails with "database is
    /// locked" when another connection committed in between, instead of waiting its turn.
    async fn begin_write(&self) -> Result<DatabaseTransaction, RepositoryError> {
        let txn = db(self.db.begin().await)?;
        if !self.is_postgres() {
            db(txn
                .execute_unprepared("UPDATE jobs SET next_run = next_run WHERE id = -1")
                .await)?;
        }
        Ok(txn)
    }

    fn lock_rows<S: QuerySelect>(&self, select: S) -> S {
        if self.is_postgres() {
            select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        } else {
            select
        }
    }

    /// Claim step 1: locks up to `limit` due job rows no other claim holds, earliest first.
    async fn lock_due_jobs(
        &self,
        txn: &DatabaseTransaction,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<jobs::Model>, RepositoryError> {
        let due = self.lock_rows(
            jobs::Entity::find()
                .filter(jobs::Column::IsActive.eq(true))
                .filter(jobs::Column::NextRun.lte(micros(now)))
                .order_by_asc(jobs::Column::NextRun)
                .order_by_asc(jobs::Column::Id)
                .limit(u64::from(limit)),
        );
        db(due.all(txn).await)
    }
}

/// Claim step 2: the rows as jobs. A row that no longer validates must not block every later
/// claim: its `next_run` is cleared (logged) and it is left out.
async fn validated_jobs(
    txn: &DatabaseTransaction,
    rows: Vec<jobs::Model>,
) -> Result<Vec<Job>, RepositoryError> {
    let mut valid = Vec::with_capacity(rows.len());
    for row in rows {
        let id = row.id;
        match row.into_job() {
            Ok(job) => valid.push(job),
            Err(error) => {
                tracing::error!(job_id = id, %error, "unschedulable job: next_run cleared");
                db(jobs::Entity::update_many()
                    .col_expr(jobs::Column::NextRun, Expr::value(None::<DateTime<Utc>>))
                    .filter(jobs::Column::Id.eq(id))
                    .exec(txn)
                    .await)?;
            }
        }
    }
    Ok(valid)
}

/// Claim step 3: which of `jobs` that the planner must know about have a run `running` now.
async fn running_jobs(
    txn: &DatabaseTransaction,
    jobs: &[Job],
) -> Result<HashSet<JobId>, RepositoryError> {
    let asked: Vec<i64> = jobs
        .iter()
        .filter(|job| needs_running_check(job))
        .map(|job| job.id.0)
        .collect();
    if asked.is_empty() {
        return Ok(HashSet::new());
    }
    let running = db(runs::Entity::find()
        .select_only()
        .column(runs::Column::JobId)
        .filter(runs::Column::JobId.is_in(asked))
        .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
        .into_tuple::<i64>()
        .all(txn)
        .await)?;
    Ok(running.into_iter().map(JobId).collect())
}

/// Claim step 4: one INSERT for the run (running or skipped) of every planned fire; the
/// inserted rows by job.
async fn insert_fire_runs(
    txn: &DatabaseTransaction,
    planned: &[(Job, FirePlan)],
    now: DateTime<Utc>,
    worker: &str,
) -> Result<HashMap<JobId, runs::Model>, RepositoryError> {
    let rows = planned.iter().map(|(job, plan)| {
        let skip = match &plan.decision {
            FireDecision::Run => None,
            FireDecision::Skip(why) => Some(why.message()),
        };
        NewRun::first(
            job.id,
            plan.scheduled_for,
            RunTrigger::Schedule,
            skip,
            now,
            worker,
        )
        .row()
    });
    let inserted = db(runs::Entity::insert_many(rows)
        .exec_with_returning(txn)
        .await)?;
    Ok(inserted
        .into_iter()
        .map(|row| (JobId(row.job_id), row))
        .collect())
}

/// Claim step 5: advances every planned job — one UPDATE per distinct `(next_run, last_run,
/// last_status, last_error)`, so a batch costs a few round trips, not one per job. `last_run`
/// moves to the fire only when it runs; `last_status` becomes `running`, or `skipped` with the
/// reason.
async fn advance_jobs(
    txn: &DatabaseTransaction,
    planned: &[(Job, FirePlan)],
) -> Result<(), RepositoryError> {
    type Advance = (
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        &'static str,
        Option<String>,
    );
    let mut updates: HashMap<Advance, Vec<i64>> = HashMap::new();
    for (job, plan) in planned {
        let (status, error) = match &plan.decision {
            FireDecision::Run => (RunStatus::Running, None),
            FireDecision::Skip(why) => (RunStatus::Skipped, Some(why.message())),
        };
        updates
            .entry((
                plan.next_run.map(micros),
                last_run_after(job, plan).map(micros),
                status.as_str(),
                error,
            ))
            .or_default()
            .push(job.id.0);
    }
    for ((next_run, last_run, status, error), ids) in updates {
        db(jobs::Entity::update_many()
            .col_expr(jobs::Column::NextRun, Expr::value(next_run))
            .col_expr(jobs::Column::LastRun, Expr::value(last_run))
            .col_expr(jobs::Column::LastStatus, Expr::value(status))
            .col_expr(jobs::Column::LastError, Expr::value(error))
            .filter(jobs::Column::Id.is_in(ids))
            .exec(txn)
            .await)?;
    }
    Ok(())
}

/// Sets the job's `last_status`/`last_error` when `run` is an attempt at the job's last fire
/// (a later fire, or a manual run since, owns the job's status). True when it changed.
async fn set_last_status(
    txn: &DatabaseTransaction,
    run: &Run,
    status: RunStatus,
    error: Option<&str>,
) -> Result<bool, RepositoryError> {
    let changed = db(jobs::Entity::update_many()
        .col_expr(jobs::Column::LastStatus, Expr::value(status.as_str()))
        .col_expr(
            jobs::Column::LastError,
            Expr::value(error.map(str::to_string)),
        )
        .filter(jobs::Column::Id.eq(run.job_id.0))
        .filter(jobs::Column::LastRun.eq(micros(run.scheduled_for)))
        .exec(txn)
        .await)?;
    Ok(changed.rows_affected > 0)
}

/// The job's `last_run` once `plan` is carried out.
fn last_run_after(job: &Job, plan: &FirePlan) -> Option<DateTime<Utc>> {
    match plan.decision {
        FireDecision::Run => Some(plan.scheduled_for),
        FireDecision::Skip(_) => job.last_run,
    }
}

/// The runs to execute from a claim: each fired job (as advanced) with its inserted run.
fn claimed_runs(
    planned: Vec<(Job, FirePlan)>,
    mut inserted: HashMap<JobId, runs::Model>,
) -> Result<ClaimBatch, RepositoryError> {
    let mut batch = ClaimBatch::default();
    for (job, plan) in planned {
        batch.advanced_jobs.push(job.id);
        if let FireDecision::Skip(why) = plan.decision {
            batch.skipped.push((job.id, why));
            continue;
        }
        let row = inserted.remove(&job.id).ok_or_else(|| {
            RepositoryError::Unavailable(format!("no run inserted for job {}", job.id))
        })?;
        let job = Job {
            next_run: plan.next_run,
            last_run: last_run_after(&job, &plan),
            last_status: Some(RunStatus::Running),
            last_error: None,
            ..job
        };
        batch.runs.push(ClaimedRun {
            run: row.into_run()?,
            job,
        });
    }
    Ok(batch)
}

async fn insert_run(txn: &DatabaseTransaction, new: NewRun<'_>) -> Result<Run, RepositoryError> {
    db(new.row().insert(txn).await)?.into_run()
}

async fn load_job(txn: &DatabaseTransaction, id: JobId) -> Result<Option<Job>, RepositoryError> {
    db(jobs::Entity::find_by_id(id.0).one(txn).await)?
        .map(jobs::Model::into_job)
        .transpose()
}

fn db<T>(result: Result<T, sea_orm::DbErr>) -> Result<T, RepositoryError> {
    result.map_err(repository_error)
}

#[async_trait]
impl RunStore for SeaOrmRunStore {
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        worker: &str,
        limit: u32,
    ) -> Result<ClaimBatch, RepositoryError> {
        let _serial = self.serialize().await;
        let txn = self.begin_write().await?;
        let rows = self.lock_due_jobs(&txn, now, limit).await?;
        let due = validated_jobs(&txn, rows).await?;
        let running = running_jobs(&txn, &due).await?;
        let planned: Vec<(Job, FirePlan)> = due
            .into_iter()
            .filter_map(|job| {
                let plan = plan_fire(&job, now, running.contains(&job.id))?;
                Some((job, plan))
            })
            .collect();
        if planned.is_empty() {
            db(txn.commit().await)?;
            return Ok(ClaimBatch::default());
        }
        let inserted = insert_fire_runs(&txn, &planned, now, worker).await?;
        advance_jobs(&txn, &planned).await?;
        db(txn.commit().await)?;
        claimed_runs(planned, inserted)
    }

    async fn claim_retries(
        &self,
        now: DateTime<Utc>,
        worker: &str,
        limit: u32,
    ) -> Result<Vec<ClaimedRun>, RepositoryError> {
        let _serial = self.serialize().await;
        let txn = self.begin_write().await?;
        let due = self.lock_rows(
            runs::Entity::find()
                .filter(runs::Column::RetryAt.lte(micros(now)))
                .order_by_asc(runs::Column::RetryAt)
                .limit(u64::from(limit)),
        );
        let rows = db(due.all(&txn).await)?;
        let mut claimed = Vec::new();
        for row in rows {
            let failed = row.into_run()?;
            // Taken once, whatever the plan: the retry is decided now.
            db(runs::Entity::update_many()
                .col_expr(runs::Column::RetryAt, Expr::value(None::<DateTime<Utc>>))
                .filter(runs::Column::Id.eq(failed.id.0))
                .exec(&txn)
                .await)?;
            let job = load_job(&txn, failed.job_id).await?;
            if let (RetryPlan::Retry(next), Some(job)) = (plan_retry(&failed, job.as_ref()), job) {
                let run = insert_run(&txn, NewRun::attempt(&next, now, worker)).await?;
                set_last_status(&txn, &run, RunStatus::Running, None).await?;
                claimed.push(ClaimedRun { run, job });
            }
        }
        db(txn.commit().await)?;
        Ok(claimed)
    }

    async fn recover_abandoned(
        &self,
        stale_before: DateTime<Utc>,
        now: DateTime<Utc>,
        worker: &str,
        limit: u32,
        max_abandoned_attempts: u32,
    ) -> Result<Recovered, RepositoryError> {
        let _serial = self.serialize().await;
        let txn = self.begin_write().await?;
        let stale = self.lock_rows(
            runs::Entity::find()
                .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
                .filter(runs::Column::HeartbeatAt.lt(micros(stale_before)))
                .order_by_asc(runs::Column::HeartbeatAt)
                .limit(u64::from(limit)),
        );
        let rows = db(stale.all(&txn).await)?;
        let mut recovered = Recovered::default();
        for row in rows {
            let stale = row.into_run()?;
            let job = load_job(&txn, stale.job_id).await?;
            let plan = plan_recovery(&stale, job.as_ref(), max_abandoned_attempts);
            if plan.next.is_none() {
                recovered.given_up += 1;
                if set_last_status(&txn, &stale, plan.status, Some(plan.error.as_str())).await? {
                    recovered.changed_jobs.push(stale.job_id);
                }
            }
            db(runs::Entity::update_many()
                .col_expr(runs::Column::Status, Expr::value(plan.status.as_str()))
                .col_expr(runs::Column::FinishedAt, Expr::value(Some(micros(now))))
                .col_expr(
                    runs::Column::Error,
                    Expr::value(Some(plan.error.as_str().to_string())),
                )
                .filter(runs::Column::Id.eq(stale.id.0))
                .exec(&txn)
                .await)?;
            if let (Some(next), Some(job)) = (plan.next, job) {
                let run = insert_run(&txn, NewRun::attempt(&next, now, worker)).await?;
                recovered.runs.push(ClaimedRun { run, job });
            }
        }
        db(txn.commit().await)?;
        Ok(recovered)
    }

    async fn heartbeat(&self, ids: &[RunId], now: DateTime<Utc>) -> Result<(), RepositoryError> {
        db(runs::Entity::update_many()
            .col_expr(runs::Column::HeartbeatAt, Expr::value(micros(now)))
            .filter(runs::Column::Id.is_in(ids.iter().map(|id| id.0)))
            .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
            .exec(&self.db)
            .await)?;
        Ok(())
    }

    async fn finish(&self, run: &Run, outcome: &RunOutcome) -> Result<(), RepositoryError> {
        let error = outcome.error.as_ref().map(|e| e.as_str().to_string());
        let txn = db(self.db.begin().await)?;
        let finished = db(runs::Entity::update_many()
            .col_expr(runs::Column::Status, Expr::value(outcome.status.as_str()))
            .col_expr(runs::Column::Error, Expr::value(error.clone()))
            .col_expr(
                runs::Column::FinishedAt,
                Expr::value(Some(micros(outcome.finished_at))),
            )
            .col_expr(
                runs::Column::RetryAt,
                Expr::value(outcome.retry_at.map(micros)),
            )
            .filter(runs::Column::Id.eq(run.id.0))
            .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
            .exec(&txn)
            .await)?;
        if finished.rows_affected > 0 {
            set_last_status(&txn, run, outcome.status, error.as_deref()).await?;
        }
        db(txn.commit().await)
    }

    async fn start_manual(
        &self,
        job_id: JobId,
        now: DateTime<Utc>,
        worker: &str,
    ) -> Result<ClaimedRun, RepositoryError> {
        let txn = self.begin_write().await?;
        let job = load_job(&txn, job_id)
            .await?
            .ok_or(RepositoryError::NotFound)?;
        let first = NewRun::first(job_id, now, RunTrigger::Manual, None, now, worker);
        let run = insert_run(&txn, first).await?;
        db(jobs::Entity::update_many()
            .col_expr(jobs::Column::LastRun, Expr::value(Some(micros(now))))
            .col_expr(
                jobs::Column::LastStatus,
                Expr::value(RunStatus::Running.as_str()),
            )
            .col_expr(jobs::Column::LastError, Expr::value(None::<String>))
            .filter(jobs::Column::Id.eq(job_id.0))
            .exec(&txn)
            .await)?;
        db(txn.commit().await)?;
        let job = Job {
            last_run: Some(micros(now)),
            last_status: Some(RunStatus::Running),
            last_error: None,
            ..job
        };
        Ok(ClaimedRun { run, job })
    }

    async fn get(&self, id: RunId) -> Result<Option<Run>, RepositoryError> {
        db(runs::Entity::find_by_id(id.0).one(&self.db).await)?
            .map(runs::Model::into_run)
            .transpose()
    }

    async fn list(&self, slice: &RunSlice) -> Result<RunPage, RepositoryError> {
        super::run_list::list(&self.db, slice).await
    }

    async fn due_backlog(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError> {
        db(jobs::Entity::find()
            .filter(jobs::Column::IsActive.eq(true))
            .filter(jobs::Column::NextRun.lte(micros(now)))
            .count(&self.db)
            .await)
    }

    async fn prune(
        &self,
        older_than: Option<DateTime<Utc>>,
        keep_per_job: Option<u32>,
        batch: u32,
    ) -> Result<u64, RepositoryError> {
        let txn = db(self.db.begin().await)?;
        if txn.get_database_backend() == DbBackend::Postgres {
            // One replica prunes at a time; the others find the lock taken and skip.
            let row = db(txn
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!("SELECT pg_try_advisory_xact_lock({PRUNE_LOCK_KEY}) AS locked"),
                ))
                .await)?;
            let locked = row
                .map(|row| row.try_get::<bool>("", "locked"))
                .transpose()
                .map_err(repository_error)?
                .unwrap_or(false);
            if !locked {
                return Ok(0);
            }
        }
        let mut deleted = 0u64;
        if let Some(cutoff) = older_than {
            let old = runs::Entity::find()
                .select_only()
                .column(runs::Column::Id)
                .filter(runs::Column::ScheduledFor.lt(micros(cutoff)))
                .filter(runs::Column::Status.ne(RunStatus::Running.as_str()))
                .filter(runs::Column::RetryAt.is_null())
                .order_by_asc(runs::Column::ScheduledFor)
                .limit(u64::from(batch))
                .into_query();
            let result = db(runs::Entity::delete_many()
                .filter(runs::Column::Id.in_subquery(old))
                .exec(&txn)
                .await)?;
            deleted = result.rows_affected;
        }
        let left = u64::from(batch).saturating_sub(deleted);
        if let (Some(keep), true) = (keep_per_job, left > 0) {
            // Our own numbers, not input: formatted into the statement. Both backends have
            // window functions; the ranking scans the table (see OPERATIONS, retention).
            let statement = format!(
                "DELETE FROM job_runs WHERE id IN (\
                   SELECT id FROM (\
                     SELECT id, status, retry_at, ROW_NUMBER() OVER (\
                       PARTITION BY job_id ORDER BY scheduled_for DESC, attempt DESC, id DESC\
                     ) AS newer FROM job_runs\
                   ) ranked \
                   WHERE newer > {keep} AND status <> 'running' AND retry_at IS NULL \
                   LIMIT {left})"
            );
            deleted += db(txn.execute_unprepared(&statement).await)?.rows_affected();
        }
        db(txn.commit().await)?;
        Ok(deleted)
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, RepositoryError> {
        let earliest: Option<Option<DateTime<Utc>>> = db(jobs::Entity::find()
            .select_only()
            .column_as(jobs::Column::NextRun.min(), "earliest")
            .filter(jobs::Column::IsActive.eq(true))
            .into_tuple()
            .one(&self.db)
            .await)?;
        Ok(earliest.flatten())
    }

    async fn count_by_status_since(
        &self,
        tenant: Option<scheduler_core::Tenant>,
        since: DateTime<Utc>,
    ) -> Result<Vec<(RunStatus, u64)>, RepositoryError> {
        // Served by job_runs_scheduled_idx: only the window's rows are read.
        let mut select = runs::Entity::find()
            .select_only()
            .column(runs::Column::Status)
            .column_as(runs::Column::Id.count(), "runs")
            .filter(runs::Column::ScheduledFor.gte(micros(since)));
        if let Some(tenant) = tenant {
            select = select.filter(
                runs::Column::JobId.in_subquery(
                    jobs::Entity::find()
                        .select_only()
                        .column(jobs::Column::Id)
                        .filter(jobs::Column::Tenant.eq(tenant.as_str()))
                        .into_query(),
                ),
            );
        }
        let rows: Vec<(String, i64)> = db(select
            .group_by(runs::Column::Status)
            .into_tuple()
            .all(&self.db)
            .await)?;
        rows.into_iter()
            .map(|(status, runs)| {
                let status = RunStatus::parse(&status).map_err(|_| {
                    RepositoryError::Rejected(format!("unknown run status {status:?} stored"))
                })?;
                Ok((status, u64::try_from(runs).unwrap_or(0)))
            })
            .collect()
    }
}
