//! `/scheduler/jobs/`: create, read, list, change, delete, pause and resume jobs (the original
//! service's contract). Handlers translate: input → core request → service → output.

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::{ApiResponse, OpenApi};
use scheduler_core::{JobId, JobService};

use super::body::{read_draft, read_job_query, read_patch};
use super::choices::{OneOf, Orderings};
use super::docs::{IntRange, JobInputDoc, JobPatchDoc, LooseBody, RawParam, raw};
use super::output::{FastJson, JobListOut, JobOut};
use super::pagination::page_links;
use super::tags::ApiTags;
use super::wire_time::parse_until;
use crate::auth::{Caller, NeededScope, Read, Write};
use crate::error::{ApiError, OpError, errors};

/// 201 with the new job.
#[derive(Debug, ApiResponse)]
pub enum Created {
    /// The job was created; `Location` is its URL.
    #[oai(status = 201)]
    Job(FastJson<JobOut>, #[oai(header = "Location")] String),
}

/// 200 with one job.
#[derive(Debug, ApiResponse)]
pub enum Found {
    /// The job.
    #[oai(status = 200)]
    Job(FastJson<JobOut>),
}

impl From<scheduler_core::Job> for Found {
    fn from(job: scheduler_core::Job) -> Self {
        Self::Job(FastJson(job.into()))
    }
}

/// 204 after a delete.
#[derive(Debug, ApiResponse)]
pub enum Deleted {
    /// The job is gone; a run already executing finishes, no new run starts.
    #[oai(status = 204)]
    Gone,
}

/// 200 with a page of jobs.
#[derive(Debug, ApiResponse)]
pub enum Listed {
    /// One page of jobs.
    #[oai(status = 200)]
    Page(FastJson<JobListOut>),
}

/// The job endpoints.
pub struct JobsApi {
    /// The use cases.
    pub service: JobService,
}

/// The URL path of a job.
pub fn job_path(id: JobId) -> String {
    format!("/scheduler/jobs/{id}/")
}

/// Parses a path id; anything that is not a positive integer is an unknown job.
///
/// # Errors
/// `JobNotFound`.
pub fn parse_job_id(raw: &str) -> Result<JobId, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(JobId)
        .ok_or(ApiError::JobNotFound)
}

impl JobsApi {
    /// The use cases acting for the request's caller (their tenant only).
    fn service<S: NeededScope>(&self, caller: Caller<S>) -> JobService {
        self.service.acting_as(caller.into_principal())
    }
}

#[OpenApi]
impl JobsApi {
    /// Create a job.
    ///
    /// `next_run` is the first fire at or after `start_time` and after now, in the job's time
    /// zone. Unknown fields are ignored.
    #[oai(
        path = "/scheduler/jobs",
        method = "post",
        tag = "ApiTags::Jobs",
        operation_id = "createJob"
    )]
    async fn create(
        &self,
        caller: Caller<Write>,
        body: poem_openapi::payload::Json<LooseBody<JobInputDoc>>,
    ) -> Result<Created, OpError<errors::CreateJob>> {
        let job = self
            .service(caller)
            .create(read_draft(&body.0.raw)?)
            .await?;
        let location = job_path(job.id);
        Ok(Created::Job(FastJson(job.into()), location))
    }

    /// List jobs, paginated.
    #[oai(
        path = "/scheduler/jobs",
        method = "get",
        tag = "ApiTags::Jobs",
        operation_id = "listJobs"
    )]
    #[allow(clippy::too_many_arguments)] // one argument per documented query parameter
    async fn list(
        &self,
        caller: Caller<Read>,
        request: &Request,
        /// Page number, from 1.
        page: Query<Option<RawParam<IntRange<1, { i64::MAX }>>>>,
        /// Jobs per page, 1-500 (default 50).
        page_size: Query<Option<RawParam<IntRange<1, 500>>>>,
        /// Only active (`true`) or paused (`false`) jobs.
        is_active: Query<Option<RawParam<bool>>>,
        /// Sort: `id`, `name`, `next_run`, `created_at`; prefix `-` for descending (ties by
        /// id in the same direction).
        ordering: Query<Option<RawParam<OneOf<Orderings>>>>,
        /// Only jobs whose name contains this text, ignoring case. Counted with `COUNT(*)`,
        /// so a numbered page with a search costs O(matching jobs).
        search: Query<Option<RawParam<String>>>,
        /// Cursor pagination (DRF `CursorPagination`): send `cursor=` (empty) for the first
        /// page, then follow `next`/`previous`, which carry the cursor. Cursor pages have no
        /// `count` and cost O(page size) however deep; numbered pages (`page=`) cost
        /// O(offset). Not with `page`. A cursor that was changed, or made for another
        /// ordering or tenant: `404 {"detail": "Invalid cursor"}`.
        cursor: Query<Option<RawParam<String>>>,
    ) -> Result<Listed, OpError<errors::ListJobs>> {
        let query = read_job_query(
            raw(&page.0),
            raw(&page_size.0),
            raw(&is_active.0),
            raw(&ordering.0),
            raw(&search.0),
            raw(&cursor.0),
        )?;
        let listing = self.service(caller).list(&query).await?;
        let (next, previous) =
            page_links(request, listing.next.as_ref(), listing.previous.as_ref());
        Ok(Listed::Page(FastJson(JobListOut {
            count: listing.total,
            next,
            previous,
            results: listing.items.into_iter().map(JobOut::from).collect(),
        })))
    }

    /// Get one job.
    #[oai(
        path = "/scheduler/jobs/:id",
        method = "get",
        tag = "ApiTags::Jobs",
        operation_id = "getJob"
    )]
    async fn get(
        &self,
        caller: Caller<Read>,
        id: Path<RawParam<i64>>,
    ) -> Result<Found, OpError<errors::OneJob>> {
        let id = parse_job_id(&id.0.raw)?;
        Ok(self.service(caller).get(id).await?.into())
    }

    /// Update some fields of a job.
    ///
    /// Any writable field may be sent; absent fields keep their values, `end_time: null`
    /// clears the end. `next_run` is recomputed when a schedule field changes. Same
    /// validation and error shapes as create.
    #[oai(
        path = "/scheduler/jobs/:id",
        method = "patch",
        tag = "ApiTags::Jobs",
        operation_id = "updateJob"
    )]
    async fn patch(
        &self,
        caller: Caller<Write>,
        id: Path<RawParam<i64>>,
        body: poem_openapi::payload::Json<LooseBody<JobPatchDoc>>,
    ) -> Result<Found, OpError<errors::ChangeJob>> {
        let id = parse_job_id(&id.0.raw)?;
        let patch = read_patch(&body.0.raw)?;
        Ok(self.service(caller).update(id, patch).await?.into())
    }

    /// Replace a job: the full body of create; absent optional fields take their defaults.
    #[oai(
        path = "/scheduler/jobs/:id",
        method = "put",
        tag = "ApiTags::Jobs",
        operation_id = "replaceJob"
    )]
    async fn replace(
        &self,
        caller: Caller<Write>,
        id: Path<RawParam<i64>>,
        body: poem_openapi::payload::Json<LooseBody<JobInputDoc>>,
    ) -> Result<Found, OpError<errors::ChangeJob>> {
        let id = parse_job_id(&id.0.raw)?;
        let draft = read_draft(&body.0.raw)?;
        Ok(self.service(caller).replace(id, draft).await?.into())
    }

    /// Delete a job (and its run history).
    #[oai(
        path = "/scheduler/jobs/:id",
        method = "delete",
        tag = "ApiTags::Jobs",
        operation_id = "deleteJob"
    )]
    async fn delete(
        &self,
        caller: Caller<Write>,
        id: Path<RawParam<i64>>,
    ) -> Result<Deleted, OpError<errors::OneJob>> {
        let id = parse_job_id(&id.0.raw)?;
        self.service(caller).delete(id).await?;
        Ok(Deleted::Gone)
    }

    /// Pause a job: `is_active` false, `next_run` null, no runs until resumed — by a
    /// resume, or by itself at `until` when given. The job records who paused it
    /// (`paused_by`, the key's name), when (`paused_at`), why (`pause_note`, from `note`) and
    /// until when (`paused_until`); resuming clears them.
    #[oai(
        path = "/scheduler/jobs/:id/pause",
        method = "post",
        tag = "ApiTags::Jobs",
        operation_id = "pauseJob"
    )]
    async fn pause(
        &self,
        caller: Caller<Write>,
        id: Path<RawParam<i64>>,
        /// Why, at most 1,000 characters (e.g. `upstream maintenance until Friday`); pausing a
        /// paused job again replaces it.
        note: Query<Option<RawParam<String>>>,
        /// Resume by itself at this instant (RFC 3339, in the future), e.g.
        /// `2030-01-06T06:00:00Z`; the job resumes within about a second of it, its next run
        /// computed from then (fires missed while paused are not run).
        until: Query<Option<RawParam<String>>>,
    ) -> Result<Found, OpError<errors::PauseJob>> {
        let id = parse_job_id(&id.0.raw)?;
        let until = parse_until(raw(&until.0))?;
        let job = self
            .service(caller)
            .pause_until(id, raw(&note.0), until)
            .await?;
        Ok(job.into())
    }

    /// Resume a job: `next_run` is computed from now; fires missed while paused are skipped.
    #[oai(
        path = "/scheduler/jobs/:id/resume",
        method = "post",
        tag = "ApiTags::Jobs",
        operation_id = "resumeJob"
    )]
    async fn resume(
        &self,
        caller: Caller<Write>,
        id: Path<RawParam<i64>>,
    ) -> Result<Found, OpError<errors::OneJob>> {
        let id = parse_job_id(&id.0.raw)?;
        Ok(self.service(caller).resume(id).await?.into())
    }
}
