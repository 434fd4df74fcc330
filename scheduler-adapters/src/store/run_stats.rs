//! `SeaOrmRunStats`: the `RunStats` port over sea-orm, for PostgreSQL and SQLite — the runs
//! of a tenant's jobs serving fires since an instant, newest fires first, read from
//! `job_runs_scheduled_idx (scheduled_for)` and bounded by `LIMIT` ([`MAX_SAMPLES`] + 1, the
//! extra row telling that more matched). The core counts and computes percentiles.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::run_stats::MAX_SAMPLES;
use scheduler_core::{
    RepositoryError, RunSample, RunSamples, RunStats, RunStatus, RunTrigger, Tenant, WireEnum,
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use super::entity as jobs;
use super::run_entity as runs;
use super::{micros, repository_error};

/// The run statistics read from PostgreSQL or SQLite through one sea-orm connection pool.
#[derive(Clone)]
pub struct SeaOrmRunStats {
    /// The pool; cheap to clone.
    db: DatabaseConnection,
}

impl SeaOrmRunStats {
    /// Statistics over an open pool whose schema is migrated.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// One row as read: fire, due, start, status, trigger, attempt.
type Row = (
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    String,
    String,
    i32,
);

/// The sample a row stores.
fn sample(
    (scheduled_for, due_at, started_at, status, trigger, attempt): Row,
) -> Result<RunSample, RepositoryError> {
    let invalid = |field: &str, value: &str| {
        RepositoryError::Unavailable(format!("a run has an invalid stored {field}: {value:?}"))
    };
    Ok(RunSample {
        scheduled_for,
        due_at,
        started_at,
        status: RunStatus::parse(&status).map_err(|_| invalid("status", &status))?,
        trigger: RunTrigger::parse(&trigger).map_err(|_| invalid("trigger", &trigger))?,
        attempt,
    })
}

#[async_trait]
impl RunStats for SeaOrmRunStats {
    async fn runs_since(
        &self,
        tenant: &Tenant,
        since: DateTime<Utc>,
    ) -> Result<RunSamples, RepositoryError> {
        let limit = u64::try_from(MAX_SAMPLES)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let rows: Vec<Row> = runs::Entity::find()
            .select_only()
            .column(runs::Column::ScheduledFor)
            .column(runs::Column::DueAt)
            .column(runs::Column::StartedAt)
            .column(runs::Column::Status)
            .column(runs::Column::Trigger)
            .column(runs::Column::Attempt)
            .filter(runs::Column::ScheduledFor.gte(micros(since)))
            .filter(
                runs::Column::JobId.in_subquery(
                    jobs::Entity::find()
                        .select_only()
                        .column(jobs::Column::Id)
                        .filter(jobs::Column::Tenant.eq(tenant.as_str()))
                        .into_query(),
                ),
            )
            .order_by_desc(runs::Column::ScheduledFor)
            .order_by_desc(runs::Column::Id)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(repository_error)?;
        let truncated = rows.len() > MAX_SAMPLES;
        let samples = rows
            .into_iter()
            .take(MAX_SAMPLES)
            .map(sample)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RunSamples { samples, truncated })
    }
}
