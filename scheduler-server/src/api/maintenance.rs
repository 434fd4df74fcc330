//! `/scheduler/maintenance/`: the maintenance switch — pause or resume every job of the
//! caller's tenant, or those whose name starts with a prefix, in one call.

use poem_openapi::param::Query;
use poem_openapi::{ApiResponse, Object, OpenApi};
use scheduler_core::{JobId, JobService};

use super::docs::{RawParam, raw};
use super::output::FastJson;
use super::tags::ApiTags;
use super::wire_time::parse_until;
use crate::auth::{Caller, Write};
use crate::error::{OpError, errors};

/// What one call of the switch changed.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "MaintenanceChange")]
pub struct ChangedOut {
    /// How many jobs it paused or resumed (jobs already in that state are left as they are).
    pub count: usize,
    /// Their ids, ascending.
    pub job_ids: Vec<i64>,
}

impl From<Vec<JobId>> for ChangedOut {
    fn from(ids: Vec<JobId>) -> Self {
        Self {
            count: ids.len(),
            job_ids: ids.into_iter().map(|id| id.0).collect(),
        }
    }
}

/// 200 with what changed.
#[derive(Debug, ApiResponse)]
pub enum Changed {
    /// The jobs paused or resumed.
    #[oai(status = 200)]
    Jobs(FastJson<ChangedOut>),
}

/// The maintenance endpoints (write scope).
pub struct MaintenanceApi {
    /// The job use cases.
    pub service: JobService,
}

#[OpenApi]
impl MaintenanceApi {
    /// Pause every active job of your tenant, or those whose name starts with `name_prefix`
    /// (exactly, case included), in one transaction: each records who, `note` and `until` as
    /// the pause of one job does (with `until`, they resume by themselves then).
    #[oai(
        path = "/scheduler/maintenance/pause",
        method = "post",
        tag = "ApiTags::Maintenance",
        operation_id = "pauseMany"
    )]
    async fn pause(
        &self,
        caller: Caller<Write>,
        /// Only jobs whose name starts with this (e.g. `etl-`); every job without it.
        name_prefix: Query<Option<RawParam<String>>>,
        /// Why, at most 1,000 characters (e.g. `database upgrade`).
        note: Query<Option<RawParam<String>>>,
        /// Resume them by themselves at this instant (RFC 3339, in the future).
        until: Query<Option<RawParam<String>>>,
    ) -> Result<Changed, OpError<errors::Maintenance>> {
        let until = parse_until(raw(&until.0))?;
        let paused = self
            .service
            .acting_as(caller.into_principal())
            .pause_matching(raw(&name_prefix.0), raw(&note.0), until)
            .await?;
        Ok(Changed::Jobs(FastJson(paused.into())))
    }

    /// Resume every paused job of your tenant, or those whose name starts with
    /// `name_prefix`, in one transaction; each job's next run is computed from now.
    #[oai(
        path = "/scheduler/maintenance/resume",
        method = "post",
        tag = "ApiTags::Maintenance",
        operation_id = "resumeMany"
    )]
    async fn resume(
        &self,
        caller: Caller<Write>,
        /// Only jobs whose name starts with this; every paused job without it.
        name_prefix: Query<Option<RawParam<String>>>,
    ) -> Result<Changed, OpError<errors::Maintenance>> {
        let resumed = self
            .service
            .acting_as(caller.into_principal())
            .resume_matching(raw(&name_prefix.0))
            .await?;
        Ok(Changed::Jobs(FastJson(resumed.into())))
    }
}
