//! [`Schedule`]: a schedule a program declares in code, and the job draft it becomes once
//! its handler is known.

use std::any::TypeId;

use chrono::{DateTime, Utc};
use scheduler_core::{JobDraft, PolicyInput};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::handler::{ACTION_KEY, Registered};

/// A schedule a program declares in code, reconciled with the store at every start (created,
/// updated, or left as it is). Built with [`Schedule::new`] and its setters, or by
/// [`crate::SchedulerBuilder::schedule`].
#[derive(Debug, Clone)]
pub struct Schedule {
    pub(crate) name: String,
    when: When,
    start_time: Option<DateTime<Utc>>,
    max_runs: Option<u32>,
    jitter_seconds: Option<u32>,
    action: Option<String>,
    params_type: Option<TypeId>,
    params: Result<Map<String, Value>, String>,
    timezone: Option<String>,
    description: Option<String>,
    policy: PolicyInput,
    calendars: Vec<String>,
    on_excluded: Option<String>,
}

/// Which kind of schedule: the three a job may have.
#[derive(Debug, Clone)]
enum When {
    /// A cron expression.
    Cron(String),
    /// Every so many seconds.
    Every(u64),
    /// Once.
    Once(DateTime<Utc>),
}

impl Schedule {
    /// A schedule named `name` (unique among all jobs) firing on the 5-field `cron`
    /// expression, in UTC, with no parameters; set its handler with [`Schedule::action`] or
    /// [`Schedule::params`].
    pub fn new(name: impl Into<String>, cron: impl Into<String>) -> Self {
        Self::of(name.into(), When::Cron(cron.into()))
    }

    /// A schedule firing every `interval` (whole seconds, 1 s to 366 days), anchored at its
    /// start time ([`Schedule::start_time`], default: when it is first declared): fire k is
    /// at `start + k·interval`, never drifting.
    pub fn every(name: impl Into<String>, interval: std::time::Duration) -> Self {
        Self::of(name.into(), When::Every(interval.as_secs()))
    }

    /// A schedule firing once, at `at` (which must be in the future when first declared;
    /// declared again unchanged after it fired, it is kept, completed).
    pub fn once(name: impl Into<String>, at: DateTime<Utc>) -> Self {
        Self::of(name.into(), When::Once(at))
    }

    /// No fire before `start` (and the anchor of [`Schedule::every`]).
    pub fn start_time(mut self, start: DateTime<Utc>) -> Self {
        self.start_time = Some(start);
        self
    }

    /// The job completes after `max_runs` scheduled fires have run.
    pub fn max_runs(mut self, max_runs: u32) -> Self {
        self.max_runs = Some(max_runs);
        self
    }

    /// Delay each fire by up to `seconds` (at most an hour, below the schedule's smallest
    /// gap): the same delay for a given job name and instant in every process.
    pub fn jitter_seconds(mut self, seconds: u32) -> Self {
        self.jitter_seconds = Some(seconds);
        self
    }

    fn of(name: String, when: When) -> Self {
        Self {
            name,
            when,
            start_time: None,
            max_runs: None,
            jitter_seconds: None,
            action: None,
            params_type: None,
            params: Ok(Map::new()),
            timezone: None,
            description: None,
            policy: PolicyInput::default(),
            calendars: Vec::new(),
            on_excluded: None,
        }
    }

    /// The handler's parameters. Unless [`Schedule::action`] names one, the handler is the one
    /// registered for this parameter type. They must serialize to a JSON object without an
    /// `action` field.
    pub fn params<P: Serialize + 'static>(mut self, params: P) -> Self {
        self.params_type = Some(TypeId::of::<P>());
        self.params = match serde_json::to_value(params) {
            Ok(Value::Object(map)) if map.contains_key(ACTION_KEY) => {
                Err(format!("the parameter name \"{ACTION_KEY}\" is reserved"))
            }
            Ok(Value::Object(map)) => Ok(map),
            Ok(Value::Null) => Ok(Map::new()),
            Ok(other) => Err(format!(
                "parameters must serialize to a JSON object, not {other}"
            )),
            Err(error) => Err(format!("parameters do not serialize: {error}")),
        };
        self
    }

    /// The handler, by the name it was registered with.
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    /// The IANA zone the expression is read in (default `UTC`); DST rules in
    /// [`scheduler_core::CronSchedule`].
    pub fn timezone(mut self, timezone: impl Into<String>) -> Self {
        self.timezone = Some(timezone.into());
        self
    }

    /// Free text shown with the job.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Retries of a failed or timed-out run, the first after `backoff_seconds` (doubled per
    /// retry).
    pub fn retries(mut self, max_retries: u32, backoff_seconds: u32) -> Self {
        self.policy.max_retries = Some(i64::from(max_retries));
        self.policy.retry_backoff_seconds = Some(i64::from(backoff_seconds));
        self
    }

    /// A run taking longer is stopped (its `Ctx::cancelled` fires) and ends `timed_out`
    /// (retried like a failure).
    pub fn timeout_seconds(mut self, seconds: u32) -> Self {
        self.policy.timeout_seconds = Some(i64::from(seconds));
        self
    }

    /// Pause the job after `failures` consecutive failed runs (retries exhausted), keeping
    /// the last error as the reason; 0 (the default): never.
    pub fn pause_after_failures(mut self, failures: u32) -> Self {
        self.policy.pause_after_failures = Some(i64::from(failures));
        self
    }

    /// Skip fires on the days the calendar `name` excludes (declare it with
    /// [`crate::SchedulerBuilder::calendar`], or create it through the API); each such fire
    /// is recorded as a skipped run. May be called for several calendars.
    pub fn exclude(mut self, calendar: impl Into<String>) -> Self {
        self.calendars.push(calendar.into());
        self
    }

    /// Move a fire on an excluded day to the same local time of the next allowed day,
    /// instead of skipping it.
    pub fn move_excluded(mut self) -> Self {
        self.on_excluded = Some("move".into());
        self
    }

    /// Every policy field as the API takes them (misfire and concurrency policies too).
    pub fn policy(mut self, policy: PolicyInput) -> Self {
        self.policy = policy;
        self
    }

    /// The job draft, its handler resolved.
    pub(crate) fn draft(&self, handlers: &[Registered]) -> Result<JobDraft, Error> {
        let reason = |reason: String| Error::Handler {
            name: self.name.clone(),
            reason,
        };
        let mut params = self.params.clone().map_err(&reason)?;
        let action = match (&self.action, self.params_type) {
            (Some(action), _) => {
                if !handlers.iter().any(|h| &h.action == action) {
                    return Err(reason(format!("no handler is registered as \"{action}\"")));
                }
                action.clone()
            }
            (None, Some(params_type)) => {
                let mut fitting = handlers.iter().filter(|h| h.params == params_type);
                match (fitting.next(), fitting.next()) {
                    (Some(handler), None) => handler.action.clone(),
                    (None, _) => {
                        return Err(reason(
                            "no handler takes parameters of this type; name one with .action()"
                                .into(),
                        ));
                    }
                    (Some(_), Some(_)) => {
                        return Err(reason(
                            "several handlers take parameters of this type; name one with .action()"
                                .into(),
                        ));
                    }
                }
            }
            (None, None) => {
                return Err(reason(
                    "no handler: give parameters of a handler's type or name one with .action()"
                        .into(),
                ));
            }
        };
        params.insert(ACTION_KEY.to_string(), Value::String(action));
        let (cron_expression, interval_seconds, run_at) = match &self.when {
            When::Cron(cron) => (Some(cron.clone()), None, None),
            When::Every(seconds) => (
                None,
                Some(i64::try_from(*seconds).unwrap_or(i64::MAX)),
                None,
            ),
            When::Once(at) => (None, None, Some(*at)),
        };
        Ok(JobDraft {
            name: Some(self.name.clone()),
            cron_expression,
            interval_seconds,
            run_at,
            start_time: self.start_time,
            max_runs: self.max_runs.map(i64::from),
            jitter_seconds: self.jitter_seconds.map(i64::from),
            description: self.description.clone(),
            timezone: self.timezone.clone(),
            parameters: Some(Value::Object(params)),
            policy: self.policy.clone(),
            calendars: (!self.calendars.is_empty()).then(|| self.calendars.clone()),
            on_excluded: self.on_excluded.clone(),
            ..JobDraft::default()
        })
    }
}
