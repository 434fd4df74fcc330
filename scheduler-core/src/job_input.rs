//! Reading a job from client input: every field at once ([`JobDraft::validate`] for a create
//! or a full replace, [`JobPatch::apply`] for a partial update), each failure named by its
//! field, the reading errors of the wire layer reported beside the core's own.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::calendar::{JobCalendars, OnExcluded};
use crate::error::{Invalid, ValidationErrors};
use crate::http_target::HttpTarget;
use crate::job::JobSpec;
use crate::job_values::{Description, JobName, Parameters, Timezone};
use crate::policy::{JobSource, PolicyInput, RunPolicy};
use crate::schedule::CronSchedule;
use crate::text::reject_nul;
use crate::timing::{Interval, Schedule};
use crate::wire::WireEnum;

/// Raw input for creating (or fully replacing) a job, before validation.
///
/// Absent optional fields take their defaults; absent required fields are errors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobDraft {
    /// Required.
    pub name: Option<String>,
    /// The schedule: exactly one of `cron_expression`, `interval_seconds` and `run_at`.
    pub cron_expression: Option<String>,
    /// Every so many seconds from `start_time`.
    pub interval_seconds: Option<i64>,
    /// Once, at this instant (after now).
    pub run_at: Option<DateTime<Utc>>,
    /// Default none (no limit).
    pub max_runs: Option<i64>,
    /// Default 0 (no jitter).
    pub jitter_seconds: Option<i64>,
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
    /// Default [`JobSource::Api`]; a program declaring jobs in code sets `Code`.
    pub source: Option<JobSource>,
    /// The owner of the file set applying it; set by [`crate::JobService::apply`] only
    /// (never read from a request body). Default none.
    pub managed_by: Option<crate::job_values::Owner>,
    /// Names of the tenant's calendars whose days the job does not fire on; default none.
    pub calendars: Option<Vec<String>>,
    /// `skip` (default) or `move`: what a fire on an excluded day becomes.
    pub on_excluded: Option<String>,
    /// Errors found while reading the raw input (a field of the wrong JSON type); reported
    /// with the domain's errors, and the fields they name are not checked again.
    pub input_errors: ValidationErrors,
}

/// Parses a cron expression field: NUL and length are field-level problems, the rest is the
/// expression's own.
fn parse_schedule(raw: &str) -> Result<CronSchedule, Invalid> {
    reject_nul(raw)?;
    if raw.trim().chars().count() > CronSchedule::MAX_CHARS {
        return Err(Invalid::TooLong {
            max: CronSchedule::MAX_CHARS,
        });
    }
    CronSchedule::parse(raw).map_err(Invalid::Cron)
}

/// The schedule of a draft or patch: exactly one kind given, parsed; `None` (with the
/// problem recorded) otherwise. A `run_at` must be after `now`, unless it is the one the job
/// already has (`current`: a client writing back what it read).
fn read_schedule(
    errors: &mut ValidationErrors,
    (cron, interval, run_at): (Option<String>, Option<i64>, Option<DateTime<Utc>>),
    now: DateTime<Utc>,
    current: Option<&Schedule>,
) -> Option<Schedule> {
    let given = [cron.is_some(), interval.is_some(), run_at.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        for (field, given) in Schedule::FIELDS.iter().zip(given) {
            if given {
                errors.add(*field, Invalid::OneScheduleKind);
            }
        }
        return None;
    }
    if let Some(raw) = cron {
        errors.check("cron_expression", parse_schedule(&raw).map(Schedule::Cron))
    } else if let Some(seconds) = interval {
        errors.check(
            "interval_seconds",
            Interval::from_seconds(seconds).map(Schedule::Interval),
        )
    } else if let Some(at) = run_at {
        errors.check(
            "run_at",
            (at > now || current == Some(&Schedule::Once(at)))
                .then_some(Schedule::Once(at))
                .ok_or(Invalid::RunAtNotAhead),
        )
    } else {
        None
    }
}

fn parse_max_runs(raw: i64) -> Result<u32, Invalid> {
    u32::try_from(raw)
        .ok()
        .filter(|n| (1..=JobSpec::MAX_RUNS_LIMIT).contains(n))
        .ok_or(Invalid::OutOfRange {
            min: 1,
            max: i64::from(JobSpec::MAX_RUNS_LIMIT),
        })
}

fn parse_jitter(raw: i64) -> Result<u32, Invalid> {
    u32::try_from(raw)
        .ok()
        .filter(|n| *n <= crate::timing::MAX_JITTER_SECONDS)
        .ok_or(Invalid::OutOfRange {
            min: 0,
            max: i64::from(crate::timing::MAX_JITTER_SECONDS),
        })
}

/// A jitter must stay below the schedule's smallest gap, so jittered fires keep their order
/// and none is passed over.
fn check_jitter(errors: &mut ValidationErrors, spec: &JobSpec) {
    if spec.jitter_seconds == 0 || errors.has("jitter_seconds") {
        return;
    }
    if let Some(gap) = spec
        .schedule
        .smallest_gap(spec.start_time, spec.timezone.tz())
        && gap.num_seconds() <= i64::from(spec.jitter_seconds)
    {
        errors.add(
            "jitter_seconds",
            Invalid::JitterNotBelowGap {
                gap_seconds: gap.num_seconds(),
            },
        );
    }
}

/// A one-off instant outside the job's window never fires: refused rather than stored idle.
fn check_run_at(errors: &mut ValidationErrors, spec: &JobSpec) {
    if let Schedule::Once(at) = spec.schedule
        && (at < spec.start_time || spec.end_time.is_some_and(|end| at > end))
    {
        errors.add("run_at", Invalid::RunAtOutsideWindow);
    }
}

fn check_window(errors: &mut ValidationErrors, start: DateTime<Utc>, end: Option<DateTime<Utc>>) {
    if let Some(end) = end
        && end <= start
    {
        errors.add("end_time", Invalid::EndNotAfterStart);
    }
}

/// The calendars of a draft or patch over `base` (the job's current ones for a patch): the
/// names given replace the list (their copies are resolved by the job service; an unchanged
/// list keeps its copies), `on_excluded` given replaces the choice.
fn read_calendars(
    errors: &mut ValidationErrors,
    names: Option<Vec<String>>,
    on_excluded: Option<&str>,
    base: &JobCalendars,
) -> JobCalendars {
    let mut calendars = base.clone();
    if let Some(raw) = names
        && let Some(names) = errors.check("calendars", JobCalendars::parse_names(&raw))
        && names != calendars.names
    {
        calendars.names = names;
        calendars.rules.clear();
    }
    if let Some(raw) = on_excluded
        && let Some(choice) = errors.check("on_excluded", OnExcluded::parse(raw))
    {
        calendars.on_excluded = choice;
    }
    calendars
}

/// A required text field: parsed when present, `Required` when absent.
fn required<T>(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<String>,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
) -> Option<T> {
    let result = raw.ok_or(Invalid::Required).and_then(|raw| parse(&raw));
    errors.check(field, result)
}

/// An optional field: parsed when present, `default` when absent.
fn optional<R, T>(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<R>,
    parse: impl FnOnce(R) -> Result<T, Invalid>,
    default: T,
) -> Option<T> {
    match raw {
        Some(raw) => errors.check(field, parse(raw)),
        None => Some(default),
    }
}

impl JobDraft {
    /// Validates every field, collecting all failures (with the reading errors), with `now`
    /// as the default start.
    ///
    /// # Errors
    /// Every failing field with what is wrong.
    pub fn validate(self, now: DateTime<Utc>) -> Result<JobSpec, ValidationErrors> {
        self.validate_replacing(now, None)
    }

    /// [`JobDraft::validate`] for a job that replaces `previous` (a PUT): target header
    /// values sent as the mask `***` keep `previous`'s values, as header values are never
    /// returned.
    ///
    /// # Errors
    /// Every failing field, as [`JobDraft::validate`].
    pub fn validate_replacing(
        self,
        now: DateTime<Utc>,
        previous: Option<&JobSpec>,
    ) -> Result<JobSpec, ValidationErrors> {
        let mut errors = self.input_errors;
        let name = required(&mut errors, "name", self.name, JobName::parse);
        let no_schedule = self.cron_expression.is_none()
            && self.interval_seconds.is_none()
            && self.run_at.is_none()
            && !Schedule::FIELDS.iter().any(|field| errors.has(field));
        if no_schedule {
            // The seed's clients only know cron_expression: it is the field named missing.
            errors.add("cron_expression", Invalid::Required);
        }
        let schedule = read_schedule(
            &mut errors,
            (self.cron_expression, self.interval_seconds, self.run_at),
            now,
            previous.map(|p| &p.schedule),
        );
        let max_runs = optional(
            &mut errors,
            "max_runs",
            self.max_runs,
            |raw| parse_max_runs(raw).map(Some),
            None,
        );
        let jitter_seconds = optional(
            &mut errors,
            "jitter_seconds",
            self.jitter_seconds,
            parse_jitter,
            0,
        );
        let description = optional(
            &mut errors,
            "description",
            self.description,
            |raw| Description::parse(&raw),
            Description::default(),
        );
        let timezone = optional(
            &mut errors,
            "timezone",
            self.timezone,
            |raw| Timezone::parse(&raw),
            Timezone::default(),
        );
        let parameters = optional(
            &mut errors,
            "parameters",
            self.parameters,
            Parameters::parse,
            Parameters::default(),
        );
        let start_time = self.start_time.unwrap_or(now);
        check_window(&mut errors, start_time, self.end_time);
        let calendars = read_calendars(
            &mut errors,
            self.calendars,
            self.on_excluded.as_deref(),
            &JobCalendars::default(),
        );
        let policy = self.policy.apply(&RunPolicy::default(), &mut errors);
        let target = optional(
            &mut errors,
            "target",
            self.target.filter(|v| !v.is_null()),
            |value| {
                let mut target = HttpTarget::parse(&value)?;
                target
                    .restore_secrets(previous.and_then(|p| p.target.as_ref()), false)
                    .map_err(Invalid::Target)?;
                Ok(Some(target))
            },
            None,
        );
        match (
            (name, schedule, description, timezone),
            (parameters, target, max_runs, jitter_seconds),
        ) {
            (
                (Some(name), Some(schedule), Some(description), Some(timezone)),
                (Some(parameters), Some(target), Some(max_runs), Some(jitter_seconds)),
            ) if errors.is_empty() => {
                let spec = JobSpec {
                    name,
                    description,
                    schedule,
                    timezone,
                    start_time,
                    end_time: self.end_time,
                    max_runs,
                    jitter_seconds,
                    parameters,
                    is_active: self.is_active.unwrap_or(true),
                    policy,
                    target,
                    source: self.source.unwrap_or_default(),
                    managed_by: self.managed_by,
                    calendars,
                };
                if previous.map(|p| &p.schedule) != Some(&spec.schedule) {
                    check_run_at(&mut errors, &spec);
                }
                check_jitter(&mut errors, &spec);
                errors.into_result(spec)
            }
            _ => Err(errors),
        }
    }
}

/// Raw input for a partial update: only the fields present change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobPatch {
    /// New name.
    pub name: Option<String>,
    /// New expression (the job becomes a cron job).
    pub cron_expression: Option<String>,
    /// New interval (the job becomes an interval job).
    pub interval_seconds: Option<i64>,
    /// New instant (the job becomes a one-off).
    pub run_at: Option<DateTime<Utc>>,
    /// `Some(None)` removes the limit; `None` leaves it.
    pub max_runs: Option<Option<i64>>,
    /// New jitter (0 removes it).
    pub jitter_seconds: Option<i64>,
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
    /// New list of calendar names (empty: none).
    pub calendars: Option<Vec<String>>,
    /// New `skip` or `move`.
    pub on_excluded: Option<String>,
    /// Errors found while reading the raw input; reported with the domain's errors, and the
    /// fields they name are left unchanged and not checked again.
    pub input_errors: ValidationErrors,
}

/// Replaces `slot` with the parsed `raw` when present and valid.
fn patch_field<R, T>(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<R>,
    parse: impl FnOnce(R) -> Result<T, Invalid>,
    slot: &mut T,
) {
    if let Some(raw) = raw
        && let Some(value) = errors.check(field, parse(raw))
    {
        *slot = value;
    }
}

impl JobPatch {
    /// True when a field that decides fire times is present.
    pub fn touches_schedule(&self) -> bool {
        self.cron_expression.is_some()
            || self.interval_seconds.is_some()
            || self.run_at.is_some()
            || self.max_runs.is_some()
            || self.jitter_seconds.is_some()
            || self.timezone.is_some()
            || self.start_time.is_some()
            || self.end_time.is_some()
            || self.is_active.is_some()
            || self.policy.dst_overlap.is_some()
            || self.calendars.is_some()
            || self.on_excluded.is_some()
    }

    /// Applies the present fields to `current`, validating them all (with the reading
    /// errors); a schedule field given replaces the schedule, whatever its kind was, and a
    /// `run_at` given must be after `now`.
    ///
    /// # Errors
    /// Every failing field with what is wrong.
    pub fn apply(self, current: &JobSpec, now: DateTime<Utc>) -> Result<JobSpec, ValidationErrors> {
        let mut errors = self.input_errors;
        let mut spec = current.clone();
        patch_field(
            &mut errors,
            "name",
            self.name,
            |raw| JobName::parse(&raw),
            &mut spec.name,
        );
        if let Some(schedule) = read_schedule(
            &mut errors,
            (self.cron_expression, self.interval_seconds, self.run_at),
            now,
            Some(&current.schedule),
        ) {
            spec.schedule = schedule;
        }
        patch_field(
            &mut errors,
            "max_runs",
            self.max_runs,
            |raw| raw.map(parse_max_runs).transpose(),
            &mut spec.max_runs,
        );
        patch_field(
            &mut errors,
            "jitter_seconds",
            self.jitter_seconds,
            parse_jitter,
            &mut spec.jitter_seconds,
        );
        patch_field(
            &mut errors,
            "description",
            self.description,
            |raw| Description::parse(&raw),
            &mut spec.description,
        );
        patch_field(
            &mut errors,
            "timezone",
            self.timezone,
            |raw| Timezone::parse(&raw),
            &mut spec.timezone,
        );
        patch_field(
            &mut errors,
            "parameters",
            self.parameters,
            Parameters::parse,
            &mut spec.parameters,
        );
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
        patch_field(
            &mut errors,
            "target",
            self.target,
            |value| match value {
                None | Some(Value::Null) => Ok(None),
                Some(value) => {
                    let mut target = HttpTarget::parse(&value)?;
                    let keep_all = value.get("headers").is_none();
                    target
                        .restore_secrets(current.target.as_ref(), keep_all)
                        .map_err(Invalid::Target)?;
                    Ok(Some(target))
                }
            },
            &mut spec.target,
        );
        spec.calendars = read_calendars(
            &mut errors,
            self.calendars,
            self.on_excluded.as_deref(),
            &current.calendars,
        );
        check_window(&mut errors, spec.start_time, spec.end_time);
        if !errors.has("run_at") {
            check_run_at(&mut errors, &spec);
        }
        check_jitter(&mut errors, &spec);
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

    fn problems(errors: &ValidationErrors) -> Vec<(String, Invalid)> {
        errors
            .iter()
            .map(|e| (e.field.clone(), e.problem.clone()))
            .collect()
    }

    #[test]
    fn numbers_in_parameters_keep_their_sign_digits_and_magnitude() {
        let text = r#"{"a":-0.0,"b":1e-400,"c":1e400,"d":12345678901234567890123,"e":1.10,"f":-0}"#;
        let parsed = Parameters::parse(serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(
            parsed.to_json_text(),
            r#"{"a":-0.0,"b":1e-400,"c":1e+400,"d":12345678901234567890123,"e":1.10,"f":-0}"#
        );
    }

    fn kinds(cron: Option<&str>, every: Option<i64>, at: Option<&str>) -> JobDraft {
        JobDraft {
            name: Some("k".into()),
            cron_expression: cron.map(Into::into),
            interval_seconds: every,
            run_at: at.map(utc),
            ..JobDraft::default()
        }
    }

    #[test]
    fn a_job_has_exactly_one_schedule_kind() {
        let now = utc("2025-06-23T08:00:00Z");
        // None: the seed's clients hear about cron_expression.
        assert_eq!(
            problems(&kinds(None, None, None).validate(now).unwrap_err()),
            [("cron_expression".to_string(), Invalid::Required)]
        );
        // Two or three: each given field is named.
        assert_eq!(
            problems(
                &kinds(Some("* * * * *"), Some(60), None)
                    .validate(now)
                    .unwrap_err()
            ),
            [
                ("cron_expression".to_string(), Invalid::OneScheduleKind),
                ("interval_seconds".to_string(), Invalid::OneScheduleKind)
            ]
        );
        assert_eq!(
            problems(
                &kinds(Some("* * * * *"), Some(60), Some("2025-06-24T00:00:00Z"))
                    .validate(now)
                    .unwrap_err()
            )
            .len(),
            3
        );
        // One: its kind.
        let every = kinds(None, Some(5400), None).validate(now).unwrap();
        assert_eq!(every.schedule.interval().map(Interval::seconds), Some(5400));
        let once = kinds(None, None, Some("2025-06-24T14:00:00Z"))
            .validate(now)
            .unwrap();
        assert_eq!(once.schedule.run_at(), Some(utc("2025-06-24T14:00:00Z")));
        assert_eq!(once.next_run(now, 0), Some(utc("2025-06-24T14:00:00Z")));
    }

    #[test]
    fn intervals_and_instants_are_checked() {
        let now = utc("2025-06-23T08:00:00Z");
        assert_eq!(
            problems(&kinds(None, Some(0), None).validate(now).unwrap_err()),
            [(
                "interval_seconds".to_string(),
                Invalid::OutOfRange {
                    min: 1,
                    max: i64::from(Interval::MAX_SECONDS)
                }
            )]
        );
        assert_eq!(
            problems(
                &kinds(None, None, Some("2025-06-23T08:00:00Z"))
                    .validate(now)
                    .unwrap_err()
            ),
            [("run_at".to_string(), Invalid::RunAtNotAhead)]
        );
        let after_end = JobDraft {
            end_time: Some(utc("2025-06-24T00:00:00Z")),
            ..kinds(None, None, Some("2025-06-25T00:00:00Z"))
        };
        assert_eq!(
            problems(&after_end.validate(now).unwrap_err()),
            [("run_at".to_string(), Invalid::RunAtOutsideWindow)]
        );
    }

    #[test]
    fn max_runs_is_bounded_and_a_patch_can_clear_it() {
        let now = utc("2025-06-23T08:00:00Z");
        let zero = JobDraft {
            max_runs: Some(0),
            ..draft("m", "* * * * *")
        };
        assert!(problems(&zero.validate(now).unwrap_err())[0].0 == "max_runs");
        let spec = JobDraft {
            max_runs: Some(3),
            ..draft("m", "* * * * *")
        }
        .validate(now)
        .unwrap();
        assert_eq!(spec.max_runs, Some(3));
        assert_eq!(spec.next_run(now, 2), Some(utc("2025-06-23T08:01:00Z")));
        assert_eq!(spec.next_run(now, 3), None);
        assert_eq!(spec.upcoming(now, 1, 10).len(), 2);
        let cleared = JobPatch {
            max_runs: Some(None),
            ..JobPatch::default()
        }
        .apply(&spec, now)
        .unwrap();
        assert_eq!(cleared.max_runs, None);
        assert_eq!(cleared.next_run(now, 3), Some(utc("2025-06-23T08:01:00Z")));
    }

    #[test]
    fn jitter_is_bounded_by_an_hour_and_by_the_schedules_smallest_gap() {
        let now = utc("2025-06-23T08:00:00Z");
        let with = |expr: &str, jitter: i64| JobDraft {
            jitter_seconds: Some(jitter),
            ..draft("j", expr)
        };
        assert_eq!(
            with("0 * * * *", 300).validate(now).unwrap().jitter_seconds,
            300
        );
        assert_eq!(
            problems(&with("0 0 * * *", 3601).validate(now).unwrap_err()),
            [(
                "jitter_seconds".to_string(),
                Invalid::OutOfRange { min: 0, max: 3600 }
            )]
        );
        assert_eq!(
            problems(&with("*/5 * * * *", 300).validate(now).unwrap_err()),
            [(
                "jitter_seconds".to_string(),
                Invalid::JitterNotBelowGap { gap_seconds: 300 }
            )]
        );
        let interval = JobDraft {
            jitter_seconds: Some(90),
            ..kinds(None, Some(90), None)
        };
        assert!(interval.validate(now).is_err());
        // A patch that shortens the schedule under an existing jitter is refused too.
        let spec = with("0 * * * *", 600).validate(now).unwrap();
        let shorter = JobPatch {
            cron_expression: Some("*/5 * * * *".into()),
            ..JobPatch::default()
        };
        assert_eq!(
            problems(&shorter.apply(&spec, now).unwrap_err())[0].0,
            "jitter_seconds"
        );
    }

    #[test]
    fn a_patch_switches_kinds_and_a_one_off_written_back_is_kept() {
        let now = utc("2025-06-23T08:00:00Z");
        let spec = draft("s", "0 9 * * *").validate(now).unwrap();
        let every = JobPatch {
            interval_seconds: Some(90),
            ..JobPatch::default()
        }
        .apply(&spec, now)
        .unwrap();
        assert_eq!(every.schedule.interval().map(Interval::seconds), Some(90));
        let both = JobPatch {
            cron_expression: Some("* * * * *".into()),
            run_at: Some(utc("2025-06-24T00:00:00Z")),
            ..JobPatch::default()
        };
        assert_eq!(problems(&both.apply(&spec, now).unwrap_err()).len(), 2);
        // A fired one-off, its run_at written back unchanged (a PUT of what GET returned).
        let once = kinds(None, None, Some("2025-06-23T09:00:00Z"))
            .validate(now)
            .unwrap();
        let later = utc("2025-06-23T10:00:00Z");
        let replaced = kinds(None, None, Some("2025-06-23T09:00:00Z"))
            .validate_replacing(later, Some(&once))
            .unwrap();
        assert_eq!(replaced.schedule, once.schedule);
        assert_eq!(replaced.next_run(later, 1), None);
        // A new instant in the past is refused.
        assert!(
            JobPatch {
                run_at: Some(utc("2025-06-23T09:30:00Z")),
                ..JobPatch::default()
            }
            .apply(&once, later)
            .is_err()
        );
    }

    #[test]
    fn upcoming_fires_follow_the_next_run_rule_and_stop_at_the_end() {
        let now = utc("2025-06-23T08:00:00Z");
        let mut spec = draft("daily", "0 9 * * *").validate(now).unwrap();
        let fires: Vec<_> = spec.upcoming(now, 0, 3).iter().map(|f| f.due).collect();
        assert_eq!(
            fires,
            [
                utc("2025-06-23T09:00:00Z"),
                utc("2025-06-24T09:00:00Z"),
                utc("2025-06-25T09:00:00Z")
            ]
        );
        assert_eq!(fires.first().copied(), spec.next_run(now, 0));
        spec.end_time = Some(utc("2025-06-24T12:00:00Z"));
        assert_eq!(spec.upcoming(now, 0, 10).len(), 2);
        spec.is_active = false;
        assert!(spec.upcoming(now, 0, 10).is_empty());
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
        assert!(matches!(problems(&errors)[1].1, Invalid::Cron(_)));
    }

    #[test]
    fn missing_required_fields_are_named() {
        let errors = JobDraft::default().validate(Utc::now()).unwrap_err();
        assert_eq!(
            problems(&errors),
            [
                ("name".to_string(), Invalid::Required),
                ("cron_expression".to_string(), Invalid::Required)
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
            problems(&errors),
            [("end_time".to_string(), Invalid::EndNotAfterStart)]
        );
    }

    #[test]
    fn parameters_must_be_a_small_object() {
        assert!(Parameters::parse(json!({"a": {"b": [1, "ü"]}})).is_ok());
        assert_eq!(
            Parameters::parse(json!("text")).unwrap_err(),
            Invalid::ParametersNotAnObject
        );
        let big = json!({"blob": "x".repeat(Parameters::MAX_BYTES)});
        assert!(matches!(
            Parameters::parse(big),
            Err(Invalid::ParametersTooLarge { max: 65_536, .. })
        ));
    }

    #[test]
    fn next_run_with_start_in_the_future_is_the_first_fire_at_or_after_start() {
        let mut d = draft("a", "0 9 * * 1");
        d.start_time = Some(utc("2025-06-23T09:00:00Z"));
        let spec = d.validate(Utc::now()).unwrap();
        assert_eq!(
            spec.next_run(utc("2025-06-20T00:00:00Z"), 0),
            Some(utc("2025-06-23T09:00:00Z"))
        );
    }

    #[test]
    fn next_run_with_start_in_the_past_is_the_first_fire_after_now() {
        let mut d = draft("a", "0 9 * * 1");
        d.start_time = Some(utc("2020-01-01T00:00:00Z"));
        let spec = d.validate(Utc::now()).unwrap();
        assert_eq!(
            spec.next_run(utc("2025-06-23T09:00:00Z"), 0),
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
            spec.next_run(utc("2025-06-20T00:00:00Z"), 0),
            Some(utc("2025-06-23T09:00:00Z"))
        );
        assert_eq!(spec.next_run(utc("2025-06-24T00:00:00Z"), 0), None);
        let inactive = JobSpec {
            is_active: false,
            ..spec
        };
        assert_eq!(inactive.next_run(utc("2025-06-20T00:00:00Z"), 0), None);
    }

    #[test]
    fn a_fire_exactly_at_end_time_still_counts() {
        let mut d = draft("a", "0 9 * * *");
        d.start_time = Some(utc("2025-06-01T00:00:00Z"));
        d.end_time = Some(utc("2025-06-23T09:00:00Z"));
        let spec = d.validate(Utc::now()).unwrap();
        assert_eq!(
            spec.next_run(utc("2025-06-23T08:00:00Z"), 0),
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
        .apply(&spec, utc("2025-06-01T00:00:00Z"))
        .unwrap();
        assert_eq!(patched.description.as_str(), "new");
        assert_eq!(patched.schedule, spec.schedule);
        let errors = JobPatch {
            cron_expression: Some("bad".into()),
            name: Some("".into()),
            ..JobPatch::default()
        }
        .apply(&spec, utc("2025-06-01T00:00:00Z"))
        .unwrap_err();
        assert_eq!(errors.iter().count(), 2);
    }

    #[test]
    fn nul_characters_are_refused_in_every_text_field() {
        let mut d = draft("a\0b", "0 9 * * 1\0");
        d.description = Some("x\0".into());
        d.timezone = Some("UTC\0".into());
        d.parameters = Some(json!({"ok": "fine", "nested": [{"k": "v\0"}]}));
        d.policy.misfire_policy = Some("skip\0".into());
        d.target = Some(json!({"type": "http", "url": "http://x/\0"}));
        let errors = d.validate(Utc::now()).unwrap_err();
        let fields: Vec<&str> = errors
            .iter()
            .filter(|e| {
                e.problem == Invalid::NulCharacter
                    || e.problem == Invalid::Target(crate::error::TargetError::NulCharacter)
            })
            .map(|e| e.field.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "name",
                "cron_expression",
                "description",
                "timezone",
                "parameters",
                "misfire_policy",
                "target"
            ]
        );
        let key = Parameters::parse(json!({"a\0": 1}));
        assert_eq!(key, Err(Invalid::NulCharacter));
    }

    #[test]
    fn a_cron_expression_longer_than_the_column_is_too_long() {
        let hours = (0..24).map(|h| h.to_string()).collect::<Vec<_>>().join(",");
        let days = (1..32).map(|d| d.to_string()).collect::<Vec<_>>().join(",");
        let mut expression = format!("0 {hours} {days} * 1");
        while expression.len() < 289 {
            expression.push_str(",2");
        }
        let errors = draft("a", &expression).validate(Utc::now()).unwrap_err();
        assert_eq!(
            problems(&errors),
            [("cron_expression".to_string(), Invalid::TooLong { max: 255 })]
        );
    }

    #[test]
    fn every_iana_zone_name_fits_the_stored_column() {
        for tz in chrono_tz::TZ_VARIANTS {
            assert!(tz.name().len() <= Timezone::MAX_CHARS, "{}", tz.name());
        }
    }

    #[test]
    fn reading_errors_are_reported_and_their_fields_not_checked_again() {
        let mut d = draft("a", "0 9 * * 1");
        d.name = None;
        d.input_errors = ValidationErrors::single("name", Invalid::NotAString);
        let errors = d.validate(Utc::now()).unwrap_err();
        assert_eq!(
            problems(&errors),
            [("name".to_string(), Invalid::NotAString)]
        );
        let spec = draft("a", "0 9 * * 1").validate(Utc::now()).unwrap();
        let patch = JobPatch {
            description: Some("new".into()),
            input_errors: ValidationErrors::single("timezone", Invalid::NotAString),
            ..JobPatch::default()
        };
        assert_eq!(
            problems(&patch.apply(&spec, utc("2025-06-01T00:00:00Z")).unwrap_err()),
            [("timezone".to_string(), Invalid::NotAString)]
        );
    }
}
