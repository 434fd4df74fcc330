//! `SeaOrmJobRepository`: the `JobRepository` port over sea-orm, for PostgreSQL and SQLite.

use async_trait::async_trait;
use scheduler_core::{
    Job, JobId, JobPage, JobQuery, JobRepository, NewJob, OrderField, RepositoryError,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entity::{ActiveModel, Column, Entity, Model};
use super::repository_error;

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

/// Every column of `job` marked for writing (the row conversion is `Model::from_job`'s).
fn writable(job: &Job) -> ActiveModel {
    Model::from_job(job).into_active_model().reset_all()
}

#[async_trait]
impl JobRepository for SeaOrmJobRepository {
    async fn insert(&self, job: NewJob) -> Result<Job, RepositoryError> {
        let mut row = writable(&Job {
            id: JobId(0),
            spec: job.spec,
            last_run: None,
            next_run: job.next_run,
            created_at: job.created_at,
            updated_at: job.created_at,
        });
        // The database assigns the identity.
        row.id = NotSet;
        let row = row.insert(&self.db).await.map_err(repository_error)?;
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
        let row = writable(&job).update(&self.db).await.map_err(|e| match e {
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
