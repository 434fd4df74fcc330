//! `SeaOrmRunStore`: run history and the claim protocol over sea-orm — SQL and row mapping
//! only. What a due fire, a failed run or a stale run becomes is decided by the core's pure
//! planners (`plan_fire`, `plan_retry`, `plan_recovery`); this module locks the rows, hands
//! them to the planner and writes what it returns. The claim's steps are in `run_claim`,
//! pruning in `run_prune`, the raw statements of the PostgreSQL fast path in `run_sql`.
//!
//! PostgreSQL: due job rows are locked with `FOR UPDATE SKIP LOCKED`, so concurrent claimers
//! on other replicas take disjoint sets; claims, outcome batches and heartbeats cost a fixed
//! number of statements whatever their size. SQLite (one process): claims are serialized by
//! an in-process lock and SQLite's single writer. On both, the unique key
//! `(job_id, scheduled_for, attempt)` makes a second run of one fire fail the transaction.
//! Every insert of a run adds one to its job's `run_count` in the same transaction, and every
//! delete takes it off (the per-job history cap reads it).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::{
    CancelPlan, ClaimBatch, ClaimRequest, ClaimedRun, Conflict, DigestPolicy, FinishedRun,
    FireDecision, FirePlan, HostHold, Job, JobId, NextAttempt, Recovered, RecoveryCause,
    RepositoryError, RetryPlan, Run, RunFacts, RunId, RunOutput, RunPage, RunSlice, RunStatus,
    RunStore, RunTrigger, Sighting, StatusWrite, WireEnum, failure_streaks, outcome_status_writes,
    plan_fire, plan_manual, plan_recovery, plan_retry,
};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, TransactionTrait,
};

use super::alerts;
use super::entity as jobs;
use super::entity::RunCount;
use super::flow;
use super::new_run::NewRun;
use super::run_claim;
use super::run_entity as runs;
use super::run_prune;
use super::run_sql;
use super::run_streak;
use super::{micros, repository_error};

/// Runs and claims in PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SeaOrmRunStore {
    /// The pool.
    db: DatabaseConnection,
    /// Serializes claim transactions on SQLite (PostgreSQL uses row locks instead).
    claim_lock: Arc<tokio::sync::Mutex<()>>,
    /// When a streak that goes on is told again.
    alerts: DigestPolicy,
}

impl SeaOrmRunStore {
    /// A store over an open, migrated pool.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            claim_lock: Arc::new(tokio::sync::Mutex::new(())),
            alerts: DigestPolicy::default(),
        }
    }

    /// The same store telling a streak that goes on as `policy` says.
    #[must_use]
    pub fn with_digest_policy(mut self, policy: DigestPolicy) -> Self {
        self.alerts = policy;
        self
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

    /// Begins a transaction that will write ([`super::begin_write`]).
    async fn begin_write(&self) -> Result<DatabaseTransaction, RepositoryError> {
        super::begin_write(&self.db).await
    }

    /// In an outcome batch's transaction, after `stored` outcomes were written: failure
    /// streaks and auto-pauses (when `streaks`), then the alerts of final failures, of
    /// successes of jobs with an open streak, and of the pauses. Returns the jobs paused.
    async fn weigh(
        &self,
        txn: &DatabaseTransaction,
        stored: &[&FinishedRun],
        streaks: bool,
    ) -> Result<Vec<JobId>, RepositoryError> {
        let paused = if streaks {
            run_streak::apply(txn, &failure_streaks(stored.iter().copied())).await?
        } else {
            Vec::new()
        };
        let successes = stored
            .iter()
            .filter(|f| f.outcome.status == RunStatus::Succeeded)
            .map(|f| f.run.job_id.0);
        let open = alerts::with_open_streaks(txn, successes).await?;
        let mut seen = alerts::sightings(stored.iter().copied(), &open);
        seen.extend(paused.iter().map(|job_id| {
            alerts::Seen {
                job_id: *job_id,
                sighting: Sighting::AutoPaused,
                run: RunFacts::default(),
                at: stored
                    .iter()
                    .map(|f| f.outcome.finished_at)
                    .max()
                    .unwrap_or_else(Utc::now),
            }
        }));
        alerts::observe(txn, &seen, &self.alerts).await?;
        Ok(paused)
    }

    fn lock_rows<S: QuerySelect>(&self, select: S) -> S {
        if self.is_postgres() {
            select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        } else {
            select
        }
    }
}

/// Writes a job status the core decided ([`StatusWrite`]), while its fire is still the job's
/// last (the condition is the storage side of the rule). True when it changed.
async fn set_last_status(
    txn: &DatabaseTransaction,
    write: &StatusWrite,
) -> Result<bool, RepositoryError> {
    let changed = db(jobs::Entity::update_many()
        .col_expr(jobs::Column::LastStatus, Expr::value(write.status.as_str()))
        .col_expr(jobs::Column::LastError, Expr::value(write.error.clone()))
        .filter(jobs::Column::Id.eq(write.job_id.0))
        .filter(jobs::Column::LastRun.eq(micros(write.fire)))
        .exec(txn)
        .await)?;
    Ok(changed.rows_affected > 0)
}

/// Inserts one run and counts it on its job.
async fn insert_run(txn: &DatabaseTransaction, new: NewRun<'_>) -> Result<Run, RepositoryError> {
    let run = db(new.row().insert(txn).await)?.into_run()?;
    db(jobs::Entity::update_many()
        .col_expr(RunCount, Expr::cust("run_count + 1"))
        .filter(jobs::Column::Id.eq(run.job_id.0))
        .exec(txn)
        .await)?;
    Ok(run)
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
    async fn claim_due(&self, request: &ClaimRequest) -> Result<ClaimBatch, RepositoryError> {
        let now = request.now;
        let _serial = self.serialize().await;
        let txn = self.begin_write().await?;
        let rows = run_claim::lock_due_jobs(&txn, request).await?;
        let due = run_claim::validated_jobs(&txn, rows).await?;
        let running = run_claim::running_jobs(&txn, &due).await?;
        let mut planned: Vec<(Job, FirePlan)> = due
            .into_iter()
            .filter_map(|job| {
                let plan = plan_fire(&job, now, running.contains(&job.id))?;
                Some((job, plan))
            })
            .collect();
        // Capped tenants: the fires past a tenant's cap on running runs stay due (nothing is
        // written for them).
        let capped = request.tenant_limits.capped_in(&planned);
        let mut capped_tenants = Vec::new();
        if !capped.is_empty() {
            let running = flow::running_of_tenants(&txn, &capped).await?;
            let (kept, left) = request.tenant_limits.admit_claim(planned, &running);
            planned = kept;
            capped_tenants = left
                .iter()
                .map(|job| job.tenant.as_str().to_string())
                .collect();
            capped_tenants.sort_unstable();
            capped_tenants.dedup();
        }
        // Limited hosts: the fires past a host's limit stay due (nothing is written for
        // them), and the host is held back from claims until one could start.
        let limited = request.host_limits.hosts_in(&planned);
        let mut limited_hosts = Vec::new();
        if !limited.is_empty() {
            let used = flow::load_use(&txn, &request.host_limits, &limited).await?;
            let admitted = request.host_limits.admit_claim(planned, &used, now);
            flow::store_admissions(&txn, &admitted.admissions).await?;
            planned = admitted.planned;
            limited_hosts = admitted
                .admissions
                .iter()
                .filter(|(_, admission)| admission.hold_until.is_some())
                .map(|(host, _)| host.clone())
                .collect();
        }
        // buffer_one fires that wait: no run, the job keeps the fire pending.
        let (waiting, planned): (Vec<_>, Vec<_>) = planned
            .into_iter()
            .partition(|(_, plan)| plan.decision == FireDecision::Wait);
        run_claim::hold_waiting(&txn, &waiting).await?;
        let replaced = run_claim::replace_running(&txn, &planned, now).await?;
        let waited: Vec<JobId> = waiting.iter().map(|(job, _)| job.id).collect();
        if planned.is_empty() {
            db(txn.commit().await)?;
            return Ok(ClaimBatch {
                advanced_jobs: waited,
                limited_hosts,
                capped_tenants,
                ..ClaimBatch::default()
            });
        }
        let inserted = run_claim::write_fires(&txn, &planned, now, &request.worker).await?;
        let missed = run_claim::missed_fires(&planned, &inserted, now);
        if !missed.is_empty() {
            alerts::observe(&txn, &missed, &self.alerts).await?;
        }
        db(txn.commit().await)?;
        let mut batch = run_claim::claimed_runs(planned, inserted, now, &request.worker)?;
        batch.advanced_jobs.extend(waited);
        batch.replaced = replaced;
        batch.limited_hosts = limited_hosts;
        batch.capped_tenants = capped_tenants;
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
                set_last_status(&txn, &next.status_write()).await?;
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
        lost: &[String],
        limit: u32,
        max_abandoned_attempts: u32,
    ) -> Result<Recovered, RepositoryError> {
        let _serial = self.serialize().await;
        let txn = self.begin_write().await?;
        let running =
            || runs::Entity::find().filter(runs::Column::Status.eq(RunStatus::Running.as_str()));
        let mut rows = Vec::new();
        if !lost.is_empty() {
            let of_lost = self.lock_rows(
                running()
                    .filter(runs::Column::Worker.is_in(lost.iter().cloned()))
                    .order_by_asc(runs::Column::Id)
                    .limit(u64::from(limit)),
            );
            rows.extend(
                db(of_lost.all(&txn).await)?
                    .into_iter()
                    .map(|row| (row, RecoveryCause::Lost)),
            );
        }
        let left = u64::from(limit).saturating_sub(rows.len() as u64);
        if left > 0 {
            let stale = self.lock_rows(
                running()
                    .filter(runs::Column::HeartbeatAt.lt(micros(stale_before)))
                    .order_by_asc(runs::Column::HeartbeatAt)
                    .limit(left),
            );
            let mut taken: std::collections::HashSet<i64> =
                rows.iter().map(|(row, _)| row.id).collect();
            rows.extend(
                db(stale.all(&txn).await)?
                    .into_iter()
                    .filter(|row| taken.insert(row.id))
                    .map(|row| (row, RecoveryCause::Silent)),
            );
        }
        let mut recovered = Recovered::default();
        let mut given_up = Vec::new();
        for (row, cause) in rows {
            let stale = row.into_run()?;
            let job = load_job(&txn, stale.job_id).await?;
            let plan = plan_recovery(&stale, job.as_ref(), max_abandoned_attempts, cause);
            if let Some(write) = plan.status_write(&stale) {
                recovered.given_up += 1;
                given_up.push(alerts::Seen::ended(
                    &stale,
                    plan.status,
                    Some(plan.error.as_str().to_string()),
                    now,
                ));
                if set_last_status(&txn, &write).await? {
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
        alerts::observe(&txn, &given_up, &self.alerts).await?;
        db(txn.commit().await)?;
        Ok(recovered)
    }

    async fn heartbeat(&self, ids: &[RunId], now: DateTime<Utc>) -> Result<(), RepositoryError> {
        let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
        if self.is_postgres() {
            db(self
                .db
                .execute_raw(run_sql::heartbeat(&ids, micros(now)))
                .await)?;
            return Ok(());
        }
        // SQLite binds one variable per id: chunks keep each statement far below its limit.
        for chunk in ids.chunks(500) {
            db(runs::Entity::update_many()
                .col_expr(runs::Column::HeartbeatAt, Expr::value(micros(now)))
                .filter(runs::Column::Id.is_in(chunk.iter().copied()))
                .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
                .exec(&self.db)
                .await)?;
        }
        Ok(())
    }

    async fn release(&self, ids: &[RunId]) -> Result<(), RepositoryError> {
        // The earliest instant either store keeps: older than any lease.
        let released = micros(DateTime::<Utc>::UNIX_EPOCH);
        // One variable per id on SQLite: chunks keep each statement far below its limit (a
        // shutdown releases at most the replica's slots, so this is a few statements).
        for chunk in ids.chunks(500) {
            db(runs::Entity::update_many()
                .col_expr(runs::Column::HeartbeatAt, Expr::value(released))
                .filter(runs::Column::Id.is_in(chunk.iter().map(|id| id.0)))
                .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
                .exec(&self.db)
                .await)?;
        }
        Ok(())
    }

    async fn finish_many(&self, finished: &[FinishedRun]) -> Result<Vec<JobId>, RepositoryError> {
        if finished.is_empty() {
            return Ok(Vec::new());
        }
        // Hosts that asked to slow down are held before their runs' outcomes are stored, so
        // no claim takes a fire for them in between.
        let holds: Vec<&HostHold> = finished
            .iter()
            .filter_map(|f| f.host_hold.as_ref())
            .collect();
        if !holds.is_empty() {
            flow::hold(&self.db, &holds).await?;
        }
        // Streaks are kept only for jobs that pause themselves, and alerts are weighed in
        // the outcome's transaction only for final failures: other batches take the
        // one-statement path.
        let streaks = finished.iter().any(|f| f.pause_after_failures > 0);
        let failures = finished
            .iter()
            .any(|f| alerts::final_failure(f.outcome.status, f.outcome.retry_at));
        // Which of these runs' outcomes the job shows: the core's rule.
        let writes: HashMap<RunId, StatusWrite> =
            outcome_status_writes(finished).into_iter().collect();
        if self.is_postgres() {
            let outcomes: Vec<run_sql::Outcome> = finished
                .iter()
                .map(|f| {
                    run_sql::Outcome {
                        id: f.run.id.0,
                        status: f.outcome.status.as_str(),
                        error: f.outcome.error.as_ref().map(|e| e.as_str().to_string()),
                        finished_at: run_sql::instant(micros(f.outcome.finished_at)),
                        retry_at: f.outcome.retry_at.map(|at| run_sql::instant(micros(at))),
                        job_status: writes.contains_key(&f.run.id),
                        ..run_sql::Outcome::default()
                    }
                    .with_output(f.output.as_ref())
                })
                .collect();
            if !streaks && !failures {
                let rows = db(self.db.query_all_raw(run_sql::finish_runs(&outcomes)).await)?;
                let open: BTreeSet<i64> = rows
                    .iter()
                    .map(|row| row.try_get::<i64>("", "job_id"))
                    .collect::<Result<_, _>>()
                    .map_err(repository_error)?;
                if !open.is_empty() {
                    // Successes of jobs with an open streak: stored already, weighed now (a
                    // crash in between leaves the streak open, told at the next success).
                    let txn = db(self.db.begin().await)?;
                    alerts::observe(&txn, &alerts::sightings(finished, &open), &self.alerts)
                        .await?;
                    db(txn.commit().await)?;
                }
                return Ok(Vec::new());
            }
            let txn = db(self.db.begin().await)?;
            let rows = db(txn
                .query_all_raw(run_sql::finish_runs_returning(&outcomes))
                .await)?;
            let stored: HashSet<i64> = rows
                .iter()
                .map(|row| row.try_get::<i64>("", "id"))
                .collect::<Result<_, _>>()
                .map_err(repository_error)?;
            let stored: Vec<&FinishedRun> = finished
                .iter()
                .filter(|f| stored.contains(&f.run.id.0))
                .collect();
            let paused = self.weigh(&txn, &stored, streaks).await?;
            db(txn.commit().await)?;
            return Ok(paused);
        }
        let txn = self.begin_write().await?;
        let mut stored = Vec::new();
        for one in finished {
            if finish_one(&txn, one, writes.get(&one.run.id)).await? {
                stored.push(one);
            }
        }
        let paused = self.weigh(&txn, &stored, streaks).await?;
        db(txn.commit().await)?;
        Ok(paused)
    }

    async fn insert_backfill(
        &self,
        job_id: JobId,
        fires: &[DateTime<Utc>],
        now: DateTime<Utc>,
        worker: &str,
    ) -> Result<Vec<ClaimedRun>, RepositoryError> {
        let _serial = self.serialize().await;
        let txn = self.begin_write().await?;
        // The job's row lock orders backfills (and claims) of one job: the look for existing
        // runs below then sees what a concurrent backfill committed (PostgreSQL reads each
        // statement afresh; SQLite writes one transaction at a time).
        let mut find = jobs::Entity::find_by_id(job_id.0);
        if self.is_postgres() {
            find = find.lock(LockType::Update);
        }
        let job = db(find.one(&txn).await)?
            .ok_or(RepositoryError::NotFound)?
            .into_job()?;
        let mut taken: HashSet<i64> = HashSet::new();
        for chunk in fires.chunks(500) {
            let instants: Vec<_> = chunk.iter().map(|at| micros(*at)).collect();
            let existing: Vec<DateTime<Utc>> = db(runs::Entity::find()
                .select_only()
                .column(runs::Column::ScheduledFor)
                .filter(runs::Column::JobId.eq(job_id.0))
                .filter(runs::Column::ScheduledFor.is_in(instants))
                .into_tuple()
                .all(&txn)
                .await)?;
            taken.extend(existing.iter().map(DateTime::timestamp_micros));
        }
        let mut inserted = Vec::new();
        for fire in fires {
            if !taken.insert(micros(*fire).timestamp_micros()) {
                continue;
            }
            let next = NextAttempt {
                job_id,
                scheduled_for: *fire,
                trigger: RunTrigger::Backfill,
                attempt: 1,
                retries: 0,
                throttles: 0,
            };
            let run =
                db(NewRun::attempt(&next, now, worker).row().insert(&txn).await)?.into_run()?;
            inserted.push(ClaimedRun {
                run,
                job: job.clone(),
            });
        }
        if !inserted.is_empty() {
            let added = i64::try_from(inserted.len()).unwrap_or(i64::MAX);
            db(jobs::Entity::update_many()
                .col_expr(RunCount, Expr::col(RunCount).add(added))
                .filter(jobs::Column::Id.eq(job_id.0))
                .exec(&txn)
                .await)?;
        }
        db(txn.commit().await)?;
        Ok(inserted)
    }

    async fn insert_replay(
        &self,
        original: RunId,
        now: DateTime<Utc>,
        worker: &str,
    ) -> Result<(ClaimedRun, bool), RepositoryError> {
        let _serial = self.serialize().await;
        let txn = self.begin_write().await?;
        let first = db(runs::Entity::find_by_id(original.0).one(&txn).await)?
            .ok_or(RepositoryError::NotFound)?
            .into_run()?;
        // The job's row lock orders replays of its runs: the look for an earlier replay
        // below sees one a concurrent call committed.
        let mut find = jobs::Entity::find_by_id(first.job_id.0);
        if self.is_postgres() {
            find = find.lock(LockType::Update);
        }
        let job = db(find.one(&txn).await)?
            .ok_or(RepositoryError::NotFound)?
            .into_job()?;
        let earlier = db(runs::Entity::find()
            .filter(runs::Column::ReplayOf.eq(original.0))
            .one(&txn)
            .await)?;
        if let Some(replay) = earlier {
            db(txn.rollback().await)?;
            return Ok((
                ClaimedRun {
                    run: replay.into_run()?,
                    job,
                },
                false,
            ));
        }
        // Read again under the lock: it may have ended (or been retried) meanwhile.
        let first = db(runs::Entity::find_by_id(original.0).one(&txn).await)?
            .ok_or(RepositoryError::NotFound)?
            .into_run()?;
        if first.status == RunStatus::Running {
            db(txn.rollback().await)?;
            return Err(RepositoryError::Conflict(Conflict::RunRunning));
        }
        let highest: Option<i32> = db(runs::Entity::find()
            .select_only()
            .column_as(runs::Column::Attempt.max(), "highest")
            .filter(runs::Column::JobId.eq(first.job_id.0))
            .filter(runs::Column::ScheduledFor.eq(first.scheduled_for))
            .into_tuple()
            .one(&txn)
            .await)?
        .flatten();
        let attempt = highest.unwrap_or(first.attempt).saturating_add(1);
        let run = db(NewRun::replay(&first, attempt, now, worker)
            .row()
            .insert(&txn)
            .await)?
        .into_run()?;
        db(jobs::Entity::update_many()
            // An i64, as the backfill's: the statement's text is the same, and a connection that
            // prepared it with one parameter type must not be sent the other (PostgreSQL:
            // "insufficient data left in message").
            .col_expr(RunCount, Expr::col(RunCount).add(1_i64))
            .filter(jobs::Column::Id.eq(first.job_id.0))
            .exec(&txn)
            .await)?;
        db(txn.commit().await)?;
        Ok((ClaimedRun { run, job }, true))
    }

    async fn cancel(&self, id: RunId, plan: &CancelPlan) -> Result<Run, RepositoryError> {
        let txn = self.begin_write().await?;
        let cancelled = db(runs::cancel_update(&plan.error, plan.at)
            .filter(runs::Column::Id.eq(id.0))
            .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
            .exec(&txn)
            .await)?;
        if cancelled.rows_affected == 0 {
            let exists = db(runs::Entity::find_by_id(id.0).one(&txn).await)?.is_some();
            db(txn.rollback().await)?;
            return Err(if exists {
                RepositoryError::Conflict(Conflict::RunEnded)
            } else {
                RepositoryError::NotFound
            });
        }
        set_last_status(&txn, &plan.status_write).await?;
        let run = db(runs::Entity::find_by_id(id.0).one(&txn).await)?
            .ok_or(RepositoryError::NotFound)?
            .into_run()?;
        db(txn.commit().await)?;
        Ok(run)
    }

    async fn mark_stopped(&self, ids: &[RunId]) -> Result<(), RepositoryError> {
        for chunk in ids.chunks(500) {
            db(runs::Entity::update_many()
                .col_expr(
                    runs::Column::HeartbeatAt,
                    Expr::value(micros(DateTime::<Utc>::UNIX_EPOCH)),
                )
                .filter(runs::Column::Id.is_in(chunk.iter().map(|id| id.0)))
                .filter(runs::Column::Status.ne(RunStatus::Running.as_str()))
                .exec(&self.db)
                .await)?;
        }
        Ok(())
    }

    async fn all_stopped(&self, ids: &[RunId]) -> Result<bool, RepositoryError> {
        for chunk in ids.chunks(500) {
            let executing = db(runs::Entity::find()
                .select_only()
                .column(runs::Column::Id)
                .filter(runs::Column::Id.is_in(chunk.iter().map(|id| id.0)))
                .filter(runs::Column::HeartbeatAt.gt(micros(DateTime::<Utc>::UNIX_EPOCH)))
                .into_tuple::<i64>()
                .one(&self.db)
                .await)?;
            if executing.is_some() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn ended_among(&self, ids: &[RunId]) -> Result<Vec<RunId>, RepositoryError> {
        let mut ended = Vec::new();
        // One variable per id on SQLite: chunks keep each statement far below its limit.
        for chunk in ids.chunks(500) {
            let running: HashSet<i64> = db(runs::Entity::find()
                .select_only()
                .column(runs::Column::Id)
                .filter(runs::Column::Id.is_in(chunk.iter().map(|id| id.0)))
                .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
                .into_tuple::<i64>()
                .all(&self.db)
                .await)?
            .into_iter()
            .collect();
            ended.extend(chunk.iter().filter(|id| !running.contains(&id.0)));
        }
        Ok(ended)
    }

    async fn resume_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<JobId>, RepositoryError> {
        let _serial = self.serialize().await;
        let txn = self.begin_write().await?;
        // Served by the partial index on resume_at.
        let due = self.lock_rows(
            jobs::Entity::find()
                .filter(jobs::Column::ResumeAt.lte(micros(now)))
                .filter(jobs::Column::IsActive.eq(false))
                .order_by_asc(jobs::Column::ResumeAt)
                .limit(u64::from(limit)),
        );
        let rows = db(due.all(&txn).await)?;
        let mut resumed = Vec::with_capacity(rows.len());
        for row in rows {
            let before = row.into_job()?;
            let job = before.clone().resumed(now);
            // The row is locked: written as the core computed it, with its audit entry.
            db(jobs::pause_state_update(&job)
                .col_expr(jobs::Column::UpdatedAt, Expr::value(micros(job.updated_at)))
                .exec(&txn)
                .await)?;
            let actor = scheduler_core::Actor::scheduler(&job.tenant);
            if let Some(record) = scheduler_core::job_record(&actor, now, Some(&before), Some(&job))
            {
                super::audit::record_in(&txn, &record).await?;
            }
            resumed.push(job.id);
        }
        db(txn.commit().await)?;
        Ok(resumed)
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
        let plan = plan_manual(&job, micros(now));
        let run = insert_run(&txn, NewRun::attempt(&plan.attempt, now, worker)).await?;
        db(jobs::Entity::update_many()
            .col_expr(jobs::Column::LastRun, Expr::value(plan.job.last_run))
            .col_expr(
                jobs::Column::LastStatus,
                Expr::value(plan.job.last_status.as_str()),
            )
            .col_expr(
                jobs::Column::LastError,
                Expr::value(plan.job.last_error.clone()),
            )
            .filter(jobs::Column::Id.eq(job_id.0))
            .exec(&txn)
            .await)?;
        db(txn.commit().await)?;
        let job = plan.job.apply(job);
        Ok(ClaimedRun { run, job })
    }

    async fn get(&self, id: RunId) -> Result<Option<Run>, RepositoryError> {
        db(runs::Entity::find_by_id(id.0).one(&self.db).await)?
            .map(runs::Model::into_run)
            .transpose()
    }

    async fn output(&self, id: RunId) -> Result<Option<RunOutput>, RepositoryError> {
        super::run_output::find(&self.db, id).await
    }

    async fn list(&self, slice: &RunSlice) -> Result<RunPage, RepositoryError> {
        super::run_list::list(&self.db, slice).await
    }

    async fn due_backlog(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError> {
        let backend = self.db.get_database_backend();
        let row = db(self
            .db
            .query_one_raw(run_sql::due_backlog(backend, micros(now)))
            .await)?;
        let due = row
            .map(|row| row.try_get::<i64>("", "due"))
            .transpose()
            .map_err(repository_error)?
            .unwrap_or(0);
        Ok(u64::try_from(due).unwrap_or(0))
    }

    async fn due_by_tenant(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(scheduler_core::Tenant, u64)>, RepositoryError> {
        let backend = self.db.get_database_backend();
        let rows = db(self
            .db
            .query_all_raw(run_sql::due_by_tenant(backend, micros(now)))
            .await)?;
        rows.iter()
            .map(|row| {
                let tenant: String = row.try_get("", "tenant").map_err(repository_error)?;
                let due: i64 = row.try_get("", "due").map_err(repository_error)?;
                let tenant = scheduler_core::Tenant::parse(&tenant)
                    .map_err(|e| RepositoryError::Rejected(format!("stored tenant: {e:?}")))?;
                Ok((tenant, u64::try_from(due).unwrap_or(0)))
            })
            .collect()
    }

    async fn prune(
        &self,
        older_than: Option<DateTime<Utc>>,
        keep_per_job: Option<u32>,
        batch: u32,
    ) -> Result<u64, RepositoryError> {
        let _serial = self.serialize().await;
        let txn = self.begin_write().await?;
        let deleted = run_prune::prune(&txn, older_than, keep_per_job, batch).await?;
        db(txn.commit().await)?;
        Ok(deleted)
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, RepositoryError> {
        let backend = self.db.get_database_backend();
        let row = db(self.db.query_one_raw(run_sql::next_due(backend)).await)?;
        Ok(row
            .map(|row| row.try_get::<Option<DateTime<Utc>>>("", "earliest"))
            .transpose()
            .map_err(repository_error)?
            .flatten())
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

/// SQLite: [`RunStore::finish`] of one run inside the caller's transaction, and the job
/// status the core decided for it, if any, once its outcome is stored. True when it was (the
/// run was still `running`).
async fn finish_one(
    txn: &DatabaseTransaction,
    one: &FinishedRun,
    job_status: Option<&StatusWrite>,
) -> Result<bool, RepositoryError> {
    let (run, outcome) = (&one.run, &one.outcome);
    let error = outcome.error.as_ref().map(|e| e.as_str().to_string());
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
        .exec(txn)
        .await)?;
    let stored = finished.rows_affected > 0;
    if let (true, Some(write)) = (stored, job_status) {
        set_last_status(txn, write).await?;
    }
    if let (true, Some(output)) = (stored, &one.output) {
        super::run_output::insert_in(txn, run.id, output).await?;
    }
    Ok(stored)
}
