//! The sea-orm entity of the `jobs` table and its conversion to and from the core `Job`.

use scheduler_core::{
    CalendarDef, CalendarRules, ConcurrencyPolicy, Description, DstOverlap, HttpTarget, Interval,
    Job, JobCalendars, JobId, JobName, JobSource, JobSpec, MisfirePolicy, OnExcluded, Owner,
    Parameters, PauseNote, RepositoryError, RunPolicy, RunStatus, Schedule, Tenant, Timezone,
    WireEnum,
};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::micros;
use crate::schedules::parsed_schedule;

/// One row of `jobs`, as the database stores it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "jobs")]
pub(crate) struct Model {
    /// Identity.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Unique name.
    #[sea_orm(unique)]
    pub name: String,
    /// Free text.
    pub description: String,
    /// The 5-field expression as written; `''` for a job of another kind (the column is
    /// `NOT NULL` since the seed).
    pub cron_expression: String,
    /// Every so many seconds, for an interval job.
    #[serde(default)]
    pub interval_seconds: Option<i32>,
    /// The one instant of a one-off job.
    #[serde(default)]
    pub run_at: Option<DateTimeUtc>,
    /// Completes after this many fires.
    #[serde(default)]
    pub max_runs: Option<i32>,
    /// Scheduled fires that ran.
    #[serde(default)]
    pub fire_count: i64,
    /// The most a fire is delayed, seconds.
    #[serde(default)]
    pub jitter_seconds: i32,
    /// The schedule instant of `next_run`, for a job with jitter.
    #[serde(default)]
    pub next_fire: Option<DateTimeUtc>,
    /// The key that paused it, while paused.
    #[serde(default)]
    pub paused_by: Option<String>,
    /// Why, while paused.
    #[serde(default)]
    pub pause_note: Option<String>,
    /// When it was paused; a paused job has a pause record exactly when this is set.
    #[serde(default)]
    pub paused_at: Option<DateTimeUtc>,
    /// True while the scheduler itself paused it (`pause_after_failures`).
    #[serde(default)]
    pub pause_auto: bool,
    /// When a paused job resumes by itself; `NULL` without an end.
    #[serde(default)]
    pub resume_at: Option<DateTimeUtc>,
    /// Pause after this many consecutive failed runs; 0: never.
    #[serde(default)]
    pub pause_after_failures: i32,
    /// Consecutive failed runs (retries exhausted) since the last success or resume.
    #[serde(default)]
    pub failure_streak: i32,
    /// `once` or `twice`: a cron job's doubled local time in the autumn overlap.
    #[serde(default = "default_dst_overlap")]
    pub dst_overlap: String,
    /// Copies of the calendars the job excludes: a JSON array of `{name, timezone, dates}`
    /// (`CalendarDef::to_value`), rewritten whenever one of them changes.
    #[serde(default = "no_calendars")]
    #[sea_orm(column_type = "Text")]
    pub calendars: String,
    /// `skip` or `move`: a fire on an excluded day.
    #[serde(default = "default_on_excluded")]
    pub on_excluded: String,
    /// IANA zone name.
    pub timezone: String,
    /// No fire before.
    pub start_time: DateTimeUtc,
    /// No fire after.
    pub end_time: Option<DateTimeUtc>,
    /// Last fire.
    pub last_run: Option<DateTimeUtc>,
    /// Status of the latest attempt at the last fire.
    pub last_status: Option<String>,
    /// Its error.
    pub last_error: Option<String>,
    /// Next fire; `NULL` when it never fires.
    pub next_run: Option<DateTimeUtc>,
    /// JSON object as text, exactly as serde_json writes it (text on both backends: jsonb
    /// would turn `-0.0` into `0.0` and `1e400` into 401 digits).
    #[sea_orm(column_type = "Text")]
    pub parameters: String,
    /// Paused when false.
    pub is_active: bool,
    /// `fire_once` or `skip`.
    pub misfire_policy: String,
    /// Grace for late fires, seconds.
    pub misfire_grace_seconds: i32,
    /// How far back `catch_up` runs missed fires, seconds.
    #[serde(default = "default_catch_up_window")]
    pub catch_up_window_seconds: i32,
    /// `allow` or `forbid`.
    pub concurrency_policy: String,
    /// Retries of a failed run.
    pub max_retries: i32,
    /// First retry delay, seconds.
    pub retry_backoff_seconds: i32,
    /// Run timeout, seconds.
    pub timeout_seconds: i32,
    /// HTTP target (`{"type": "http", ...}`), or none.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub target: Option<Json>,
    /// The target's receiving host as the core computes it (`HttpTarget::host_key`), so the
    /// claim compares a column; none without a target.
    #[serde(default)]
    pub target_host: Option<String>,
    /// `api` or `code` (who owns the job). Rows cached before the column existed read `api`.
    #[serde(default = "api_source")]
    pub source: String,
    /// The owner of the file set managing the job (`schedulerctl apply`); none otherwise.
    #[serde(default)]
    pub managed_by: Option<String>,
    /// Owning tenant.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Name of the key that created it.
    #[serde(default)]
    pub created_by: Option<String>,
    /// Name of the key that last changed it.
    #[serde(default)]
    pub updated_by: Option<String>,
    /// Creation instant.
    pub created_at: DateTimeUtc,
    /// Last change instant.
    pub updated_at: DateTimeUtc,
}

/// `jobs` has no relations yet.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The update writing what a pause or a resume changes on `job`'s row, as the core computed
/// it (`Job::paused`, `Job::resumed`): `is_active`, the next fire, the pause record and its
/// end, the failure streak. The caller adds what else changes and runs it.
pub(crate) fn pause_state_update(job: &Job) -> sea_orm::UpdateMany<Entity> {
    let row = Model::from_job(job);
    Entity::update_many()
        .col_expr(Column::IsActive, Expr::value(row.is_active))
        .col_expr(Column::NextRun, Expr::value(row.next_run))
        .col_expr(Column::NextFire, Expr::value(row.next_fire))
        .col_expr(Column::PausedBy, Expr::value(row.paused_by))
        .col_expr(Column::PauseNote, Expr::value(row.pause_note))
        .col_expr(Column::PausedAt, Expr::value(row.paused_at))
        .col_expr(Column::PauseAuto, Expr::value(row.pause_auto))
        .col_expr(Column::ResumeAt, Expr::value(row.resume_at))
        .col_expr(Column::FailureStreak, Expr::value(row.failure_streak))
        .filter(Column::Id.eq(row.id))
}

/// A stored row that no longer validates is reported, not trusted.
fn corrupt(id: i64, field: &str, problem: impl std::fmt::Debug) -> RepositoryError {
    RepositoryError::Unavailable(format!(
        "job {id} has an invalid stored {field}: {problem:?}"
    ))
}

fn seconds(id: i64, field: &str, value: i32) -> Result<u32, RepositoryError> {
    u32::try_from(value).map_err(|e| corrupt(id, field, e))
}

/// Policy values are validated far below `i32::MAX`; saturate rather than wrap.
pub(crate) fn clamp(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// The catch-up window of a row cached before the column existed: the default.
fn default_catch_up_window() -> i32 {
    clamp(RunPolicy::default().catch_up_window_seconds)
}

/// The overlap choice of a row cached before the column existed: the rule so far.
fn default_dst_overlap() -> String {
    DstOverlap::Once.as_str().to_string()
}

/// The calendars of a row cached before the column existed: none.
fn no_calendars() -> String {
    "[]".to_string()
}

/// The choice of a row cached before the column existed: skip.
fn default_on_excluded() -> String {
    OnExcluded::Skip.as_str().to_string()
}

/// The calendar copies `job` keeps, as the `calendars` column's text.
pub(crate) fn calendars_text(calendars: &JobCalendars) -> String {
    serde_json::Value::Array(calendars.rules.iter().map(|r| r.def().to_value()).collect())
        .to_string()
}

/// The tenant of a row written (or cached) before tenants existed.
fn default_tenant() -> String {
    Tenant::DEFAULT.to_string()
}

/// The owner of a row written before `source` existed.
fn api_source() -> String {
    JobSource::Api.as_str().to_string()
}

impl Model {
    /// The schedule this row stores: exactly one of a non-empty `cron_expression`,
    /// `interval_seconds` and `run_at`.
    fn schedule(&self) -> Result<Schedule, RepositoryError> {
        let id = self.id;
        match (
            self.cron_expression.as_str(),
            self.interval_seconds,
            self.run_at,
        ) {
            (expression, None, None) => parsed_schedule(expression)
                .map(Schedule::Cron)
                .map_err(|e| corrupt(id, "cron_expression", e)),
            ("", Some(seconds), None) => Interval::from_seconds(i64::from(seconds))
                .map(Schedule::Interval)
                .map_err(|e| corrupt(id, "interval_seconds", e)),
            ("", None, Some(at)) => Ok(Schedule::Once(at)),
            _ => Err(corrupt(id, "schedule", "more than one kind")),
        }
    }

    /// The calendars this row's job excludes, compiled from their stored copies.
    fn job_calendars(&self) -> Result<JobCalendars, RepositoryError> {
        let id = self.id;
        let value: serde_json::Value =
            serde_json::from_str(&self.calendars).map_err(|e| corrupt(id, "calendars", e))?;
        let defs = value
            .as_array()
            .ok_or_else(|| corrupt(id, "calendars", "not a list"))?
            .iter()
            .map(CalendarDef::from_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| corrupt(id, "calendars", e))?;
        Ok(JobCalendars {
            names: defs.iter().map(|def| def.name.clone()).collect(),
            on_excluded: OnExcluded::parse(&self.on_excluded)
                .map_err(|e| corrupt(id, "on_excluded", e))?,
            rules: defs.into_iter().map(CalendarRules::compile).collect(),
        })
    }

    /// The core job this row stores, every value validated again (a row written by another
    /// version or by hand is not trusted).
    ///
    /// # Errors
    /// `Unavailable` naming the field when a stored value is invalid.
    pub(crate) fn into_job(self) -> Result<Job, RepositoryError> {
        let id = self.id;
        let spec = JobSpec {
            name: JobName::parse(&self.name).map_err(|e| corrupt(id, "name", e))?,
            description: Description::parse(&self.description)
                .map_err(|e| corrupt(id, "description", e))?,
            schedule: self.schedule()?,
            timezone: Timezone::parse(&self.timezone).map_err(|e| corrupt(id, "timezone", e))?,
            start_time: self.start_time,
            end_time: self.end_time,
            max_runs: self
                .max_runs
                .map(|n| seconds(id, "max_runs", n))
                .transpose()?,
            jitter_seconds: seconds(id, "jitter_seconds", self.jitter_seconds)?,
            parameters: serde_json::from_str::<serde_json::Value>(&self.parameters)
                .map_err(|e| corrupt(id, "parameters", e))
                .and_then(|value| {
                    Parameters::parse(value).map_err(|e| corrupt(id, "parameters", e))
                })?,
            is_active: self.is_active,
            policy: RunPolicy {
                misfire: MisfirePolicy::parse(&self.misfire_policy)
                    .map_err(|e| corrupt(id, "misfire_policy", e))?,
                misfire_grace_seconds: seconds(
                    id,
                    "misfire_grace_seconds",
                    self.misfire_grace_seconds,
                )?,
                catch_up_window_seconds: seconds(
                    id,
                    "catch_up_window_seconds",
                    self.catch_up_window_seconds,
                )?,
                concurrency: ConcurrencyPolicy::parse(&self.concurrency_policy)
                    .map_err(|e| corrupt(id, "concurrency_policy", e))?,
                max_retries: seconds(id, "max_retries", self.max_retries)?,
                retry_backoff_seconds: seconds(
                    id,
                    "retry_backoff_seconds",
                    self.retry_backoff_seconds,
                )?,
                timeout_seconds: seconds(id, "timeout_seconds", self.timeout_seconds)?,
                pause_after_failures: seconds(
                    id,
                    "pause_after_failures",
                    self.pause_after_failures,
                )?,
                dst_overlap: DstOverlap::parse(&self.dst_overlap)
                    .map_err(|e| corrupt(id, "dst_overlap", e))?,
            },
            target: self
                .target
                .as_ref()
                .map(HttpTarget::from_stored)
                .transpose()
                .map_err(|e| corrupt(id, "target", e))?,
            source: JobSource::parse(&self.source).map_err(|e| corrupt(id, "source", e))?,
            managed_by: self
                .managed_by
                .as_deref()
                .map(Owner::parse)
                .transpose()
                .map_err(|e| corrupt(id, "managed_by", e))?,
            calendars: self.job_calendars()?,
        };
        Ok(Job {
            id: JobId(id),
            spec,
            last_run: self.last_run,
            last_status: self
                .last_status
                .as_deref()
                .map(RunStatus::parse)
                .transpose()
                .map_err(|e| corrupt(id, "last_status", e))?,
            last_error: self.last_error,
            next_run: self.next_run,
            next_fire: self.next_fire,
            fire_count: u64::try_from(self.fire_count).map_err(|e| corrupt(id, "fire_count", e))?,
            pause: self.paused_at.map(|at| PauseNote {
                by: self.paused_by.clone(),
                note: self.pause_note.clone(),
                at,
                auto: self.pause_auto,
                until: self.resume_at,
            }),
            failure_streak: seconds(id, "failure_streak", self.failure_streak)?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            tenant: Tenant::parse(&self.tenant).map_err(|e| corrupt(id, "tenant", e))?,
            created_by: self.created_by,
            updated_by: self.updated_by,
        })
    }

    /// The row that stores `job`: what the repository writes and what caches keep (so a
    /// cached read converts exactly as a database read does). Instants are cut to
    /// microseconds, the stored precision.
    pub(crate) fn from_job(job: &Job) -> Self {
        Self {
            id: job.id.0,
            name: job.spec.name.as_str().to_string(),
            description: job.spec.description.as_str().to_string(),
            cron_expression: job
                .spec
                .schedule
                .cron()
                .map_or_else(String::new, |cron| cron.expression().to_string()),
            interval_seconds: job.spec.schedule.interval().map(|i| clamp(i.seconds())),
            run_at: job.spec.schedule.run_at().map(micros),
            max_runs: job.spec.max_runs.map(clamp),
            fire_count: i64::try_from(job.fire_count).unwrap_or(i64::MAX),
            jitter_seconds: clamp(job.spec.jitter_seconds),
            next_fire: job.next_fire.map(micros),
            paused_by: job.pause.as_ref().and_then(|p| p.by.clone()),
            pause_note: job.pause.as_ref().and_then(|p| p.note.clone()),
            paused_at: job.pause.as_ref().map(|p| micros(p.at)),
            pause_auto: job.pause.as_ref().is_some_and(|p| p.auto),
            resume_at: job.pause.as_ref().and_then(|p| p.until).map(micros),
            pause_after_failures: clamp(job.spec.policy.pause_after_failures),
            failure_streak: clamp(job.failure_streak),
            dst_overlap: job.spec.policy.dst_overlap.as_str().to_string(),
            calendars: calendars_text(&job.spec.calendars),
            on_excluded: job.spec.calendars.on_excluded.as_str().to_string(),
            timezone: job.spec.timezone.name().to_string(),
            start_time: micros(job.spec.start_time),
            end_time: job.spec.end_time.map(micros),
            last_run: job.last_run.map(micros),
            last_status: job.last_status.map(|s| s.as_str().to_string()),
            last_error: job.last_error.clone(),
            next_run: job.next_run.map(micros),
            parameters: job.spec.parameters.to_json_text(),
            is_active: job.spec.is_active,
            misfire_policy: job.spec.policy.misfire.as_str().to_string(),
            misfire_grace_seconds: clamp(job.spec.policy.misfire_grace_seconds),
            catch_up_window_seconds: clamp(job.spec.policy.catch_up_window_seconds),
            concurrency_policy: job.spec.policy.concurrency.as_str().to_string(),
            max_retries: clamp(job.spec.policy.max_retries),
            retry_backoff_seconds: clamp(job.spec.policy.retry_backoff_seconds),
            timeout_seconds: clamp(job.spec.policy.timeout_seconds),
            target: job.spec.target.as_ref().map(HttpTarget::to_value),
            target_host: job.spec.target.as_ref().map(HttpTarget::host_key),
            source: job.spec.source.as_str().to_string(),
            managed_by: job.spec.managed_by.as_ref().map(|o| o.as_str().to_string()),
            created_at: micros(job.created_at),
            updated_at: micros(job.updated_at),
            tenant: job.tenant.as_str().to_string(),
            created_by: job.created_by.clone(),
            updated_by: job.updated_by.clone(),
        }
    }
}

/// `jobs.run_count`: how many runs the job has (kept by the run store alone, so it is not a
/// field of the job entity; the per-job history cap reads it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunCount;

impl sea_orm::sea_query::Iden for RunCount {
    fn unquoted(&self) -> &str {
        "run_count"
    }
}
