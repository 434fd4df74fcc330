//! Runs: one execution attempt of a job for one fire, and the rule that plans a fire.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ValidationErrors;
use crate::job::{Job, JobId};
use crate::policy::{ConcurrencyPolicy, MisfirePolicy};

/// The database identity of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a run exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// A fire of the job's schedule.
    Schedule,
    /// `POST /scheduler/jobs/{id}/run/`.
    Manual,
    /// A retry of a failed or timed-out attempt.
    Retry,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Being executed by `worker`, which heartbeats.
    Running,
    /// The handler or target reported success.
    Succeeded,
    /// The handler or target reported failure (see `error`).
    Failed,
    /// Stopped after the job's `timeout_seconds`.
    TimedOut,
    /// Not executed (misfire `skip`, or concurrency `forbid`); `error` says why.
    Skipped,
    /// Its worker stopped heartbeating; a new attempt was started.
    Abandoned,
}

macro_rules! wire_enum {
    ($ty:ty, $($variant:ident => $text:literal),* $(,)?) => {
        impl $ty {
            /// The wire and database spelling.
            pub fn as_str(&self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }

            /// Parses the wire spelling.
            ///
            /// # Errors
            /// A user-facing message listing the choices.
            pub fn parse(raw: &str) -> Result<Self, String> {
                match raw {
                    $($text => Ok(Self::$variant),)*
                    _ => Err(format!(
                        "\"{raw}\" is not a valid choice: use {}.",
                        [$($text),*].join(", ")
                    )),
                }
            }
        }
    };
}

wire_enum!(RunTrigger, Schedule => "schedule", Manual => "manual", Retry => "retry");
wire_enum!(
    RunStatus,
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
    TimedOut => "timed_out",
    Skipped => "skipped",
    Abandoned => "abandoned",
);

/// Longest error text kept on a run, in characters.
pub const MAX_ERROR_CHARS: usize = 2_000;

/// Cuts an error text to [`MAX_ERROR_CHARS`].
pub fn bounded_error(text: &str) -> String {
    if text.chars().count() <= MAX_ERROR_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_ERROR_CHARS).collect();
    cut.push('…');
    cut
}

/// One execution attempt of a job for one fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Identity.
    pub id: RunId,
    /// The job.
    pub job_id: JobId,
    /// The fire instant this run serves; with `job_id` the receiver's idempotency key.
    pub scheduled_for: DateTime<Utc>,
    /// Why it exists.
    pub trigger: RunTrigger,
    /// 1 for the first attempt at this fire, then 2, 3, ... (retries and recoveries).
    pub attempt: i32,
    /// Failure retries used so far for this fire (recoveries of dead workers do not count).
    pub retries: i32,
    /// Where it stands.
    pub status: RunStatus,
    /// When execution started (or the skip was recorded).
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Last sign of life of its worker while running.
    pub heartbeat_at: DateTime<Utc>,
    /// For a failed or timed-out run that will be retried: when.
    pub retry_at: Option<DateTime<Utc>>,
    /// Why it failed or was skipped (bounded).
    pub error: Option<String>,
    /// The replica that executed it.
    pub worker: String,
}

/// A run claimed for execution by this worker, with its job as claimed.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedRun {
    /// The run, status `running`.
    pub run: Run,
    /// The job at claim time.
    pub job: Job,
}

/// What one claim transaction did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClaimBatch {
    /// Runs to execute now (status `running`).
    pub runs: Vec<ClaimedRun>,
    /// Every job whose `next_run`/`last_run` the claim changed (run or skipped).
    pub advanced_jobs: Vec<JobId>,
}

/// What to do with a due fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FireDecision {
    /// Execute it.
    Run,
    /// Record a `skipped` run with this reason.
    Skip(String),
}

/// The plan for a due job: which fire, what to do, and the job's next fire afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirePlan {
    /// The fire being served (the job's `next_run`).
    pub scheduled_for: DateTime<Utc>,
    /// Run or skip.
    pub decision: FireDecision,
    /// The job's next fire after now by the next-run rule (fires between `scheduled_for` and
    /// now are coalesced into this one fire).
    pub next_run: Option<DateTime<Utc>>,
}

/// Plans the fire of a due job at `now`: misfire and concurrency policies, then the next run.
/// `None` when the job is not due (inactive, no `next_run`, or `next_run` after `now`).
pub fn plan_fire(job: &Job, now: DateTime<Utc>, previous_running: bool) -> Option<FirePlan> {
    let scheduled_for = job
        .next_run
        .filter(|due| *due <= now && job.spec.is_active)?;
    let policy = &job.spec.policy;
    let late = now - scheduled_for;
    let grace = Duration::seconds(i64::from(policy.misfire_grace_seconds));
    let decision = if policy.concurrency == ConcurrencyPolicy::Forbid && previous_running {
        FireDecision::Skip(
            "skipped: the previous run is still running (concurrency_policy=forbid)".into(),
        )
    } else if late > grace && policy.misfire == MisfirePolicy::Skip {
        FireDecision::Skip(format!(
            "skipped: missed by {}s, beyond misfire_grace_seconds={} (misfire_policy=skip)",
            late.num_seconds(),
            policy.misfire_grace_seconds
        ))
    } else {
        FireDecision::Run
    };
    Some(FirePlan {
        scheduled_for,
        decision,
        next_run: job.spec.next_run(now),
    })
}

/// A validated request for one page of a job's runs, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunQuery {
    /// 1-based page.
    pub page: u64,
    /// Runs per page, 1 to 500.
    pub page_size: u64,
    /// Only runs with this status.
    pub status: Option<RunStatus>,
}

impl RunQuery {
    /// Builds a query from raw parts, naming each bad one.
    ///
    /// # Errors
    /// `page`, `page_size` or `status` with a message.
    pub fn new(
        page: Option<i64>,
        page_size: Option<i64>,
        status: Option<&str>,
    ) -> Result<Self, ValidationErrors> {
        let base = crate::query::JobQuery::new(page, page_size, None, None);
        let mut errors = ValidationErrors::new();
        let (page, page_size) = match base {
            Ok(q) => (q.page, q.page_size),
            Err(e) => {
                errors.merge(e);
                (1, 50)
            }
        };
        let status = match status.map(RunStatus::parse) {
            None => None,
            Some(Ok(s)) => Some(s),
            Some(Err(message)) => {
                errors.add("status", message);
                None
            }
        };
        errors.into_result(Self {
            page,
            page_size,
            status,
        })
    }

    /// Rows to skip before this page.
    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.page_size)
    }
}

/// One page of runs and the total matching.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPage {
    /// Runs matching across all pages.
    pub total: u64,
    /// This page, newest first.
    pub items: Vec<Run>,
}

impl RunPage {
    /// True when a page follows this one.
    pub fn has_next(&self, query: &RunQuery) -> bool {
        query.offset() + (self.items.len() as u64) < self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{JobDraft, JobSpec};
    use crate::policy::PolicyInput;

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
            next_run: Some(utc(next_run)),
            created_at: utc("2025-01-01T00:00:00Z"),
            updated_at: utc("2025-01-01T00:00:00Z"),
        }
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
        assert!(
            matches!(beyond.decision, FireDecision::Skip(ref why) if why.contains("misfire_policy=skip"))
        );
        assert_eq!(beyond.next_run, Some(utc("2025-06-23T10:00:00Z")));
    }

    #[test]
    fn forbid_skips_while_the_previous_run_runs() {
        let forbid = PolicyInput {
            concurrency_policy: Some("forbid".into()),
            ..PolicyInput::default()
        };
        let j = job("* * * * *", forbid, "2025-06-23T09:00:00Z");
        let busy = plan_fire(&j, utc("2025-06-23T09:00:00Z"), true).unwrap();
        assert!(matches!(busy.decision, FireDecision::Skip(ref why) if why.contains("forbid")));
        assert_eq!(busy.next_run, Some(utc("2025-06-23T09:01:00Z")));
        let free = plan_fire(&j, utc("2025-06-23T09:00:00Z"), false).unwrap();
        assert_eq!(free.decision, FireDecision::Run);
        // allow runs side by side.
        let allow = job("* * * * *", PolicyInput::default(), "2025-06-23T09:00:00Z");
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
    fn errors_are_bounded() {
        assert_eq!(bounded_error("short"), "short");
        let long = bounded_error(&"x".repeat(5_000));
        assert_eq!(long.chars().count(), MAX_ERROR_CHARS + 1);
    }

    #[test]
    fn run_queries_name_bad_parameters() {
        let errors = RunQuery::new(Some(0), None, Some("exploded")).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["page", "status"]);
        assert_eq!(
            RunQuery::new(None, None, Some("timed_out")).unwrap().status,
            Some(RunStatus::TimedOut)
        );
    }
}
