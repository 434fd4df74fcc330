//! What the dispatcher decides about runs, as pure functions of a run, its job and the time:
//! what a due fire becomes ([`plan_fire`]), whether a failed run is retried
//! ([`plan_retry`]), what happens to a run whose worker died ([`plan_recovery`]), what a
//! finished execution is recorded as ([`plan_outcome`]), which capacity a run uses
//! ([`ExecutionKind::of`]) and how many fires the next claim asks for ([`next_claim_size`]).
//!
//! The stores call these inside their transactions and persist exactly what they return; no
//! rule of the dispatcher lives in SQL.

use chrono::{DateTime, Duration, Utc};

use crate::job::{Job, JobId, stored_next};
use crate::policy::{CATCH_UP_CAP, ConcurrencyPolicy, MisfirePolicy, RunPolicy};
use crate::run::{ErrorText, Run};
use crate::run_status::{RunStatus, RunTrigger};
use crate::timing::Fire;

/// Why a due fire is not executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// On a day this calendar of the job excludes (with `on_excluded: skip`, or when no
    /// allowed day was found to move it to).
    Calendar {
        /// The calendar's name.
        name: crate::calendar::CalendarName,
    },
    /// Later than the grace period, with misfire policy `skip`.
    Misfire {
        /// How late the fire was found, in seconds.
        late_seconds: i64,
        /// The job's grace period, in seconds.
        grace_seconds: u32,
    },
    /// The previous run is still running, with concurrency policy `forbid`.
    Forbid,
    /// Later than the grace, with misfire policy `catch_up`, and older than the fires it
    /// catches up (outside the window, or before the last [`CATCH_UP_CAP`] missed fires).
    CatchUp {
        /// How late the fire was found, in seconds.
        late_seconds: i64,
        /// The job's catch-up window, in seconds.
        window_seconds: u32,
    },
}

impl SkipReason {
    /// The metric label: `calendar`, `misfire`, `forbid` or `catch_up`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Calendar { .. } => "calendar",
            Self::Misfire { .. } => "misfire",
            Self::Forbid => "forbid",
            Self::CatchUp { .. } => "catch_up",
        }
    }

    /// The text stored on the skipped run.
    pub fn message(&self) -> String {
        match self {
            Self::Misfire {
                late_seconds,
                grace_seconds,
            } => format!(
                "skipped: missed by {late_seconds}s, beyond misfire_grace_seconds={grace_seconds} \
                 (misfire_policy=skip)"
            ),
            Self::Calendar { name } => format!("skipped: excluded by calendar {name}"),
            Self::Forbid => {
                "skipped: the previous run is still running (concurrency_policy=forbid)".into()
            }
            Self::CatchUp {
                late_seconds,
                window_seconds,
            } => format!(
                "skipped: missed by {late_seconds}s, before the fires caught up (the last \
                 {CATCH_UP_CAP} within catch_up_window_seconds={window_seconds}; \
                 misfire_policy=catch_up)"
            ),
        }
    }
}

/// The error of a run stopped because its `replace` job fired again.
pub const REPLACED: &str = "cancelled: replaced by a newer fire (concurrency_policy=replace)";

/// How often a fire buffered by `buffer_one` looks again whether the running run ended.
pub const BUFFER_RECHECK: Duration = Duration::seconds(1);

/// What to do with a due fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FireDecision {
    /// Execute it.
    Run,
    /// Execute it, after stopping the job's running runs (`replace`): they are recorded
    /// `cancelled`.
    Replace,
    /// Record a `skipped` run for this reason.
    Skip(SkipReason),
    /// Keep it pending (`buffer_one` while a run is running): no run yet; the job keeps the
    /// fire as `next_fire`, due again at `next_run` (now + [`BUFFER_RECHECK`]).
    Wait,
}

/// The plan for a due job: which fire, what to do, and the job's next fire afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirePlan {
    /// The fire being served: the schedule's instant (the run's `scheduled_for`).
    pub scheduled_for: DateTime<Utc>,
    /// When it was due, for a job with jitter (`scheduled_for` plus its delay: the job's
    /// `next_run`); `None` without jitter, where it is `scheduled_for` itself.
    pub due_at: Option<DateTime<Utc>>,
    /// Run or skip.
    pub decision: FireDecision,
    /// The job's next fire after now by the next-run rule, as its due time (fires between
    /// `scheduled_for` and now are coalesced into this one fire).
    pub next_run: Option<DateTime<Utc>>,
    /// The schedule instant of `next_run`, for a job with jitter.
    pub next_fire: Option<DateTime<Utc>>,
    /// The job's count of scheduled fires that ran, this one included when it runs: what
    /// `max_runs` is compared with.
    pub fire_count: u64,
}

/// Plans the fire of a due job at `now`: misfire and concurrency policies, then the next run.
/// `previous_running` says whether a run of this job is `running` now. `None` when the job is
/// not due (inactive, no `next_run`, or `next_run` after `now`). Lateness is measured from
/// the due time (after the jitter delay).
pub fn plan_fire(job: &Job, now: DateTime<Utc>, previous_running: bool) -> Option<FirePlan> {
    let due = job
        .next_run
        .filter(|due| *due <= now && job.spec.is_active)?;
    let scheduled_for = job.next_fire.unwrap_or(due);
    let policy = &job.spec.policy;
    let late = now - due;
    let grace = Duration::seconds(i64::from(policy.misfire_grace_seconds));
    // With catch_up, a late fire is either the oldest of the missed fires to run (it runs,
    // and the next is the following missed one) or older than those (it is skipped, and the
    // next is the oldest of them).
    // (On time too: the fires after this one that are already due run one by one, rather
    // than being coalesced into the next fire after now.)
    let catch_up =
        (policy.misfire == MisfirePolicy::CatchUp).then(|| missed_fires(job, scheduled_for, now));
    let excluded = job
        .spec
        .skipped_by_calendar(Fire {
            at: scheduled_for,
            due,
        })
        .cloned();
    if policy.concurrency == ConcurrencyPolicy::BufferOne && previous_running && excluded.is_none()
    {
        // The one pending fire: it keeps its instant, later fires fold into it.
        return Some(FirePlan {
            scheduled_for,
            due_at: job.next_fire.map(|_| due),
            decision: FireDecision::Wait,
            next_run: Some(now + BUFFER_RECHECK),
            next_fire: Some(scheduled_for),
            fire_count: job.fire_count,
        });
    }
    let decision = if let Some(name) = excluded {
        FireDecision::Skip(SkipReason::Calendar { name })
    } else if policy.concurrency == ConcurrencyPolicy::Forbid && previous_running {
        FireDecision::Skip(SkipReason::Forbid)
    } else if late > grace && policy.misfire == MisfirePolicy::Skip {
        FireDecision::Skip(SkipReason::Misfire {
            late_seconds: late.num_seconds(),
            grace_seconds: policy.misfire_grace_seconds,
        })
    } else if let Some(missed) = &catch_up
        && missed
            .first()
            .is_none_or(|oldest| oldest.at != scheduled_for)
    {
        FireDecision::Skip(SkipReason::CatchUp {
            late_seconds: late.num_seconds(),
            window_seconds: policy.catch_up_window_seconds,
        })
    } else if policy.concurrency == ConcurrencyPolicy::Replace && previous_running {
        FireDecision::Replace
    } else {
        FireDecision::Run
    };
    let fire_count = match decision {
        FireDecision::Run | FireDecision::Replace => job.fire_count.saturating_add(1),
        FireDecision::Skip(_) | FireDecision::Wait => job.fire_count,
    };
    let next = match &catch_up {
        // The next missed fire to catch up, while max_runs allows.
        Some(missed) if !job.spec.reached_max_runs(fire_count) => missed
            .iter()
            .find(|fire| fire.at > scheduled_for)
            .copied()
            .or_else(|| job.spec.next_fire(now, fire_count)),
        _ => job.spec.next_fire(now, fire_count),
    };
    let (next_run, next_fire) = stored_next(&job.spec, next);
    Some(FirePlan {
        scheduled_for,
        due_at: job.next_fire.map(|_| due),
        decision,
        next_run,
        next_fire,
        fire_count,
    })
}

/// The fires of `job` a `catch_up` runs when found late at `now`: those at or after
/// `scheduled_for` and inside the window (`now - catch_up_window_seconds`), already due, the
/// last [`CATCH_UP_CAP`] of them, oldest first. The search stops after 100,000 fires (a dense
/// schedule with a long window); the fires seen last are kept.
fn missed_fires(job: &Job, scheduled_for: DateTime<Utc>, now: DateTime<Utc>) -> Vec<Fire> {
    let spec = &job.spec;
    let tz = spec.timezone.tz();
    let window = Duration::seconds(i64::from(spec.policy.catch_up_window_seconds));
    let from = (now - window).max(scheduled_for);
    let mut kept = std::collections::VecDeque::with_capacity(CATCH_UP_CAP);
    // The first fire at or after `from` (first_fire is strictly after its second argument).
    let mut at = spec.schedule.first_fire_in(
        spec.start_time,
        from - Duration::microseconds(1),
        tz,
        spec.policy.dst_overlap,
    );
    for _ in 0..100_000 {
        let Some(instant) = at else { break };
        if spec.end_time.is_some_and(|end| instant > end) {
            break;
        }
        let fire = spec.fire(instant);
        if fire.due > now {
            break;
        }
        if kept.len() == CATCH_UP_CAP {
            kept.pop_front();
        }
        kept.push_back(fire);
        at = spec
            .schedule
            .first_fire_in(spec.start_time, instant, tz, spec.policy.dst_overlap);
    }
    kept.into()
}

/// True when the concurrency policy needs to know whether a run of `job` is running before
/// its fire can be planned.
pub fn needs_running_check(job: &Job) -> bool {
    job.spec.policy.concurrency != ConcurrencyPolicy::Allow
}

/// Which of a replica's execution capacities a run of a job uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionKind {
    /// An in-process handler (a job without a target): bounded by what the process can run
    /// at once (CPU, memory of the handlers).
    Handler,
    /// An HTTP delivery (a job with a target): an outbound request that mostly waits, bounded
    /// by sockets and memory, and per receiving host.
    Delivery,
}

impl ExecutionKind {
    /// A job with an HTTP target is delivered; any other job runs a handler. Stores claim
    /// each kind up to its own limit, so they apply the same rule (`target IS NULL`).
    pub fn of(job: &Job) -> Self {
        if job.spec.target.is_some() {
            Self::Delivery
        } else {
            Self::Handler
        }
    }
}

/// How many fires of one kind the next claim asks for, given what the previous claim asked
/// (`asked`) and got (`got`): a claim that came back full means a backlog, so the next one
/// asks for twice as many, up to `max`; one that came back short means the backlog is
/// drained, so the next asks for `base` again (small claims keep lateness low when few fires
/// are due; large ones cut the per-fire cost of a burst). Never below 1 or above `max`.
pub fn next_claim_size(base: u32, max: u32, asked: u32, got: u32) -> u32 {
    let max = max.max(1);
    let base = base.clamp(1, max);
    if asked > 0 && got >= asked {
        asked.saturating_mul(2).clamp(base, max)
    } else {
        base
    }
}

/// A run to insert, `running`: a further attempt at an earlier run's fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextAttempt {
    /// The job.
    pub job_id: JobId,
    /// The fire served (the earlier run's).
    pub scheduled_for: DateTime<Utc>,
    /// Why it runs.
    pub trigger: RunTrigger,
    /// The earlier attempt's number plus one.
    pub attempt: i32,
    /// Failure retries used, this one included.
    pub retries: i32,
    /// Throttled attempts at the fire so far (see [`Run::throttles`]).
    pub throttles: i32,
}

/// What to do with a failed or timed-out run whose `retry_at` has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryPlan {
    /// Insert this attempt and execute it.
    Retry(NextAttempt),
    /// Do not retry: the job was deleted or paused since the failure. Its `retry_at` is
    /// cleared either way, so the decision is taken once.
    Drop,
}

/// Plans the retry of `failed`, whose job is `job` now (`None` when deleted): a retry is a
/// new attempt with trigger `retry` that uses one of the job's `max_retries` (checked when the
/// failure was recorded, see [`plan_outcome`]). A `throttled` run's next attempt keeps its
/// trigger and uses no retry, only one of the fire's [`MAX_THROTTLES`]. A paused or deleted
/// job is not retried.
pub fn plan_retry(failed: &Run, job: Option<&Job>) -> RetryPlan {
    match job {
        Some(job) if job.spec.is_active => {
            let throttled = failed.status == RunStatus::Throttled;
            RetryPlan::Retry(NextAttempt {
                job_id: failed.job_id,
                scheduled_for: failed.scheduled_for,
                trigger: if throttled {
                    failed.trigger
                } else {
                    RunTrigger::Retry
                },
                attempt: failed.attempt + 1,
                retries: failed.retries + i32::from(!throttled),
                throttles: failed.throttles + i32::from(throttled),
            })
        }
        _ => RetryPlan::Drop,
    }
}

/// What to do with a `running` run whose worker stopped heartbeating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryPlan {
    /// What the stale run becomes: `abandoned`, or `failed` once the cap is reached.
    pub status: RunStatus,
    /// Why, stored on the stale run.
    pub error: ErrorText,
    /// The attempt that runs the fire again, when there is one.
    pub next: Option<NextAttempt>,
}

/// How a `running` run's worker was found dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryCause {
    /// Its heartbeat is older than the lease.
    Silent,
    /// Its worker's presence ended (`crate::presence`): the process or its session is gone.
    Lost,
}

impl RecoveryCause {
    /// How the recovered run's error says it.
    fn words(self, worker: &str) -> String {
        match self {
            RecoveryCause::Silent => format!("worker {worker} stopped heartbeating"),
            RecoveryCause::Lost => {
                format!("worker lost: {worker}'s database session ended (process gone)")
            }
        }
    }
}

/// Plans the recovery of `stale`, a `running` run whose worker died (found by `cause`), with
/// its job `job` now.
///
/// A dead worker is not the job's failure: the next attempt keeps the trigger and does not use
/// one of the job's retries, and it runs even if the job was paused meanwhile (the fire was
/// claimed; delivery is at least once). But no fault may re-run a fire forever: the
/// `max_abandoned_attempts`-th abandoned attempt of one fire ends `failed` instead, with the
/// reason, and nothing runs again.
pub fn plan_recovery(
    stale: &Run,
    job: Option<&Job>,
    max_abandoned_attempts: u32,
    cause: RecoveryCause,
) -> RecoveryPlan {
    let abandoned = i64::from(stale.recoveries()) + 1;
    let cap = i64::from(max_abandoned_attempts.max(1));
    let why = cause.words(&stale.worker);
    if abandoned >= cap {
        return RecoveryPlan {
            status: RunStatus::Failed,
            error: ErrorText::sanitize(&format!(
                "{why}; this fire was abandoned {abandoned} times \
                 (max_abandoned_attempts={cap}), so it is not run again"
            )),
            next: None,
        };
    }
    let next = job.map(|job| NextAttempt {
        job_id: job.id,
        scheduled_for: stale.scheduled_for,
        trigger: stale.trigger,
        attempt: stale.attempt + 1,
        retries: stale.retries,
        throttles: stale.throttles,
    });
    RecoveryPlan {
        status: RunStatus::Abandoned,
        error: ErrorText::sanitize(&format!(
            "{why}; run again as attempt {}",
            stale.attempt + 1
        )),
        next,
    }
}

/// How an execution ended, as the dispatcher saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Execution {
    /// The handler or target reported success.
    Succeeded,
    /// The handler or target reported this failure.
    Failed(ErrorText),
    /// The handler panicked.
    Panicked,
    /// The job's timeout passed first.
    TimedOut,
    /// The receiver asked to be called again after `after` (HTTP 429 or 503 with
    /// `Retry-After`); `error` says what it answered.
    Throttled {
        /// What the receiver answered.
        error: ErrorText,
        /// Its `Retry-After`.
        after: std::time::Duration,
    },
}

/// The most times one fire is attempted again because its receiver asked to slow down:
/// one more `Retry-After` fails the run (and the job's retries apply), so a receiver that
/// always answers 429 cannot keep a fire alive forever.
pub const MAX_THROTTLES: i32 = 10;

/// The longest `Retry-After` waited (a longer one is cut to this), and the shortest (a
/// receiver saying 0 is still called again no sooner than a second later).
pub const RETRY_AFTER_BOUNDS: (std::time::Duration, std::time::Duration) = (
    std::time::Duration::from_secs(1),
    std::time::Duration::from_secs(3_600),
);

/// What a finished run is recorded as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// `succeeded`, `failed` or `timed_out`.
    pub status: RunStatus,
    /// Why it failed, safe to store.
    pub error: Option<ErrorText>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// When it is retried, if it failed and the job has retries left.
    pub retry_at: Option<DateTime<Utc>>,
}

impl RunOutcome {
    /// The same outcome with a minimal error text: what is recorded when the store refuses the
    /// full text (a run must always end in a stored final state).
    pub fn with_minimal_error(&self) -> Self {
        Self {
            error: self
                .error
                .as_ref()
                .map(|_| ErrorText::sanitize("the run failed; its error text could not be stored")),
            ..self.clone()
        }
    }
}

/// Plans how `run`, executed under `policy`, is recorded: status, error, and a retry at
/// backoff × 2^(retries) when it did not succeed and the policy has retries left. A throttled
/// execution is recorded `throttled`, attempted again after its `Retry-After` (within
/// [`RETRY_AFTER_BOUNDS`]) without using a retry, until the fire's [`MAX_THROTTLES`]-th:
/// that one is a failure.
pub fn plan_outcome(
    run: &Run,
    policy: &RunPolicy,
    execution: Execution,
    finished_at: DateTime<Utc>,
) -> RunOutcome {
    let (status, error) = match execution {
        Execution::Throttled { error, after } if run.throttles < MAX_THROTTLES => {
            let (shortest, longest) = RETRY_AFTER_BOUNDS;
            let wait = after.clamp(shortest, longest);
            let seconds = wait.as_secs_f64();
            return RunOutcome {
                status: RunStatus::Throttled,
                error: Some(ErrorText::sanitize(&format!(
                    "throttled (attempted again in {seconds:.0}s without using a retry, \
                     throttle {} of {MAX_THROTTLES}): {error}",
                    run.throttles + 1
                ))),
                finished_at,
                retry_at: Some(
                    finished_at + Duration::from_std(wait).unwrap_or(Duration::seconds(3_600)),
                ),
            };
        }
        Execution::Throttled { error, .. } => (
            RunStatus::Failed,
            Some(ErrorText::sanitize(&format!(
                "throttled {MAX_THROTTLES} times already, so this answer counts as a failure: {error}"
            ))),
        ),
        Execution::Succeeded => (RunStatus::Succeeded, None),
        Execution::Failed(text) => (RunStatus::Failed, Some(text)),
        Execution::Panicked => (
            RunStatus::Failed,
            Some(ErrorText::sanitize("the handler panicked")),
        ),
        Execution::TimedOut => (
            RunStatus::TimedOut,
            Some(ErrorText::sanitize(&format!(
                "timed out after {}s",
                policy.timeout_seconds
            ))),
        ),
    };
    let used = u32::try_from(run.retries).unwrap_or(u32::MAX);
    let retry_at = (status != RunStatus::Succeeded && used < policy.max_retries).then(|| {
        let delay = policy.retry_delay_seconds(used.saturating_add(1));
        finished_at + Duration::seconds(i64::try_from(delay).unwrap_or(86_400))
    });
    RunOutcome {
        status,
        error,
        finished_at,
        retry_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobSpec;
    use crate::job_input::JobDraft;
    use crate::policy::PolicyInput;
    use crate::run::RunId;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn job(expr: &str, policy: PolicyInput, next_run: &str) -> Job {
        let spec: JobSpec = JobDraft {
            name: Some("j".into()),
            cron_expression: Some(expr.into()),
            start_time: Some(utc("2025-01-01T00:00:00Z")),
            policy,
            ..JobDraft::default()
        }
        .validate(utc("2025-01-01T00:00:00Z"))
        .unwrap();
        Job {
            id: JobId(1),
            spec,
            last_run: None,
            last_status: None,
            last_error: None,
            fire_count: 0,
            pause: None,
            failure_streak: 0,
            next_fire: None,
            next_run: Some(utc(next_run)),
            created_at: utc("2025-01-01T00:00:00Z"),
            updated_at: utc("2025-01-01T00:00:00Z"),
            tenant: crate::tenant::Tenant::default_tenant(),
            created_by: None,
            updated_by: None,
        }
    }

    #[test]
    fn max_runs_completes_the_job_after_that_many_run_fires_and_skips_do_not_count() {
        let mut job = job("0 * * * *", PolicyInput::default(), "2025-06-23T09:00:00Z");
        job.spec.max_runs = Some(2);
        let first = plan_fire(&job, utc("2025-06-23T09:00:01Z"), false).unwrap();
        assert_eq!(
            (first.fire_count, first.next_run),
            (1, Some(utc("2025-06-23T10:00:00Z")))
        );
        let job = first.fired_job(&job).apply(job);
        // A skip (forbid while running) leaves the count.
        let mut forbid = job.clone();
        forbid.spec.policy.concurrency = ConcurrencyPolicy::Forbid;
        forbid.next_run = Some(utc("2025-06-23T10:00:00Z"));
        let skipped = plan_fire(&forbid, utc("2025-06-23T10:00:01Z"), true).unwrap();
        assert_eq!(skipped.fire_count, 1);
        assert!(skipped.next_run.is_some());
        // The second run fire is the last: no next run, and the job says it completed.
        let mut job = job;
        job.next_run = Some(utc("2025-06-23T10:00:00Z"));
        let second = plan_fire(&job, utc("2025-06-23T10:00:01Z"), false).unwrap();
        assert_eq!((second.fire_count, second.next_run), (2, None));
        let done = second.fired_job(&job).apply(job);
        assert_eq!(
            done.schedule_status(),
            crate::job::ScheduleStatus::Completed
        );
        assert_eq!(
            done.completed_reason().as_deref(),
            Some("completed after max_runs (2) fires")
        );
        // The last fire's retries still run (the completed job stays active), and a retry
        // is planned from the failed run alone: it never touches the count.
        let failed = run(1, 0, RunTrigger::Schedule);
        assert!(matches!(
            plan_retry(&failed, Some(&done)),
            RetryPlan::Retry(NextAttempt { attempt: 2, .. })
        ));
        assert_eq!(done.fire_count, 2);
    }

    /// A weekday 09:00 job in London excluding the calendar `bank` (25-26 Dec 2025 and New
    /// Year's Day every year), skipping or moving such fires; its next fire stored as the
    /// next-run rule computes it from `now`.
    fn holiday_job(on_excluded: crate::calendar::OnExcluded, now: &str) -> Job {
        let bank = crate::calendar::CalendarDraft {
            name: Some("bank".into()),
            timezone: Some("Europe/London".into()),
            dates: Some(serde_json::json!([
                {"from": "2025-12-25", "to": "2025-12-26", "label": "Christmas"},
                {"date": "2025-01-01", "yearly": true, "label": "New Year"},
            ])),
            ..crate::calendar::CalendarDraft::default()
        }
        .validate()
        .unwrap();
        let mut job = job("0 9 * * 1-5", PolicyInput::default(), now);
        job.spec.timezone = crate::job_values::Timezone::parse("Europe/London").unwrap();
        job.spec.calendars = crate::calendar::JobCalendars {
            names: crate::calendar::JobCalendars::parse_names(&["bank".into()]).unwrap(),
            on_excluded,
            rules: Vec::new(),
        }
        .resolve(&[bank])
        .unwrap();
        let fire = job.spec.next_fire(utc(now), 0);
        (job.next_run, job.next_fire) = stored_next(&job.spec, fire);
        job
    }

    #[test]
    fn a_fire_on_an_excluded_day_is_skipped_naming_the_calendar_and_the_api_shows_the_next_run() {
        use crate::calendar::OnExcluded;
        // Wednesday 24 Dec 2025, after its fire: the next fire is Christmas Day 09:00.
        let job = holiday_job(OnExcluded::Skip, "2025-12-24T10:00:00Z");
        assert_eq!(job.next_run, Some(utc("2025-12-25T09:00:00Z")));
        // What clients see is the next fire that runs: Monday 29 December (Friday 26th is
        // excluded too; the weekend has no fire).
        assert_eq!(job.upcoming_run(), Some(utc("2025-12-29T09:00:00Z")));
        let plan = plan_fire(&job, utc("2025-12-25T09:00:00.2Z"), false).unwrap();
        let FireDecision::Skip(why) = &plan.decision else {
            panic!("{:?}", plan.decision)
        };
        assert_eq!(why.message(), "skipped: excluded by calendar bank");
        assert_eq!(why.label(), "calendar");
        // A skipped fire does not count toward max_runs; the next one is the 26th's, itself
        // skipped in turn.
        assert_eq!(plan.fire_count, 0);
        assert_eq!(plan.next_run, Some(utc("2025-12-26T09:00:00Z")));
        // A yearly date: 1 January 2027 (a Friday) is excluded, 2027-01-04 runs.
        let job = holiday_job(OnExcluded::Skip, "2026-12-31T10:00:00Z");
        assert_eq!(job.next_run, Some(utc("2027-01-01T09:00:00Z")));
        assert_eq!(job.upcoming_run(), Some(utc("2027-01-04T09:00:00Z")));
        // Excluded fires are skipped before any concurrency rule is asked.
        let mut busy = holiday_job(OnExcluded::Skip, "2025-12-24T10:00:00Z");
        busy.spec.policy.concurrency = ConcurrencyPolicy::BufferOne;
        let plan = plan_fire(&busy, utc("2025-12-25T09:00:01Z"), true).unwrap();
        assert!(matches!(
            plan.decision,
            FireDecision::Skip(SkipReason::Calendar { .. })
        ));
    }

    #[test]
    fn a_moved_fire_runs_on_the_next_allowed_day_keeping_its_instant_and_merging_that_days_fire() {
        use crate::calendar::OnExcluded;
        let job = holiday_job(OnExcluded::Move, "2025-12-24T10:00:00Z");
        // Christmas Day's fire is moved past the 26th (excluded too) to Saturday 27 Dec,
        // 09:00 GMT: the next day the calendar allows (a weekend day is a day; the schedule's
        // own days do not matter). The 26th's fire moves there as well: they are one run.
        assert_eq!(job.next_fire, Some(utc("2025-12-25T09:00:00Z")));
        assert_eq!(job.next_run, Some(utc("2025-12-27T09:00:00Z")));
        assert_eq!(job.upcoming_run(), job.next_run);
        assert!(plan_fire(&job, utc("2025-12-26T09:00:00Z"), false).is_none());
        let plan = plan_fire(&job, utc("2025-12-27T09:00:00.1Z"), false).unwrap();
        assert_eq!(plan.decision, FireDecision::Run);
        assert_eq!(plan.scheduled_for, utc("2025-12-25T09:00:00Z"));
        assert_eq!(plan.due_at, Some(utc("2025-12-27T09:00:00Z")));
        assert_eq!(plan.fire_count, 1);
        assert_eq!(plan.next_run, Some(utc("2025-12-29T09:00:00Z")));
        // When the job's next allowed fire comes before the next allowed day, the moved fire
        // is that fire: a fire every 12 hours (09:00, 21:00) on the 25th moves to the 27th
        // 09:00 either way, but one at 21:00 on the 24th is not excluded at all.
        let mut twice = holiday_job(OnExcluded::Move, "2025-12-24T10:00:00Z");
        twice.spec.schedule = crate::timing::Schedule::Cron(
            crate::schedule::CronSchedule::parse("0 9,21 * * *").unwrap(),
        );
        let fire = twice
            .spec
            .next_fire(utc("2025-12-24T10:00:00Z"), 0)
            .unwrap();
        assert_eq!(
            (fire.at, fire.due),
            (utc("2025-12-24T21:00:00Z"), utc("2025-12-24T21:00:00Z"))
        );
        let fire = twice
            .spec
            .next_fire(utc("2025-12-24T21:00:00Z"), 0)
            .unwrap();
        assert_eq!(
            (fire.at, fire.due),
            (utc("2025-12-25T09:00:00Z"), utc("2025-12-27T09:00:00Z"))
        );
        // A monthly fire (the 1st, 09:00) on New Year's Day moves to the 2nd, before the
        // next allowed fire (1 February).
        let mut monthly = holiday_job(OnExcluded::Move, "2026-12-31T10:00:00Z");
        monthly.spec.schedule = crate::timing::Schedule::Cron(
            crate::schedule::CronSchedule::parse("0 9 1 * *").unwrap(),
        );
        let fire = monthly
            .spec
            .next_fire(utc("2026-12-31T10:00:00Z"), 0)
            .unwrap();
        assert_eq!(
            (fire.at, fire.due),
            (utc("2027-01-01T09:00:00Z"), utc("2027-01-02T09:00:00Z"))
        );
    }

    #[test]
    fn a_dense_schedule_passes_a_long_run_of_excluded_days_in_a_few_steps() {
        use crate::calendar::OnExcluded;
        // Every second, over 24-26 December (London) and a New Year's Day: more than 250,000
        // excluded fires between now and the next that runs.
        let mut job = holiday_job(OnExcluded::Skip, "2025-12-24T10:00:00Z");
        job.spec.schedule =
            crate::timing::Schedule::Interval(crate::timing::Interval::from_seconds(1).unwrap());
        job.spec.start_time = utc("2025-12-01T00:00:00Z");
        let fire = job
            .spec
            .next_allowed_fire(utc("2025-12-24T23:59:58Z"), 0)
            .unwrap();
        assert_eq!(fire.at, utc("2025-12-24T23:59:59Z"));
        let fire = job
            .spec
            .next_allowed_fire(utc("2025-12-24T23:59:59Z"), 0)
            .unwrap();
        // 27 December 00:00 in London (GMT in winter).
        assert_eq!(fire.at, utc("2025-12-27T00:00:00Z"));
        (job.next_run, job.next_fire) = stored_next(
            &job.spec,
            job.spec.next_fire(utc("2025-12-25T12:00:00Z"), 0),
        );
        assert_eq!(job.upcoming_run(), Some(utc("2025-12-27T00:00:00Z")));
        // The end of the excluded days, from any instant inside them; none outside.
        let rules = &job.spec.calendars;
        assert_eq!(
            rules.excluded_until(utc("2025-12-25T13:00:00Z")),
            Some(utc("2025-12-27T00:00:00Z"))
        );
        assert_eq!(rules.excluded_until(utc("2025-12-27T13:00:00Z")), None);
    }

    #[test]
    fn changing_a_calendar_recomputes_the_next_run_of_a_job_using_it() {
        use crate::calendar::OnExcluded;
        let job = holiday_job(OnExcluded::Skip, "2025-12-22T10:00:00Z");
        assert_eq!(job.upcoming_run(), Some(utc("2025-12-23T09:00:00Z")));
        let bank = crate::calendar::CalendarDraft {
            name: Some("bank".into()),
            timezone: Some("Europe/London".into()),
            dates: Some(serde_json::json!([{"from": "2025-12-23", "to": "2025-12-26"}])),
            ..crate::calendar::CalendarDraft::default()
        }
        .validate()
        .unwrap();
        let changed = job
            .clone()
            .with_calendar(&bank, utc("2025-12-22T10:00:00Z"));
        assert_eq!(changed.next_run, Some(utc("2025-12-23T09:00:00Z")));
        assert_eq!(changed.upcoming_run(), Some(utc("2025-12-29T09:00:00Z")));
        // A calendar the job does not list changes nothing.
        let other = crate::calendar::CalendarDef {
            name: crate::calendar::CalendarName::parse("other").unwrap(),
            ..bank
        };
        assert_eq!(
            job.clone()
                .with_calendar(&other, utc("2025-12-22T10:00:00Z")),
            job
        );
    }

    #[test]
    fn a_late_interval_fire_runs_once_and_the_next_lands_on_the_grid() {
        let mut job = job("* * * * *", PolicyInput::default(), "2025-06-23T09:00:00Z");
        job.spec.schedule =
            crate::timing::Schedule::Interval(crate::timing::Interval::from_seconds(600).unwrap());
        job.spec.start_time = utc("2025-06-23T09:00:00Z");
        let plan = plan_fire(&job, utc("2025-06-23T09:47:12Z"), false).unwrap();
        assert_eq!(plan.decision, FireDecision::Run);
        assert_eq!(plan.next_run, Some(utc("2025-06-23T09:50:00Z")));
    }

    #[test]
    fn a_jittered_fire_keeps_its_instant_records_its_due_time_and_is_late_from_it() {
        let mut job = job(
            "*/10 * * * *",
            PolicyInput::default(),
            "2025-06-23T09:00:00Z",
        );
        job.spec.jitter_seconds = 300;
        let now = utc("2025-06-23T08:55:00Z");
        let first = job.spec.next_fire(now, 0).unwrap();
        assert_eq!(first.at, utc("2025-06-23T09:00:00Z"));
        assert_eq!(first.due - first.at, job.spec.delay(first.at));
        assert!(first.due - first.at <= Duration::seconds(300));
        (job.next_run, job.next_fire) = crate::job::stored_next(&job.spec, Some(first));
        // Not due before its delayed time.
        assert!(plan_fire(&job, first.at, false).is_none() || first.due == first.at);
        // A minute after its due time, with a 30 s grace and skip: late from the due time.
        job.spec.policy.misfire = MisfirePolicy::Skip;
        job.spec.policy.misfire_grace_seconds = 30;
        let plan = plan_fire(&job, first.due + Duration::seconds(60), false).unwrap();
        assert_eq!(plan.scheduled_for, first.at);
        assert_eq!(plan.due_at, Some(first.due));
        assert_eq!(
            plan.decision,
            FireDecision::Skip(SkipReason::Misfire {
                late_seconds: 60,
                grace_seconds: 30
            })
        );
        // The next fire is 09:10 with its own delay, never an earlier instant.
        let next = job.spec.next_fire(first.due, 0).unwrap();
        assert_eq!(next.at, utc("2025-06-23T09:10:00Z"));
        assert_eq!(
            (plan.next_run, plan.next_fire),
            (Some(next.due), Some(next.at))
        );
    }

    #[test]
    fn every_fire_of_a_jittered_job_is_served_once_in_order() {
        // Claiming each fire at its due time walks every instant once, in order, whatever
        // the delays (the jitter is below the gap).
        let mut job = job("* * * * *", PolicyInput::default(), "2025-06-23T09:00:00Z");
        job.spec.jitter_seconds = 59;
        let mut now = utc("2025-06-23T08:59:00Z");
        let mut seen = Vec::new();
        for _ in 0..200 {
            let fire = job.spec.next_fire(now, 0).unwrap();
            assert!(fire.due > now);
            seen.push(fire.at);
            now = fire.due;
        }
        // 08:59 itself is still ahead at 08:59:00 (its due time is later by its delay).
        let expected: Vec<_> = (0..200)
            .map(|k| utc("2025-06-23T08:59:00Z") + Duration::minutes(k))
            .collect();
        assert_eq!(seen, expected);
    }

    /// Claims `job` at `now` until its next run is after `now`; the fires run and skipped.
    fn drain(mut job: Job, now: DateTime<Utc>) -> (Job, Vec<DateTime<Utc>>, Vec<DateTime<Utc>>) {
        let (mut ran, mut skipped) = (Vec::new(), Vec::new());
        while let Some(plan) = plan_fire(&job, now, false) {
            match &plan.decision {
                FireDecision::Run => ran.push(plan.scheduled_for),
                FireDecision::Skip(why) => {
                    assert_eq!(why.label(), "catch_up", "{why:?}");
                    skipped.push(plan.scheduled_for);
                }
                other => panic!("{other:?} without a running run"),
            }
            job = plan.fired_job(&job).apply(job);
            assert!(ran.len() + skipped.len() <= 1_000, "no end");
        }
        (job, ran, skipped)
    }

    #[test]
    fn catch_up_runs_each_missed_fire_in_the_window_oldest_first_then_resumes() {
        let policy = PolicyInput {
            misfire_policy: Some("catch_up".into()),
            catch_up_window_seconds: Some(3 * 3_600),
            ..PolicyInput::default()
        };
        // Every replica down from 05:00 to 12:30: eight hourly fires missed.
        let job = job("0 * * * *", policy, "2025-06-23T05:00:00Z");
        let (job, ran, skipped) = drain(job, utc("2025-06-23T12:30:00Z"));
        // 05:00 is recorded skipped (outside the 3 h window, with the fires between it and
        // the window coalesced into it); 10:00, 11:00 and 12:00 run, oldest first.
        assert_eq!(skipped, [utc("2025-06-23T05:00:00Z")]);
        assert_eq!(
            ran,
            [
                utc("2025-06-23T10:00:00Z"),
                utc("2025-06-23T11:00:00Z"),
                utc("2025-06-23T12:00:00Z")
            ]
        );
        assert_eq!(job.next_run, Some(utc("2025-06-23T13:00:00Z")));
        assert_eq!(job.fire_count, 3);
        let message = SkipReason::CatchUp {
            late_seconds: 27_000,
            window_seconds: 10_800,
        }
        .message();
        assert!(
            message.contains("catch_up_window_seconds=10800"),
            "{message}"
        );
    }

    #[test]
    fn catch_up_runs_at_most_the_last_hundred_missed_fires() {
        let policy = PolicyInput {
            misfire_policy: Some("catch_up".into()),
            catch_up_window_seconds: Some(3 * 3_600),
            ..PolicyInput::default()
        };
        // Every minute, down for three hours: 181 fires in the window; the last 100 run.
        let job = job("* * * * *", policy, "2025-06-23T09:30:00Z");
        let now = utc("2025-06-23T12:30:00Z");
        let (job, ran, skipped) = drain(job, now);
        assert_eq!(skipped, [utc("2025-06-23T09:30:00Z")]);
        assert_eq!(ran.len(), 100);
        assert_eq!(ran[0], utc("2025-06-23T10:51:00Z"));
        assert_eq!(ran[99], now);
        assert!(ran.windows(2).all(|w| w[1] - w[0] == Duration::minutes(1)));
        assert_eq!(job.next_run, Some(utc("2025-06-23T12:31:00Z")));
    }

    #[test]
    fn catch_up_stops_at_max_runs_and_an_on_time_fire_is_a_plain_run() {
        let policy = PolicyInput {
            misfire_policy: Some("catch_up".into()),
            ..PolicyInput::default()
        };
        let mut limited = job("0 * * * *", policy.clone(), "2025-06-23T10:00:00Z");
        limited.spec.max_runs = Some(2);
        let (done, ran, _) = drain(limited, utc("2025-06-23T10:59:00Z"));
        assert_eq!(ran, [utc("2025-06-23T10:00:00Z")]);
        assert_eq!(done.next_run, Some(utc("2025-06-23T11:00:00Z")));
        let (done, ran, skipped) = drain(done, utc("2025-06-23T14:30:00Z"));
        // Window 1 h (the default): 14:00 is the only fire in it; 11:00 is skipped.
        assert_eq!(
            (ran, skipped),
            (
                vec![utc("2025-06-23T14:00:00Z")],
                vec![utc("2025-06-23T11:00:00Z")]
            )
        );
        assert_eq!((done.fire_count, done.next_run), (2, None));
        // On time (within the grace): the usual plan.
        let on_time = job("0 * * * *", policy, "2025-06-23T10:00:00Z");
        let plan = plan_fire(&on_time, utc("2025-06-23T10:00:30Z"), false).unwrap();
        assert_eq!(plan.decision, FireDecision::Run);
        assert_eq!(plan.next_run, Some(utc("2025-06-23T11:00:00Z")));
    }

    #[test]
    fn a_full_claim_doubles_the_next_one_up_to_the_maximum() {
        assert_eq!(next_claim_size(100, 1_000, 100, 100), 200);
        assert_eq!(next_claim_size(100, 1_000, 800, 800), 1_000);
        assert_eq!(next_claim_size(100, 1_000, 1_000, 1_000), 1_000);
    }

    #[test]
    fn a_short_claim_returns_to_the_base_size() {
        assert_eq!(next_claim_size(100, 1_000, 800, 799), 100);
        assert_eq!(next_claim_size(100, 1_000, 0, 0), 100);
        // A full claim that asked for less than the base (little free capacity) asks for the
        // base next.
        assert_eq!(next_claim_size(100, 1_000, 30, 30), 100);
    }

    #[test]
    fn claim_sizes_stay_within_one_and_the_maximum() {
        assert_eq!(next_claim_size(0, 0, 0, 0), 1);
        assert_eq!(next_claim_size(5_000, 1_000, 0, 0), 1_000);
        assert_eq!(next_claim_size(1, 4, u32::MAX, u32::MAX), 4);
    }

    #[test]
    fn a_job_with_a_target_is_a_delivery_and_one_without_is_a_handler() {
        let mut with_target = job("* * * * *", PolicyInput::default(), "2025-06-23T09:00:00Z");
        assert_eq!(ExecutionKind::of(&with_target), ExecutionKind::Handler);
        with_target.spec.target = Some(
            crate::http_target::HttpTarget::parse(
                &serde_json::json!({"type": "http", "url": "https://hooks.example.com/x"}),
            )
            .unwrap(),
        );
        assert_eq!(ExecutionKind::of(&with_target), ExecutionKind::Delivery);
    }

    fn run(attempt: i32, retries: i32, trigger: RunTrigger) -> Run {
        Run {
            id: RunId(10),
            job_id: JobId(1),
            scheduled_for: utc("2025-06-23T09:00:00Z"),
            due_at: None,
            trigger,
            attempt,
            retries,
            throttles: 0,
            status: RunStatus::Running,
            started_at: utc("2025-06-23T09:00:00Z"),
            finished_at: None,
            heartbeat_at: utc("2025-06-23T09:00:00Z"),
            retry_at: None,
            error: None,
            worker: "w1".into(),
            replay_of: None,
        }
    }

    fn retries(max: i64, backoff: i64) -> RunPolicy {
        let mut errors = crate::error::ValidationErrors::new();
        let policy = PolicyInput {
            max_retries: Some(max),
            retry_backoff_seconds: Some(backoff),
            ..PolicyInput::default()
        }
        .apply(&RunPolicy::default(), &mut errors);
        assert!(errors.is_empty());
        policy
    }

    #[test]
    fn an_on_time_fire_runs_and_advances_past_now() {
        let j = job(
            "*/5 * * * *",
            PolicyInput::default(),
            "2025-06-23T09:00:00Z",
        );
        let plan = plan_fire(&j, utc("2025-06-23T09:00:00.2Z"), false).unwrap();
        assert_eq!(plan.scheduled_for, utc("2025-06-23T09:00:00Z"));
        assert_eq!(plan.decision, FireDecision::Run);
        assert_eq!(plan.next_run, Some(utc("2025-06-23T09:05:00Z")));
    }

    #[test]
    fn a_job_not_yet_due_or_paused_is_not_planned() {
        let j = job(
            "*/5 * * * *",
            PolicyInput::default(),
            "2025-06-23T09:00:00Z",
        );
        assert_eq!(plan_fire(&j, utc("2025-06-23T08:59:59Z"), false), None);
        let mut paused = j.clone();
        paused.spec.is_active = false;
        assert_eq!(plan_fire(&paused, utc("2025-06-23T09:00:00Z"), false), None);
    }

    #[test]
    fn misfire_fire_once_runs_once_then_resumes_the_schedule() {
        // Every replica was down for three hours: one run, next fire after now.
        let j = job("0 * * * *", PolicyInput::default(), "2025-06-23T09:00:00Z");
        let plan = plan_fire(&j, utc("2025-06-23T12:30:00Z"), false).unwrap();
        assert_eq!(plan.decision, FireDecision::Run);
        assert_eq!(plan.scheduled_for, utc("2025-06-23T09:00:00Z"));
        assert_eq!(plan.next_run, Some(utc("2025-06-23T13:00:00Z")));
    }

    #[test]
    fn misfire_skip_records_a_skip_beyond_the_grace_only() {
        let skip = PolicyInput {
            misfire_policy: Some("skip".into()),
            misfire_grace_seconds: Some(30),
            ..PolicyInput::default()
        };
        let j = job("0 * * * *", skip, "2025-06-23T09:00:00Z");
        let within = plan_fire(&j, utc("2025-06-23T09:00:30Z"), false).unwrap();
        assert_eq!(within.decision, FireDecision::Run);
        let beyond = plan_fire(&j, utc("2025-06-23T09:00:31Z"), false).unwrap();
        let FireDecision::Skip(why) = beyond.decision else {
            panic!("not skipped: {beyond:?}");
        };
        assert_eq!(why.label(), "misfire");
        assert_eq!(
            why.message(),
            "skipped: missed by 31s, beyond misfire_grace_seconds=30 (misfire_policy=skip)"
        );
        assert_eq!(beyond.next_run, Some(utc("2025-06-23T10:00:00Z")));
    }

    #[test]
    fn replace_runs_the_new_fire_and_says_to_stop_the_running_one() {
        let replace = PolicyInput {
            concurrency_policy: Some("replace".into()),
            ..PolicyInput::default()
        };
        let j = job("* * * * *", replace, "2025-06-23T09:00:00Z");
        assert!(needs_running_check(&j));
        let busy = plan_fire(&j, utc("2025-06-23T09:00:00Z"), true).unwrap();
        assert_eq!(busy.decision, FireDecision::Replace);
        assert_eq!(
            (busy.fire_count, busy.next_run),
            (1, Some(utc("2025-06-23T09:01:00Z")))
        );
        assert_eq!(busy.run_record().0, crate::run_status::RunStatus::Running);
        let free = plan_fire(&j, utc("2025-06-23T09:00:00Z"), false).unwrap();
        assert_eq!(free.decision, FireDecision::Run);
    }

    #[test]
    fn buffer_one_keeps_one_pending_fire_with_its_instant_until_the_run_ends() {
        let buffer = PolicyInput {
            concurrency_policy: Some("buffer_one".into()),
            misfire_policy: Some("skip".into()),
            misfire_grace_seconds: Some(5),
            ..PolicyInput::default()
        };
        let j = job("* * * * *", buffer, "2025-06-23T09:00:00Z");
        assert!(needs_running_check(&j));
        let now = utc("2025-06-23T09:00:00Z");
        let wait = plan_fire(&j, now, true).unwrap();
        assert_eq!(wait.decision, FireDecision::Wait);
        assert_eq!(wait.next_run, Some(now + BUFFER_RECHECK));
        assert_eq!(wait.next_fire, Some(now));
        assert_eq!(wait.fire_count, 0);
        // Still running three minutes later: the 09:01-09:03 fires fold into the pending one.
        let mut j = wait.fired_job(&j).apply(j);
        let later = utc("2025-06-23T09:03:00.5Z");
        j.next_run = Some(later - BUFFER_RECHECK);
        let still = plan_fire(&j, later, true).unwrap();
        assert_eq!(
            (still.decision.clone(), still.next_fire),
            (FireDecision::Wait, Some(now))
        );
        // The run ended: the pending fire runs with its own instant, not as a misfire (its
        // lateness counts from when it was due again), and the schedule goes on from now.
        let j = still.fired_job(&j).apply(j);
        let ran = plan_fire(&j, later + BUFFER_RECHECK, false).unwrap();
        assert_eq!(ran.decision, FireDecision::Run);
        assert_eq!(ran.scheduled_for, now);
        assert_eq!(
            (ran.next_run, ran.next_fire, ran.fire_count),
            (Some(utc("2025-06-23T09:04:00Z")), None, 1)
        );
    }

    #[test]
    fn forbid_skips_while_the_previous_run_runs() {
        let forbid = PolicyInput {
            concurrency_policy: Some("forbid".into()),
            ..PolicyInput::default()
        };
        let j = job("* * * * *", forbid, "2025-06-23T09:00:00Z");
        assert!(needs_running_check(&j));
        let busy = plan_fire(&j, utc("2025-06-23T09:00:00Z"), true).unwrap();
        assert_eq!(busy.decision, FireDecision::Skip(SkipReason::Forbid));
        assert!(
            SkipReason::Forbid
                .message()
                .contains("concurrency_policy=forbid")
        );
        assert_eq!(busy.next_run, Some(utc("2025-06-23T09:01:00Z")));
        let free = plan_fire(&j, utc("2025-06-23T09:00:00Z"), false).unwrap();
        assert_eq!(free.decision, FireDecision::Run);
        // allow runs side by side.
        let allow = job("* * * * *", PolicyInput::default(), "2025-06-23T09:00:00Z");
        assert!(!needs_running_check(&allow));
        assert_eq!(
            plan_fire(&allow, utc("2025-06-23T09:00:00Z"), true)
                .unwrap()
                .decision,
            FireDecision::Run
        );
    }

    #[test]
    fn the_last_fire_before_end_time_leaves_no_next_run() {
        let mut j = job("0 9 * * *", PolicyInput::default(), "2025-06-23T09:00:00Z");
        j.spec.end_time = Some(utc("2025-06-23T12:00:00Z"));
        let plan = plan_fire(&j, utc("2025-06-23T09:00:01Z"), false).unwrap();
        assert_eq!(plan.decision, FireDecision::Run);
        assert_eq!(plan.next_run, None);
    }

    #[test]
    fn a_retry_is_the_next_attempt_and_uses_one_retry() {
        let j = job("0 9 * * *", PolicyInput::default(), "2025-06-24T09:00:00Z");
        let failed = run(2, 1, RunTrigger::Retry);
        assert_eq!(
            plan_retry(&failed, Some(&j)),
            RetryPlan::Retry(NextAttempt {
                job_id: JobId(1),
                scheduled_for: utc("2025-06-23T09:00:00Z"),
                trigger: RunTrigger::Retry,
                attempt: 3,
                retries: 2,
                throttles: 0,
            })
        );
    }

    #[test]
    fn a_paused_or_deleted_job_is_not_retried() {
        let mut j = job("0 9 * * *", PolicyInput::default(), "2025-06-24T09:00:00Z");
        j.spec.is_active = false;
        let failed = run(1, 0, RunTrigger::Schedule);
        assert_eq!(plan_retry(&failed, Some(&j)), RetryPlan::Drop);
        assert_eq!(plan_retry(&failed, None), RetryPlan::Drop);
    }

    #[test]
    fn a_dead_workers_run_is_run_again_without_using_a_retry() {
        let mut j = job("0 9 * * *", PolicyInput::default(), "2025-06-24T09:00:00Z");
        // Paused meanwhile: the claimed fire still runs (at least once).
        j.spec.is_active = false;
        let stale = run(2, 1, RunTrigger::Retry);
        let plan = plan_recovery(&stale, Some(&j), 3, RecoveryCause::Silent);
        assert_eq!(plan.status, RunStatus::Abandoned);
        assert_eq!(
            plan.error.as_str(),
            "worker w1 stopped heartbeating; run again as attempt 3"
        );
        assert_eq!(
            plan.next,
            Some(NextAttempt {
                job_id: JobId(1),
                scheduled_for: utc("2025-06-23T09:00:00Z"),
                trigger: RunTrigger::Retry,
                attempt: 3,
                retries: 1,
                throttles: 0,
            })
        );
    }

    #[test]
    fn a_lost_workers_run_says_the_worker_was_lost() {
        let j = job("0 9 * * *", PolicyInput::default(), "2025-06-24T09:00:00Z");
        let plan = plan_recovery(
            &run(1, 0, RunTrigger::Schedule),
            Some(&j),
            3,
            RecoveryCause::Lost,
        );
        assert_eq!(plan.status, RunStatus::Abandoned);
        assert_eq!(
            plan.error.as_str(),
            "worker lost: w1's database session ended (process gone); run again as attempt 2"
        );
        assert_eq!(plan.next.map(|next| next.attempt), Some(2));
        let capped = plan_recovery(
            &run(1, 0, RunTrigger::Schedule),
            Some(&j),
            1,
            RecoveryCause::Lost,
        );
        assert!(capped.error.as_str().starts_with("worker lost: w1"));
        assert_eq!(capped.status, RunStatus::Failed);
    }

    #[test]
    fn the_abandon_cap_ends_a_fire_as_failed() {
        let j = job("0 9 * * *", PolicyInput::default(), "2025-06-24T09:00:00Z");
        // Attempts 1 and 2 were abandoned; attempt 3 is the third abandonment.
        assert_eq!(
            plan_recovery(
                &run(2, 0, RunTrigger::Schedule),
                Some(&j),
                3,
                RecoveryCause::Silent
            )
            .status,
            RunStatus::Abandoned
        );
        let capped = plan_recovery(
            &run(3, 0, RunTrigger::Schedule),
            Some(&j),
            3,
            RecoveryCause::Silent,
        );
        assert_eq!(capped.status, RunStatus::Failed);
        assert_eq!(capped.next, None);
        assert!(capped.error.as_str().contains("max_abandoned_attempts=3"));
        // Failure retries do not count towards the cap.
        assert_eq!(
            plan_recovery(
                &run(4, 2, RunTrigger::Retry),
                Some(&j),
                3,
                RecoveryCause::Silent
            )
            .status,
            RunStatus::Abandoned
        );
        // A cap of 0 is read as 1: the first abandonment is final.
        assert_eq!(
            plan_recovery(
                &run(1, 0, RunTrigger::Manual),
                Some(&j),
                0,
                RecoveryCause::Silent
            )
            .status,
            RunStatus::Failed
        );
    }

    #[test]
    fn outcomes_schedule_retries_with_exponential_backoff_while_retries_remain() {
        let policy = retries(2, 10);
        let at = utc("2025-06-23T09:00:05Z");
        let first = plan_outcome(
            &run(1, 0, RunTrigger::Schedule),
            &policy,
            Execution::Failed(ErrorText::sanitize("boom")),
            at,
        );
        assert_eq!(first.status, RunStatus::Failed);
        assert_eq!(first.error.as_ref().map(ErrorText::as_str), Some("boom"));
        assert_eq!(first.retry_at, Some(utc("2025-06-23T09:00:15Z")));
        let second = plan_outcome(
            &run(2, 1, RunTrigger::Retry),
            &policy,
            Execution::TimedOut,
            at,
        );
        assert_eq!(second.status, RunStatus::TimedOut);
        assert_eq!(second.retry_at, Some(utc("2025-06-23T09:00:25Z")));
        let last = plan_outcome(
            &run(3, 2, RunTrigger::Retry),
            &policy,
            Execution::Panicked,
            at,
        );
        assert_eq!(last.retry_at, None);
        let ok = plan_outcome(
            &run(1, 0, RunTrigger::Schedule),
            &policy,
            Execution::Succeeded,
            at,
        );
        assert_eq!(
            (ok.status, ok.error, ok.retry_at),
            (RunStatus::Succeeded, None, None)
        );
    }

    #[test]
    fn a_throttled_run_waits_its_retry_after_and_its_next_attempt_uses_no_retry() {
        let policy = retries(0, 10);
        let at = utc("2025-06-23T09:00:05Z");
        let throttled = |after: u64| Execution::Throttled {
            error: ErrorText::sanitize("HTTP 429: slow down"),
            after: std::time::Duration::from_secs(after),
        };
        let first = plan_outcome(&run(1, 0, RunTrigger::Schedule), &policy, throttled(7), at);
        assert_eq!(first.status, RunStatus::Throttled);
        assert_eq!(first.retry_at, Some(utc("2025-06-23T09:00:12Z")));
        let error = first
            .error
            .as_ref()
            .map(ErrorText::as_str)
            .unwrap_or_default();
        assert!(error.contains("without using a retry"), "{error}");
        assert!(error.contains("throttle 1 of 10"), "{error}");
        assert!(error.ends_with("HTTP 429: slow down"), "{error}");
        // Out-of-range delays are bounded both ways.
        let zero = plan_outcome(&run(1, 0, RunTrigger::Schedule), &policy, throttled(0), at);
        assert_eq!(zero.retry_at, Some(utc("2025-06-23T09:00:06Z")));
        let week = plan_outcome(
            &run(1, 0, RunTrigger::Schedule),
            &policy,
            throttled(604_800),
            at,
        );
        assert_eq!(week.retry_at, Some(utc("2025-06-23T10:00:05Z")));

        // The next attempt keeps the trigger and the retries; it counts one throttle.
        let j = job("0 9 * * *", PolicyInput::default(), "2025-06-24T09:00:00Z");
        let mut stored = run(1, 0, RunTrigger::Manual);
        stored.status = RunStatus::Throttled;
        let RetryPlan::Retry(next) = plan_retry(&stored, Some(&j)) else {
            panic!("a throttled run of an active job runs again");
        };
        assert_eq!(
            (next.trigger, next.attempt, next.retries, next.throttles),
            (RunTrigger::Manual, 2, 0, 1)
        );
        // A throttled attempt is not a dead worker's: recoveries stay 0.
        let mut second = run(2, 0, RunTrigger::Manual);
        second.throttles = 1;
        assert_eq!(second.recoveries(), 0);
    }

    #[test]
    fn the_throttle_after_the_last_allowed_one_is_a_failure_with_retries() {
        let policy = retries(1, 10);
        let at = utc("2025-06-23T09:00:05Z");
        let mut exhausted = run(11, 0, RunTrigger::Schedule);
        exhausted.throttles = MAX_THROTTLES;
        let outcome = plan_outcome(
            &exhausted,
            &policy,
            Execution::Throttled {
                error: ErrorText::sanitize("HTTP 503: busy"),
                after: std::time::Duration::from_secs(5),
            },
            at,
        );
        assert_eq!(outcome.status, RunStatus::Failed);
        assert_eq!(outcome.retry_at, Some(utc("2025-06-23T09:00:15Z")));
        let error = outcome
            .error
            .as_ref()
            .map(ErrorText::as_str)
            .unwrap_or_default();
        assert!(error.contains("throttled 10 times already"), "{error}");
        let mut last_allowed = run(10, 0, RunTrigger::Schedule);
        last_allowed.throttles = MAX_THROTTLES - 1;
        let outcome = plan_outcome(
            &last_allowed,
            &policy,
            Execution::Throttled {
                error: ErrorText::sanitize("HTTP 503: busy"),
                after: std::time::Duration::from_secs(5),
            },
            at,
        );
        assert_eq!(outcome.status, RunStatus::Throttled);
    }

    #[test]
    fn a_minimal_error_replaces_the_text_but_keeps_the_outcome() {
        let outcome = plan_outcome(
            &run(1, 0, RunTrigger::Schedule),
            &retries(1, 10),
            Execution::Failed(ErrorText::sanitize("long and unstorable")),
            utc("2025-06-23T09:00:05Z"),
        );
        let minimal = outcome.with_minimal_error();
        assert_eq!(
            (minimal.status, minimal.retry_at, minimal.finished_at),
            (outcome.status, outcome.retry_at, outcome.finished_at)
        );
        assert_ne!(minimal.error, outcome.error);
    }
}
