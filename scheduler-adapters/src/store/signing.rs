//! `SeaOrmSigningStore`: the `SigningStore` port over the `signing_secrets` table.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::{RepositoryError, SigningSecret, SigningStore, Tenant};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection, QueryOrder,
    Statement, TransactionTrait,
};

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

    async fn create_first(
        &self,
        tenant: &Tenant,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        // INSERT ... ON CONFLICT (tenant) WHERE expires_at IS NULL DO NOTHING: the partial
        // unique index decides which of racing first uses stores its secret.
        let row = ActiveModel {
            id: ActiveValue::NotSet,
            tenant: ActiveValue::Set(tenant.as_str().to_string()),
            secret: ActiveValue::Set(secret.to_string()),
            created_at: ActiveValue::Set(micros(now)),
            expires_at: ActiveValue::Set(None),
        };
        Entity::insert(row)
            .on_conflict(
                OnConflict::column(Column::Tenant)
                    .target_cond_where(Column::ExpiresAt.is_null())
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(repository_error)?;
        Ok(())
    }

    async fn rotate(
        &self,
        tenant: &Tenant,
        secret: &str,
        now: DateTime<Utc>,
        expire_at: DateTime<Utc>,
    ) -> Result<SigningSecret, RepositoryError> {
        self.rotate_serialized(tenant, secret, now, expire_at)
            .await
            .map_err(repository_error)
    }
}

impl SeaOrmSigningStore {
    /// One rotation transaction, after any other rotation of the tenant: on PostgreSQL a
    /// transaction-level advisory lock per tenant (without it, a rotation whose update ran
    /// before another's commit would insert a second current secret, which the one-current
    /// index refuses); SQLite runs one writing transaction at a time anyway.
    async fn rotate_serialized(
        &self,
        tenant: &Tenant,
        secret: &str,
        now: DateTime<Utc>,
        expire_at: DateTime<Utc>,
    ) -> Result<SigningSecret, DbErr> {
        let txn = self.db.begin().await?;
        if txn.get_database_backend() == DatabaseBackend::Postgres {
            txn.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_advisory_xact_lock(hashtext($1))",
                [format!("signing_secrets:{}", tenant.as_str()).into()],
            ))
            .await?;
        }
        Entity::update_many()
            .col_expr(Column::ExpiresAt, Expr::value(micros(expire_at)))
            .filter(Column::Tenant.eq(tenant.as_str()))
            .filter(
                Condition::any()
                    .add(Column::ExpiresAt.is_null())
                    .add(Column::ExpiresAt.gt(micros(expire_at))),
            )
            .exec(&txn)
            .await?;
        let row = ActiveModel {
            id: ActiveValue::NotSet,
            tenant: ActiveValue::Set(tenant.as_str().to_string()),
            secret: ActiveValue::Set(secret.to_string()),
            created_at: ActiveValue::Set(micros(now)),
            expires_at: ActiveValue::Set(None),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        into_secret(row).map_err(|error| DbErr::Custom(error.to_string()))
    }
}
