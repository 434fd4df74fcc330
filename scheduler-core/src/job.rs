//! The job entity — its identity, the validated spec a client wrote, and what the scheduler
//! keeps about it — and the next-run rule. The values a spec is made of are in
//! [`crate::job_values`]; reading a spec from client input in [`crate::job_input`].

use std::fmt;

use chrono::{DateTime, Utc};

use crate::calendar::{JobCalendars, OnExcluded};
use crate::http_target::HttpTarget;
use crate::job_values::{Description, JobName, Owner, Parameters, Timezone};
use crate::policy::{JobSource, RunPolicy};
use crate::run_status::RunStatus;
use crate::tenant::Tenant;
use crate::timing::{Fire, Schedule, jitter_offset};

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
    /// When it fires: a cron expression, an interval or one instant.
    pub schedule: Schedule,
    /// The zone the schedule is read in.
    pub timezone: Timezone,
    /// No fire before this instant.
    pub start_time: DateTime<Utc>,
    /// No fire after this instant; always after `start_time` when set.
    pub end_time: Option<DateTime<Utc>>,
    /// The job completes after this many scheduled fires have run (retries and manual runs
    /// do not count); `None`: no limit.
    pub max_runs: Option<u32>,
    /// Each fire runs up to this many seconds late, by a delay deterministic per (job name,
    /// fire instant) ([`jitter_offset`]); 0: none. Below the schedule's smallest gap.
    pub jitter_seconds: u32,
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
    /// The owner of the file set that manages it (`schedulerctl apply`), which may update
    /// or prune it; `None` for a job no file manages.
    pub managed_by: Option<Owner>,
    /// The calendars whose days it does not fire on, and whether such a fire is skipped or
    /// moved.
    pub calendars: JobCalendars,
}

/// `next_run` and `next_fire` as a job stores them for `fire`: the instant is kept apart only
/// when the job has jitter.
pub fn stored_next(
    spec: &JobSpec,
    fire: Option<Fire>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    match fire {
        Some(fire) => (
            Some(fire.due),
            (spec.jitter_seconds > 0 || fire.due != fire.at).then_some(fire.at),
        ),
        None => (None, None),
    }
}

impl JobSpec {
    /// The most fires `max_runs` may ask for.
    pub const MAX_RUNS_LIMIT: u32 = 1_000_000;

    /// The next-run rule: for an active job that has run `fired` scheduled fires, the first
    /// fire of its schedule at or after `start_time` whose due time (the instant plus its
    /// jitter delay) is after `now`; `None` when that instant is after `end_time`, when
    /// `fired` reached `max_runs`, or when the job is inactive. Without jitter: the first
    /// fire `t >= start_time` with `t > now`.
    pub fn next_fire(&self, now: DateTime<Utc>, fired: u64) -> Option<Fire> {
        if !self.is_active || self.reached_max_runs(fired) {
            return None;
        }
        let tz = self.timezone.tz();
        let jitter = chrono::Duration::seconds(i64::from(self.jitter_seconds));
        // Fires before now - jitter are due before now whatever their delay.
        let overlap = self.policy.dst_overlap;
        let mut at = self
            .schedule
            .first_fire_in(self.start_time, now - jitter, tz, overlap)?;
        // The jitter is below the smallest gap, so this takes at most two rounds; the bound
        // only keeps a row written by hand from looping.
        for _ in 0..1_024 {
            if self.end_time.is_some_and(|end| at > end) {
                return None;
            }
            let fire = self.fire(at);
            if fire.due > now {
                return Some(fire);
            }
            at = self
                .schedule
                .first_fire_in(self.start_time, at, tz, overlap)?;
        }
        Some(self.fire(at))
    }

    /// The next fire after `now` that runs: [`JobSpec::next_fire`], passing over the fires a
    /// calendar skips (a moved fire runs, where it was moved to). A run of excluded days is
    /// passed in one step (the search continues from the end of those days), so a dense
    /// schedule over a long holiday costs a few steps, not one per fire; `None` when no fire
    /// runs within 1,024 steps.
    pub fn next_allowed_fire(&self, now: DateTime<Utc>, fired: u64) -> Option<Fire> {
        let mut fire = self.next_fire(now, fired)?;
        for _ in 0..1_024 {
            if self.skipped_by_calendar(fire).is_none() {
                return Some(fire);
            }
            // Each step ends later than the last (`next_fire` is after its `now`, and the
            // jump is only taken past the fire's due time), so the search always advances.
            let from = match self.calendars.excluded_until(fire.at) {
                Some(until) if until > fire.due => until - chrono::Duration::microseconds(1),
                _ => fire.due,
            };
            fire = self.next_fire(from, fired)?;
        }
        None
    }

    /// The due time of the next fire by [`JobSpec::next_fire`]: what `next_run` shows.
    pub fn next_run(&self, now: DateTime<Utc>, fired: u64) -> Option<DateTime<Utc>> {
        self.next_fire(now, fired).map(|fire| fire.due)
    }

    /// The jitter delay of the fire at `at`.
    pub fn delay(&self, at: DateTime<Utc>) -> chrono::Duration {
        jitter_offset(self.name.as_str(), at, self.jitter_seconds)
    }

    /// The fire at the schedule instant `at`, with its due time: `at` plus its delay, from
    /// the day it is moved to when a calendar excludes `at` and the job moves such fires.
    pub fn fire(&self, at: DateTime<Utc>) -> Fire {
        Fire {
            at,
            due: self.placed(at) + self.delay(at),
        }
    }

    /// Where the fire at `at` runs: `at`, or — for a job that moves fires off excluded days —
    /// the same local time of the next allowed day, or the next allowed fire when that comes
    /// first (the moved fire and that one are then one run); `at` itself when neither exists.
    fn placed(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let calendars = &self.calendars;
        if calendars.is_empty()
            || calendars.on_excluded != OnExcluded::Move
            || calendars.excluded_by(at).is_none()
        {
            return at;
        }
        let tz = self.timezone.tz();
        let overlap = self.policy.dst_overlap;
        calendars
            .moved_to(at, tz, |after| {
                self.schedule
                    .first_fire_in(self.start_time, after, tz, overlap)
                    .filter(|fire| self.end_time.is_none_or(|end| *fire <= end))
            })
            .unwrap_or(at)
    }

    /// The calendar that keeps the fire at `at` from running: the first of the job's
    /// calendars excluding it, unless the job moves such fires and it was moved.
    pub fn skipped_by_calendar(&self, fire: Fire) -> Option<&crate::calendar::CalendarName> {
        let name = self.calendars.excluded_by(fire.at)?;
        let moved =
            self.calendars.on_excluded == OnExcluded::Move && self.placed(fire.at) != fire.at;
        (!moved).then_some(name)
    }

    /// True when `fired` scheduled fires use up `max_runs`.
    pub fn reached_max_runs(&self, fired: u64) -> bool {
        self.max_runs.is_some_and(|max| fired >= u64::from(max))
    }

    /// The next `count` fires by the next-run rule: the first is [`JobSpec::next_fire`], the
    /// rest follow it up to `end_time` and what is left of `max_runs`, each with its due
    /// time. Empty for an inactive job.
    pub fn upcoming(&self, now: DateTime<Utc>, fired: u64, count: usize) -> Vec<Fire> {
        let Some(first) = self.next_fire(now, fired) else {
            return Vec::new();
        };
        let left = self.max_runs.map_or(count, |max| {
            usize::try_from(u64::from(max).saturating_sub(fired)).unwrap_or(count)
        });
        self.schedule
            .fires_from_in(
                first.at,
                self.timezone.tz(),
                count.min(left),
                self.policy.dst_overlap,
            )
            .into_iter()
            .take_while(|at| self.end_time.is_none_or(|end| *at <= end))
            .map(|at| self.fire(at))
            .collect()
    }
}

/// Where a job stands on its schedule, as the API and the dashboard show it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum ScheduleStatus {
    /// It has a next fire.
    Scheduled,
    /// Paused: it does not fire until resumed.
    Paused,
    /// It will not fire again: `max_runs` reached, its one instant or `end_time` passed.
    Completed,
}

impl crate::wire::WireEnum for ScheduleStatus {}

/// Who paused a job, when, and why: kept while the job is paused, cleared when it resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseNote {
    /// The name of the key that paused it (`None`: paused without a key).
    pub by: Option<String>,
    /// Why, as the person pausing wrote it; at most [`PauseNote::MAX_CHARS`] characters.
    pub note: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// True when the scheduler paused it itself (`pause_after_failures`); `note` says why.
    pub auto: bool,
    /// When the job resumes by itself (the dispatcher resumes it within a second or so);
    /// `None`: paused until someone resumes it.
    pub until: Option<DateTime<Utc>>,
}

impl PauseNote {
    /// The longest note.
    pub const MAX_CHARS: usize = 1_000;

    /// The note of an auto-pause after `failures` consecutive failed runs, the last of which
    /// failed with `last_error`: "auto-paused after N consecutive failures: <last error>".
    pub fn auto_paused(failures: u32, last_error: Option<&str>, at: DateTime<Utc>) -> Self {
        let mut note = format!("auto-paused after {failures} consecutive failures");
        if let Some(error) = last_error {
            note.push_str(": ");
            // The stored error is already bounded; the note keeps to its own limit.
            let room = Self::MAX_CHARS.saturating_sub(note.chars().count());
            note.extend(error.chars().take(room));
        }
        Self {
            by: None,
            note: Some(note),
            at,
            auto: true,
            until: None,
        }
    }

    /// A note as written: trimmed, empty as none, at most [`PauseNote::MAX_CHARS`]
    /// characters, no NUL.
    ///
    /// # Errors
    /// `TooLong` or `NulCharacter`.
    pub fn parse_note(raw: &str) -> Result<Option<String>, crate::error::Invalid> {
        crate::text::reject_nul(raw)?;
        let note = raw.trim();
        if note.chars().count() > Self::MAX_CHARS {
            return Err(crate::error::Invalid::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        Ok((!note.is_empty()).then(|| note.to_string()))
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
    /// When it fires next (the due time, jitter included); `None` when it never will
    /// (inactive, past `end_time`, `max_runs` reached, a one-off that fired).
    pub next_run: Option<DateTime<Utc>>,
    /// The schedule's instant of that fire when the job has jitter (`next_run` is later by
    /// its delay); `None` without jitter, where it is `next_run` itself.
    pub next_fire: Option<DateTime<Utc>>,
    /// How many scheduled fires have run (skipped fires, retries and manual runs do not
    /// count): what `max_runs` is compared with.
    pub fire_count: u64,
    /// Who paused it and why, while it is paused.
    pub pause: Option<PauseNote>,
    /// Its consecutive failed runs (retries exhausted) since its last success or resume:
    /// what `pause_after_failures` is compared with. Kept by the store as outcomes are
    /// recorded, never written by an edit.
    pub failure_streak: u32,
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

impl Job {
    /// The schedule instant of the next fire: `next_fire` with jitter, else `next_run`.
    pub fn next_scheduled_for(&self) -> Option<DateTime<Utc>> {
        self.next_fire.or(self.next_run)
    }

    /// When the job next runs, as the API and the dashboard show it: `next_run`, or — when
    /// that fire is on a day a calendar excludes and is skipped — the due time of the first
    /// later fire that runs. (The dispatcher still wakes at the excluded fire, to record it
    /// `skipped`.)
    pub fn upcoming_run(&self) -> Option<DateTime<Utc>> {
        let due = self.next_run?;
        if self.spec.calendars.is_empty() {
            return Some(due);
        }
        let stored = crate::timing::Fire {
            at: self.next_scheduled_for()?,
            due,
        };
        if self.spec.skipped_by_calendar(stored).is_none() {
            return Some(due);
        }
        self.spec
            .next_allowed_fire(due, self.fire_count)
            .map(|fire| fire.due)
    }

    /// Where the job stands: paused, scheduled (it has a next fire) or completed.
    pub fn schedule_status(&self) -> ScheduleStatus {
        if !self.spec.is_active {
            ScheduleStatus::Paused
        } else if self.next_run.is_some() {
            ScheduleStatus::Scheduled
        } else {
            ScheduleStatus::Completed
        }
    }

    /// The pause an outcome batch that left this job (as stored after it) with its failure
    /// streak calls for: an auto-pause note when the job is active, has
    /// `pause_after_failures` and its streak reached it; `None` otherwise.
    pub fn auto_pause(&self, last_error: Option<&str>, now: DateTime<Utc>) -> Option<PauseNote> {
        let limit = self.spec.policy.pause_after_failures;
        (self.spec.is_active && limit > 0 && self.failure_streak >= limit)
            .then(|| PauseNote::auto_paused(self.failure_streak, last_error, now))
    }

    /// The job with `def` as its copy of that calendar (when it lists it) and, when the copy
    /// changed and the job is active, its next fire recomputed from `now` — what a store
    /// writes for every job using a calendar that changed.
    #[must_use]
    pub fn with_calendar(self, def: &crate::calendar::CalendarDef, now: DateTime<Utc>) -> Job {
        let calendars = self.spec.calendars.clone().with_calendar(def);
        if calendars == self.spec.calendars {
            return self;
        }
        let spec = JobSpec {
            calendars,
            ..self.spec
        };
        let (next_run, next_fire) = if spec.is_active {
            stored_next(&spec, spec.next_fire(now, self.fire_count))
        } else {
            (self.next_run, self.next_fire)
        };
        Job {
            spec,
            next_run,
            next_fire,
            ..self
        }
    }

    /// The job resumed at `now`: active, its next fire computed from `now` (fires missed while
    /// paused are not caught up), its pause note and failure streak cleared. What
    /// [`crate::JobService::resume`] stores, and what a store writes for a pause whose
    /// `until` has come.
    pub fn resumed(self, now: DateTime<Utc>) -> Job {
        let spec = JobSpec {
            is_active: true,
            ..self.spec
        };
        let (next_run, next_fire) = stored_next(&spec, spec.next_fire(now, self.fire_count));
        Job {
            spec,
            next_run,
            next_fire,
            pause: None,
            failure_streak: 0,
            updated_at: now,
            ..self
        }
    }

    /// The job paused at `pause.at` with `pause`: inactive, no next fire, its failure streak
    /// kept (shown until a resume restarts it).
    pub fn paused(self, pause: PauseNote) -> Job {
        let updated_at = pause.at;
        Job {
            spec: JobSpec {
                is_active: false,
                ..self.spec
            },
            next_run: None,
            next_fire: None,
            pause: Some(pause),
            updated_at,
            ..self
        }
    }

    /// True while the scheduler itself paused the job (`pause_after_failures`).
    pub fn is_auto_paused(&self) -> bool {
        !self.spec.is_active && self.pause.as_ref().is_some_and(|pause| pause.auto)
    }

    /// Why the job stands where it does, in a sentence: why it completed, or why the
    /// scheduler paused it; `None` for a scheduled job or one paused by hand.
    pub fn status_reason(&self) -> Option<String> {
        match &self.pause {
            Some(pause) if self.is_auto_paused() => pause.note.clone(),
            _ => self.completed_reason(),
        }
    }

    /// Why a job is completed, in a sentence; `None` unless it is.
    pub fn completed_reason(&self) -> Option<String> {
        if self.schedule_status() != ScheduleStatus::Completed {
            return None;
        }
        Some(match (self.spec.max_runs, &self.spec.schedule) {
            (Some(max), _) if self.spec.reached_max_runs(self.fire_count) => {
                format!("completed after max_runs ({max}) fires")
            }
            (_, Schedule::Once(_)) => "completed: its one run_at instant has passed".into(),
            _ if self.spec.end_time.is_some() => "completed: end_time has passed".into(),
            _ => "completed: the schedule has no further fire".into(),
        })
    }
}

/// What the maintenance switch does to every job it reaches
/// ([`crate::ports::JobRepository::change_matching`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkChange {
    /// Pause every active job with this note.
    Pause(PauseNote),
    /// Resume every paused job at this instant.
    Resume(DateTime<Utc>),
}

impl BulkChange {
    /// Whether a job that `is_active` is one this change reaches: an active job for a pause,
    /// a paused one for a resume.
    pub fn applies_to(&self, is_active: bool) -> bool {
        matches!(self, BulkChange::Pause(_)) == is_active
    }

    /// `job` changed: [`Job::paused`] with the note, or [`Job::resumed`] at the instant.
    pub fn apply(&self, job: Job) -> Job {
        match self {
            BulkChange::Pause(note) => job.paused(note.clone()),
            BulkChange::Resume(at) => job.resumed(*at),
        }
    }
}

/// One apply's writes, handed to [`crate::ports::JobRepository::apply_changes`] to be made
/// in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobChanges {
    /// Jobs to create.
    pub inserts: Vec<NewJob>,
    /// Jobs to rewrite, each with every field as it is to be stored.
    pub updates: Vec<Job>,
    /// Jobs to delete.
    pub deletes: Vec<JobId>,
}

impl Job {
    /// `job` as the store keeps it once it has the identity `id`: never run, not paused,
    /// created and last changed by its creator.
    pub fn from_new(id: JobId, job: NewJob) -> Job {
        Job {
            id,
            spec: job.spec,
            last_run: None,
            last_status: None,
            last_error: None,
            fire_count: 0,
            pause: None,
            failure_streak: 0,
            next_run: job.next_run,
            next_fire: job.next_fire,
            created_at: job.created_at,
            updated_at: job.created_at,
            tenant: job.tenant,
            updated_by: job.created_by.clone(),
            created_by: job.created_by,
        }
    }
}

impl JobChanges {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.inserts.is_empty() && self.updates.is_empty() && self.deletes.is_empty()
    }
}

/// A validated job not yet stored, as handed to [`crate::ports::JobRepository::insert`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// The user-writable fields.
    pub spec: JobSpec,
    /// Computed by the next-run rule at creation.
    pub next_run: Option<DateTime<Utc>>,
    /// Its schedule instant, when the job has jitter (see [`Job::next_fire`]).
    pub next_fire: Option<DateTime<Utc>>,
    /// Creation instant (also the first `updated_at`).
    pub created_at: DateTime<Utc>,
    /// Whose job it is.
    pub tenant: Tenant,
    /// The name of the key creating it (also the first `updated_by`).
    pub created_by: Option<String>,
}
