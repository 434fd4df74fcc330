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
use crate::ports::JobExecutor;
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
        match (ExecutionKind::of(job), &self.http) {
            (ExecutionKind::Delivery, Some(http)) => http.execute(job, run).await,
            (ExecutionKind::Delivery, None) => {
                Err("HTTP targets are not enabled in this process".into())
            }
            (ExecutionKind::Handler, _) => self.actions.execute(job, run).await,
        }
    }

    async fn execute_with_output(
        &self,
        job: &Job,
        run: &Run,
    ) -> (Result<(), String>, Option<crate::run_output::RunOutput>) {
        match (ExecutionKind::of(job), &self.http) {
            (ExecutionKind::Delivery, Some(http)) => http.execute_with_output(job, run).await,
            _ => (self.execute(job, run).await, None),
        }
    }
}
