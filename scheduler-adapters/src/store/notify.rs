//! `SeaOrmChannelStore` and `SeaOrmOutbox`: the channel and outbox ports over sea-orm, for
//! PostgreSQL and SQLite. A claim locks due notifications with `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL (SQLite's one writer serializes claims), marks them `sending` with the lease's
//! end as their `next_attempt_at`, and counts the attempt, in one transaction.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::{
    AlertEvent, Channel, ChannelName, ChannelStore, ClaimedNotification, Conflict, Notification,
    NotificationQuery, NotificationStatus, Outbox, OutboxDepth, RepositoryError, Settlement,
    Tenant, WireEnum,
};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, DatabaseConnection, DbBackend, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};

use super::notify_entity::{channels, notifications};
use super::{begin_write, micros, repository_error};

fn db<T>(result: Result<T, sea_orm::DbErr>) -> Result<T, RepositoryError> {
    result.map_err(repository_error)
}

/// Channels stored in PostgreSQL or SQLite through one sea-orm connection pool.
#[derive(Clone)]
pub struct SeaOrmChannelStore {
    /// The pool; cheap to clone.
    db: DatabaseConnection,
}

impl SeaOrmChannelStore {
    /// A store over an open pool whose schema is migrated.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl ChannelStore for SeaOrmChannelStore {
    async fn list(&self, tenant: &Tenant) -> Result<Vec<Channel>, RepositoryError> {
        db(channels::Entity::find()
            .filter(channels::Column::Tenant.eq(tenant.as_str()))
            .order_by_asc(channels::Column::Name)
            .all(&self.db)
            .await)?
        .into_iter()
        .map(channels::Model::into_channel)
        .collect()
    }

    async fn find(
        &self,
        tenant: &Tenant,
        name: &ChannelName,
    ) -> Result<Option<Channel>, RepositoryError> {
        db(channels::Entity::find()
            .filter(channels::Column::Tenant.eq(tenant.as_str()))
            .filter(channels::Column::Name.eq(name.as_str()))
            .one(&self.db)
            .await)?
        .map(channels::Model::into_channel)
        .transpose()
    }

    async fn save(
        &self,
        channel: Channel,
        replace: bool,
    ) -> Result<(Channel, bool), RepositoryError> {
        let txn = begin_write(&self.db).await?;
        let mut existing = channels::Entity::find()
            .filter(channels::Column::Tenant.eq(channel.tenant.as_str()))
            .filter(channels::Column::Name.eq(channel.def.name.as_str()));
        if self.db.get_database_backend() == DbBackend::Postgres {
            existing = existing.lock(LockType::Update);
        }
        let existing = db(existing.one(&txn).await)?;
        let (stored, created) = match existing {
            Some(_) if !replace => return Err(RepositoryError::Conflict(Conflict::ChannelName)),
            Some(old) => {
                let kept = channels::Model {
                    id: old.id,
                    created_at: old.created_at,
                    created_by: old.created_by.clone(),
                    ..channels::Model::from_channel(&channel)
                };
                let mut active = kept.into_active_model().reset_all();
                active.id = sea_orm::ActiveValue::Unchanged(old.id);
                active.created_at = sea_orm::ActiveValue::Unchanged(old.created_at);
                active.created_by = sea_orm::ActiveValue::Unchanged(old.created_by);
                (db(active.update(&txn).await)?, false)
            }
            None => {
                // A concurrent create of the same name loses on the unique constraint.
                let mut row = channels::Model::from_channel(&channel)
                    .into_active_model()
                    .reset_all();
                row.id = NotSet;
                (db(row.insert(&txn).await)?, true)
            }
        };
        db(txn.commit().await)?;
        Ok((stored.into_channel()?, created))
    }

    async fn delete(&self, tenant: &Tenant, name: &ChannelName) -> Result<(), RepositoryError> {
        let deleted = db(channels::Entity::delete_many()
            .filter(channels::Column::Tenant.eq(tenant.as_str()))
            .filter(channels::Column::Name.eq(name.as_str()))
            .exec(&self.db)
            .await)?;
        if deleted.rows_affected == 0 {
            return Err(RepositoryError::NotFound);
        }
        Ok(())
    }
}

/// The notification outbox in PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SeaOrmOutbox {
    /// The pool; cheap to clone.
    db: DatabaseConnection,
}

impl SeaOrmOutbox {
    /// An outbox over an open pool whose schema is migrated.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// The statuses of notifications still to deliver.
const UNDELIVERED: [&str; 2] = ["pending", "sending"];

#[async_trait]
impl Outbox for SeaOrmOutbox {
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedNotification>, RepositoryError> {
        let txn = begin_write(&self.db).await?;
        let mut due = notifications::Entity::find()
            .filter(notifications::Column::Status.is_in(UNDELIVERED))
            .filter(notifications::Column::NextAttemptAt.lte(micros(now)))
            .order_by_asc(notifications::Column::NextAttemptAt)
            .order_by_asc(notifications::Column::Id)
            .limit(u64::from(limit));
        if self.db.get_database_backend() == DbBackend::Postgres {
            due = due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = db(due.all(&txn).await)?;
        if rows.is_empty() {
            db(txn.commit().await)?;
            return Ok(Vec::new());
        }
        let until =
            micros(now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX));
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        db(notifications::Entity::update_many()
            .col_expr(
                notifications::Column::Status,
                Expr::value(NotificationStatus::Sending.as_str()),
            )
            .col_expr(notifications::Column::NextAttemptAt, Expr::value(until))
            .col_expr(
                notifications::Column::Attempts,
                Expr::col(notifications::Column::Attempts).add(1),
            )
            .filter(notifications::Column::Id.is_in(ids))
            .exec(&txn)
            .await)?;
        let channel_ids: Vec<i64> = rows.iter().map(|row| row.channel_id).collect();
        let mut channels_by_id: HashMap<i64, Channel> = HashMap::new();
        for row in db(channels::Entity::find()
            .filter(channels::Column::Id.is_in(channel_ids))
            .all(&txn)
            .await)?
        {
            let channel = row.into_channel()?;
            channels_by_id.insert(channel.id, channel);
        }
        db(txn.commit().await)?;
        rows.into_iter()
            .map(|row| {
                let channel = channels_by_id.get(&row.channel_id).cloned();
                let mut notification = row.into_notification()?;
                notification.status = NotificationStatus::Sending;
                notification.attempts = notification.attempts.saturating_add(1);
                notification.next_attempt_at = until;
                Ok(ClaimedNotification {
                    notification,
                    channel,
                })
            })
            .collect()
    }

    async fn settle(&self, id: i64, settlement: &Settlement) -> Result<(), RepositoryError> {
        let update = notifications::Entity::update_many();
        let update = match settlement {
            Settlement::Sent(at) => update
                .col_expr(notifications::Column::Status, Expr::value("sent"))
                .col_expr(
                    notifications::Column::SentAt,
                    Expr::value(Some(micros(*at))),
                )
                .col_expr(
                    notifications::Column::LastError,
                    Expr::value(None::<String>),
                ),
            Settlement::Retry(at, error) => update
                .col_expr(notifications::Column::Status, Expr::value("pending"))
                .col_expr(
                    notifications::Column::NextAttemptAt,
                    Expr::value(micros(*at)),
                )
                .col_expr(
                    notifications::Column::LastError,
                    Expr::value(Some(bounded(error))),
                ),
            Settlement::Failed(error) => update
                .col_expr(notifications::Column::Status, Expr::value("failed"))
                .col_expr(
                    notifications::Column::LastError,
                    Expr::value(Some(bounded(error))),
                ),
        };
        db(update
            .filter(notifications::Column::Id.eq(id))
            .filter(notifications::Column::Status.eq("sending"))
            .exec(&self.db)
            .await)?;
        Ok(())
    }

    async fn enqueue(
        &self,
        channel: &Channel,
        event: &AlertEvent,
        now: DateTime<Utc>,
    ) -> Result<i64, RepositoryError> {
        let mut row = notifications::Model::new_for(channel, event, now)
            .into_active_model()
            .reset_all();
        row.id = NotSet;
        Ok(db(row.insert(&self.db).await)?.id)
    }

    async fn list(&self, query: &NotificationQuery) -> Result<Vec<Notification>, RepositoryError> {
        let mut select = notifications::Entity::find()
            .filter(notifications::Column::Tenant.eq(query.tenant.as_str()));
        if let Some(status) = query.status {
            select = select.filter(notifications::Column::Status.eq(status.as_str()));
        }
        if let Some(job) = query.job_id {
            select = select.filter(notifications::Column::JobId.eq(job));
        }
        if let Some(before) = query.before_id {
            select = select.filter(notifications::Column::Id.lt(before));
        }
        db(select
            .order_by_desc(notifications::Column::Id)
            .limit(u64::from(query.limit))
            .all(&self.db)
            .await)?
        .into_iter()
        .map(notifications::Model::into_notification)
        .collect()
    }

    async fn prune(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, RepositoryError> {
        let ids = self.settled_before(before, limit).await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let deleted = db(notifications::Entity::delete_many()
            .filter(notifications::Column::Id.is_in(ids))
            .exec(&self.db)
            .await)?;
        Ok(deleted.rows_affected)
    }

    async fn depth(&self) -> Result<OutboxDepth, RepositoryError> {
        let row: Option<(i64, Option<DateTime<Utc>>)> = db(notifications::Entity::find()
            .select_only()
            .column_as(Expr::cust("count(*)"), "n")
            .column_as(notifications::Column::CreatedAt.min(), "oldest")
            .filter(notifications::Column::Status.is_in(UNDELIVERED))
            .into_tuple()
            .one(&self.db)
            .await)?;
        let (count, oldest) = row.unwrap_or((0, None));
        Ok(OutboxDepth {
            undelivered: u64::try_from(count).unwrap_or(0),
            oldest,
        })
    }
}

impl SeaOrmOutbox {
    /// The ids of up to `limit` settled notifications made before `before`, oldest first.
    async fn settled_before(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<i64>, RepositoryError> {
        db(notifications::Entity::find()
            .select_only()
            .column(notifications::Column::Id)
            .filter(notifications::Column::Status.is_in(["sent", "failed"]))
            .filter(notifications::Column::CreatedAt.lt(micros(before)))
            .order_by_asc(notifications::Column::Id)
            .limit(u64::from(limit))
            .into_tuple()
            .all(&self.db)
            .await)
    }
}

/// An error text bounded to 1 KiB (at a character boundary).
fn bounded(text: &str) -> String {
    let mut end = text.len().min(1024);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}
