//! [`Schedule`]: a schedule a program declares in code, and the job draft it becomes once
//! its handler is known.

use std::any::TypeId;

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
    cron: String,
    action: Option<String>,
    params_type: Option<TypeId>,
    params: Result<Map<String, Value>, String>,
    timezone: Option<String>,
    description: Option<String>,
    policy: PolicyInput,
}

impl Schedule {
    /// A schedule named `name` (unique among all jobs) firing on the 5-field `cron`
    /// expression, in UTC, with no parameters; set its handler with [`Schedule::action`] or
    /// [`Schedule::params`].
    pub fn new(name: impl Into<String>, cron: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            cron: cron.into(),
            action: None,
            params_type: None,
            params: Ok(Map::new()),
            timezone: None,
            description: None,
            policy: PolicyInput::default(),
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
        Ok(JobDraft {
            name: Some(self.name.clone()),
            cron_expression: Some(self.cron.clone()),
            description: self.description.clone(),
            timezone: self.timezone.clone(),
            parameters: Some(Value::Object(params)),
            policy: self.policy.clone(),
            ..JobDraft::default()
        })
    }
}
