//! The claim of due fires, step by step: `lock_due_jobs` → `validated_jobs` → `running_jobs`
//! → the core's `plan_fire` → `write_fires` (insert the runs, advance the jobs) →
//! `claimed_runs`. On PostgreSQL a claim is four round trips whatever its size (`BEGIN`, the
//! lock, one write statement, `COMMIT`; five with `forbid` jobs in it); on SQLite (one
//! process, claims serialized) it uses sea-orm's builder, one UPDATE per distinct
//! `(next_run, last_run, last_status)`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use scheduler_core::{
    ClaimBatch, ClaimRequest, ClaimedRun, ExecutionKind, FireDecision, FirePlan, Job, JobId,
    RepositoryError, RunId, RunStatus, WireEnum, needs_running_check,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::entity as jobs;
use super::entity::RunCount;
use super::new_run::NewRun;
use super::run_entity as runs;
use super::run_sql::{self, PlannedFire, instant};
use super::{micros, repository_error};

fn db<T>(result: Result<T, sea_orm::DbErr>) -> Result<T, RepositoryError> {
    result.map_err(repository_error)
}

/// Step 1: locks the due jobs `request` allows, earliest first: each kind up to its limit,
/// saturated hosts left out.
pub(super) async fn lock_due_jobs(
    txn: &DatabaseTransaction,
    request: &ClaimRequest,
) -> Result<Vec<jobs::Model>, RepositoryError> {
    let now = micros(request.now);
    if txn.get_database_backend() == DbBackend::Postgres {
        let statement = run_sql::lock_due(
            now,
            request.handlers,
            request.deliveries,
            &request.saturated_hosts,
            &request.tenant_limits.weights(),
        );
        return db(jobs::Entity::find().from_raw_sql(statement).all(txn).await);
    }
    let due = || {
        jobs::Entity::find()
            .filter(jobs::Column::IsActive.eq(true))
            .filter(jobs::Column::NextRun.lte(now))
            .order_by_asc(jobs::Column::NextRun)
            .order_by_asc(jobs::Column::Id)
    };
    let mut rows = Vec::new();
    if request.handlers > 0 {
        rows = db(due()
            .filter(jobs::Column::Target.is_null())
            .limit(u64::from(request.handlers))
            .all(txn)
            .await)?;
    }
    if request.deliveries > 0 {
        let mut deliveries =
            due()
                .filter(jobs::Column::Target.is_not_null())
                .filter(Expr::cust_with_values(
                    run_sql::HELD_HOSTS.replace("$1", "?"),
                    [now],
                ));
        if !request.saturated_hosts.is_empty() {
            deliveries = deliveries.filter(Expr::cust_with_values(
                "coalesce(target_host, '') NOT IN (SELECT value FROM json_each(?))",
                [serde_json::json!(request.saturated_hosts).to_string()],
            ));
        }
        rows.extend(db(deliveries
            .limit(u64::from(request.deliveries))
            .all(txn)
            .await)?);
    }
    Ok(rows)
}

/// Step 2: the rows as jobs. A row that no longer validates must not block every later
/// claim: its `next_run` is cleared (logged) and it is left out.
pub(super) async fn validated_jobs(
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

/// Step 3: which of `jobs` that the planner must know about have a run `running` now.
pub(super) async fn running_jobs(
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
    let running: Vec<i64> = if txn.get_database_backend() == DbBackend::Postgres {
        let rows = db(txn.query_all_raw(run_sql::running_jobs(&asked)).await)?;
        rows.iter()
            .map(|row| row.try_get::<i64>("", "job_id"))
            .collect::<Result<_, _>>()
            .map_err(repository_error)?
    } else {
        db(runs::Entity::find()
            .select_only()
            .column(runs::Column::JobId)
            .filter(runs::Column::JobId.is_in(asked))
            .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
            .into_tuple::<i64>()
            .all(txn)
            .await)?
    };
    Ok(running.into_iter().map(JobId).collect())
}

/// Steps 4 and 5: inserts the run of every planned fire (running or skipped) and advances
/// every planned job; returns the inserted run ids by job.
pub(super) async fn write_fires(
    txn: &DatabaseTransaction,
    planned: &[(Job, FirePlan)],
    now: DateTime<Utc>,
    worker: &str,
) -> Result<HashMap<JobId, RunId>, RepositoryError> {
    if txn.get_database_backend() == DbBackend::Postgres {
        let fires: Vec<PlannedFire> = planned
            .iter()
            .map(|(job, plan)| {
                let fired = plan.fired_job(job);
                PlannedFire {
                    job_id: job.id.0,
                    scheduled_for: instant(plan.scheduled_for),
                    due_at: plan.due_at.map(instant),
                    next_run: fired.next_run.map(instant),
                    next_fire: fired.next_fire.map(instant),
                    last_run: fired.last_run.map(instant),
                    status: fired.last_status.as_str(),
                    error: fired.last_error,
                    fire_count: i64::try_from(fired.fire_count).unwrap_or(i64::MAX),
                }
            })
            .collect();
        let rows = db(txn
            .query_all_raw(run_sql::write_fires(&fires, now, worker))
            .await)?;
        return rows
            .iter()
            .map(|row| {
                let id = row.try_get::<i64>("", "id")?;
                let job_id = row.try_get::<i64>("", "job_id")?;
                Ok((JobId(job_id), RunId(id)))
            })
            .collect::<Result<_, sea_orm::DbErr>>()
            .map_err(repository_error);
    }
    let inserted = insert_fire_runs(txn, planned, now, worker).await?;
    advance_jobs(txn, planned).await?;
    Ok(inserted)
}

/// SQLite step 4: one INSERT for the run of every planned fire.
async fn insert_fire_runs(
    txn: &DatabaseTransaction,
    planned: &[(Job, FirePlan)],
    now: DateTime<Utc>,
    worker: &str,
) -> Result<HashMap<JobId, RunId>, RepositoryError> {
    let rows = planned.iter().map(|(job, plan)| {
        NewRun::fire(
            job.id,
            (plan.scheduled_for, plan.due_at),
            plan.run_record(),
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
        .map(|row| (JobId(row.job_id), RunId(row.id)))
        .collect())
}

/// SQLite step 5: advances every planned job — one UPDATE per distinct `(next_run,
/// last_run, last_status, last_error, whether the fire ran)`; `run_count` grows by the
/// inserted run, `fire_count` by the fire when it ran (the value the core computed, as a
/// step, so jobs with different counts share a statement).
async fn advance_jobs(
    txn: &DatabaseTransaction,
    planned: &[(Job, FirePlan)],
) -> Result<(), RepositoryError> {
    type Advance = (
        (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
        Option<DateTime<Utc>>,
        &'static str,
        Option<String>,
        bool,
    );
    let mut updates: HashMap<Advance, Vec<i64>> = HashMap::new();
    for (job, plan) in planned {
        let fired = plan.fired_job(job);
        updates
            .entry((
                (fired.next_run.map(micros), fired.next_fire.map(micros)),
                fired.last_run.map(micros),
                fired.last_status.as_str(),
                fired.last_error,
                fired.fire_count > job.fire_count,
            ))
            .or_default()
            .push(job.id.0);
    }
    for (((next_run, next_fire), last_run, status, error, ran), ids) in updates {
        db(jobs::Entity::update_many()
            .col_expr(jobs::Column::NextRun, Expr::value(next_run))
            .col_expr(jobs::Column::NextFire, Expr::value(next_fire))
            .col_expr(jobs::Column::LastRun, Expr::value(last_run))
            .col_expr(jobs::Column::LastStatus, Expr::value(status))
            .col_expr(jobs::Column::LastError, Expr::value(error))
            .col_expr(RunCount, Expr::cust("run_count + 1"))
            .col_expr(
                jobs::Column::FireCount,
                Expr::cust(if ran { "fire_count + 1" } else { "fire_count" }),
            )
            .filter(jobs::Column::Id.is_in(ids))
            .exec(txn)
            .await)?;
    }
    Ok(())
}

/// Claim step for `buffer_one` fires that wait: each job keeps its pending fire
/// (`next_fire`) and is due again at the plan's `next_run`; no run is inserted.
pub(super) async fn hold_waiting(
    txn: &DatabaseTransaction,
    waiting: &[(Job, FirePlan)],
) -> Result<(), RepositoryError> {
    for (job, plan) in waiting {
        db(jobs::Entity::update_many()
            .col_expr(
                jobs::Column::NextRun,
                Expr::value(plan.next_run.map(micros)),
            )
            .col_expr(
                jobs::Column::NextFire,
                Expr::value(plan.next_fire.map(micros)),
            )
            .filter(jobs::Column::Id.eq(job.id.0))
            .exec(txn)
            .await)?;
    }
    Ok(())
}

/// Claim step for `replace` fires: the jobs' `running` runs are recorded `cancelled` (their
/// executing replica stops them); returns them.
pub(super) async fn replace_running(
    txn: &DatabaseTransaction,
    planned: &[(Job, FirePlan)],
    now: DateTime<Utc>,
) -> Result<Vec<(JobId, RunId)>, RepositoryError> {
    let jobs: Vec<i64> = planned
        .iter()
        .filter(|(_, plan)| plan.decision == FireDecision::Replace)
        .map(|(job, _)| job.id.0)
        .collect();
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let running: Vec<(i64, i64)> = db(runs::Entity::find()
        .select_only()
        .column(runs::Column::JobId)
        .column(runs::Column::Id)
        .filter(runs::Column::JobId.is_in(jobs))
        .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
        .into_tuple()
        .all(txn)
        .await)?;
    if running.is_empty() {
        return Ok(Vec::new());
    }
    db(runs::cancel_update(scheduler_core::plan::REPLACED, now)
        .filter(runs::Column::Id.is_in(running.iter().map(|(_, id)| *id)))
        .exec(txn)
        .await)?;
    Ok(running
        .into_iter()
        .map(|(job, id)| (JobId(job), RunId(id)))
        .collect())
}

/// The planned fires that count as missed ([`scheduler_core::missed_fire`]: skipped by
/// misfire, overlap or catch-up, or started after the grace), as the alert rules see them,
/// with the run each recorded.
pub(super) fn missed_fires(
    planned: &[(Job, FirePlan)],
    inserted: &HashMap<JobId, RunId>,
    now: DateTime<Utc>,
) -> Vec<super::alerts::Seen> {
    planned
        .iter()
        .filter_map(|(job, plan)| {
            let why = scheduler_core::missed_fire(job, plan, now)?;
            let status = match plan.decision {
                FireDecision::Skip(_) => RunStatus::Skipped,
                _ => RunStatus::Running,
            };
            Some(super::alerts::Seen {
                job_id: job.id,
                sighting: scheduler_core::Sighting::Missed,
                run: scheduler_core::RunFacts {
                    id: inserted.get(&job.id).copied(),
                    scheduled_for: Some(plan.scheduled_for),
                    attempt: Some(1),
                    status: Some(status),
                    error: Some(why),
                },
                at: now,
            })
        })
        .collect()
}

/// The runs to execute from a claim: each fired job (as advanced) with its new run.
pub(super) fn claimed_runs(
    planned: Vec<(Job, FirePlan)>,
    mut inserted: HashMap<JobId, RunId>,
    now: DateTime<Utc>,
    worker: &str,
) -> Result<ClaimBatch, RepositoryError> {
    let mut batch = ClaimBatch::default();
    for (job, plan) in planned {
        batch.advanced_jobs.push(job.id);
        if ExecutionKind::of(&job) == ExecutionKind::Handler {
            batch.advanced_handlers += 1;
        }
        if let FireDecision::Skip(why) = plan.decision {
            batch.skipped.push((job.id, why));
            continue;
        }
        let id = inserted.remove(&job.id).ok_or_else(|| {
            RepositoryError::Unavailable(format!("no run inserted for job {}", job.id))
        })?;
        let run = NewRun::fire(
            job.id,
            (plan.scheduled_for, plan.due_at),
            plan.run_record(),
            now,
            worker,
        )
        .into_run(id);
        let job = plan.fired_job(&job).apply(job);
        batch.runs.push(ClaimedRun { run, job });
    }
    Ok(batch)
}
