//! Typed handlers: a program's `async fn(Ctx, P) -> Result<(), E>` turned into the core's
//! action handler. The job's parameters are deserialized into `P` (a mismatch fails the run
//! with a message naming the field, never the process); any error type that converts into a
//! boxed std error — every `std::error::Error`, `anyhow::Error`, `String` — fails the run with
//! its message and causes.

use std::any::TypeId;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use scheduler_core::{ActionFuture, ActionHandlers, Job, JobId, Run, RunId, RunTrigger};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

/// The error a handler may return: anything that converts into this (every
/// `std::error::Error + Send + Sync + 'static`, `anyhow::Error`, `String`, `&str`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The key of a job's parameters that names its handler; the rest are the handler's own.
pub const ACTION_KEY: &str = "action";

/// What a handler knows about the run it executes.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The job's id.
    pub job_id: JobId,
    /// The job's name.
    pub job_name: String,
    /// This run's id.
    pub run_id: RunId,
    /// The fire this run executes (for a manual run: when it was asked for). Together with
    /// `job_id`, the idempotency key of the fire.
    pub scheduled_for: DateTime<Utc>,
    /// 1 for the first attempt at this fire, 2 for the first retry, ...
    pub attempt: i32,
    /// Why it runs: its schedule, a manual run, or a retry.
    pub trigger: RunTrigger,
    /// Cancelled when the run is abandoned — its `timeout_seconds` passed, or the scheduler
    /// is shutting down — and once the handler has returned. Work the handler spawns should
    /// stop when it fires (`ctx.cancelled.cancelled().await`).
    pub cancelled: CancellationToken,
}

impl Ctx {
    /// Keeps `text` as this run's output (`text/plain`, its first 64 KiB; the last call
    /// wins): the API's `/scheduler/runs/{id}/output/`, the dashboard's run page and
    /// `schedulerctl runs get` show it, as they show a delivery's answer. Call it from the
    /// handler itself (not from a task it spawns).
    pub fn set_output(&self, text: impl Into<String>) {
        scheduler_core::executors::set_run_output(text);
    }
}

/// Typed handlers by action name: what [`crate::SchedulerBuilder::handler`] fills, and what
/// the REST server takes (`scheduler_server::Server::builder().handler(...)`).
#[derive(Default)]
pub struct Handlers {
    registered: Vec<Registered>,
    shutdown: CancellationToken,
}

impl Handlers {
    /// No handlers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `handler` for jobs whose `parameters.action` is `action`: `async fn(Ctx, P) ->
    /// Result<(), E>`, the job's other parameters deserialized into `P`, `E` any error
    /// (`std::error::Error`, `anyhow::Error`, `String`). Replaces an earlier handler of the
    /// same name.
    pub fn add<P, E, F, Fut>(&mut self, action: &str, handler: F) -> &mut Self
    where
        P: DeserializeOwned + Send + 'static,
        E: Into<BoxError> + 'static,
        F: Fn(Ctx, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.registered.retain(|h| h.action != action);
        self.registered
            .push(typed(action, handler, self.shutdown.clone()));
        self
    }

    /// The token every running handler's [`Ctx::cancelled`] descends from: cancelling it tells
    /// them all the process is shutting down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The registered actions and the `TypeId` of their parameters.
    pub(crate) fn registered(&self) -> &[Registered] {
        &self.registered
    }

    /// The core's registry, for a dispatcher.
    pub fn into_action_handlers(self) -> ActionHandlers {
        let mut actions = ActionHandlers::new();
        for registered in self.registered {
            let handler = registered.handler;
            actions.register(&registered.action, move |job: Job, run: Run| {
                handler(job, run)
            });
        }
        actions
    }
}

/// A typed handler, type-erased for the registry: the action's name and the `TypeId` of its
/// parameters (so a declared schedule finds its handler by the type of its parameters).
pub(crate) struct Registered {
    /// The action name.
    pub(crate) action: String,
    /// `TypeId` of the handler's parameter type.
    pub(crate) params: TypeId,
    /// The core handler.
    pub(crate) handler: Arc<dyn Fn(Job, Run) -> ActionFuture + Send + Sync>,
}

/// Wraps `handler` for the core: reads the parameters, builds the context, runs it, and
/// words its error. `shutdown` is the scheduler's token; each run's token is its child.
pub(crate) fn typed<P, E, F, Fut>(
    action: &str,
    handler: F,
    shutdown: CancellationToken,
) -> Registered
where
    P: DeserializeOwned + Send + 'static,
    E: Into<BoxError> + 'static,
    F: Fn(Ctx, P) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
{
    let handler = Arc::new(handler);
    let core = move |job: Job, run: Run| -> ActionFuture {
        let handler = handler.clone();
        let cancelled = shutdown.child_token();
        Box::pin(async move {
            let params = read_params::<P>(job.spec.parameters.as_map())?;
            // Dropped when the run ends or is abandoned (its task aborted at the timeout).
            let _guard = cancelled.clone().drop_guard();
            let ctx = Ctx {
                job_id: job.id,
                job_name: job.spec.name.as_str().to_string(),
                run_id: run.id,
                scheduled_for: run.scheduled_for,
                attempt: run.attempt,
                trigger: run.trigger,
                cancelled,
            };
            handler(ctx, params)
                .await
                .map_err(|error| error_text(error.into().as_ref()))
        })
    };
    Registered {
        action: action.to_string(),
        params: TypeId::of::<P>(),
        handler: Arc::new(core),
    }
}

/// The parameters without the action key, deserialized into `P`; the error names the path of
/// the field at fault (`parameters.recipients[2]: invalid type: ...`).
///
/// # Errors
/// The message the run fails with.
pub fn read_params<P: DeserializeOwned>(parameters: &Map<String, Value>) -> Result<P, String> {
    let mut own = parameters.clone();
    own.remove(ACTION_KEY);
    let empty = own.is_empty();
    let error = match serde_path_to_error::deserialize(Value::Object(own)) {
        Ok(params) => return Ok(params),
        Err(error) => error,
    };
    // A handler taking `()` (or a unit struct) for a job without parameters.
    if empty && let Ok(unit) = serde_json::from_value(Value::Null) {
        return Ok(unit);
    }
    let path = error.path().to_string();
    let inner = error.into_inner();
    Err(if path == "." {
        format!("invalid parameters: {inner}")
    } else {
        format!("invalid parameters: {path}: {inner}")
    })
}

/// An error and its causes, `outer: inner: root`.
fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // anyhow's Display of a context already ends with its cause's text.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Report {
        recipients: Vec<String>,
        days: u32,
    }

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn the_action_key_is_not_part_of_the_parameters() {
        let params: Report = read_params(&map(json!({
            "action": "report", "recipients": ["a@example.com"], "days": 7
        })))
        .unwrap();
        assert_eq!(
            params,
            Report {
                recipients: vec!["a@example.com".into()],
                days: 7
            }
        );
    }

    #[test]
    fn a_wrong_shape_names_the_field() {
        let error = read_params::<Report>(&map(json!({
            "recipients": ["a@example.com", 5], "days": 7
        })))
        .unwrap_err();
        assert!(
            error.starts_with("invalid parameters: recipients[1]: "),
            "{error}"
        );
        let error = read_params::<Report>(&map(json!({"recipients": []}))).unwrap_err();
        assert_eq!(error, "invalid parameters: missing field `days`");
    }

    #[test]
    fn a_handler_without_parameters_takes_unit() {
        read_params::<()>(&map(json!({"action": "tick"}))).unwrap();
    }

    #[test]
    fn causes_are_kept_in_the_text() {
        let root = std::io::Error::other("connection refused");
        #[derive(Debug, thiserror::Error)]
        #[error("sending the report failed")]
        struct Outer(#[source] std::io::Error);
        assert_eq!(
            error_text(&Outer(root)),
            "sending the report failed: connection refused"
        );
    }
}
