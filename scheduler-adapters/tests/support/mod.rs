//! What the store contract suites share: a migrated store of each backend and new jobs.
#![allow(dead_code)]
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use chrono::{DateTime, Utc};
use migration::{Migrator, MigratorTrait};
use scheduler_adapters::{DatabaseConfig, SeaOrmJobRepository, connect};
use scheduler_core::{JobDraft, NewJob};
use scheduler_test_support::{TestPostgres, TestSqlite};
use sea_orm::DatabaseConnection;

/// A migrated store of one backend, and how to take it down.
pub(crate) struct Store {
    pub(crate) repo: SeaOrmJobRepository,
    pub(crate) db: DatabaseConnection,
    pub(crate) backend: Backend,
    /// The database URL.
    url: String,
}

pub(crate) enum Backend {
    Sqlite(#[allow(dead_code)] TestSqlite),
    Postgres(Box<TestPostgres>),
}

impl Store {
    pub(crate) async fn open(url: &str, backend: Backend) -> Store {
        let mut config = DatabaseConfig::new(url);
        config.acquire_timeout = std::time::Duration::from_secs(2);
        let db = connect(&config).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        Store {
            repo: SeaOrmJobRepository::new(db.clone()),
            db,
            backend,
            url: url.to_string(),
        }
    }

    pub(crate) async fn sqlite() -> Option<Store> {
        let file = TestSqlite::new();
        let url = file.url.clone();
        Some(Store::open(&url, Backend::Sqlite(file)).await)
    }

    pub(crate) async fn postgres() -> Option<Store> {
        let pg = scheduler_test_support::postgres().await?;
        let url = pg.url.clone();
        Some(Store::open(&url, Backend::Postgres(Box::new(pg))).await)
    }

    /// The database URL.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Makes the database unreachable for this store's pool.
    pub(crate) async fn stop(&self) {
        match &self.backend {
            Backend::Sqlite(_) => self.db.clone().close().await.unwrap(),
            Backend::Postgres(pg) => pg.refuse_connections().await,
        }
    }
}

pub(crate) fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub(crate) fn new_job(name: &str) -> NewJob {
    let now = utc("2025-06-23T08:00:00.123456Z");
    let spec = JobDraft {
        name: Some(name.to_string()),
        cron_expression: Some("0 9 * * 1".to_string()),
        start_time: Some(utc("2025-06-23T09:00:00Z")),
        ..JobDraft::default()
    }
    .validate(now)
    .unwrap();
    NewJob {
        next_run: spec.next_run(now),
        spec,
        created_at: now,
        tenant: scheduler_core::Tenant::default_tenant(),
        created_by: None,
    }
}
