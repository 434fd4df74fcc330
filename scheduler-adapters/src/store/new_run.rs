//! `NewRun`: the row of a run about to be inserted, and the run it is once stored — one
//! place for a new run's instants and end, whichever path inserts it (a claim, a retry, a
//! recovery, a manual run).

use chrono::{DateTime, Utc};
use scheduler_core::{JobId, NextAttempt, Run, RunId, RunStatus, RunTrigger, WireEnum};
use sea_orm::ActiveValue::{NotSet, Set};

use super::micros;
use super::run_entity as runs;

/// The columns of a new run row that differ between kinds of run.
pub(super) struct NewRun<'a> {
    /// The job.
    job_id: JobId,
    /// The fire served.
    scheduled_for: DateTime<Utc>,
    /// When a jittered fire was due (first attempts at scheduled fires only).
    due_at: Option<DateTime<Utc>>,
    /// Why it exists.
    trigger: RunTrigger,
    /// Attempt number at this fire.
    attempt: i32,
    /// Failure retries used.
    retries: i32,
    /// Throttled attempts at the fire so far.
    throttles: i32,
    /// `running`, or `skipped` for a skipped fire.
    status: RunStatus,
    /// Start (and, when not running, end) instant.
    now: DateTime<Utc>,
    /// Why it was skipped.
    error: Option<String>,
    /// The replica executing it.
    worker: &'a str,
    /// For a replay: the run replayed.
    replay_of: Option<RunId>,
}

impl<'a> NewRun<'a> {
    /// The row of an attempt the core planned, running for `worker`.
    pub(super) fn attempt(next: &NextAttempt, now: DateTime<Utc>, worker: &'a str) -> Self {
        Self {
            job_id: next.job_id,
            scheduled_for: next.scheduled_for,
            due_at: None,
            trigger: next.trigger,
            attempt: next.attempt,
            retries: next.retries,
            throttles: next.throttles,
            status: RunStatus::Running,
            now,
            error: None,
            worker,
            replay_of: None,
        }
    }

    /// The row of a replay of `original`: the next attempt at its fire, running for `worker`.
    pub(super) fn replay(
        original: &Run,
        attempt: i32,
        now: DateTime<Utc>,
        worker: &'a str,
    ) -> Self {
        Self {
            job_id: original.job_id,
            scheduled_for: original.scheduled_for,
            due_at: None,
            trigger: RunTrigger::Replay,
            attempt,
            retries: 0,
            throttles: 0,
            status: RunStatus::Running,
            now,
            error: None,
            worker,
            replay_of: Some(original.id),
        }
    }

    /// The row of the first attempt at a scheduled fire, with the status and error the
    /// core's plan records for it (`FirePlan::run_record`: running, or skipped and why).
    pub(super) fn fire(
        job_id: JobId,
        (scheduled_for, due_at): (DateTime<Utc>, Option<DateTime<Utc>>),
        (status, error): (RunStatus, Option<String>),
        now: DateTime<Utc>,
        worker: &'a str,
    ) -> Self {
        Self {
            job_id,
            scheduled_for,
            due_at,
            trigger: RunTrigger::Schedule,
            attempt: 1,
            retries: 0,
            throttles: 0,
            status,
            now,
            error,
            worker,
            replay_of: None,
        }
    }

    /// The run this row is once stored under `id` (what a bulk insert that returns only ids
    /// hands back): started now, ended now unless running, instants at microseconds.
    pub(super) fn into_run(self, id: RunId) -> Run {
        let finished = self.status != RunStatus::Running;
        let now = micros(self.now);
        Run {
            id,
            job_id: self.job_id,
            scheduled_for: micros(self.scheduled_for),
            due_at: self.due_at.map(micros),
            trigger: self.trigger,
            attempt: self.attempt,
            retries: self.retries,
            throttles: self.throttles,
            status: self.status,
            started_at: now,
            finished_at: finished.then_some(now),
            heartbeat_at: now,
            retry_at: None,
            error: self.error,
            worker: self.worker.to_string(),
            replay_of: self.replay_of,
        }
    }

    /// The row to insert: the values of [`NewRun::into_run`], the id left to the database.
    pub(super) fn row(self) -> runs::ActiveModel {
        let run = self.into_run(RunId(0));
        runs::ActiveModel {
            id: NotSet,
            job_id: Set(run.job_id.0),
            scheduled_for: Set(run.scheduled_for),
            due_at: Set(run.due_at),
            trigger: Set(run.trigger.as_str().to_string()),
            attempt: Set(run.attempt),
            retries: Set(run.retries),
            throttles: Set(run.throttles),
            status: Set(run.status.as_str().to_string()),
            started_at: Set(run.started_at),
            finished_at: Set(run.finished_at),
            heartbeat_at: Set(run.heartbeat_at),
            retry_at: Set(run.retry_at),
            error: Set(run.error),
            worker: Set(run.worker),
            replay_of: Set(run.replay_of.map(|id| id.0)),
        }
    }
}
