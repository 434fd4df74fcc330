//! `SeaOrmAuditLog`: the `AuditLog` port over sea-orm, for PostgreSQL and SQLite: entries
//! appended, read newest first by id (an index range per tenant, so a later page costs no
//! more than the first).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::{AuditEntry, AuditLog, AuditQuery, AuditRecord, RepositoryError, WireEnum};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};

use super::audit_entity::{Column, Entity, Model};
use super::{micros, repository_error};

/// The audit trail stored in PostgreSQL or SQLite through one sea-orm connection pool.
#[derive(Clone)]
pub struct SeaOrmAuditLog {
    /// The pool; cheap to clone.
    db: DatabaseConnection,
}

impl SeaOrmAuditLog {
    /// A log over an open pool whose schema is migrated.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// Appends `record` inside `txn`: the entry of a change the store makes itself (an
/// auto-pause, a pause that ended) commits or rolls back with it.
pub(super) async fn record_in(
    txn: &sea_orm::DatabaseTransaction,
    record: &AuditRecord,
) -> Result<(), RepositoryError> {
    let mut row = Model::from_record(record).into_active_model().reset_all();
    row.id = NotSet;
    row.insert(txn).await.map_err(repository_error)?;
    Ok(())
}

#[async_trait]
impl AuditLog for SeaOrmAuditLog {
    async fn record(&self, record: AuditRecord) -> Result<(), RepositoryError> {
        let mut row = Model::from_record(&record).into_active_model().reset_all();
        row.id = NotSet;
        row.insert(&self.db).await.map_err(repository_error)?;
        Ok(())
    }

    async fn list(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, RepositoryError> {
        let mut select = Entity::find().filter(Column::Tenant.eq(query.tenant.as_str()));
        if let Some(kind) = query.kind {
            select = select.filter(Column::Kind.eq(kind.as_str()));
        }
        if let Some(subject) = &query.subject {
            select = select.filter(Column::Subject.eq(subject.as_str()));
        }
        if let Some(actor) = &query.actor {
            select = select.filter(Column::Actor.eq(actor.as_str()));
        }
        if let Some(since) = query.since {
            select = select.filter(Column::At.gte(since));
        }
        if let Some(until) = query.until {
            select = select.filter(Column::At.lt(until));
        }
        if let Some(before) = query.before_id {
            select = select.filter(Column::Id.lt(before));
        }
        select
            .order_by_desc(Column::Id)
            .limit(u64::from(query.limit))
            .all(&self.db)
            .await
            .map_err(repository_error)?
            .into_iter()
            .map(Model::into_entry)
            .collect()
    }

    async fn prune(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, RepositoryError> {
        // Ids grow with time: the oldest `limit` entries before the cutoff, by id.
        let ids: Vec<i64> = Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::At.lt(micros(before)))
            .order_by_asc(Column::Id)
            .limit(u64::from(limit))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(repository_error)?;
        if ids.is_empty() {
            return Ok(0);
        }
        let deleted = Entity::delete_many()
            .filter(Column::Id.is_in(ids))
            .exec(&self.db)
            .await
            .map_err(repository_error)?;
        Ok(deleted.rows_affected)
    }
}
