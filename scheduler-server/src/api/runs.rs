//! Run history and manual runs: `/scheduler/jobs/{id}/runs/`, `/scheduler/runs/{id}/`,
//! `POST /scheduler/jobs/{id}/run/`.

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use scheduler_core::{Dispatcher, JobService, Run, RunId, RunQuery, RunStore, ServiceError};
use std::sync::Arc;

use super::ApiTags;
use super::dto::{RawParam, UtcInstant};
use super::jobs::{parse_int_param, parse_job_id};
use super::pagination::page_links_for;
use crate::error::{ApiError, ErrorMessage};

/// One run as the API returns it.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Run")]
pub struct RunOut {
    /// Run id.
    pub id: i64,
    /// The job.
    pub job_id: i64,
    /// The fire this run serves; `(job_id, scheduled_for)` is the receiver's idempotency key.
    pub scheduled_for: UtcInstant,
    /// `schedule`, `manual` or `retry`.
    pub trigger: String,
    /// 1 for the first attempt at this fire, higher for retries and recoveries.
    pub attempt: i32,
    /// `running`, `succeeded`, `failed`, `timed_out`, `skipped` or `abandoned`.
    pub status: String,
    /// When it started.
    pub started_at: UtcInstant,
    /// When it ended.
    pub finished_at: Option<UtcInstant>,
    /// When a retry of this failed run is due.
    pub retry_at: Option<UtcInstant>,
    /// Why it failed or was skipped (at most 2,000 characters).
    pub error: Option<String>,
    /// The replica that executed it.
    pub worker: String,
}

impl From<Run> for RunOut {
    fn from(run: Run) -> Self {
        Self {
            id: run.id.0,
            job_id: run.job_id.0,
            scheduled_for: UtcInstant(run.scheduled_for),
            trigger: run.trigger.as_str().to_string(),
            attempt: run.attempt,
            status: run.status.as_str().to_string(),
            started_at: UtcInstant(run.started_at),
            finished_at: run.finished_at.map(UtcInstant),
            retry_at: run.retry_at.map(UtcInstant),
            error: run.error,
            worker: run.worker,
        }
    }
}

/// A page of runs.
#[derive(Debug, Clone, Object)]
#[oai(rename = "RunList")]
pub struct RunListOut {
    /// Runs matching across all pages.
    pub count: u64,
    /// Next page URL.
    pub next: Option<String>,
    /// Previous page URL.
    pub previous: Option<String>,
    /// This page, newest first.
    pub results: Vec<RunOut>,
}

/// 200 with runs.
#[derive(Debug, ApiResponse)]
pub enum RunsListed {
    /// A page of runs.
    #[oai(status = 200)]
    Page(Json<RunListOut>),
}

/// 200 with one run.
#[derive(Debug, ApiResponse)]
pub enum RunFound {
    /// The run.
    #[oai(status = 200)]
    Run(Json<RunOut>),
    /// No such run: `{"error": "Run not found"}`.
    #[oai(status = 404)]
    NotFound(Json<ErrorMessage>),
}

/// 202 with the started run.
#[derive(Debug, ApiResponse)]
pub enum RunStarted {
    /// The run started on this replica; poll `/scheduler/runs/{id}/` for its outcome.
    #[oai(status = 202)]
    Run(Json<RunOut>, #[oai(header = "Location")] String),
}

/// The run endpoints.
pub struct RunsApi {
    /// To check that a job exists.
    pub jobs: JobService,
    /// Run history.
    pub store: Arc<dyn RunStore>,
    /// Executes manual runs.
    pub dispatcher: Dispatcher,
}

fn unavailable(error: scheduler_core::RepositoryError) -> ApiError {
    ServiceError::from(error).into()
}

#[OpenApi]
impl RunsApi {
    /// List a job's runs, newest first.
    #[oai(
        path = "/scheduler/jobs/:id/runs",
        method = "get",
        tag = "ApiTags::Runs"
    )]
    async fn list(
        &self,
        request: &Request,
        id: Path<RawParam<i64>>,
        /// Page number, from 1.
        page: Query<Option<RawParam<i64>>>,
        /// Runs per page, 1-500 (default 50).
        page_size: Query<Option<RawParam<i64>>>,
        /// Only runs with this status.
        status: Query<Option<RawParam<String>>>,
    ) -> Result<RunsListed, ApiError> {
        let id = parse_job_id(&id.0.raw)?;
        let mut errors = scheduler_core::ValidationErrors::new();
        let page_number =
            parse_int_param(&mut errors, "page", page.0.as_ref().map(|p| p.raw.as_str()));
        let size = parse_int_param(
            &mut errors,
            "page_size",
            page_size.0.as_ref().map(|p| p.raw.as_str()),
        );
        let query =
            match RunQuery::new(page_number, size, status.0.as_ref().map(|s| s.raw.as_str())) {
                Ok(q) if errors.is_empty() => q,
                Ok(_) => return Err(errors.into()),
                Err(more) => {
                    errors.merge(more);
                    return Err(errors.into());
                }
            };
        self.jobs.get(id).await?;
        let result = self
            .store
            .list_for_job(id, &query)
            .await
            .map_err(unavailable)?;
        let (next, previous) = page_links_for(request, query.page, result.has_next(&query));
        Ok(RunsListed::Page(Json(RunListOut {
            count: result.total,
            next,
            previous,
            results: result.items.into_iter().map(RunOut::from).collect(),
        })))
    }

    /// Get one run.
    #[oai(path = "/scheduler/runs/:id", method = "get", tag = "ApiTags::Runs")]
    async fn get(&self, id: Path<RawParam<i64>>) -> Result<RunFound, ApiError> {
        let not_found = || {
            RunFound::NotFound(Json(ErrorMessage {
                error: "Run not found".into(),
            }))
        };
        let Some(id) = id.0.raw.parse::<i64>().ok().filter(|id| *id > 0) else {
            return Ok(not_found());
        };
        match self.store.get(RunId(id)).await.map_err(unavailable)? {
            Some(run) => Ok(RunFound::Run(Json(run.into()))),
            None => Ok(not_found()),
        }
    }

    /// Run a job now, on this replica (its schedule is unchanged).
    #[oai(
        path = "/scheduler/jobs/:id/run",
        method = "post",
        tag = "ApiTags::Runs"
    )]
    async fn run_now(&self, id: Path<RawParam<i64>>) -> Result<RunStarted, ApiError> {
        let id = parse_job_id(&id.0.raw)?;
        let run = self.dispatcher.run_now(id).await.map_err(unavailable)?;
        let location = format!("/scheduler/runs/{}/", run.id);
        Ok(RunStarted::Run(Json(run.into()), location))
    }
}
