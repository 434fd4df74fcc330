//! The job entity — its identity, the validated spec a client wrote, and what the scheduler
//! keeps about it — and the next-run rule. The values a spec is made of are in
//! [`crate::job_values`]; reading a spec from client input in [`crate::job_input`].

use std::fmt;

use chrono::{DateTime, Utc};

use crate::http_target::HttpTarget;
use crate::job_values::{Description, JobName, Parameters, Timezone};
use crate::policy::{JobSource, RunPolicy};
use crate::run_status::RunStatus;
use crate::schedule::CronSchedule;
use crate::tenant::Tenant;

/// The database identity of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The user-writable part of a job, every field validated.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// Unique name.
    pub name: JobName,
    /// Free text.
    pub description: Description,
    /// When it fires.
    pub schedule: CronSchedule,
    /// The zone the schedule is read in.
    pub timezone: Timezone,
    /// No fire before this instant.
    pub start_time: DateTime<Utc>,
    /// No fire after this instant; always after `start_time` when set.
    pub end_time: Option<DateTime<Utc>>,
    /// Passed to the handler on every run.
    pub parameters: Parameters,
    /// An inactive (paused) job never fires.
    pub is_active: bool,
    /// How the dispatcher runs it.
    pub policy: RunPolicy,
    /// Where a run is delivered; `None` runs the handler registered for `parameters.action`.
    pub target: Option<HttpTarget>,
    /// Who owns it: the API, or a program declaring it in code.
    pub source: JobSource,
}

impl JobSpec {
    /// The next-run rule: for an active job, the first fire `t` with `t >= start_time` and
    /// `t > now`; `None` when that is after `end_time`, or when the job is inactive.
    pub fn next_run(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.is_active {
            return None;
        }
        let tz = self.timezone.tz();
        let next = if self.start_time > now {
            self.schedule.next_at_or_after(self.start_time, tz)
        } else {
            self.schedule.next_after(now, tz)
        }?;
        match self.end_time {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }

    /// The next `count` fires by the next-run rule: the first is [`JobSpec::next_run`], the
    /// rest follow it up to `end_time`. Empty for an inactive job.
    pub fn upcoming(&self, now: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let Some(first) = self.next_run(now) else {
            return Vec::new();
        };
        self.schedule
            .upcoming(first, self.timezone.tz(), count)
            .into_iter()
            .take_while(|at| self.end_time.is_none_or(|end| *at <= end))
            .collect()
    }
}

/// A stored job: its spec plus what the store and the scheduler maintain.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Database identity.
    pub id: JobId,
    /// The user-writable fields.
    pub spec: JobSpec,
    /// When it last fired (or was run by hand), if ever.
    pub last_run: Option<DateTime<Utc>>,
    /// The status of the latest attempt at its last fire: `running` while it runs, then how it
    /// ended (`skipped` for a fire not executed); `None` before the first fire.
    pub last_status: Option<RunStatus>,
    /// Why that attempt failed or was skipped.
    pub last_error: Option<String>,
    /// When it fires next; `None` when it never will (inactive or past `end_time`).
    pub next_run: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Whose job it is: only keys of this tenant see it.
    pub tenant: Tenant,
    /// The name of the key that created it (`None`: created without a key).
    pub created_by: Option<String>,
    /// The name of the key that last changed it.
    pub updated_by: Option<String>,
}

/// A validated job not yet stored, as handed to [`crate::ports::JobRepository::insert`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// The user-writable fields.
    pub spec: JobSpec,
    /// Computed by the next-run rule at creation.
    pub next_run: Option<DateTime<Utc>>,
    /// Creation instant (also the first `updated_at`).
    pub created_at: DateTime<Utc>,
    /// Whose job it is.
    pub tenant: Tenant,
    /// The name of the key creating it (also the first `updated_by`).
    pub created_by: Option<String>,
}
