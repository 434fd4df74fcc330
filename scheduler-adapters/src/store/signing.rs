//! `SeaOrmSigningStore`: the `SigningStore` port over the `signing_secrets` table.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::{RepositoryError, SigningSecret, SigningStore, Tenant};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue, Condition, DatabaseConnection, QueryOrder, TransactionTrait};

use super::{micros, repository_error};

/// The sea-orm entity of `signing_secrets`.
mod entity {
    use sea_orm::entity::prelude::*;

    /// One row of `signing_secrets`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "signing_secrets")]
    pub(crate) struct Model {
        /// Identity.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// Tenant.
        pub tenant: String,
        /// The secret.
        pub secret: String,
        /// Creation instant.
        pub created_at: DateTimeUtc,
        /// End of validity.
        pub expires_at: Option<DateTimeUtc>,
    }

    /// Not navigated.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity, Model};

fn into_secret(row: Model) -> Result<SigningSecret, RepositoryError> {
    Ok(SigningSecret {
        id: row.id,
        tenant: Tenant::parse(&row.tenant).map_err(|_| {
            RepositoryError::Unavailable(format!("signing secret {} has a bad tenant", row.id))
        })?,
        secret: row.secret,
        created_at: row.created_at,
        expires_at: row.expires_at,
    })
}

/// Signing secrets in PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SeaOrmSigningStore {
    /// The pool.
    db: DatabaseConnection,
}

impl SeaOrmSigningStore {
    /// A store over `db` (migrated).
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn valid_at(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(Column::ExpiresAt.is_null())
        .add(Column::ExpiresAt.gt(micros(now)))
}

#[async_trait]
impl SigningStore for SeaOrmSigningStore {
    async fn valid(
        &self,
        tenant: &Tenant,
        now: DateTime<Utc>,
    ) -> Result<Vec<SigningSecret>, RepositoryError> {
        Entity::find()
            .filter(Column::Tenant.eq(tenant.as_str()))
            .filter(valid_at(now))
            .order_by_desc(Column::Id)
            .all(&self.db)
            .await
            .map_err(repository_error)?
            .into_iter()
            .map(into_secret)
            .collect()
    }

    async fn rotate(
        &self,
        tenant: &Tenant,
        secret: &str,
        now: DateTime<Utc>,
        expire_at: DateTime<Utc>,
    ) -> Result<SigningSecret, RepositoryError> {
        let txn = self.db.begin().await.map_err(repository_error)?;
        Entity::update_many()
            .col_expr(Column::ExpiresAt, Expr::value(micros(expire_at)))
            .filter(Column::Tenant.eq(tenant.as_str()))
            .filter(
                Condition::any()
                    .add(Column::ExpiresAt.is_null())
                    .add(Column::ExpiresAt.gt(micros(expire_at))),
            )
            .exec(&txn)
            .await
            .map_err(repository_error)?;
        let row = ActiveModel {
            id: ActiveValue::NotSet,
            tenant: ActiveValue::Set(tenant.as_str().to_string()),
            secret: ActiveValue::Set(secret.to_string()),
            created_at: ActiveValue::Set(micros(now)),
            expires_at: ActiveValue::Set(None),
        }
        .insert(&txn)
        .await
        .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        into_secret(row)
    }
}
