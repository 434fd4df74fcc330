//! Tenants: every job belongs to one (`jobs.tenant`, `default` for every existing job), and a
//! job's name is unique within its tenant, not across tenants (`UNIQUE (tenant, name)`
//! replaces `UNIQUE (name)`). `jobs_tenant_id_idx` serves a tenant's list in id order.
//!
//! SQLite cannot drop a table constraint, so there `jobs` is rebuilt: a new table is filled
//! from the old one. `job_runs` references `jobs`, and dropping a referenced table with
//! foreign keys on would cascade-delete every run, so `job_runs` is rebuilt alongside it
//! (pointing at the new table) before the old tables are dropped; the renames then carry the
//! reference over. The whole migration is one transaction on both backends.

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// `jobs.tenant` and the per-tenant unique name.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN tenant VARCHAR(64) NOT NULL DEFAULT 'default'",
    "ALTER TABLE jobs DROP CONSTRAINT jobs_name_key",
    "ALTER TABLE jobs ADD CONSTRAINT jobs_tenant_name_key UNIQUE (tenant, name)",
    "CREATE INDEX jobs_tenant_id_idx ON jobs (tenant, id)",
];

/// Every column of `jobs` before this migration, in order.
const SQLITE_JOB_COLUMNS: &str = "id, name, description, cron_expression, timezone, \
    start_time, end_time, last_run, next_run, parameters, is_active, created_at, updated_at, \
    misfire_policy, misfire_grace_seconds, concurrency_policy, max_retries, \
    retry_backoff_seconds, timeout_seconds, target, last_status, last_error, source, \
    created_by, updated_by";

const SQLITE_CREATE: &[&str] = &[
    r#"CREATE TABLE jobs_new (
        id                    INTEGER PRIMARY KEY AUTOINCREMENT,
        name                  TEXT NOT NULL,
        description           TEXT NOT NULL DEFAULT '',
        cron_expression       TEXT NOT NULL,
        timezone              TEXT NOT NULL DEFAULT 'UTC',
        start_time            TEXT NOT NULL,
        end_time              TEXT NULL,
        last_run              TEXT NULL,
        next_run              TEXT NULL,
        parameters            TEXT NOT NULL DEFAULT '{}',
        is_active             BOOLEAN NOT NULL DEFAULT 1,
        created_at            TEXT NOT NULL,
        updated_at            TEXT NOT NULL,
        misfire_policy        TEXT NOT NULL DEFAULT 'fire_once',
        misfire_grace_seconds INTEGER NOT NULL DEFAULT 60,
        concurrency_policy    TEXT NOT NULL DEFAULT 'allow',
        max_retries           INTEGER NOT NULL DEFAULT 0,
        retry_backoff_seconds INTEGER NOT NULL DEFAULT 10,
        timeout_seconds       INTEGER NOT NULL DEFAULT 300,
        target                TEXT NULL,
        last_status           TEXT NULL,
        last_error            TEXT NULL,
        source                TEXT NOT NULL DEFAULT 'api',
        created_by            TEXT NULL,
        updated_by            TEXT NULL{TENANT}
    )"#,
    r#"CREATE TABLE job_runs_new (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id        INTEGER NOT NULL REFERENCES jobs_new (id) ON DELETE CASCADE,
        scheduled_for TEXT NOT NULL,
        trigger       TEXT NOT NULL,
        attempt       INTEGER NOT NULL,
        retries       INTEGER NOT NULL DEFAULT 0,
        status        TEXT NOT NULL,
        started_at    TEXT NOT NULL,
        finished_at   TEXT NULL,
        heartbeat_at  TEXT NOT NULL,
        retry_at      TEXT NULL,
        error         TEXT NULL,
        worker        TEXT NOT NULL,
        CONSTRAINT job_runs_fire_key UNIQUE (job_id, scheduled_for, attempt)
    )"#,
];

const SQLITE_FINISH: &[&str] = &[
    "INSERT INTO job_runs_new (id, job_id, scheduled_for, trigger, attempt, retries, status, \
     started_at, finished_at, heartbeat_at, retry_at, error, worker) SELECT id, job_id, \
     scheduled_for, trigger, attempt, retries, status, started_at, finished_at, heartbeat_at, \
     retry_at, error, worker FROM job_runs",
    "DROP TABLE job_runs",
    "DROP TABLE jobs",
    "ALTER TABLE jobs_new RENAME TO jobs",
    "ALTER TABLE job_runs_new RENAME TO job_runs",
    "CREATE INDEX jobs_due_idx ON jobs (next_run) WHERE is_active",
    "CREATE INDEX jobs_is_active_idx ON jobs (is_active)",
    "CREATE INDEX jobs_created_at_idx ON jobs (created_at)",
    "CREATE INDEX jobs_code_source_idx ON jobs (id) WHERE source = 'code'",
    "CREATE INDEX job_runs_job_idx ON job_runs (job_id, id DESC)",
    "CREATE INDEX job_runs_running_idx ON job_runs (heartbeat_at) WHERE status = 'running'",
    "CREATE INDEX job_runs_retry_idx ON job_runs (retry_at) WHERE retry_at IS NOT NULL",
    "CREATE INDEX job_runs_scheduled_idx ON job_runs (scheduled_for)",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX jobs_tenant_id_idx",
    "ALTER TABLE jobs DROP CONSTRAINT jobs_tenant_name_key",
    "ALTER TABLE jobs ADD CONSTRAINT jobs_name_key UNIQUE (name)",
    "ALTER TABLE jobs DROP COLUMN tenant",
];

/// The SQLite statements that rebuild `jobs` (with `tenant` and the per-tenant unique name,
/// or without them, going down) and `job_runs` beside it, keeping every row.
fn sqlite_rebuild(with_tenant: bool) -> Vec<String> {
    let (tenant_ddl, tenant_column, tenant_value) = if with_tenant {
        (
            ",\n        tenant                TEXT NOT NULL DEFAULT 'default',\n        \
             CONSTRAINT jobs_tenant_name_key UNIQUE (tenant, name)",
            ", tenant",
            ", 'default'",
        )
    } else {
        (",\n        CONSTRAINT jobs_name_key UNIQUE (name)", "", "")
    };
    let mut statements: Vec<String> = SQLITE_CREATE
        .iter()
        .map(|ddl| ddl.replace("{TENANT}", tenant_ddl))
        .collect();
    statements.push(format!(
        "INSERT INTO jobs_new ({SQLITE_JOB_COLUMNS}{tenant_column}) \
         SELECT {SQLITE_JOB_COLUMNS}{tenant_value} FROM jobs"
    ));
    statements.extend(SQLITE_FINISH.iter().map(|s| (*s).to_string()));
    if with_tenant {
        statements.push("CREATE INDEX jobs_tenant_id_idx ON jobs (tenant, id)".into());
    }
    statements
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sqlite = sqlite_rebuild(true);
        let sqlite: Vec<&str> = sqlite.iter().map(String::as_str).collect();
        run_for_backend(manager, POSTGRES_UP, &sqlite).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Fails (and changes nothing) when two tenants have jobs of the same name.
        let sqlite = sqlite_rebuild(false);
        let sqlite: Vec<&str> = sqlite.iter().map(String::as_str).collect();
        run_for_backend(manager, POSTGRES_DOWN, &sqlite).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
