//! `/scheduler/jobs/`: create, read and list jobs (the original service's contract).

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use scheduler_core::{JobDraft, JobId, JobPatch, JobQuery, JobService, ValidationErrors};
use serde_json::Value;

use super::ApiTags;
use super::dto::{
    FastJson, JobInputDoc, JobListOut, JobOut, JobPatchDoc, LooseBody, RawParam, not_an_object,
    read_draft, read_patch,
};
use super::pagination::page_links;
use crate::error::{ApiError, Detail};

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

/// 204 after a delete.
#[derive(Debug, ApiResponse)]
pub enum Deleted {
    /// The job is gone; a run already executing finishes, no new run starts.
    #[oai(status = 204)]
    Gone,
}

/// 200 with a page of jobs, or 404 for a page past the end.
#[derive(Debug, ApiResponse)]
pub enum Listed {
    /// One page of jobs.
    #[oai(status = 200)]
    Page(FastJson<JobListOut>),
    /// The page number is past the last page: `{"detail": "Invalid page."}`.
    #[oai(status = 404)]
    InvalidPage(Json<Detail>),
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
pub fn parse_job_id(raw: &str) -> Result<JobId, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(JobId)
        .ok_or_else(ApiError::job_not_found)
}

/// Reads a POST/PUT body into a draft, reporting type errors together with the core's
/// validation errors so the client sees every failing field at once.
pub fn draft_from_body(body: &Value) -> Result<JobDraft, ApiError> {
    let Value::Object(map) = body else {
        return Err(not_an_object(body).into());
    };
    let (draft, mut errors) = read_draft(map);
    if errors.is_empty() {
        return Ok(draft);
    }
    if let Err(core) = draft.validate(chrono::Utc::now()) {
        errors.merge(core);
    }
    Err(errors.into())
}

fn parse_bool_param(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Parses an integer query parameter, recording a field error when it is not one.
pub fn parse_int_param(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<&str>,
) -> Option<i64> {
    let raw = raw?;
    match raw.trim().parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.add(field, "A valid integer is required.");
            None
        }
    }
}

/// Builds the list query from raw parameters, naming each bad one.
fn list_query(
    page: Option<&str>,
    page_size: Option<&str>,
    is_active: Option<&str>,
    ordering: Option<&str>,
) -> Result<JobQuery, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let page = parse_int_param(&mut errors, "page", page);
    let page_size = parse_int_param(&mut errors, "page_size", page_size);
    let is_active = is_active.and_then(|raw| {
        let parsed = parse_bool_param(raw);
        if parsed.is_none() {
            errors.add("is_active", "Must be a valid boolean: use true or false.");
        }
        parsed
    });
    match JobQuery::new(page, page_size, is_active, ordering) {
        Ok(query) => errors.into_result(query),
        Err(more) => {
            errors.merge(more);
            Err(errors)
        }
    }
}

#[OpenApi]
impl JobsApi {
    /// Create a job.
    ///
    /// `next_run` is the first fire at or after `start_time` and after now, in the job's time
    /// zone. Unknown fields are ignored.
    #[oai(path = "/scheduler/jobs", method = "post", tag = "ApiTags::Jobs")]
    async fn create(&self, body: Json<LooseBody<JobInputDoc>>) -> Result<Created, ApiError> {
        let draft = draft_from_body(&body.0.raw)?;
        let job = self.service.create(draft).await?;
        let location = job_path(job.id);
        Ok(Created::Job(FastJson(job.into()), location))
    }

    /// List jobs, paginated.
    #[oai(path = "/scheduler/jobs", method = "get", tag = "ApiTags::Jobs")]
    async fn list(
        &self,
        request: &Request,
        /// Page number, from 1.
        page: Query<Option<RawParam<i64>>>,
        /// Jobs per page, 1-500 (default 50).
        page_size: Query<Option<RawParam<i64>>>,
        /// Only active (`true`) or paused (`false`) jobs.
        is_active: Query<Option<RawParam<bool>>>,
        /// Sort: `id`, `name`, `next_run`, `created_at`; prefix `-` for descending.
        ordering: Query<Option<RawParam<String>>>,
    ) -> Result<Listed, ApiError> {
        let query = list_query(
            page.0.as_ref().map(|p| p.raw.as_str()),
            page_size.0.as_ref().map(|p| p.raw.as_str()),
            is_active.0.as_ref().map(|p| p.raw.as_str()),
            ordering.0.as_ref().map(|p| p.raw.as_str()),
        )?;
        let result = self.service.list(&query).await?;
        if query.page > 1 && result.items.is_empty() {
            return Ok(Listed::InvalidPage(Json(Detail {
                detail: "Invalid page.".into(),
            })));
        }
        let (next, previous) = page_links(request, &query, &result);
        Ok(Listed::Page(FastJson(JobListOut {
            count: result.total,
            next,
            previous,
            results: result.items.into_iter().map(JobOut::from).collect(),
        })))
    }

    /// Get one job.
    #[oai(path = "/scheduler/jobs/:id", method = "get", tag = "ApiTags::Jobs")]
    async fn get(&self, id: Path<RawParam<i64>>) -> Result<Found, ApiError> {
        let id = parse_job_id(&id.0.raw)?;
        let job = self.service.get(id).await?;
        Ok(Found::Job(FastJson(job.into())))
    }

    /// Update some fields of a job.
    ///
    /// Any writable field may be sent; absent fields keep their values, `end_time: null`
    /// clears the end. `next_run` is recomputed when a schedule field changes. Same
    /// validation and error shapes as create.
    #[oai(path = "/scheduler/jobs/:id", method = "patch", tag = "ApiTags::Jobs")]
    async fn patch(
        &self,
        id: Path<RawParam<i64>>,
        body: Json<LooseBody<JobPatchDoc>>,
    ) -> Result<Found, ApiError> {
        let id = parse_job_id(&id.0.raw)?;
        let patch = self.patch_from_body(id, &body.0.raw).await?;
        let job = self.service.update(id, patch).await?;
        Ok(Found::Job(FastJson(job.into())))
    }

    /// Replace a job: the full body of create; absent optional fields take their defaults.
    #[oai(path = "/scheduler/jobs/:id", method = "put", tag = "ApiTags::Jobs")]
    async fn replace(
        &self,
        id: Path<RawParam<i64>>,
        body: Json<LooseBody<JobInputDoc>>,
    ) -> Result<Found, ApiError> {
        let id = parse_job_id(&id.0.raw)?;
        let draft = draft_from_body(&body.0.raw)?;
        let job = self.service.replace(id, draft).await?;
        Ok(Found::Job(FastJson(job.into())))
    }

    /// Delete a job (and its run history).
    #[oai(path = "/scheduler/jobs/:id", method = "delete", tag = "ApiTags::Jobs")]
    async fn delete(&self, id: Path<RawParam<i64>>) -> Result<Deleted, ApiError> {
        let id = parse_job_id(&id.0.raw)?;
        self.service.delete(id).await?;
        Ok(Deleted::Gone)
    }

    /// Pause a job: `is_active` false, `next_run` null, no runs until resumed.
    #[oai(
        path = "/scheduler/jobs/:id/pause",
        method = "post",
        tag = "ApiTags::Jobs"
    )]
    async fn pause(&self, id: Path<RawParam<i64>>) -> Result<Found, ApiError> {
        let id = parse_job_id(&id.0.raw)?;
        Ok(Found::Job(FastJson(self.service.pause(id).await?.into())))
    }

    /// Resume a job: `next_run` is computed from now; fires missed while paused are skipped.
    #[oai(
        path = "/scheduler/jobs/:id/resume",
        method = "post",
        tag = "ApiTags::Jobs"
    )]
    async fn resume(&self, id: Path<RawParam<i64>>) -> Result<Found, ApiError> {
        let id = parse_job_id(&id.0.raw)?;
        Ok(Found::Job(FastJson(self.service.resume(id).await?.into())))
    }
}

impl JobsApi {
    /// Reads a PATCH body; when a field has the wrong type, the other fields are still
    /// validated against the stored job so every failing field is reported at once.
    async fn patch_from_body(&self, id: JobId, body: &Value) -> Result<JobPatch, ApiError> {
        let Value::Object(map) = body else {
            return Err(not_an_object(body).into());
        };
        match read_patch(map) {
            Ok(patch) => Ok(patch),
            Err(mut errors) => {
                let current = self.service.get(id).await?;
                if let Err(core) = read_patch_lenient(map, &errors).apply(&current.spec) {
                    errors.merge(core);
                }
                Err(errors.into())
            }
        }
    }
}

/// The PATCH built from the fields of `map` that have no type error.
fn read_patch_lenient(map: &serde_json::Map<String, Value>, errors: &ValidationErrors) -> JobPatch {
    let mut valid = map.clone();
    for error in errors.iter() {
        valid.remove(&error.field);
    }
    read_patch(&valid).unwrap_or_default()
}
