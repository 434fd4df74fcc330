//! The executors a dispatcher is usually given: [`ActionHandlers`] (async Rust functions by
//! `parameters.action`, for jobs without a target) and [`RoutingExecutor`] (targets to the
//! HTTP executor, the rest to the handlers).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;

use crate::job::Job;
use crate::plan::ExecutionKind;
use crate::ports::{Executed, JobExecutor};
use crate::run::Run;

/// The future an action handler returns.
pub type ActionFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// An async Rust function run for jobs whose `parameters.action` names it.
pub type ActionHandler = Arc<dyn Fn(Job, Run) -> ActionFuture + Send + Sync>;

/// Handlers by action name, for jobs without an HTTP target; what an embedding program
/// registers its code with.
#[derive(Clone, Default)]
pub struct ActionHandlers {
    /// `parameters.action` → handler.
    handlers: HashMap<String, ActionHandler>,
    /// Run when no handler matches (the server registers one that logs and succeeds).
    fallback: Option<ActionHandler>,
}

impl ActionHandlers {
    /// No handlers.
    pub fn new() -> Self {
        Self::default()
    }

    fn wrap<F, Fut>(handler: F) -> ActionHandler
    where
        F: Fn(Job, Run) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Arc::new(move |job, run| Box::pin(handler(job, run)))
    }

    /// Runs `handler` for jobs whose `parameters.action` is `action`.
    pub fn register<F, Fut>(&mut self, action: &str, handler: F) -> &mut Self
    where
        F: Fn(Job, Run) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.handlers
            .insert(action.to_string(), Self::wrap(handler));
        self
    }

    /// Runs `handler` when no registered action matches.
    pub fn fallback<F, Fut>(&mut self, handler: F) -> &mut Self
    where
        F: Fn(Job, Run) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.fallback = Some(Self::wrap(handler));
        self
    }
}

#[async_trait]
impl JobExecutor for ActionHandlers {
    async fn execute(&self, job: &Job, run: &Run) -> Result<(), String> {
        let action = job
            .spec
            .parameters
            .as_map()
            .get("action")
            .and_then(serde_json::Value::as_str);
        let handler = action
            .and_then(|name| self.handlers.get(name))
            .or(self.fallback.as_ref())
            .ok_or_else(|| match action {
                Some(name) => format!("no handler is registered for action \"{name}\""),
                None => "the job has no target and no parameters.action".to_string(),
            })?;
        handler(job.clone(), run.clone()).await
    }
    async fn execute_with_output(&self, job: &Job, run: &Run) -> Executed {
        RUN_OUTPUT
            .scope(std::cell::RefCell::new(None), async {
                let result = self.execute(job, run).await;
                let text = RUN_OUTPUT.with(|slot| slot.borrow_mut().take());
                Executed::new(
                    result,
                    text.and_then(|t| crate::run_output::RunOutput::message(&t)),
                )
            })
            .await
    }
}

tokio::task_local! {
    /// The output a handler set for the run it executes (see [`set_run_output`]).
    static RUN_OUTPUT: std::cell::RefCell<Option<String>>;
}

/// Keeps `text` as the output of the run the calling handler executes (`text/plain`, its
/// first 64 KiB; the last call wins), shown with the run like a delivery's answer. Works in
/// the handler's own task (not in tasks it spawns); elsewhere it does nothing.
pub fn set_run_output(text: impl Into<String>) {
    let text = text.into();
    let _ = RUN_OUTPUT.try_with(|slot| *slot.borrow_mut() = Some(text));
}

/// Sends jobs with a target to the HTTP executor and the rest to the action handlers.
pub struct RoutingExecutor {
    /// For jobs with a `target`.
    pub http: Option<Arc<dyn JobExecutor>>,
    /// For jobs without one.
    pub actions: ActionHandlers,
}

#[async_trait]
impl JobExecutor for RoutingExecutor {
    async fn execute(&self, job: &Job, run: &Run) -> Result<(), String> {
        self.execute_with_output(job, run).await.result
    }

    async fn execute_with_output(&self, job: &Job, run: &Run) -> Executed {
        match (ExecutionKind::of(job), &self.http) {
            (ExecutionKind::Delivery, Some(http)) => http.execute_with_output(job, run).await,
            (ExecutionKind::Handler, _) => self.actions.execute_with_output(job, run).await,
            (ExecutionKind::Delivery, None) => Executed::new(
                Err("HTTP targets are not enabled in this process".into()),
                None,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job_input::JobDraft;

    fn job_and_run(action: &str) -> (Job, Run) {
        let at = chrono::DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default();
        let mut parameters = serde_json::Map::new();
        parameters.insert("action".into(), serde_json::Value::from(action));
        let spec = JobDraft {
            name: Some("j".into()),
            cron_expression: Some("0 * * * *".into()),
            parameters: Some(serde_json::Value::Object(parameters)),
            ..JobDraft::default()
        }
        .validate(at)
        .unwrap_or_else(|_| unreachable!());
        let job = Job {
            id: crate::job::JobId(1),
            spec,
            last_run: None,
            last_status: None,
            last_error: None,
            next_run: None,
            next_fire: None,
            fire_count: 0,
            pause: None,
            failure_streak: 0,
            created_at: at,
            updated_at: at,
            tenant: crate::tenant::Tenant::default_tenant(),
            created_by: None,
            updated_by: None,
        };
        let run = Run {
            id: crate::run::RunId(7),
            job_id: job.id,
            scheduled_for: at,
            due_at: None,
            trigger: crate::run_status::RunTrigger::Manual,
            attempt: 1,
            retries: 0,
            throttles: 0,
            status: crate::run_status::RunStatus::Running,
            started_at: at,
            finished_at: None,
            heartbeat_at: at,
            retry_at: None,
            error: None,
            worker: "w".into(),
            replay_of: None,
        };
        (job, run)
    }

    #[tokio::test]
    async fn a_handler_output_is_kept_with_its_outcome_and_only_its_own() {
        let mut handlers = ActionHandlers::new();
        handlers.register("report", |_, _| async {
            set_run_output("first");
            set_run_output("processed 12 rows");
            Ok(())
        });
        handlers.register("quiet", |_, _| async { Err("boom".to_string()) });
        let routing = RoutingExecutor {
            http: None,
            actions: handlers,
        };
        let (job, run) = job_and_run("report");
        let Executed { result, output, .. } = routing.execute_with_output(&job, &run).await;
        assert_eq!(result, Ok(()));
        let output = output.unwrap_or_else(|| unreachable!());
        assert_eq!(output.body, "processed 12 rows");
        assert_eq!(output.content_type.as_deref(), Some("text/plain"));
        let (job, run) = job_and_run("quiet");
        assert_eq!(
            routing.execute_with_output(&job, &run).await,
            Executed::new(Err("boom".to_string()), None)
        );
        // Outside a handler, nothing happens.
        set_run_output("nowhere");
    }
}
