//! What the store contract suites share: a migrated store of each backend (its job
//! repository and its one run store), a clock the test moves, and jobs made to order.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use scheduler_adapters::{DatabaseConfig, SeaOrmJobRepository, SeaOrmRunStore, connect};
use scheduler_core::{
    Clock, Job, JobDraft, JobRepository, NewJob, PolicyInput, Run, RunListRequest, RunStore,
};
use scheduler_migration::{Migrator, MigratorTrait};
use scheduler_test_support::{TestPostgres, TestSqlite};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::json;

/// A migrated store of one backend, and how to take it down.
pub(crate) struct Store {
    pub(crate) repo: SeaOrmJobRepository,
    /// The run store: one per database, as in a process (on SQLite the claim lock is in it).
    pub(crate) runs: Arc<SeaOrmRunStore>,
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
    /// The server's pool settings over `url`, migrated.
    pub(crate) async fn open(url: &str, backend: Backend) -> Store {
        let db = connect(&DatabaseConfig::new(url)).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        Store {
            repo: SeaOrmJobRepository::new(db.clone()),
            runs: Arc::new(SeaOrmRunStore::new(db.clone())),
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

    /// Inserts `job`, due at its `due`.
    pub(crate) async fn due_job(&self, job: DueJob<'_>) -> Job {
        let spec = JobDraft {
            name: Some(job.name.into()),
            cron_expression: Some(job.cron.into()),
            start_time: Some(utc("2025-01-01T00:00:00Z")),
            parameters: job.action.map(|action| json!({"action": action})),
            target: job.url.map(|url| json!({"type": "http", "url": url})),
            policy: job.policy,
            ..JobDraft::default()
        }
        .validate(job.due)
        .unwrap();
        self.repo
            .insert(NewJob {
                next_run: Some(job.due),
                next_fire: None,
                spec,
                created_at: job.due,
                tenant: job
                    .tenant
                    .map_or_else(scheduler_core::Tenant::default_tenant, |t| {
                        scheduler_core::Tenant::parse(t).unwrap()
                    }),
                created_by: None,
            })
            .await
            .unwrap()
    }

    /// The job's runs, oldest first (at most 500).
    pub(crate) async fn runs_of(&self, job: &Job) -> Vec<Run> {
        let query = RunListRequest {
            page_size: Some(500),
            job_id: Some(job.id.0),
            ..RunListRequest::default()
        }
        .validate()
        .unwrap();
        let mut runs = self
            .runs
            .list(&query.slice_for(None, None))
            .await
            .unwrap()
            .items;
        runs.reverse();
        runs
    }

    /// The job's stored `run_count`.
    pub(crate) async fn run_count(&self, job: &Job) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                format!("SELECT run_count FROM jobs WHERE id = {}", job.id.0),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }
}

/// A job for [`Store::due_job`]: yearly (`0 0 1 1 *`) from 2025, due at `due`, without
/// parameters, target or policy unless set.
pub(crate) struct DueJob<'a> {
    pub(crate) name: &'a str,
    pub(crate) due: DateTime<Utc>,
    pub(crate) cron: &'a str,
    /// `parameters.action`.
    pub(crate) action: Option<&'a str>,
    /// An HTTP target at this URL.
    pub(crate) url: Option<&'a str>,
    pub(crate) policy: PolicyInput,
    /// The tenant (default `default`).
    pub(crate) tenant: Option<&'a str>,
}

impl<'a> DueJob<'a> {
    /// `name`, yearly, due at `due`.
    pub(crate) fn new(name: &'a str, due: DateTime<Utc>) -> Self {
        Self {
            name,
            due,
            cron: "0 0 1 1 *",
            action: None,
            url: None,
            policy: PolicyInput::default(),
            tenant: None,
        }
    }
}

/// A clock the test moves by hand.
pub(crate) struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    /// A clock showing `at`.
    pub(crate) fn at(at: &str) -> Arc<TestClock> {
        Arc::new(TestClock(Mutex::new(utc(at))))
    }

    /// Moves it to `to`.
    pub(crate) fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap() = to;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
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
        next_run: spec.next_run(now, 0),
        next_fire: None,
        spec,
        created_at: now,
        tenant: scheduler_core::Tenant::default_tenant(),
        created_by: None,
    }
}
