//! `SeaOrmCalendarStore`: the `CalendarStore` port over sea-orm, for PostgreSQL and SQLite.
//! Writing a calendar rewrites, in the same transaction, every job of the tenant that lists
//! it (rows locked on PostgreSQL; SQLite's one writer serialises the rest), as the core's
//! `Job::with_calendar` makes it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::{
    Calendar, CalendarName, CalendarSaved, CalendarStore, CalendarWrite, Conflict, JobId,
    RepositoryError, Tenant,
};
use sea_orm::sea_query::{LikeExpr, LockType};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbBackend, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::calendar_entity::{self as calendars, Model};
use super::entity::{self as jobs, calendars_text};
use super::{begin_write, like_literal, repository_error};

/// Calendars stored in PostgreSQL or SQLite through one sea-orm connection pool.
#[derive(Clone)]
pub struct SeaOrmCalendarStore {
    /// The pool; cheap to clone.
    db: DatabaseConnection,
}

impl SeaOrmCalendarStore {
    /// A store over an open pool whose schema is migrated.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// The jobs of `tenant` whose calendar copies mention `name`, rows locked on PostgreSQL (the
/// `LIKE` narrows; each job's list is checked exactly by the caller).
async fn jobs_mentioning(
    txn: &DatabaseTransaction,
    tenant: &Tenant,
    name: &CalendarName,
) -> Result<Vec<jobs::Model>, RepositoryError> {
    let pattern = format!("%\"name\":\"{}\"%", like_literal(name.as_str()));
    let mut select = jobs::Entity::find()
        .filter(jobs::Column::Tenant.eq(tenant.as_str()))
        .filter(jobs::Column::Calendars.like(LikeExpr::new(pattern).escape('\\')))
        .order_by_asc(jobs::Column::Id);
    if txn.get_database_backend() == DbBackend::Postgres {
        select = select.lock(LockType::Update);
    }
    select.all(txn).await.map_err(repository_error)
}

#[async_trait]
impl CalendarStore for SeaOrmCalendarStore {
    async fn list(&self, tenant: &Tenant) -> Result<Vec<Calendar>, RepositoryError> {
        calendars::Entity::find()
            .filter(calendars::Column::Tenant.eq(tenant.as_str()))
            .order_by_asc(calendars::Column::Name)
            .all(&self.db)
            .await
            .map_err(repository_error)?
            .into_iter()
            .map(Model::into_calendar)
            .collect()
    }

    async fn find(
        &self,
        tenant: &Tenant,
        names: &[CalendarName],
    ) -> Result<Vec<Calendar>, RepositoryError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        calendars::Entity::find()
            .filter(calendars::Column::Tenant.eq(tenant.as_str()))
            .filter(calendars::Column::Name.is_in(names.iter().map(CalendarName::as_str)))
            .order_by_asc(calendars::Column::Name)
            .all(&self.db)
            .await
            .map_err(repository_error)?
            .into_iter()
            .map(Model::into_calendar)
            .collect()
    }

    async fn save(
        &self,
        calendar: Calendar,
        write: CalendarWrite,
        now: DateTime<Utc>,
    ) -> Result<CalendarSaved, RepositoryError> {
        let txn = begin_write(&self.db).await?;
        let mut existing = calendars::Entity::find()
            .filter(calendars::Column::Tenant.eq(calendar.tenant.as_str()))
            .filter(calendars::Column::Name.eq(calendar.def.name.as_str()));
        if self.db.get_database_backend() == DbBackend::Postgres {
            existing = existing.lock(LockType::Update);
        }
        let existing = existing.one(&txn).await.map_err(repository_error)?;
        let (stored, created) = match (existing, write) {
            (Some(_), CalendarWrite::Create) => {
                return Err(RepositoryError::Conflict(Conflict::CalendarName));
            }
            (Some(old), CalendarWrite::Upsert) => {
                // Who created it, and when, stay.
                let kept = Model {
                    created_at: old.created_at,
                    created_by: old.created_by.clone(),
                    id: old.id,
                    ..Model::from_calendar(&calendar)
                };
                // A model converts to unchanged values: mark every column written, then keep
                // the identity and the creation record as they are.
                let mut active = kept.into_active_model().reset_all();
                active.id = sea_orm::ActiveValue::Unchanged(old.id);
                active.created_at = sea_orm::ActiveValue::Unchanged(old.created_at);
                active.created_by = sea_orm::ActiveValue::Unchanged(old.created_by);
                (active.update(&txn).await.map_err(repository_error)?, false)
            }
            (None, _) => {
                // A concurrent create of the same name loses on the unique constraint:
                // `Conflict(CalendarName)`.
                let mut row = Model::from_calendar(&calendar).into_active_model();
                row.id = NotSet;
                (row.insert(&txn).await.map_err(repository_error)?, true)
            }
        };
        let stored = stored.into_calendar()?;
        let mut changed = Vec::new();
        for row in jobs_mentioning(&txn, &stored.tenant, &stored.def.name).await? {
            let job = row.into_job()?;
            if !job.spec.calendars.names.contains(&stored.def.name) {
                continue;
            }
            let id = job.id;
            let job = job.with_calendar(&stored.def, now);
            let next = jobs::Model::from_job(&job);
            jobs::Entity::update_many()
                .col_expr(
                    jobs::Column::Calendars,
                    sea_orm::sea_query::Expr::value(calendars_text(&job.spec.calendars)),
                )
                .col_expr(
                    jobs::Column::NextRun,
                    sea_orm::sea_query::Expr::value(next.next_run),
                )
                .col_expr(
                    jobs::Column::NextFire,
                    sea_orm::sea_query::Expr::value(next.next_fire),
                )
                .filter(jobs::Column::Id.eq(id.0))
                .exec(&txn)
                .await
                .map_err(repository_error)?;
            changed.push(JobId(id.0));
        }
        txn.commit().await.map_err(repository_error)?;
        Ok(CalendarSaved {
            calendar: stored,
            created,
            jobs: changed,
        })
    }

    async fn delete(&self, tenant: &Tenant, name: &CalendarName) -> Result<(), RepositoryError> {
        let txn = begin_write(&self.db).await?;
        let users = jobs_mentioning(&txn, tenant, name).await?;
        for row in users {
            if row.into_job()?.spec.calendars.names.contains(name) {
                return Err(RepositoryError::Conflict(Conflict::CalendarInUse));
            }
        }
        let deleted = calendars::Entity::delete_many()
            .filter(calendars::Column::Tenant.eq(tenant.as_str()))
            .filter(calendars::Column::Name.eq(name.as_str()))
            .exec(&txn)
            .await
            .map_err(repository_error)?;
        if deleted.rows_affected == 0 {
            return Err(RepositoryError::NotFound);
        }
        txn.commit().await.map_err(repository_error)
    }
}
