//! `SeaOrmRunStore`: run history and the claim protocol over sea-orm.
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
    ClaimBatch, ClaimedRun, FireDecision, Job, JobId, RepositoryError, Run, RunId, RunPage,
    RunQuery, RunStatus, RunStore, RunTrigger, plan_fire,
};
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};

use super::entity as jobs;
use super::run_entity as runs;
use super::{micros, repository_error};

/// Runs and claims in PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SeaOrmRunStore {
    /// The pool.
    db: DatabaseConnection,
    /// Serializes claim transactions on SQLite (PostgreSQL uses row locks instead).
    claim_lock: Arc<tokio::sync::Mutex<()>>,
}

/// What a new run row starts as.
struct NewRun<'a> {
    job_id: i64,
    scheduled_for: DateTime<Utc>,
    trigger: RunTrigger,
    attempt: i32,
    retries: i32,
    status: RunStatus,
    now: DateTime<Utc>,
    error: Option<String>,
    worker: &'a str,
}

impl<'a> NewRun<'a> {
    /// The next attempt at `previous`'s fire, running for `worker`.
    fn next_attempt(
        previous: &Run,
        trigger: RunTrigger,
        retries: i32,
        now: DateTime<Utc>,
        worker: &'a str,
    ) -> Self {
        Self {
            job_id: previous.job_id.0,
            scheduled_for: previous.scheduled_for,
            trigger,
            attempt: previous.attempt + 1,
            retries,
            status: RunStatus::Running,
            now,
            error: None,
            worker,
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
}

/// The row a new run starts as.
fn run_row(new: NewRun<'_>) -> runs::ActiveModel {
    let finished = new.status != RunStatus::Running;
    runs::ActiveModel {
        id: NotSet,
        job_id: Set(new.job_id),
        scheduled_for: Set(micros(new.scheduled_for)),
        trigger: Set(new.trigger.as_str().to_string()),
        attempt: Set(new.attempt),
        retries: Set(new.retries),
        status: Set(new.status.as_str().to_string()),
        started_at: Set(micros(new.now)),
        finished_at: Set(finished.then(|| micros(new.now))),
        heartbeat_at: Set(micros(new.now)),
        retry_at: Set(None),
        error: Set(new.error),
        worker: Set(new.worker.to_string()),
    }
}

async fn insert_run(txn: &DatabaseTransaction, new: NewRun<'_>) -> Result<Run, RepositoryError> {
    run_row(new)
        .insert(txn)
        .await
        .map_err(repository_error)?
        .into_run()
}

async fn load_job(txn: &DatabaseTransaction, id: i64) -> Result<Option<Job>, RepositoryError> {
    jobs::Entity::find_by_id(id)
        .one(txn)
        .await
        .map_err(repository_error)?
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
        let due = self.lock_rows(
            jobs::Entity::find()
                .filter(jobs::Column::IsActive.eq(true))
                .filter(jobs::Column::NextRun.lte(micros(now)))
                .order_by_asc(jobs::Column::NextRun)
                .order_by_asc(jobs::Column::Id)
                .limit(u64::from(limit)),
        );
        let rows = db(due.all(&txn).await)?;
        if rows.is_empty() {
            db(txn.commit().await)?;
            return Ok(ClaimBatch::default());
        }
        let forbid: Vec<i64> = rows
            .iter()
            .filter(|row| row.concurrency_policy == "forbid")
            .map(|row| row.id)
            .collect();
        let running: HashSet<i64> = if forbid.is_empty() {
            HashSet::new()
        } else {
            db(runs::Entity::find()
                .select_only()
                .column(runs::Column::JobId)
                .filter(runs::Column::JobId.is_in(forbid))
                .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
                .into_tuple::<i64>()
                .all(&txn)
                .await)?
            .into_iter()
            .collect()
        };
        // Plan every job first, then write in bulk: one INSERT for all runs and one UPDATE per
        // distinct (next_run, last_run) pair — a batch costs a few round trips, not 2 per job.
        let mut planned = Vec::with_capacity(rows.len());
        for row in rows {
            let id = row.id;
            let job = match row.into_job() {
                Ok(job) => job,
                Err(error) => {
                    // A row that no longer validates must not block every later claim.
                    tracing::error!(job_id = id, %error, "unschedulable job: next_run cleared");
                    db(jobs::Entity::update_many()
                        .col_expr(jobs::Column::NextRun, Expr::value(None::<DateTime<Utc>>))
                        .filter(jobs::Column::Id.eq(id))
                        .exec(&txn)
                        .await)?;
                    continue;
                }
            };
            if let Some(plan) = plan_fire(&job, now, running.contains(&id)) {
                planned.push((job, plan));
            }
        }
        let mut batch = ClaimBatch::default();
        if planned.is_empty() {
            db(txn.commit().await)?;
            return Ok(batch);
        }
        let new_runs = planned.iter().map(|(job, plan)| {
            let (status, error) = match &plan.decision {
                FireDecision::Run => (RunStatus::Running, None),
                FireDecision::Skip(why) => (RunStatus::Skipped, Some(why.clone())),
            };
            run_row(NewRun {
                job_id: job.id.0,
                scheduled_for: plan.scheduled_for,
                trigger: RunTrigger::Schedule,
                attempt: 1,
                retries: 0,
                status,
                now,
                error,
                worker,
            })
        });
        let mut inserted: HashMap<i64, runs::Model> = db(runs::Entity::insert_many(new_runs)
            .exec_with_returning(&txn)
            .await)?
        .into_iter()
        .map(|row| (row.job_id, row))
        .collect();
        let mut updates: HashMap<(Option<DateTime<Utc>>, Option<DateTime<Utc>>), Vec<i64>> =
            HashMap::new();
        for (job, plan) in planned {
            let fired = plan.decision == FireDecision::Run;
            let last_run = if fired {
                Some(plan.scheduled_for)
            } else {
                job.last_run
            };
            updates
                .entry((plan.next_run.map(micros), last_run.map(micros)))
                .or_default()
                .push(job.id.0);
            batch.advanced_jobs.push(job.id);
            if fired {
                let row = inserted.remove(&job.id.0).ok_or_else(|| {
                    RepositoryError::Unavailable(format!("no run inserted for job {}", job.id))
                })?;
                let job = Job {
                    next_run: plan.next_run,
                    last_run,
                    ..job
                };
                batch.runs.push(ClaimedRun {
                    run: row.into_run()?,
                    job,
                });
            }
        }
        for ((next_run, last_run), ids) in updates {
            db(jobs::Entity::update_many()
                .col_expr(jobs::Column::NextRun, Expr::value(next_run))
                .col_expr(jobs::Column::LastRun, Expr::value(last_run))
                .filter(jobs::Column::Id.is_in(ids))
                .exec(&txn)
                .await)?;
        }
        db(txn.commit().await)?;
        Ok(batch)
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
            let previous = row.into_run()?;
            db(runs::Entity::update_many()
                .col_expr(runs::Column::RetryAt, Expr::value(None::<DateTime<Utc>>))
                .filter(runs::Column::Id.eq(previous.id.0))
                .exec(&txn)
                .await)?;
            // A job paused or deleted since the failure is not retried.
            let Some(job) = load_job(&txn, previous.job_id.0).await? else {
                continue;
            };
            if !job.spec.is_active {
                continue;
            }
            let next = NewRun::next_attempt(
                &previous,
                RunTrigger::Retry,
                previous.retries + 1,
                now,
                worker,
            );
            let run = insert_run(&txn, next).await?;
            claimed.push(ClaimedRun { run, job });
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
    ) -> Result<Vec<ClaimedRun>, RepositoryError> {
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
        let mut claimed = Vec::new();
        for row in rows {
            let previous = row.into_run()?;
            db(runs::Entity::update_many()
                .col_expr(
                    runs::Column::Status,
                    Expr::value(RunStatus::Abandoned.as_str()),
                )
                .col_expr(runs::Column::FinishedAt, Expr::value(Some(micros(now))))
                .col_expr(
                    runs::Column::Error,
                    Expr::value(Some(format!(
                        "worker {} stopped heartbeating; run again as attempt {}",
                        previous.worker,
                        previous.attempt + 1
                    ))),
                )
                .filter(runs::Column::Id.eq(previous.id.0))
                .exec(&txn)
                .await)?;
            let Some(job) = load_job(&txn, previous.job_id.0).await? else {
                continue;
            };
            // A dead worker is not the job's failure: the retry budget is untouched.
            let next =
                NewRun::next_attempt(&previous, previous.trigger, previous.retries, now, worker);
            let run = insert_run(&txn, next).await?;
            claimed.push(ClaimedRun { run, job });
        }
        db(txn.commit().await)?;
        Ok(claimed)
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

    async fn finish(
        &self,
        id: RunId,
        status: RunStatus,
        error: Option<String>,
        finished_at: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), RepositoryError> {
        db(runs::Entity::update_many()
            .col_expr(runs::Column::Status, Expr::value(status.as_str()))
            .col_expr(runs::Column::Error, Expr::value(error))
            .col_expr(
                runs::Column::FinishedAt,
                Expr::value(Some(micros(finished_at))),
            )
            .col_expr(runs::Column::RetryAt, Expr::value(retry_at.map(micros)))
            .filter(runs::Column::Id.eq(id.0))
            .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
            .exec(&self.db)
            .await)?;
        Ok(())
    }

    async fn start_manual(
        &self,
        job_id: JobId,
        now: DateTime<Utc>,
        worker: &str,
    ) -> Result<ClaimedRun, RepositoryError> {
        let txn = self.begin_write().await?;
        let job = load_job(&txn, job_id.0)
            .await?
            .ok_or(RepositoryError::NotFound)?;
        let run = insert_run(
            &txn,
            NewRun {
                job_id: job_id.0,
                scheduled_for: now,
                trigger: RunTrigger::Manual,
                attempt: 1,
                retries: 0,
                status: RunStatus::Running,
                now,
                error: None,
                worker,
            },
        )
        .await?;
        db(txn.commit().await)?;
        Ok(ClaimedRun { run, job })
    }

    async fn get(&self, id: RunId) -> Result<Option<Run>, RepositoryError> {
        db(runs::Entity::find_by_id(id.0).one(&self.db).await)?
            .map(runs::Model::into_run)
            .transpose()
    }

    async fn list_for_job(
        &self,
        job_id: JobId,
        query: &RunQuery,
    ) -> Result<RunPage, RepositoryError> {
        let mut select = runs::Entity::find().filter(runs::Column::JobId.eq(job_id.0));
        if let Some(status) = query.status {
            select = select.filter(runs::Column::Status.eq(status.as_str()));
        }
        let total = db(select.clone().count(&self.db).await)?;
        let rows = db(select
            .order_by_desc(runs::Column::Id)
            .offset(query.offset())
            .limit(query.page_size)
            .all(&self.db)
            .await)?;
        let items = rows
            .into_iter()
            .map(runs::Model::into_run)
            .collect::<Result<_, _>>()?;
        Ok(RunPage { total, items })
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
}
