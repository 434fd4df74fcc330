//! `SeaOrmKeyStore`: the `KeyStore` port over the `api_keys` table, and `CachedKeyStore`,
//! which answers repeated lookups of the same key from memory for a bounded time.
//!
//! Every request with a key is one lookup by hash. The cache keeps each answer (found or not)
//! for at most its time-to-live, so a revoked key is refused by every replica within that
//! time, and a flood of wrong keys costs one query per distinct key per period.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::{ApiKey, KeyStore, NewApiKey, RepositoryError, Scope, Tenant, WireEnum};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue, DatabaseConnection, QueryOrder};

use super::{micros, repository_error};

/// The sea-orm entity of `api_keys`.
mod entity {
    use sea_orm::entity::prelude::*;

    /// One row of `api_keys`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_keys")]
    pub(crate) struct Model {
        /// Identity.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// Tenant.
        pub tenant: String,
        /// Name.
        pub name: String,
        /// `read`, `write` or `admin`.
        pub scope: String,
        /// First characters of the key.
        pub prefix: String,
        /// SHA-256 of the key.
        pub hash: String,
        /// Creation instant.
        pub created_at: DateTimeUtc,
        /// Revocation instant.
        pub revoked_at: Option<DateTimeUtc>,
    }

    /// Not navigated.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity, Model};

fn into_key(row: Model) -> Result<ApiKey, RepositoryError> {
    let corrupt = |field: &str| {
        RepositoryError::Unavailable(format!("key {} has an invalid stored {field}", row.id))
    };
    Ok(ApiKey {
        id: row.id,
        tenant: Tenant::parse(&row.tenant).map_err(|_| corrupt("tenant"))?,
        scope: Scope::parse(&row.scope).map_err(|_| corrupt("scope"))?,
        name: row.name,
        prefix: row.prefix,
        created_at: row.created_at,
        revoked_at: row.revoked_at,
    })
}

/// API keys in PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SeaOrmKeyStore {
    /// The pool.
    db: DatabaseConnection,
}

impl SeaOrmKeyStore {
    /// A store over `db` (migrated).
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl KeyStore for SeaOrmKeyStore {
    async fn insert(&self, key: NewApiKey) -> Result<ApiKey, RepositoryError> {
        let row = ActiveModel {
            id: ActiveValue::NotSet,
            tenant: ActiveValue::Set(key.tenant.as_str().to_string()),
            name: ActiveValue::Set(key.name),
            scope: ActiveValue::Set(key.scope.as_str().to_string()),
            prefix: ActiveValue::Set(key.prefix),
            hash: ActiveValue::Set(key.hash),
            created_at: ActiveValue::Set(micros(key.created_at)),
            revoked_at: ActiveValue::Set(None),
        }
        .insert(&self.db)
        .await
        .map_err(repository_error)?;
        into_key(row)
    }

    async fn find_active(&self, hash: &str) -> Result<Option<ApiKey>, RepositoryError> {
        Entity::find()
            .filter(Column::Hash.eq(hash))
            .filter(Column::RevokedAt.is_null())
            .one(&self.db)
            .await
            .map_err(repository_error)?
            .map(into_key)
            .transpose()
    }

    async fn list(&self, tenant: Option<Tenant>) -> Result<Vec<ApiKey>, RepositoryError> {
        let mut query = Entity::find().order_by_asc(Column::Id);
        if let Some(tenant) = tenant {
            query = query.filter(Column::Tenant.eq(tenant.as_str()));
        }
        query
            .all(&self.db)
            .await
            .map_err(repository_error)?
            .into_iter()
            .map(into_key)
            .collect()
    }

    async fn revoke(
        &self,
        id: i64,
        tenant: Option<Tenant>,
        at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let mut update = Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(micros(at)))
            .filter(Column::Id.eq(id))
            .filter(Column::RevokedAt.is_null());
        if let Some(tenant) = tenant {
            update = update.filter(Column::Tenant.eq(tenant.as_str()));
        }
        let result = update.exec(&self.db).await.map_err(repository_error)?;
        Ok(result.rows_affected == 1)
    }

    async fn any_active(&self) -> Result<bool, RepositoryError> {
        let found = Entity::find()
            .filter(Column::RevokedAt.is_null())
            .one(&self.db)
            .await
            .map_err(repository_error)?;
        Ok(found.is_some())
    }
}

/// A [`KeyStore`] that remembers lookups (`find_active`, `any_active`) for `ttl`; writes go
/// through and clear what this process remembers.
#[derive(Clone)]
pub struct CachedKeyStore {
    /// The store.
    inner: Arc<dyn KeyStore>,
    /// Lookups by hash.
    found: moka::sync::Cache<String, Option<ApiKey>>,
    /// Whether any key exists.
    any: moka::sync::Cache<(), bool>,
}

impl CachedKeyStore {
    /// Caches `inner`'s lookups for `ttl` (at most 100,000 distinct keys).
    pub fn new(inner: Arc<dyn KeyStore>, ttl: Duration) -> Self {
        Self {
            inner,
            found: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            any: moka::sync::Cache::builder().time_to_live(ttl).build(),
        }
    }

    fn forget(&self) {
        self.found.invalidate_all();
        self.any.invalidate_all();
    }
}

#[async_trait]
impl KeyStore for CachedKeyStore {
    async fn insert(&self, key: NewApiKey) -> Result<ApiKey, RepositoryError> {
        let result = self.inner.insert(key).await;
        self.forget();
        result
    }

    async fn find_active(&self, hash: &str) -> Result<Option<ApiKey>, RepositoryError> {
        if let Some(known) = self.found.get(hash) {
            return Ok(known);
        }
        let found = self.inner.find_active(hash).await?;
        self.found.insert(hash.to_string(), found.clone());
        Ok(found)
    }

    async fn list(&self, tenant: Option<Tenant>) -> Result<Vec<ApiKey>, RepositoryError> {
        self.inner.list(tenant).await
    }

    async fn revoke(
        &self,
        id: i64,
        tenant: Option<Tenant>,
        at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let result = self.inner.revoke(id, tenant, at).await;
        self.forget();
        result
    }

    async fn any_active(&self) -> Result<bool, RepositoryError> {
        if let Some(any) = self.any.get(&()) {
            return Ok(any);
        }
        let any = self.inner.any_active().await?;
        self.any.insert((), any);
        Ok(any)
    }
}
