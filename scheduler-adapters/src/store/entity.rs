//! The sea-orm entity of the `jobs` table and its conversion to and from the core `Job`.

use scheduler_core::{
    Description, Job, JobId, JobName, JobSpec, Parameters, RepositoryError, Timezone,
};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::schedules::parsed_schedule;

/// One row of `jobs`, as the database stores it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    /// Identity.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Unique name.
    #[sea_orm(unique)]
    pub name: String,
    /// Free text.
    pub description: String,
    /// The 5-field expression as written.
    pub cron_expression: String,
    /// IANA zone name.
    pub timezone: String,
    /// No fire before.
    pub start_time: DateTimeUtc,
    /// No fire after.
    pub end_time: Option<DateTimeUtc>,
    /// Last fire.
    pub last_run: Option<DateTimeUtc>,
    /// Next fire; `NULL` when it never fires.
    pub next_run: Option<DateTimeUtc>,
    /// JSON object (jsonb on PostgreSQL, text on SQLite).
    #[sea_orm(column_type = "JsonBinary")]
    pub parameters: Json,
    /// Paused when false.
    pub is_active: bool,
    /// Creation instant.
    pub created_at: DateTimeUtc,
    /// Last change instant.
    pub updated_at: DateTimeUtc,
}

/// `jobs` has no relations yet.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A stored row that no longer validates is reported, not trusted.
fn corrupt(id: i64, field: &str, message: impl std::fmt::Display) -> RepositoryError {
    RepositoryError::Unavailable(format!("job {id} has an invalid stored {field}: {message}"))
}

impl Model {
    /// The core job this row stores, every value validated again (a row written by another
    /// version or by hand is not trusted).
    ///
    /// # Errors
    /// `Unavailable` naming the field when a stored value is invalid.
    pub(crate) fn into_job(self) -> Result<Job, RepositoryError> {
        let id = self.id;
        let spec = JobSpec {
            name: JobName::parse(&self.name).map_err(|e| corrupt(id, "name", e))?,
            description: Description::parse(&self.description)
                .map_err(|e| corrupt(id, "description", e))?,
            schedule: parsed_schedule(&self.cron_expression)
                .map_err(|e| corrupt(id, "cron_expression", e))?,
            timezone: Timezone::parse(&self.timezone).map_err(|e| corrupt(id, "timezone", e))?,
            start_time: self.start_time,
            end_time: self.end_time,
            parameters: Parameters::parse(self.parameters)
                .map_err(|e| corrupt(id, "parameters", e))?,
            is_active: self.is_active,
        };
        Ok(Job {
            id: JobId(id),
            spec,
            last_run: self.last_run,
            next_run: self.next_run,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    /// The row that stores `job` (used by caches that keep rows, so a cached read converts
    /// exactly as a database read does).
    pub(crate) fn from_job(job: &Job) -> Self {
        Self {
            id: job.id.0,
            name: job.spec.name.as_str().to_string(),
            description: job.spec.description.as_str().to_string(),
            cron_expression: job.spec.schedule.expression().to_string(),
            timezone: job.spec.timezone.name().to_string(),
            start_time: job.spec.start_time,
            end_time: job.spec.end_time,
            last_run: job.last_run,
            next_run: job.next_run,
            parameters: job.spec.parameters.clone().into(),
            is_active: job.spec.is_active,
            created_at: job.created_at,
            updated_at: job.updated_at,
        }
    }
}
