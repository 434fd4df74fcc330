//! Run history and manual runs: `/scheduler/jobs/{id}/runs/`, `/scheduler/runs/{id}/`,
//! `POST /scheduler/jobs/{id}/run/`.

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::{ApiResponse, OpenApi};
use scheduler_core::{RunId, RunQuery, RunService, RunStatus};

use super::ApiTags;
use super::body::ParamReader;
use super::choices::OneOf;
use super::docs::{IntRange, RawParam, raw};
use super::jobs::parse_job_id;
use super::output::{FastJson, RunListOut, RunOut};
use super::pagination::page_links;
use crate::error::{ApiError, OpError, errors};

/// 200 with runs.
#[derive(Debug, ApiResponse)]
pub enum RunsListed {
    /// A page of runs.
    #[oai(status = 200)]
    Page(FastJson<RunListOut>),
}

/// 200 with one run.
#[derive(Debug, ApiResponse)]
pub enum RunFound {
    /// The run.
    #[oai(status = 200)]
    Run(FastJson<RunOut>),
}

/// 202 with the started run.
#[derive(Debug, ApiResponse)]
pub enum RunStarted {
    /// The run started on this replica; poll `/scheduler/runs/{id}/` for its outcome.
    #[oai(status = 202)]
    Run(FastJson<RunOut>, #[oai(header = "Location")] String),
}

/// The run endpoints.
pub struct RunsApi {
    /// The run use cases.
    pub runs: RunService,
}

#[OpenApi]
impl RunsApi {
    /// List a job's runs, newest first.
    #[oai(
        path = "/scheduler/jobs/:id/runs",
        method = "get",
        tag = "ApiTags::Runs",
        operation_id = "listJobRuns"
    )]
    async fn list(
        &self,
        request: &Request,
        id: Path<RawParam<i64>>,
        /// Page number, from 1.
        page: Query<Option<RawParam<IntRange<1, { i64::MAX }>>>>,
        /// Runs per page, 1-500 (default 50).
        page_size: Query<Option<RawParam<IntRange<1, 500>>>>,
        /// Only runs with this status.
        status: Query<Option<RawParam<OneOf<RunStatus>>>>,
    ) -> Result<RunsListed, OpError<errors::ListRuns>> {
        let id = parse_job_id(&id.0.raw)?;
        let mut params = ParamReader::default();
        let page_number = params.integer("page", raw(&page.0));
        let size = params.integer("page_size", raw(&page_size.0));
        let query = params.finish(RunQuery::new(page_number, size, raw(&status.0)))?;
        let page = self.runs.list_for_job(id, &query).await?;
        let (next, previous) = page_links(request, query.page(), page.has_next(&query));
        Ok(RunsListed::Page(FastJson(RunListOut {
            count: page.total,
            next,
            previous,
            results: page.items.into_iter().map(RunOut::from).collect(),
        })))
    }

    /// Get one run.
    #[oai(
        path = "/scheduler/runs/:id",
        method = "get",
        tag = "ApiTags::Runs",
        operation_id = "getRun"
    )]
    async fn get(&self, id: Path<RawParam<i64>>) -> Result<RunFound, OpError<errors::OneRun>> {
        let id =
            id.0.raw
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or(ApiError::RunNotFound)?;
        let run = self.runs.get(RunId(id)).await?;
        Ok(RunFound::Run(FastJson(run.into())))
    }

    /// Run a job now, on this replica (its schedule is unchanged).
    #[oai(
        path = "/scheduler/jobs/:id/run",
        method = "post",
        tag = "ApiTags::Runs",
        operation_id = "runJobNow"
    )]
    async fn run_now(
        &self,
        id: Path<RawParam<i64>>,
    ) -> Result<RunStarted, OpError<errors::RunNow>> {
        let id = parse_job_id(&id.0.raw)?;
        let run = self.runs.run_now(id).await?;
        let location = format!("/scheduler/runs/{}/", run.id);
        Ok(RunStarted::Run(FastJson(run.into()), location))
    }
}
