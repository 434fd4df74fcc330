//! Run history and manual runs: `/scheduler/jobs/{id}/runs/`, `/scheduler/runs/{id}/`,
//! `POST /scheduler/jobs/{id}/run/`.

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::{ApiResponse, OpenApi};
use scheduler_core::{JobRun, Listing, RunId, RunService, RunStatus, RunTrigger};

use super::body::RawRunQuery;
use super::body::read_backfill;
use super::choices::OneOf;
use super::docs::{BackfillDoc, IntRange, LooseBody, RawParam, raw};
use super::jobs::parse_job_id;
use super::output::{BackfillOut, FastJson, RunListOut, RunOut};
use super::pagination::page_links;
use super::tags::ApiTags;
use crate::auth::{Caller, NeededScope, Read, Write};
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

/// What a run's target answered (or its handler returned), as kept.
#[derive(Debug, Clone, poem_openapi::Object, serde::Serialize)]
#[oai(rename = "RunOutput")]
pub struct RunOutputOut {
    /// The answer's `Content-Type`.
    #[oai(nullable)]
    pub content_type: Option<String>,
    /// The first 64 KiB of a text answer (empty for a binary one).
    pub body: String,
    /// True when more was answered than kept (or the answer is binary).
    pub truncated: bool,
    /// The answer's size in bytes, as read (reading stops a byte past 64 KiB).
    pub size: u64,
}

/// 200 with a run's output, or 204 when none was kept.
#[derive(Debug, ApiResponse)]
pub enum OutputFound {
    /// The output.
    #[oai(status = 200)]
    Output(FastJson<RunOutputOut>),
    /// Nothing was kept: an empty answer, a handler without a message, a run still running.
    #[oai(status = 204)]
    None,
}

/// 202 with the started run.
#[derive(Debug, ApiResponse)]
pub enum RunStarted {
    /// The run started on this replica; poll `/scheduler/runs/{id}/` for its outcome.
    #[oai(status = 202)]
    Run(FastJson<RunOut>, #[oai(header = "Location")] String),
}

/// 202 with a new replay, or 200 with the replay made before.
#[derive(Debug, ApiResponse)]
pub enum Replayed {
    /// The replay started on this replica; `Location` is its URL.
    #[oai(status = 202)]
    Started(FastJson<RunOut>, #[oai(header = "Location")] String),
    /// The run was replayed before (a run is replayed once): that replay.
    #[oai(status = 200)]
    Already(FastJson<RunOut>),
}

/// The answer with one page of runs and its links.
fn listed(request: &Request, listing: Listing<JobRun>) -> RunsListed {
    let (next, previous) = page_links(request, listing.next.as_ref(), listing.previous.as_ref());
    RunsListed::Page(FastJson(RunListOut {
        count: listing.total,
        next,
        previous,
        results: listing.items.into_iter().map(RunOut::from).collect(),
    }))
}

/// A run id from the path: a positive integer, else the run is not found.
fn parse_run_id(raw: &str) -> Result<RunId, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(RunId)
        .ok_or(ApiError::RunNotFound)
}

/// 202 with what a backfill created.
#[derive(Debug, ApiResponse)]
pub enum BackfillStarted {
    /// The runs created; they run now on this replica.
    #[oai(status = 202)]
    Runs(FastJson<BackfillOut>),
}

/// The run endpoints.
pub struct RunsApi {
    /// The run use cases.
    pub runs: RunService,
}

impl RunsApi {
    /// The use cases acting for the request's caller (their tenant's runs only).
    fn runs<S: NeededScope>(&self, caller: Caller<S>) -> RunService {
        self.runs.acting_as(caller.into_principal())
    }
}

#[OpenApi]
impl RunsApi {
    /// List a job's runs, newest first.
    ///
    /// History is kept for `SCHEDULER_RUN_RETENTION_DAYS` (default 30 days, by fire instant)
    /// and at most `SCHEDULER_RUNS_PER_JOB` (default 1,000) runs per job; older runs are
    /// deleted, and their ids answer 404.
    #[oai(
        path = "/scheduler/jobs/:id/runs",
        method = "get",
        tag = "ApiTags::Runs",
        operation_id = "listJobRuns"
    )]
    #[allow(clippy::too_many_arguments)] // one argument per documented query parameter
    async fn list(
        &self,
        caller: Caller<Read>,
        request: &Request,
        id: Path<RawParam<i64>>,
        /// Page number, from 1.
        page: Query<Option<RawParam<IntRange<1, { i64::MAX }>>>>,
        /// Runs per page, 1-500 (default 50).
        page_size: Query<Option<RawParam<IntRange<1, 500>>>>,
        /// Only runs with this status.
        status: Query<Option<RawParam<OneOf<RunStatus>>>>,
        /// Only runs with this trigger.
        trigger: Query<Option<RawParam<OneOf<RunTrigger>>>>,
        /// Only runs for fires at or after this RFC 3339 instant.
        scheduled_after: Query<Option<RawParam<chrono::DateTime<chrono::Utc>>>>,
        /// Only runs for fires before this RFC 3339 instant.
        scheduled_before: Query<Option<RawParam<chrono::DateTime<chrono::Utc>>>>,
        /// Cursor pagination: `cursor=` (empty) for the first page, then follow `next` and
        /// `previous`; O(page size) however deep, no `count`. Not with `page`.
        cursor: Query<Option<RawParam<String>>>,
    ) -> Result<RunsListed, OpError<errors::ListRuns>> {
        let id = parse_job_id(&id.0.raw)?;
        let query = RawRunQuery {
            page: raw(&page.0),
            page_size: raw(&page_size.0),
            status: raw(&status.0),
            trigger: raw(&trigger.0),
            job_id: None,
            scheduled_after: raw(&scheduled_after.0),
            scheduled_before: raw(&scheduled_before.0),
            cursor: raw(&cursor.0),
        }
        .read()?;
        let listing = self.runs(caller).list_for_job(id, &query).await?;
        Ok(listed(request, listing))
    }

    /// List runs across jobs, newest first.
    ///
    /// History is kept for `SCHEDULER_RUN_RETENTION_DAYS` (default 30 days, by fire instant)
    /// and at most `SCHEDULER_RUNS_PER_JOB` (default 1,000) runs per job; older runs are
    /// deleted, and their ids answer 404.
    #[oai(
        path = "/scheduler/runs",
        method = "get",
        tag = "ApiTags::Runs",
        operation_id = "listRuns"
    )]
    #[allow(clippy::too_many_arguments)] // one argument per documented query parameter
    async fn list_all(
        &self,
        caller: Caller<Read>,
        request: &Request,
        /// Page number, from 1.
        page: Query<Option<RawParam<IntRange<1, { i64::MAX }>>>>,
        /// Runs per page, 1-500 (default 50).
        page_size: Query<Option<RawParam<IntRange<1, 500>>>>,
        /// Only runs with this status.
        status: Query<Option<RawParam<OneOf<RunStatus>>>>,
        /// Only runs of this job.
        job_id: Query<Option<RawParam<IntRange<1, { i64::MAX }>>>>,
        /// Only runs with this trigger.
        trigger: Query<Option<RawParam<OneOf<RunTrigger>>>>,
        /// Only runs for fires at or after this RFC 3339 instant.
        scheduled_after: Query<Option<RawParam<chrono::DateTime<chrono::Utc>>>>,
        /// Only runs for fires before this RFC 3339 instant.
        scheduled_before: Query<Option<RawParam<chrono::DateTime<chrono::Utc>>>>,
        /// Cursor pagination: `cursor=` (empty) for the first page, then follow `next` and
        /// `previous`; O(page size) however deep, no `count`. Not with `page`.
        cursor: Query<Option<RawParam<String>>>,
    ) -> Result<RunsListed, OpError<errors::ListAllRuns>> {
        let query = RawRunQuery {
            page: raw(&page.0),
            page_size: raw(&page_size.0),
            status: raw(&status.0),
            trigger: raw(&trigger.0),
            job_id: raw(&job_id.0),
            scheduled_after: raw(&scheduled_after.0),
            scheduled_before: raw(&scheduled_before.0),
            cursor: raw(&cursor.0),
        }
        .read()?;
        let listing = self.runs(caller).list(&query).await?;
        Ok(listed(request, listing))
    }

    /// Get one run.
    ///
    /// History is kept for `SCHEDULER_RUN_RETENTION_DAYS` (default 30 days, by fire instant)
    /// and at most `SCHEDULER_RUNS_PER_JOB` (default 1,000) runs per job; older runs are
    /// deleted, and their ids answer 404.
    #[oai(
        path = "/scheduler/runs/:id",
        method = "get",
        tag = "ApiTags::Runs",
        operation_id = "getRun"
    )]
    async fn get(
        &self,
        caller: Caller<Read>,
        id: Path<RawParam<i64>>,
    ) -> Result<RunFound, OpError<errors::OneRun>> {
        let id = parse_run_id(&id.0.raw)?;
        let run = self.runs(caller).get(id).await?;
        Ok(RunFound::Run(FastJson(run.into())))
    }

    /// What the run's target answered (any status), or its handler returned: the first
    /// 64 KiB of a text body with its content type; a binary body by type and size only.
    /// 204 when nothing was kept.
    #[oai(
        path = "/scheduler/runs/:id/output",
        method = "get",
        tag = "ApiTags::Runs",
        operation_id = "getRunOutput"
    )]
    async fn output(
        &self,
        caller: Caller<Read>,
        id: Path<RawParam<i64>>,
    ) -> Result<OutputFound, OpError<errors::OneRun>> {
        let id = parse_run_id(&id.0.raw)?;
        Ok(match self.runs(caller).output(id).await? {
            None => OutputFound::None,
            Some(output) => OutputFound::Output(FastJson(RunOutputOut {
                content_type: output.content_type,
                body: output.body,
                truncated: output.truncated,
                size: output.size,
            })),
        })
    }

    /// Backfill a job: run now the fires its schedule would have made in `[from, to)`, a past
    /// range of at most 1,000 fires, each marked `trigger: backfill`; an instant that
    /// already has a run is not run again (the same range twice, even at once, runs each
    /// instant once). They run on this replica under the job's overlap policy: side by side
    /// with `allow`, one after the other otherwise.
    #[oai(
        path = "/scheduler/jobs/:id/backfill",
        method = "post",
        tag = "ApiTags::Runs",
        operation_id = "backfillJob"
    )]
    async fn backfill(
        &self,
        caller: Caller<Write>,
        id: Path<RawParam<i64>>,
        body: poem_openapi::payload::Json<LooseBody<BackfillDoc>>,
    ) -> Result<BackfillStarted, OpError<errors::Backfill>> {
        let id = parse_job_id(&id.0.raw)?;
        let (from, to) = read_backfill(&body.0.raw)?;
        let done = self.runs(caller).backfill(id, from, to).await?;
        let job_name = Some(done.job_name);
        Ok(BackfillStarted::Runs(FastJson(BackfillOut {
            created: done.runs.len(),
            already_run: done.already_run,
            runs: done
                .runs
                .into_iter()
                .map(|run| {
                    RunOut::from(JobRun {
                        run,
                        job_name: job_name.clone(),
                    })
                })
                .collect(),
        })))
    }

    /// Cancel a running run: it is recorded `cancelled` ("cancelled by <key>") and never
    /// retried; its execution stops — a handler's task is cancelled, an HTTP delivery
    /// aborted — at once on the replica that received the request, within about a second on
    /// another.
    #[oai(
        path = "/scheduler/runs/:id/cancel",
        method = "post",
        tag = "ApiTags::Runs",
        operation_id = "cancelRun"
    )]
    async fn cancel(
        &self,
        caller: Caller<Write>,
        id: Path<RawParam<i64>>,
    ) -> Result<RunFound, OpError<errors::CancelRun>> {
        let id = parse_run_id(&id.0.raw)?;
        let run = self.runs(caller).cancel(id).await?;
        Ok(RunFound::Run(FastJson(run.into())))
    }

    /// Replay an ended run (a failed one from the dead-letter list, or any other): a new run
    /// of the same fire — the job's parameters and target as they are now, `scheduled_for`
    /// kept (the receiver's idempotency key), the next `attempt`, `trigger: replay`,
    /// `replay_of` the original — started on this replica under the job's overlap policy.
    /// A run is replayed once: asked again, even at the same time on another replica, the
    /// answer is `200` with that same replay.
    #[oai(
        path = "/scheduler/runs/:id/replay",
        method = "post",
        tag = "ApiTags::Runs",
        operation_id = "replayRun"
    )]
    async fn replay(
        &self,
        caller: Caller<Write>,
        id: Path<RawParam<i64>>,
    ) -> Result<Replayed, OpError<errors::ReplayRun>> {
        let id = parse_run_id(&id.0.raw)?;
        let (run, created) = self.runs(caller).replay(id).await?;
        if created {
            let location = format!("/scheduler/runs/{}/", run.run.id);
            Ok(Replayed::Started(FastJson(run.into()), location))
        } else {
            Ok(Replayed::Already(FastJson(run.into())))
        }
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
        caller: Caller<Write>,
        id: Path<RawParam<i64>>,
    ) -> Result<RunStarted, OpError<errors::RunNow>> {
        let id = parse_job_id(&id.0.raw)?;
        let run = self.runs(caller).run_now(id).await?;
        let location = format!("/scheduler/runs/{}/", run.run.id);
        Ok(RunStarted::Run(FastJson(run.into()), location))
    }
}
