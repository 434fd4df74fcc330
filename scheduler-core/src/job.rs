//! The job entity, the validated values it is made of, and the next-run rule.

use std::fmt;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ValidationErrors;
use crate::policy::{HttpTarget, PolicyInput, RunPolicy};
use crate::schedule::CronSchedule;

/// The database identity of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A job's unique name: trimmed, 1 to 255 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobName(String);

impl JobName {
    /// The longest name accepted, in characters.
    pub const MAX_CHARS: usize = 255;

    /// Trims and checks a name.
    ///
    /// # Errors
    /// A user-facing message when the name is blank or longer than [`Self::MAX_CHARS`].
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("This field may not be blank.".to_string());
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(format!(
                "Ensure this field has no more than {} characters.",
                Self::MAX_CHARS
            ));
        }
        Ok(Self(trimmed.to_string()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for JobName {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<JobName> for String {
    fn from(name: JobName) -> Self {
        name.0
    }
}

/// Free text describing a job: at most 10,000 characters, empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

impl Description {
    /// The longest description accepted, in characters.
    pub const MAX_CHARS: usize = 10_000;

    /// Checks a description's length.
    ///
    /// # Errors
    /// A user-facing message when it is longer than [`Self::MAX_CHARS`].
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(format!(
                "Ensure this field has no more than {} characters.",
                Self::MAX_CHARS
            ));
        }
        Ok(Self(raw.to_string()))
    }

    /// The description as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Description {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Description> for String {
    fn from(description: Description) -> Self {
        description.0
    }
}

/// An IANA time zone in which a job's expression is read; `UTC` by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timezone(Tz);

impl Default for Timezone {
    fn default() -> Self {
        Self(Tz::UTC)
    }
}

impl Timezone {
    /// Looks up an IANA zone name such as `Europe/London` (case-sensitive, as IANA names are).
    ///
    /// # Errors
    /// A user-facing message when the name is not a known zone.
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.trim().parse::<Tz>().map(Self).map_err(|_| {
            format!("Unknown time zone '{raw}': use an IANA name such as 'Europe/London'.")
        })
    }

    /// The chrono-tz zone.
    pub fn tz(&self) -> Tz {
        self.0
    }

    /// The IANA name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl TryFrom<String> for Timezone {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Timezone> for String {
    fn from(tz: Timezone) -> Self {
        tz.name().to_string()
    }
}

/// The JSON object handed to a job's handler: an object, at most 64 KiB serialized.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct Parameters(Map<String, Value>);

impl Parameters {
    /// The largest serialized size accepted, in bytes.
    pub const MAX_BYTES: usize = 64 * 1024;

    /// Checks that `value` is an object of acceptable size.
    ///
    /// # Errors
    /// A user-facing message when it is not an object or is too large.
    pub fn parse(value: Value) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err("Must be a JSON object.".to_string());
        };
        let size = serde_json::to_vec(&map)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > Self::MAX_BYTES {
            return Err(format!(
                "Must be at most {} bytes when serialized (got {size}).",
                Self::MAX_BYTES
            ));
        }
        Ok(Self(map))
    }

    /// The object's members.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

impl TryFrom<Value> for Parameters {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<Parameters> for Value {
    fn from(parameters: Parameters) -> Self {
        Value::Object(parameters.0)
    }
}

/// The user-writable part of a job, every field validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// A stored job: its spec plus what the store and the scheduler maintain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Database identity.
    pub id: JobId,
    /// The user-writable fields.
    #[serde(flatten)]
    pub spec: JobSpec,
    /// When it last fired, if ever.
    pub last_run: Option<DateTime<Utc>>,
    /// When it fires next; `None` when it never will (inactive or past `end_time`).
    pub next_run: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
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
}

/// Raw input for creating (or fully replacing) a job, before validation.
///
/// Absent optional fields take their defaults; absent required fields are errors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobDraft {
    /// Required.
    pub name: Option<String>,
    /// Required.
    pub cron_expression: Option<String>,
    /// Default empty.
    pub description: Option<String>,
    /// Default `UTC`.
    pub timezone: Option<String>,
    /// Default now.
    pub start_time: Option<DateTime<Utc>>,
    /// Default none.
    pub end_time: Option<DateTime<Utc>>,
    /// Default `{}`.
    pub parameters: Option<Value>,
    /// Default true.
    pub is_active: Option<bool>,
    /// Policy fields; absent ones take the defaults.
    pub policy: PolicyInput,
    /// `{"type": "http", ...}`; absent or null: none.
    pub target: Option<Value>,
}

const REQUIRED: &str = "This field is required.";

fn check<T>(errors: &mut ValidationErrors, field: &str, result: Result<T, String>) -> Option<T> {
    result.map_err(|message| errors.add(field, message)).ok()
}

fn parse_schedule(raw: &str) -> Result<CronSchedule, String> {
    CronSchedule::parse(raw).map_err(|e| format!("Invalid CRON expression: {e}"))
}

fn check_window(errors: &mut ValidationErrors, start: DateTime<Utc>, end: Option<DateTime<Utc>>) {
    if let Some(end) = end
        && end <= start
    {
        errors.add("end_time", "end_time must be after start_time.");
    }
}

impl JobDraft {
    /// Validates every field, collecting all failures, with `now` as the default start.
    ///
    /// # Errors
    /// Every failing field with its message.
    pub fn validate(self, now: DateTime<Utc>) -> Result<JobSpec, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = match self.name {
            Some(raw) => check(&mut errors, "name", JobName::parse(&raw)),
            None => check(&mut errors, "name", Err(REQUIRED.to_string())),
        };
        let schedule = match self.cron_expression {
            Some(raw) => check(&mut errors, "cron_expression", parse_schedule(&raw)),
            None => check(&mut errors, "cron_expression", Err(REQUIRED.to_string())),
        };
        let description = check(
            &mut errors,
            "description",
            Description::parse(self.description.as_deref().unwrap_or("")),
        );
        let timezone = match self.timezone {
            Some(raw) => check(&mut errors, "timezone", Timezone::parse(&raw)),
            None => Some(Timezone::default()),
        };
        let parameters = match self.parameters {
            Some(value) => check(&mut errors, "parameters", Parameters::parse(value)),
            None => Some(Parameters::default()),
        };
        let start_time = self.start_time.unwrap_or(now);
        check_window(&mut errors, start_time, self.end_time);
        let policy = self.policy.apply(&RunPolicy::default(), &mut errors);
        let target = match self.target {
            None | Some(Value::Null) => Some(None),
            Some(value) => check(&mut errors, "target", HttpTarget::parse(&value)).map(Some),
        };
        match (name, schedule, description, timezone, parameters, target) {
            (
                Some(name),
                Some(schedule),
                Some(description),
                Some(timezone),
                Some(parameters),
                Some(target),
            ) if errors.is_empty() => Ok(JobSpec {
                name,
                description,
                schedule,
                timezone,
                start_time,
                end_time: self.end_time,
                parameters,
                is_active: self.is_active.unwrap_or(true),
                policy,
                target,
            }),
            _ => Err(errors),
        }
    }
}

/// Raw input for a partial update: only the fields present change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobPatch {
    /// New name.
    pub name: Option<String>,
    /// New expression.
    pub cron_expression: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New zone.
    pub timezone: Option<String>,
    /// New start.
    pub start_time: Option<DateTime<Utc>>,
    /// `Some(None)` clears the end; `None` leaves it.
    pub end_time: Option<Option<DateTime<Utc>>>,
    /// New parameters (replacing the whole object).
    pub parameters: Option<Value>,
    /// Pause (`false`) or resume (`true`).
    pub is_active: Option<bool>,
    /// Policy fields to change.
    pub policy: PolicyInput,
    /// `Some(None)` removes the target; `None` leaves it.
    pub target: Option<Option<Value>>,
}

impl JobPatch {
    /// True when a field that decides fire times is present.
    pub fn touches_schedule(&self) -> bool {
        self.cron_expression.is_some()
            || self.timezone.is_some()
            || self.start_time.is_some()
            || self.end_time.is_some()
            || self.is_active.is_some()
    }

    /// Applies the present fields to `current`, validating them all.
    ///
    /// # Errors
    /// Every failing field with its message.
    pub fn apply(self, current: &JobSpec) -> Result<JobSpec, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut spec = current.clone();
        if let Some(raw) = self.name
            && let Some(name) = check(&mut errors, "name", JobName::parse(&raw))
        {
            spec.name = name;
        }
        if let Some(raw) = self.cron_expression
            && let Some(schedule) = check(&mut errors, "cron_expression", parse_schedule(&raw))
        {
            spec.schedule = schedule;
        }
        if let Some(raw) = self.description
            && let Some(description) = check(&mut errors, "description", Description::parse(&raw))
        {
            spec.description = description;
        }
        if let Some(raw) = self.timezone
            && let Some(timezone) = check(&mut errors, "timezone", Timezone::parse(&raw))
        {
            spec.timezone = timezone;
        }
        if let Some(value) = self.parameters
            && let Some(parameters) = check(&mut errors, "parameters", Parameters::parse(value))
        {
            spec.parameters = parameters;
        }
        if let Some(start) = self.start_time {
            spec.start_time = start;
        }
        if let Some(end) = self.end_time {
            spec.end_time = end;
        }
        if let Some(active) = self.is_active {
            spec.is_active = active;
        }
        spec.policy = self.policy.apply(&current.policy, &mut errors);
        match self.target {
            None => {}
            Some(None) | Some(Some(Value::Null)) => spec.target = None,
            Some(Some(value)) => {
                if let Some(target) = check(&mut errors, "target", HttpTarget::parse(&value)) {
                    spec.target = Some(target);
                }
            }
        }
        check_window(&mut errors, spec.start_time, spec.end_time);
        errors.into_result(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn draft(name: &str, expr: &str) -> JobDraft {
        JobDraft {
            name: Some(name.into()),
            cron_expression: Some(expr.into()),
            ..JobDraft::default()
        }
    }

    fn messages(errors: &ValidationErrors) -> Vec<(String, String)> {
        errors
            .iter()
            .map(|e| (e.field.clone(), e.message.clone()))
            .collect()
    }

    #[test]
    fn defaults_fill_optional_fields() {
        let now = utc("2025-06-23T08:00:00Z");
        let spec = draft("  report  ", "0 9 * * 1").validate(now).unwrap();
        assert_eq!(spec.name.as_str(), "report");
        assert_eq!(spec.description.as_str(), "");
        assert_eq!(spec.timezone.name(), "UTC");
        assert_eq!(spec.start_time, now);
        assert_eq!(spec.end_time, None);
        assert!(spec.parameters.as_map().is_empty());
        assert!(spec.is_active);
    }

    #[test]
    fn every_failing_field_is_reported_at_once() {
        let errors = JobDraft {
            name: Some("   ".into()),
            cron_expression: Some("61 * * * *".into()),
            timezone: Some("Mars/Olympus".into()),
            parameters: Some(json!([1, 2])),
            description: Some("x".repeat(10_001)),
            ..JobDraft::default()
        }
        .validate(Utc::now())
        .unwrap_err();
        let fields: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "cron_expression",
                "description",
                "timezone",
                "parameters"
            ]
        );
        assert!(
            messages(&errors)[1]
                .1
                .starts_with("Invalid CRON expression: ")
        );
    }

    #[test]
    fn missing_required_fields_are_named() {
        let errors = JobDraft::default().validate(Utc::now()).unwrap_err();
        assert_eq!(
            messages(&errors),
            [
                ("name".to_string(), REQUIRED.to_string()),
                ("cron_expression".to_string(), REQUIRED.to_string())
            ]
        );
    }

    #[test]
    fn a_name_longer_than_255_characters_is_rejected() {
        assert!(JobName::parse(&"é".repeat(255)).is_ok());
        assert!(JobName::parse(&"é".repeat(256)).is_err());
    }

    #[test]
    fn end_time_must_be_after_start_time() {
        let mut d = draft("a", "* * * * *");
        d.start_time = Some(utc("2025-01-02T00:00:00Z"));
        d.end_time = Some(utc("2025-01-01T00:00:00Z"));
        let errors = d.validate(Utc::now()).unwrap_err();
        assert_eq!(
            messages(&errors),
            [(
                "end_time".to_string(),
                "end_time must be after start_time.".to_string()
            )]
        );
    }

    #[test]
    fn parameters_must_be_a_small_object() {
        assert!(Parameters::parse(json!({"a": {"b": [1, "ü"]}})).is_ok());
        assert_eq!(
            Parameters::parse(json!("text")).unwrap_err(),
            "Must be a JSON object."
        );
        let big = json!({"blob": "x".repeat(Parameters::MAX_BYTES)});
        assert!(
            Parameters::parse(big)
                .unwrap_err()
                .contains("at most 65536 bytes")
        );
    }

    #[test]
    fn next_run_with_start_in_the_future_is_the_first_fire_at_or_after_start() {
        let mut d = draft("a", "0 9 * * 1");
        d.start_time = Some(utc("2025-06-23T09:00:00Z"));
        let spec = d.validate(Utc::now()).unwrap();
        assert_eq!(
            spec.next_run(utc("2025-06-20T00:00:00Z")),
            Some(utc("2025-06-23T09:00:00Z"))
        );
    }

    #[test]
    fn next_run_with_start_in_the_past_is_the_first_fire_after_now() {
        let mut d = draft("a", "0 9 * * 1");
        d.start_time = Some(utc("2020-01-01T00:00:00Z"));
        let spec = d.validate(Utc::now()).unwrap();
        assert_eq!(
            spec.next_run(utc("2025-06-23T09:00:00Z")),
            Some(utc("2025-06-30T09:00:00Z"))
        );
    }

    #[test]
    fn next_run_is_none_after_end_time_or_when_inactive() {
        let mut d = draft("a", "0 9 * * 1");
        d.start_time = Some(utc("2025-06-01T00:00:00Z"));
        d.end_time = Some(utc("2025-06-29T00:00:00Z"));
        let spec = d.validate(Utc::now()).unwrap();
        assert_eq!(
            spec.next_run(utc("2025-06-20T00:00:00Z")),
            Some(utc("2025-06-23T09:00:00Z"))
        );
        assert_eq!(spec.next_run(utc("2025-06-24T00:00:00Z")), None);
        let inactive = JobSpec {
            is_active: false,
            ..spec
        };
        assert_eq!(inactive.next_run(utc("2025-06-20T00:00:00Z")), None);
    }

    #[test]
    fn a_fire_exactly_at_end_time_still_counts() {
        let mut d = draft("a", "0 9 * * *");
        d.start_time = Some(utc("2025-06-01T00:00:00Z"));
        d.end_time = Some(utc("2025-06-23T09:00:00Z"));
        let spec = d.validate(Utc::now()).unwrap();
        assert_eq!(
            spec.next_run(utc("2025-06-23T08:00:00Z")),
            Some(utc("2025-06-23T09:00:00Z"))
        );
    }

    #[test]
    fn patch_changes_only_present_fields_and_validates_them() {
        let spec = draft("a", "0 9 * * 1").validate(Utc::now()).unwrap();
        let patched = JobPatch {
            description: Some("new".into()),
            ..JobPatch::default()
        }
        .apply(&spec)
        .unwrap();
        assert_eq!(patched.description.as_str(), "new");
        assert_eq!(patched.schedule, spec.schedule);
        let errors = JobPatch {
            cron_expression: Some("bad".into()),
            name: Some("".into()),
            ..JobPatch::default()
        }
        .apply(&spec)
        .unwrap_err();
        assert_eq!(errors.iter().count(), 2);
    }

    #[test]
    fn job_serializes_flat_with_wire_names() {
        let spec = draft("a", "0 9 * * 1")
            .validate(utc("2025-06-23T08:00:00Z"))
            .unwrap();
        let job = Job {
            id: JobId(7),
            next_run: spec.next_run(utc("2025-06-23T08:00:00Z")),
            spec,
            last_run: None,
            created_at: utc("2025-06-23T08:00:00Z"),
            updated_at: utc("2025-06-23T08:00:00Z"),
        };
        let value = serde_json::to_value(&job).unwrap();
        assert_eq!(value["schedule"], "0 9 * * 1");
        assert_eq!(value["timezone"], "UTC");
        let back: Job = serde_json::from_value(value).unwrap();
        assert_eq!(back, job);
    }
}
