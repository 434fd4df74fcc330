//! Output types: the JSON the API writes, in the original service's fields and order, with
//! schemas that say exactly what is sent (nullable fields, enums, ranges), and the payload
//! that writes them in one pass.

use std::borrow::Cow;

use poem_openapi::Object;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, ParseResult, ToJSON, Type};
use scheduler_core::{
    ConcurrencyPolicy, DstOverlap, HttpTarget, Interval, Job, JobRun, JobSource, MisfirePolicy,
    OnExcluded, Preview, RunStatus, RunTrigger, ScheduleStatus,
};
use serde_json::Value;

use super::choices::{OneOf, TargetMethods, TargetTypes};
use super::wire_time::UtcInstant;

/// A JSON object of any members (a job's `parameters`), documented as an object.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct JsonObject(pub Value);

impl Type for JsonObject {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "object".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            additional_properties: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema::ANY)))),
            ..MetaSchema::new("object")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for JsonObject {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(value @ Value::Object(_)) => Ok(Self(value)),
            _ => Err(poem_openapi::types::ParseError::expected_type(Value::Null)),
        }
    }
}

impl ToJSON for JsonObject {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.clone())
    }
}

/// Where runs of a job are delivered: the run is sent as JSON to `url`.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "HttpTarget")]
pub struct TargetOut {
    /// Always `http`.
    #[serde(rename = "type")]
    #[oai(rename = "type")]
    pub kind: OneOf<TargetTypes>,
    /// An `http://` or `https://` URL, at most 2,048 characters.
    pub url: String,
    /// The request method.
    pub method: OneOf<TargetMethods>,
    /// Extra request headers (at most 32). Values are write-only: every value reads `***`.
    /// Send `***` back (or, in a PATCH, leave `headers` out) to keep the stored values.
    pub headers: std::collections::BTreeMap<String, String>,
}

impl From<&HttpTarget> for TargetOut {
    fn from(target: &HttpTarget) -> Self {
        Self {
            kind: OneOf::new("http"),
            url: target.url.clone(),
            method: OneOf::new(target.method.clone()),
            headers: target
                .headers
                .keys()
                .map(|name| (name.clone(), HttpTarget::MASK.to_string()))
                .collect(),
        }
    }
}

/// A job as the API returns it (the original service's fields and names, then the run
/// policies).
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "Job", example)]
pub struct JobOut {
    /// Database id.
    pub id: i64,
    /// Unique name (1-255 characters).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Standard 5-field cron expression (minute hour day-of-month month day-of-week); null
    /// for a job scheduled by `interval_seconds` or `run_at` (a job has exactly one of the
    /// three).
    #[oai(nullable)]
    pub cron_expression: Option<String>,
    /// Fires every this many seconds from `start_time` (fire k at `start_time + k·interval`,
    /// in real seconds, across DST too); null for other kinds.
    #[oai(nullable)]
    pub interval_seconds: Option<u32>,
    /// Fires once, at this instant; null for other kinds.
    #[oai(nullable)]
    pub run_at: Option<UtcInstant>,
    /// The job completes after this many scheduled fires have run (retries and manual runs
    /// do not count); null: no limit.
    #[oai(nullable)]
    pub max_runs: Option<u32>,
    /// Scheduled fires that ran so far (what `max_runs` is compared with). Read-only.
    pub fire_count: u64,
    /// Each fire is delayed by up to this many seconds (deterministic per job name and
    /// fire instant; `next_run` is the delayed due time); 0: none.
    pub jitter_seconds: u32,
    /// `scheduled` (it has a next run), `paused`, or `completed` (it will not fire again:
    /// `max_runs` reached, its `run_at` or `end_time` passed). Read-only.
    pub schedule_status: OneOf<ScheduleStatus>,
    /// Why a job is `completed`, or why the scheduler paused it ("auto-paused after 3
    /// consecutive failures: ..."), in a sentence; null otherwise. Read-only.
    #[oai(nullable)]
    pub schedule_status_reason: Option<String>,
    /// IANA time zone the expression is read in.
    pub timezone: String,
    /// No run before this instant.
    pub start_time: UtcInstant,
    /// No run after this instant; null when unbounded.
    #[oai(nullable)]
    pub end_time: Option<UtcInstant>,
    /// When the job last ran; null before its first run.
    #[oai(nullable)]
    pub last_run: Option<UtcInstant>,
    /// When the job runs next: the first fire at or after `start_time` and after now that a
    /// calendar does not skip (a moved fire: where it was moved to); null when paused or past
    /// `end_time`.
    #[oai(nullable)]
    pub next_run: Option<UtcInstant>,
    /// JSON object handed to the job's handler.
    pub parameters: JsonObject,
    /// False while paused.
    pub is_active: bool,
    /// The name of the key that paused the job, while it is paused (null otherwise, or when
    /// paused without a key). Read-only.
    #[oai(nullable)]
    pub paused_by: Option<String>,
    /// Why it was paused (the pause endpoint's `note`), while it is paused. Read-only.
    #[oai(nullable)]
    pub pause_note: Option<String>,
    /// When it was paused, while it is paused. Read-only.
    #[oai(nullable)]
    pub paused_at: Option<UtcInstant>,
    /// When it resumes by itself (the pause endpoint's `until`), while it is paused; null
    /// for a pause without an end. Read-only.
    #[oai(nullable)]
    pub paused_until: Option<UtcInstant>,
    /// What happens to fires missed while every replica was down.
    pub misfire_policy: OneOf<MisfirePolicy>,
    /// How late a fire may be and still count as on time, in seconds.
    #[oai(validator(minimum(value = "0"), maximum(value = "86400")))]
    pub misfire_grace_seconds: u32,
    /// With `misfire_policy: catch_up`: how far back missed fires are run, in seconds.
    #[oai(validator(minimum(value = "1"), maximum(value = "604800")))]
    pub catch_up_window_seconds: u32,
    /// Whether runs may overlap.
    pub concurrency_policy: OneOf<ConcurrencyPolicy>,
    /// Retries of a failed or timed-out run.
    #[oai(validator(minimum(value = "0"), maximum(value = "100")))]
    pub max_retries: u32,
    /// First retry delay in seconds, doubled per retry.
    #[oai(validator(minimum(value = "1"), maximum(value = "86400")))]
    pub retry_backoff_seconds: u32,
    /// A run taking longer is stopped and marked `timed_out`.
    #[oai(validator(minimum(value = "1"), maximum(value = "86400")))]
    pub timeout_seconds: u32,
    /// The job pauses itself after this many consecutive failed runs (retries exhausted);
    /// 0: never.
    #[oai(validator(minimum(value = "0"), maximum(value = "1000")))]
    pub pause_after_failures: u32,
    /// Consecutive failed runs (retries exhausted) since the last success or resume.
    /// Read-only.
    pub failure_streak: u32,
    /// A cron job's fixed local time that occurs twice when clocks go back: `once` (at its
    /// first occurrence) or `twice`.
    pub dst_overlap: OneOf<DstOverlap>,
    /// Names of the tenant's calendars (`/scheduler/calendars/`) whose days the job does not
    /// fire on; empty: none.
    pub calendars: Vec<String>,
    /// A fire on a day one of `calendars` excludes: `skip` (recorded as a `skipped` run,
    /// "excluded by calendar <name>") or `move` (run at the same local time on the next day
    /// no calendar excludes, or at the job's next allowed fire if that comes first).
    pub on_excluded: OneOf<OnExcluded>,
    /// True while the scheduler itself paused the job (`pause_after_failures` reached; the
    /// reason is in `pause_note` and `schedule_status_reason`). Read-only.
    pub auto_paused: bool,
    /// Where runs are delivered; null to run the handler registered for
    /// `parameters.action`.
    #[oai(nullable)]
    pub target: Option<TargetOut>,
    /// The status of the latest attempt at the job's last fire: `running` while it runs, then
    /// how it ended (`skipped` for a fire not executed); null before the first fire.
    #[oai(nullable)]
    pub last_status: Option<OneOf<RunStatus>>,
    /// Why that attempt failed or was skipped; null otherwise.
    #[oai(nullable)]
    pub last_error: Option<String>,
    /// Who owns the job: `api` (created through this API) or `code` (declared by a program
    /// embedding the scheduler, which reconciles it at every start). Read-only.
    pub source: OneOf<JobSource>,
    /// The owner of the file set managing the job (`schedulerctl apply -f`), which updates
    /// and may prune it; null for a job no file manages. Read-only.
    #[oai(nullable)]
    pub managed_by: Option<String>,
    /// Creation instant.
    pub created_at: UtcInstant,
    /// Last change instant.
    pub updated_at: UtcInstant,
    /// The name of the API key that created the job; null when created without a key.
    #[oai(nullable)]
    pub created_by: Option<String>,
    /// The name of the API key that last changed the job; null when changed without a key.
    #[oai(nullable)]
    pub updated_by: Option<String>,
}

impl From<Job> for JobOut {
    fn from(job: Job) -> Self {
        let schedule_status = job.schedule_status().into();
        let schedule_status_reason = job.status_reason();
        let auto_paused = job.is_auto_paused();
        let next_run = job.upcoming_run().map(UtcInstant);
        Self {
            id: job.id.0,
            name: job.spec.name.into(),
            description: job.spec.description.into(),
            cron_expression: job
                .spec
                .schedule
                .cron()
                .map(|cron| cron.expression().to_string()),
            interval_seconds: job.spec.schedule.interval().map(Interval::seconds),
            run_at: job.spec.schedule.run_at().map(UtcInstant),
            max_runs: job.spec.max_runs,
            fire_count: job.fire_count,
            jitter_seconds: job.spec.jitter_seconds,
            schedule_status,
            schedule_status_reason,
            timezone: job.spec.timezone.name().to_string(),
            start_time: UtcInstant(job.spec.start_time),
            end_time: job.spec.end_time.map(UtcInstant),
            last_run: job.last_run.map(UtcInstant),
            next_run,
            calendars: job
                .spec
                .calendars
                .names
                .iter()
                .map(ToString::to_string)
                .collect(),
            on_excluded: job.spec.calendars.on_excluded.into(),
            parameters: JsonObject(job.spec.parameters.into()),
            is_active: job.spec.is_active,
            paused_by: job.pause.as_ref().and_then(|p| p.by.clone()),
            pause_note: job.pause.as_ref().and_then(|p| p.note.clone()),
            paused_at: job.pause.as_ref().map(|p| UtcInstant(p.at)),
            paused_until: job.pause.as_ref().and_then(|p| p.until).map(UtcInstant),
            misfire_policy: job.spec.policy.misfire.into(),
            misfire_grace_seconds: job.spec.policy.misfire_grace_seconds,
            catch_up_window_seconds: job.spec.policy.catch_up_window_seconds,
            concurrency_policy: job.spec.policy.concurrency.into(),
            max_retries: job.spec.policy.max_retries,
            retry_backoff_seconds: job.spec.policy.retry_backoff_seconds,
            timeout_seconds: job.spec.policy.timeout_seconds,
            pause_after_failures: job.spec.policy.pause_after_failures,
            failure_streak: job.failure_streak,
            dst_overlap: job.spec.policy.dst_overlap.into(),
            auto_paused,
            target: job.spec.target.as_ref().map(TargetOut::from),
            last_status: job.last_status.map(OneOf::from),
            last_error: job.last_error,
            source: job.spec.source.into(),
            managed_by: job.spec.managed_by.map(|owner| owner.as_str().to_string()),
            created_at: UtcInstant(job.created_at),
            updated_at: UtcInstant(job.updated_at),
            created_by: job.created_by,
            updated_by: job.updated_by,
        }
    }
}

fn instant(text: &str) -> UtcInstant {
    UtcInstant(
        text.parse()
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC),
    )
}

impl poem_openapi::types::Example for JobOut {
    fn example() -> Self {
        Self {
            id: 1,
            name: "Weekly Report".into(),
            description: "Generate weekly sales report".into(),
            cron_expression: Some("0 9 * * 1".into()),
            interval_seconds: None,
            run_at: None,
            max_runs: None,
            fire_count: 0,
            jitter_seconds: 0,
            schedule_status: ScheduleStatus::Scheduled.into(),
            schedule_status_reason: None,
            timezone: "UTC".into(),
            start_time: instant("2025-06-23T09:00:00Z"),
            end_time: None,
            last_run: None,
            next_run: Some(instant("2025-06-23T09:00:00Z")),
            parameters: JsonObject(serde_json::json!({
                "report_type": "weekly",
                "recipients": ["sales@example.com"]
            })),
            is_active: true,
            paused_by: None,
            pause_note: None,
            paused_at: None,
            paused_until: None,
            misfire_policy: MisfirePolicy::FireOnce.into(),
            misfire_grace_seconds: 60,
            catch_up_window_seconds: 3600,
            concurrency_policy: ConcurrencyPolicy::Allow.into(),
            max_retries: 0,
            retry_backoff_seconds: 10,
            timeout_seconds: 300,
            pause_after_failures: 0,
            failure_streak: 0,
            dst_overlap: DstOverlap::Once.into(),
            calendars: vec!["uk-bank-holidays".into()],
            on_excluded: OnExcluded::Skip.into(),
            auto_paused: false,
            target: None,
            last_status: None,
            last_error: None,
            source: JobSource::Api.into(),
            managed_by: None,
            created_at: instant("2025-06-20T12:00:00Z"),
            updated_at: instant("2025-06-20T12:00:00Z"),
            created_by: Some("ci".into()),
            updated_by: Some("ci".into()),
        }
    }
}

/// One page of jobs: the original's paginated shape for numbered pages (`page=`), DRF's
/// `CursorPagination` shape (no `count`) for cursor pages (`cursor=`).
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "JobList")]
pub struct JobListOut {
    /// Jobs matching the filter across all pages (numbered pages only).
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// URL of the next page, or null on the last (a cursor URL on cursor pages).
    #[oai(nullable)]
    pub next: Option<String>,
    /// URL of the previous page, or null on the first.
    #[oai(nullable)]
    pub previous: Option<String>,
    /// This page's jobs.
    pub results: Vec<JobOut>,
}

/// One run as the API returns it.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "Run", example)]
pub struct RunOut {
    /// Run id.
    pub id: i64,
    /// The job.
    pub job_id: i64,
    /// The job's name (null only when the job was deleted while the run was read).
    #[oai(nullable)]
    pub job_name: Option<String>,
    /// The fire this run serves; `(job_id, scheduled_for)` is the receiver's idempotency key.
    pub scheduled_for: UtcInstant,
    /// When the fire was due, for a job with `jitter_seconds` (its `scheduled_for` plus the
    /// fire's delay; on the first attempt at a scheduled fire): lateness is measured from
    /// it. Null otherwise.
    #[oai(nullable)]
    pub due_at: Option<UtcInstant>,
    /// Why it exists.
    pub trigger: OneOf<RunTrigger>,
    /// 1 for the first attempt at this fire, higher for retries, throttles and recoveries.
    #[oai(validator(minimum(value = "1")))]
    pub attempt: i32,
    /// Of the job's `max_retries`, how many this fire used so far (this attempt included
    /// when it is a retry).
    pub retries: i32,
    /// Attempts at this fire so far that ran again because the receiver answered 429/503
    /// with `Retry-After` (they use no retry; a fire is throttled at most 10 times).
    pub throttles: i32,
    /// Where it stands.
    pub status: OneOf<RunStatus>,
    /// When it started.
    pub started_at: UtcInstant,
    /// When it ended; null while running.
    #[oai(nullable)]
    pub finished_at: Option<UtcInstant>,
    /// How long it ran, in milliseconds; null while running.
    #[oai(nullable)]
    pub duration_ms: Option<i64>,
    /// When a retry of this failed run (or the next attempt of a throttled one) is due; null
    /// when none is.
    #[oai(nullable)]
    pub retry_at: Option<UtcInstant>,
    /// Why it failed or was skipped (at most 2,000 characters); null otherwise.
    #[oai(nullable)]
    pub error: Option<String>,
    /// The replica that executed it.
    pub worker: String,
    /// For a replay (`trigger: replay`): the run it replays.
    #[oai(nullable)]
    pub replay_of: Option<i64>,
}

impl From<JobRun> for RunOut {
    fn from(JobRun { run, job_name }: JobRun) -> Self {
        Self {
            id: run.id.0,
            job_id: run.job_id.0,
            job_name,
            scheduled_for: UtcInstant(run.scheduled_for),
            due_at: run.due_at.map(UtcInstant),
            trigger: run.trigger.into(),
            attempt: run.attempt,
            retries: run.retries,
            throttles: run.throttles,
            status: run.status.into(),
            started_at: UtcInstant(run.started_at),
            finished_at: run.finished_at.map(UtcInstant),
            duration_ms: run.duration().map(|d| d.num_milliseconds()),
            retry_at: run.retry_at.map(UtcInstant),
            error: run.error,
            worker: run.worker,
            replay_of: run.replay_of.map(|id| id.0),
        }
    }
}

impl poem_openapi::types::Example for RunOut {
    fn example() -> Self {
        Self {
            id: 42,
            job_id: 1,
            job_name: Some("Weekly Report".into()),
            scheduled_for: instant("2025-06-23T09:00:00Z"),
            due_at: None,
            trigger: RunTrigger::Schedule.into(),
            attempt: 1,
            retries: 0,
            throttles: 0,
            status: RunStatus::Succeeded.into(),
            started_at: instant("2025-06-23T09:00:00.012Z"),
            finished_at: Some(instant("2025-06-23T09:00:00.250Z")),
            duration_ms: Some(238),
            retry_at: None,
            error: None,
            worker: "scheduler-1-4711".into(),
            replay_of: None,
        }
    }
}

/// What a backfill created.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "Backfill")]
pub struct BackfillOut {
    /// How many runs it created (trigger `backfill`), running now or waiting their turn.
    pub created: usize,
    /// How many instants of the range already had a run (scheduled, manual or an earlier
    /// backfill) and were left alone.
    pub already_run: usize,
    /// The runs created, oldest fire first.
    pub runs: Vec<RunOut>,
}

/// A page of runs.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "RunList")]
pub struct RunListOut {
    /// Runs matching across all pages (numbered pages only).
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Next page URL, or null on the last.
    #[oai(nullable)]
    pub next: Option<String>,
    /// Previous page URL, or null on the first.
    #[oai(nullable)]
    pub previous: Option<String>,
    /// This page, newest first.
    pub results: Vec<RunOut>,
}

/// The preview of an expression.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "CronPreview")]
pub struct PreviewOut {
    /// The expression as sent (trimmed).
    pub expression: String,
    /// The IANA zone it was read in.
    pub timezone: String,
    /// A short English reading, e.g. "At 09:00 on Monday".
    pub description: String,
    /// The first `count` fire instants at or after `after`, RFC 3339 in UTC.
    pub next_runs: Vec<UtcInstant>,
    /// The same instants on the zone's wall clock, RFC 3339 with the zone's offset then
    /// (`2025-11-02T01:30:00-04:00`): a DST change shows as the offset changing.
    pub next_runs_local: Vec<String>,
    /// With `calendars`: the fires of `next_runs` a calendar excludes, in order (empty
    /// without calendars, or when none is excluded).
    pub excluded: Vec<ExcludedFireOut>,
}

/// A fire of a preview on a day one of its calendars excludes.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "ExcludedFire")]
pub struct ExcludedFireOut {
    /// The fire, one of `next_runs`.
    pub at: UtcInstant,
    /// The first calendar excluding its day.
    pub calendar: String,
    /// With `on_excluded=move`: where it runs instead; null when skipped (or no allowed day
    /// was found).
    #[oai(nullable)]
    pub moved_to: Option<UtcInstant>,
}

impl From<Preview> for PreviewOut {
    fn from(preview: Preview) -> Self {
        Self {
            expression: preview.schedule.expression().to_string(),
            timezone: preview.timezone.name().to_string(),
            description: preview.schedule.describe(),
            next_runs_local: preview
                .next_runs
                .iter()
                .map(|at| {
                    at.with_timezone(&preview.timezone.tz())
                        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                })
                .collect(),
            excluded: preview
                .next_runs
                .iter()
                .zip(&preview.marks)
                .filter_map(|(at, mark)| {
                    mark.excluded_by.as_ref().map(|name| ExcludedFireOut {
                        at: UtcInstant(*at),
                        calendar: name.to_string(),
                        moved_to: mark.moved_to.map(UtcInstant),
                    })
                })
                .collect(),
            next_runs: preview.next_runs.into_iter().map(UtcInstant).collect(),
        }
    }
}

/// A JSON response body written straight from `T`'s `Serialize` (one pass, no intermediate
/// `serde_json::Value` as poem-openapi's `Json` builds), documented with `T`'s schema.
#[derive(Debug)]
pub struct FastJson<T>(pub T);

/// The content type of every JSON response body.
const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

impl<T: Type + Send> poem_openapi::payload::Payload for FastJson<T> {
    const CONTENT_TYPE: &'static str = JSON_CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: serde::Serialize + Send> poem::IntoResponse for FastJson<T> {
    fn into_response(self) -> poem::Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => poem::Response::builder()
                .content_type(JSON_CONTENT_TYPE)
                .body(body),
            Err(_) => poem::Response::builder()
                .status(poem::http::StatusCode::INTERNAL_SERVER_ERROR)
                .finish(),
        }
    }
}
