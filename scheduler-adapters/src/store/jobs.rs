//! `SeaOrmJobRepository`: the `JobRepository` port over sea-orm, for PostgreSQL and SQLite.

use async_trait::async_trait;
use scheduler_core::{
    HttpTarget, Job, JobId, JobPage, JobQuery, JobRepository, JobSpec, NewJob, OrderField,
    RepositoryError,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, DatabaseConnection,
    DbErr, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entity::{ActiveModel, Column, Entity, Model, clamp};
use super::{micros, repository_error};

/// Jobs stored in PostgreSQL or SQLite through one sea-orm connection pool.
#[derive(Clone)]
pub struct SeaOrmJobRepository {
    /// The pool; cheap to clone.
    db: DatabaseConnection,
}

impl SeaOrmJobRepository {
    /// A repository over an open pool whose schema is migrated.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn active_model(
    id: Option<JobId>,
    spec: JobSpec,
    last_run: Option<chrono::DateTime<chrono::Utc>>,
    next_run: Option<chrono::DateTime<chrono::Utc>>,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
) -> ActiveModel {
    ActiveModel {
        id: id.map_or(NotSet, |id| Set(id.0)),
        name: Set(spec.name.into()),
        description: Set(spec.description.into()),
        cron_expression: Set(spec.schedule.expression().to_string()),
        timezone: Set(spec.timezone.name().to_string()),
        start_time: Set(micros(spec.start_time)),
        end_time: Set(spec.end_time.map(micros)),
        last_run: Set(last_run.map(micros)),
        next_run: Set(next_run.map(micros)),
        parameters: Set(spec.parameters.into()),
        is_active: Set(spec.is_active),
        misfire_policy: Set(spec.policy.misfire.as_str().to_string()),
        misfire_grace_seconds: Set(clamp(spec.policy.misfire_grace_seconds)),
        concurrency_policy: Set(spec.policy.concurrency.as_str().to_string()),
        max_retries: Set(clamp(spec.policy.max_retries)),
        retry_backoff_seconds: Set(clamp(spec.policy.retry_backoff_seconds)),
        timeout_seconds: Set(clamp(spec.policy.timeout_seconds)),
        target: Set(spec.target.as_ref().map(HttpTarget::to_value)),
        created_at: Set(micros(created_at)),
        updated_at: Set(micros(updated_at)),
    }
}

#[async_trait]
impl JobRepository for SeaOrmJobRepository {
    async fn insert(&self, job: NewJob) -> Result<Job, RepositoryError> {
        let row = active_model(
            None,
            job.spec,
            None,
            job.next_run,
            job.created_at,
            job.created_at,
        )
        .insert(&self.db)
        .await
        .map_err(repository_error)?;
        row.into_job()
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, RepositoryError> {
        Entity::find_by_id(id.0)
            .one(&self.db)
            .await
            .map_err(repository_error)?
            .map(Model::into_job)
            .transpose()
    }

    async fn list(&self, query: &JobQuery) -> Result<JobPage, RepositoryError> {
        let mut select = Entity::find();
        if let Some(active) = query.is_active {
            select = select.filter(Column::IsActive.eq(active));
        }
        let total = select
            .clone()
            .count(&self.db)
            .await
            .map_err(repository_error)?;
        let order = if query.ordering.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        select = match query.ordering.field {
            OrderField::Id => select.order_by(Column::Id, order),
            OrderField::Name => select.order_by(Column::Name, order),
            // Both backends sort jobs that never fire last ascending (first descending).
            OrderField::NextRun => select
                .order_by(Expr::col(Column::NextRun).is_null(), order.clone())
                .order_by(Column::NextRun, order),
            OrderField::CreatedAt => select.order_by(Column::CreatedAt, order),
        };
        if query.ordering.field != OrderField::Id {
            select = select.order_by_asc(Column::Id);
        }
        let rows = select
            .offset(query.offset())
            .limit(query.page_size)
            .all(&self.db)
            .await
            .map_err(repository_error)?;
        let items = rows
            .into_iter()
            .map(Model::into_job)
            .collect::<Result<_, _>>()?;
        Ok(JobPage { total, items })
    }

    async fn update(&self, job: Job) -> Result<Job, RepositoryError> {
        let row = active_model(
            Some(job.id),
            job.spec,
            job.last_run,
            job.next_run,
            job.created_at,
            job.updated_at,
        )
        .update(&self.db)
        .await
        .map_err(|e| match e {
            DbErr::RecordNotUpdated | DbErr::RecordNotFound(_) => RepositoryError::NotFound,
            other => repository_error(other),
        })?;
        row.into_job()
    }

    async fn delete(&self, id: JobId) -> Result<(), RepositoryError> {
        let result = Entity::delete_by_id(id.0)
            .exec(&self.db)
            .await
            .map_err(repository_error)?;
        if result.rows_affected == 0 {
            return Err(RepositoryError::NotFound);
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), RepositoryError> {
        self.db.ping().await.map_err(repository_error)
    }
}
