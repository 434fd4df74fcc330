//! What a job's own record says about its runs — `next_run`, `last_run`, `last_status`,
//! `last_error` — after each thing that happens to one of its fires: a claim (run or skip),
//! a manual run, a retry, an outcome, a recovery that gives up.
//!
//! One rule: **a job shows the status of the latest attempt at its last fire.** The core
//! computes every value here; stores write them as they are. Where another event may have
//! moved the job on meanwhile (a later fire, a manual run), a store writes a
//! [`StatusWrite`] only while `fire` is still the job's `last_run`: that condition is a
//! storage mechanism (one conditional statement), not a second copy of the rule.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::claim::FinishedRun;
use crate::job::{Job, JobId};
use crate::plan::{FireDecision, FirePlan, NextAttempt, RecoveryPlan};
use crate::run::{Run, RunId};
use crate::run_status::{RunStatus, RunTrigger};

/// A job's record after one of its fires is claimed or run by hand: every value a store
/// writes to the job row (besides counting the new run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredJob {
    /// The next fire (its due time).
    pub next_run: Option<DateTime<Utc>>,
    /// Its schedule instant, for a job with jitter.
    pub next_fire: Option<DateTime<Utc>>,
    /// The last fire.
    pub last_run: Option<DateTime<Utc>>,
    /// The status of the latest attempt at the last fire.
    pub last_status: RunStatus,
    /// Its error.
    pub last_error: Option<String>,
    /// Scheduled fires that ran so far.
    pub fire_count: u64,
}

impl FiredJob {
    /// `job` with this record.
    pub fn apply(&self, job: Job) -> Job {
        Job {
            next_run: self.next_run,
            next_fire: self.next_fire,
            last_run: self.last_run,
            last_status: Some(self.last_status),
            last_error: self.last_error.clone(),
            fire_count: self.fire_count,
            ..job
        }
    }
}

impl FirePlan {
    /// The status and error the fire's own run is inserted with: `running`, or `skipped` with
    /// the reason.
    pub fn run_record(&self) -> (RunStatus, Option<String>) {
        match &self.decision {
            FireDecision::Run | FireDecision::Replace => (RunStatus::Running, None),
            FireDecision::Skip(why) => (RunStatus::Skipped, Some(why.message())),
            // Stores insert no run for a waiting fire; this is what it would say.
            FireDecision::Wait => (
                RunStatus::Skipped,
                Some(
                    "waiting: the previous run is still running (concurrency_policy=buffer_one)"
                        .into(),
                ),
            ),
        }
    }

    /// `job`'s record once this plan is carried out: the next fire, and a run fire as the
    /// last one with its run's status (a skipped fire leaves `last_run` where it was but
    /// shows the skip).
    pub fn fired_job(&self, job: &Job) -> FiredJob {
        let (last_status, last_error) = self.run_record();
        FiredJob {
            next_run: self.next_run,
            next_fire: self.next_fire,
            last_run: match self.decision {
                FireDecision::Run | FireDecision::Replace => Some(self.scheduled_for),
                FireDecision::Skip(_) | FireDecision::Wait => job.last_run,
            },
            last_status,
            last_error,
            fire_count: self.fire_count,
        }
    }
}

/// A manual run of a job: its first (and only planned) attempt, and the job's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualPlan {
    /// The attempt to insert, `running`.
    pub attempt: NextAttempt,
    /// The job's record afterwards.
    pub job: FiredJob,
}

/// Plans a manual run of `job` at `now`: a fire at `now` (trigger `manual`), which becomes
/// the job's last fire; its schedule (`next_run`) is unchanged.
pub fn plan_manual(job: &Job, now: DateTime<Utc>) -> ManualPlan {
    ManualPlan {
        attempt: NextAttempt {
            job_id: job.id,
            scheduled_for: now,
            trigger: RunTrigger::Manual,
            attempt: 1,
            retries: 0,
            throttles: 0,
        },
        job: FiredJob {
            next_run: job.next_run,
            next_fire: job.next_fire,
            last_run: Some(now),
            last_status: RunStatus::Running,
            last_error: None,
            fire_count: job.fire_count,
        },
    }
}

/// Sets job `job_id`'s `last_status`/`last_error` — written only while `fire` is still the
/// job's `last_run` (a later fire, or a manual run since, owns the job's status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusWrite {
    /// The job.
    pub job_id: JobId,
    /// The fire the status belongs to.
    pub fire: DateTime<Utc>,
    /// The status.
    pub status: RunStatus,
    /// Its error.
    pub error: Option<String>,
}

impl NextAttempt {
    /// What starting this attempt shows on its job: `running`, no error.
    pub fn status_write(&self) -> StatusWrite {
        StatusWrite {
            job_id: self.job_id,
            fire: self.scheduled_for,
            status: RunStatus::Running,
            error: None,
        }
    }
}

impl RecoveryPlan {
    /// What recovering `stale` shows on its job: when the fire is given up (no next
    /// attempt), its final status and why; when it runs again, nothing (the job still shows
    /// the fire running).
    pub fn status_write(&self, stale: &Run) -> Option<StatusWrite> {
        self.next.is_none().then(|| StatusWrite {
            job_id: stale.job_id,
            fire: stale.scheduled_for,
            status: self.status,
            error: Some(self.error.as_str().to_string()),
        })
    }
}

/// The job status writes a batch of outcomes implies, each with the run it comes from: for
/// each job, the latest attempt at the latest fire in the batch (a store writes it only if
/// that run was still `running`, i.e. its outcome was stored, and the fire is still the
/// job's last).
pub fn outcome_status_writes(finished: &[FinishedRun]) -> Vec<(RunId, StatusWrite)> {
    let mut latest: HashMap<JobId, &FinishedRun> = HashMap::new();
    for one in finished {
        let key = |f: &FinishedRun| (f.run.scheduled_for, f.run.attempt);
        latest
            .entry(one.run.job_id)
            .and_modify(|kept| {
                if key(one) > key(kept) {
                    *kept = one;
                }
            })
            .or_insert(one);
    }
    let mut writes: Vec<(RunId, StatusWrite)> = latest
        .into_values()
        .map(|one| {
            (
                one.run.id,
                StatusWrite {
                    job_id: one.run.job_id,
                    fire: one.run.scheduled_for,
                    status: one.outcome.status,
                    error: one.outcome.error.as_ref().map(|e| e.as_str().to_string()),
                },
            )
        })
        .collect();
    writes.sort_by_key(|(run, _)| *run);
    writes
}

/// What cancelling a running run records: the run `cancelled` at `at` with `error`, never
/// retried, and its job's status (written only while the fire is the job's last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelPlan {
    /// Why, stored as the run's error: "cancelled by <key>" (or "cancelled").
    pub error: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The job's status afterwards.
    pub status_write: StatusWrite,
}

/// Plans the cancel of `run` (running) by the key named `by` at `now`.
pub fn plan_cancel(run: &Run, by: Option<&str>, now: DateTime<Utc>) -> CancelPlan {
    let error = match by {
        Some(key) => format!("cancelled by {key}"),
        None => "cancelled".to_string(),
    };
    CancelPlan {
        status_write: StatusWrite {
            job_id: run.job_id,
            fire: run.scheduled_for,
            status: RunStatus::Cancelled,
            error: Some(error.clone()),
        },
        error,
        at: now,
    }
}

/// How one batch of stored outcomes moves a job's failure streak (kept only for jobs with
/// `pause_after_failures`): a run that succeeded restarts it, a run that failed or timed out
/// with no retry to come (its fire given up) adds one; a failure that will be retried counts
/// only when its last attempt does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreakChange {
    /// The job.
    pub job_id: JobId,
    /// True when a run of the batch succeeded: the streak becomes `failures` (those after
    /// the success); false: `failures` is added to it.
    pub restart: bool,
    /// The given-up fires counted.
    pub failures: u32,
    /// The error of the latest of them.
    pub last_error: Option<String>,
    /// When the latest outcome counted ended.
    pub at: DateTime<Utc>,
}

/// The streak changes `stored` implies, one per job, in job order: only outcomes of jobs that
/// pause themselves ([`FinishedRun::pause_after_failures`] above 0), taken in the order they
/// ended. A store calls it with the outcomes it actually stored (a run recovered meanwhile
/// counts once, by the recovery).
pub fn failure_streaks<'a>(stored: impl IntoIterator<Item = &'a FinishedRun>) -> Vec<StreakChange> {
    let mut counted: Vec<&FinishedRun> = stored
        .into_iter()
        .filter(|one| one.pause_after_failures > 0)
        .filter(|one| one.outcome.status == RunStatus::Succeeded || one.outcome.retry_at.is_none())
        .collect();
    counted.sort_by_key(|one| (one.run.job_id, one.outcome.finished_at, one.run.id));
    let mut changes: Vec<StreakChange> = Vec::new();
    for one in counted {
        if changes
            .last()
            .is_none_or(|last| last.job_id != one.run.job_id)
        {
            changes.push(StreakChange {
                job_id: one.run.job_id,
                restart: false,
                failures: 0,
                last_error: None,
                at: one.outcome.finished_at,
            });
        }
        let Some(change) = changes.last_mut() else {
            continue;
        };
        change.at = one.outcome.finished_at;
        if one.outcome.status == RunStatus::Succeeded {
            change.restart = true;
            change.failures = 0;
            change.last_error = None;
        } else {
            change.failures = change.failures.saturating_add(1);
            change.last_error = one.outcome.error.as_ref().map(|e| e.as_str().to_string());
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job_input::JobDraft;
    use crate::plan::{RunOutcome, SkipReason};
    use crate::run::ErrorText;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn job() -> Job {
        let spec = JobDraft {
            name: Some("j".into()),
            cron_expression: Some("0 * * * *".into()),
            ..JobDraft::default()
        }
        .validate(at("2025-06-23T08:00:00Z"))
        .unwrap();
        Job {
            id: JobId(3),
            next_run: Some(at("2025-06-23T09:00:00Z")),
            spec,
            last_run: Some(at("2025-06-23T08:00:00Z")),
            last_status: Some(RunStatus::Succeeded),
            last_error: None,
            fire_count: 0,
            pause: None,
            failure_streak: 0,
            next_fire: None,
            created_at: at("2025-06-23T08:00:00Z"),
            updated_at: at("2025-06-23T08:00:00Z"),
            tenant: crate::tenant::Tenant::default_tenant(),
            created_by: None,
            updated_by: None,
        }
    }

    #[test]
    fn a_run_fire_becomes_the_last_one_and_a_skip_keeps_the_last_fire_but_shows() {
        let job = job();
        let run = FirePlan {
            scheduled_for: at("2025-06-23T09:00:00Z"),
            due_at: None,
            next_fire: None,
            decision: FireDecision::Run,
            next_run: Some(at("2025-06-23T10:00:00Z")),
            fire_count: 1,
        };
        let fired = run.fired_job(&job);
        assert_eq!(fired.last_run, Some(at("2025-06-23T09:00:00Z")));
        assert_eq!(fired.next_run, Some(at("2025-06-23T10:00:00Z")));
        assert_eq!(
            (fired.last_status, fired.last_error),
            (RunStatus::Running, None)
        );
        let skip = FirePlan {
            decision: FireDecision::Skip(SkipReason::Forbid),
            ..run
        };
        let fired = skip.fired_job(&job);
        assert_eq!(fired.last_run, Some(at("2025-06-23T08:00:00Z")));
        assert_eq!(fired.last_status, RunStatus::Skipped);
        assert_eq!(fired.last_error, skip.run_record().1);
        assert!(fired.last_error.is_some());
        let advanced = fired.apply(job);
        assert_eq!(advanced.last_status, Some(RunStatus::Skipped));
        assert_eq!(advanced.next_run, Some(at("2025-06-23T10:00:00Z")));
    }

    #[test]
    fn a_manual_run_becomes_the_last_fire_and_leaves_the_schedule() {
        let job = job();
        let now = at("2025-06-23T08:30:00Z");
        let plan = plan_manual(&job, now);
        assert_eq!(plan.attempt.trigger, RunTrigger::Manual);
        assert_eq!((plan.attempt.scheduled_for, plan.attempt.attempt), (now, 1));
        assert_eq!(plan.job.next_run, job.next_run);
        assert_eq!(plan.job.last_run, Some(now));
        assert_eq!(plan.job.last_status, RunStatus::Running);
    }

    fn finished(id: i64, job: i64, fire: &str, attempt: i32, status: RunStatus) -> FinishedRun {
        FinishedRun {
            run: Run {
                id: RunId(id),
                job_id: JobId(job),
                scheduled_for: at(fire),
                due_at: None,
                trigger: RunTrigger::Schedule,
                attempt,
                retries: 0,
                throttles: 0,
                status: RunStatus::Running,
                started_at: at(fire),
                finished_at: None,
                heartbeat_at: at(fire),
                retry_at: None,
                error: None,
                worker: "w".into(),
                replay_of: None,
            },
            outcome: RunOutcome {
                status,
                error: (status == RunStatus::Failed).then(|| ErrorText::sanitize("boom")),
                finished_at: at(fire),
                retry_at: None,
            },
            pause_after_failures: 0,
            output: None,
            host_hold: None,
        }
    }

    fn counted(id: i64, job: i64, minute: u32, status: RunStatus) -> FinishedRun {
        let mut one = finished(id, job, "2025-06-23T09:00:00Z", 1, status);
        one.outcome.finished_at =
            at("2025-06-23T09:00:00Z") + chrono::Duration::minutes(minute.into());
        one.pause_after_failures = 3;
        one
    }

    #[test]
    fn given_up_failures_add_to_the_streak_and_a_success_restarts_it() {
        use RunStatus::{Failed, Succeeded, TimedOut};
        let mut retried = counted(9, 1, 0, Failed);
        retried.outcome.retry_at = Some(at("2025-06-23T10:00:00Z"));
        let mut silent = counted(10, 3, 0, Failed);
        silent.pause_after_failures = 0;
        // Out of order on purpose: the streak follows when the runs ended.
        let changes = failure_streaks(&[
            counted(1, 1, 2, Failed),
            retried,
            counted(2, 1, 1, TimedOut),
            counted(3, 2, 5, Failed),
            counted(4, 2, 1, Failed),
            counted(5, 2, 3, Succeeded),
            silent,
        ]);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(
            (changes[0].job_id, changes[0].restart, changes[0].failures),
            (JobId(1), false, 2)
        );
        assert_eq!(changes[0].last_error.as_deref(), Some("boom"));
        assert_eq!(changes[0].at, at("2025-06-23T09:02:00Z"));
        // Job 2: failed, succeeded, failed: the streak restarts at the one failure after.
        assert_eq!(
            (changes[1].job_id, changes[1].restart, changes[1].failures),
            (JobId(2), true, 1)
        );
        let healed = failure_streaks(&[counted(6, 4, 0, Failed), counted(7, 4, 1, Succeeded)]);
        assert_eq!((healed[0].restart, healed[0].failures), (true, 0));
        assert_eq!(healed[0].last_error, None);
    }

    #[test]
    fn a_cancel_records_who_and_shows_on_the_job_while_the_fire_is_its_last() {
        let run = finished(7, 3, "2025-06-23T09:00:00Z", 2, RunStatus::Running).run;
        let now = at("2025-06-23T09:00:05Z");
        let plan = plan_cancel(&run, Some("ops"), now);
        assert_eq!((plan.error.as_str(), plan.at), ("cancelled by ops", now));
        assert_eq!(
            plan.status_write,
            StatusWrite {
                job_id: JobId(3),
                fire: at("2025-06-23T09:00:00Z"),
                status: RunStatus::Cancelled,
                error: Some("cancelled by ops".into()),
            }
        );
        assert_eq!(plan_cancel(&run, None, now).error, "cancelled");
    }

    #[test]
    fn a_resumed_job_fires_from_now_with_its_pause_and_streak_cleared() {
        let mut job = job();
        job.spec.is_active = false;
        job.next_run = None;
        job.failure_streak = 2;
        job.fire_count = 7;
        job.pause = Some(crate::PauseNote {
            by: Some("ops".into()),
            note: Some("maintenance".into()),
            at: at("2025-06-23T08:10:00Z"),
            auto: false,
            until: Some(at("2025-06-23T11:30:00Z")),
        });
        let now = at("2025-06-23T11:30:00.5Z");
        let resumed = job.resumed(now);
        assert!(resumed.spec.is_active);
        // Hourly: the 09:00, 10:00 and 11:00 fires missed while paused are not run.
        assert_eq!(resumed.next_run, Some(at("2025-06-23T12:00:00Z")));
        assert_eq!((resumed.pause, resumed.failure_streak), (None, 0));
        assert_eq!((resumed.fire_count, resumed.updated_at), (7, now));
    }

    #[test]
    fn a_job_pauses_itself_once_its_streak_reaches_the_limit() {
        let now = at("2025-06-23T09:00:00Z");
        let mut job = job();
        job.spec.policy.pause_after_failures = 3;
        job.failure_streak = 2;
        assert_eq!(job.auto_pause(Some("HTTP 500"), now), None);
        job.failure_streak = 3;
        let note = job.auto_pause(Some("HTTP 500"), now).unwrap();
        assert_eq!(
            note.note.as_deref(),
            Some("auto-paused after 3 consecutive failures: HTTP 500")
        );
        assert!(note.auto);
        assert_eq!((note.by.clone(), note.at), (None, now));
        job.spec.policy.pause_after_failures = 0;
        assert_eq!(job.auto_pause(Some("HTTP 500"), now), None, "off");
        job.spec.policy.pause_after_failures = 3;
        job.spec.is_active = false;
        assert_eq!(
            job.auto_pause(Some("HTTP 500"), now),
            None,
            "already paused"
        );
        job.pause = Some(note);
        assert_eq!(
            job.status_reason().as_deref(),
            Some("auto-paused after 3 consecutive failures: HTTP 500")
        );
        let long = "e".repeat(5_000);
        let capped = crate::PauseNote::auto_paused(3, Some(&long), now);
        assert_eq!(
            capped.note.unwrap().chars().count(),
            crate::PauseNote::MAX_CHARS
        );
    }

    #[test]
    fn a_batch_writes_each_jobs_latest_attempt_at_its_latest_fire() {
        let writes = outcome_status_writes(&[
            finished(1, 1, "2025-06-23T09:00:00Z", 1, RunStatus::Failed),
            finished(2, 1, "2025-06-23T09:00:00Z", 2, RunStatus::Succeeded),
            finished(3, 2, "2025-06-23T10:00:00Z", 1, RunStatus::Failed),
            finished(4, 2, "2025-06-23T09:00:00Z", 1, RunStatus::Succeeded),
            finished(5, 3, "2025-06-23T09:00:00Z", 1, RunStatus::TimedOut),
        ]);
        let summary: Vec<(i64, i64, RunStatus)> = writes
            .iter()
            .map(|(run, write)| (run.0, write.job_id.0, write.status))
            .collect();
        assert_eq!(
            summary,
            [
                (2, 1, RunStatus::Succeeded),
                (3, 2, RunStatus::Failed),
                (5, 3, RunStatus::TimedOut)
            ]
        );
        assert_eq!(writes[1].1.error.as_deref(), Some("boom"));
        assert_eq!(writes[1].1.fire, at("2025-06-23T10:00:00Z"));
    }

    #[test]
    fn a_given_up_recovery_shows_its_failure_and_a_rerun_shows_nothing_new() {
        let stale = finished(9, 4, "2025-06-23T09:00:00Z", 3, RunStatus::Failed).run;
        let job = Job {
            id: JobId(4),
            ..job()
        };
        let rerun =
            crate::plan::plan_recovery(&stale, Some(&job), 10, crate::plan::RecoveryCause::Silent);
        assert!(rerun.next.is_some());
        assert_eq!(rerun.status_write(&stale), None);
        let given_up =
            crate::plan::plan_recovery(&stale, Some(&job), 3, crate::plan::RecoveryCause::Silent);
        let write = given_up.status_write(&stale).unwrap();
        assert_eq!((write.job_id, write.status), (JobId(4), RunStatus::Failed));
        assert_eq!(write.fire, stale.scheduled_for);
        let next = rerun.next.unwrap();
        assert_eq!(next.status_write().status, RunStatus::Running);
    }
}
