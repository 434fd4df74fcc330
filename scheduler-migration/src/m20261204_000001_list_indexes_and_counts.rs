//! Lists whose cost does not grow with the table: exact job counts kept by the database, and
//! indexes that serve every job list (per tenant, per `is_active`, per ordering) as a range
//! scan.
//!
//! **Counts.** `job_counts (tenant, is_active, jobs)` holds how many jobs each tenant has,
//! active and paused. Triggers keep it in the same transaction as every write, so it is exact
//! under any concurrency and whatever path writes (the API, the embedding crate, SQL by hand):
//! - PostgreSQL: inserts and deletes update it once per *statement* (transition tables), so a
//!   coalesced batch of inserts costs one counter update; an update changes it only when a
//!   row's `tenant` or `is_active` changes (a pause, a resume); `TRUNCATE` empties it. Counter
//!   rows are always written in `(tenant, is_active)` order, so two writers cannot deadlock on
//!   them.
//! - SQLite (one process, one writer): the same rules with row triggers.
//!
//! **Indexes.** A list of one tenant is read as two range scans of one index, one per
//! `is_active` value, merged (see the store): `(tenant, is_active, <ordering column>, id)` for
//! `id`, `name`, `next_run` and `created_at`. They replace `jobs_is_active_idx`,
//! `jobs_created_at_idx` and `jobs_tenant_id_idx`, which no list could use for a tenant.
//!
//! **Shared secrets.** `shared_secrets (name, value)` holds values every replica of one
//! deployment must agree on and none may invent alone — the key that signs list cursors: the
//! first replica to start inserts it, the others read it (`ON CONFLICT DO NOTHING`).
//!
//! A later migration that rebuilds `jobs` on SQLite must recreate the triggers.

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// `job_counts`, its triggers, and the list indexes.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[
    r#"CREATE TABLE shared_secrets (
        name  VARCHAR(64) PRIMARY KEY,
        value TEXT NOT NULL
    )"#,
    r#"CREATE TABLE job_counts (
        tenant    VARCHAR(64) NOT NULL,
        is_active BOOLEAN NOT NULL,
        jobs      BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant, is_active)
    )"#,
    "INSERT INTO job_counts (tenant, is_active, jobs) \
     SELECT tenant, is_active, COUNT(*) FROM jobs GROUP BY tenant, is_active",
    r#"CREATE FUNCTION job_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO job_counts (tenant, is_active, jobs)
            SELECT tenant, is_active, COUNT(*) FROM inserted_jobs
            GROUP BY tenant, is_active ORDER BY tenant, is_active
        ON CONFLICT (tenant, is_active) DO UPDATE SET jobs = job_counts.jobs + EXCLUDED.jobs;
        RETURN NULL;
    END $$"#,
    r#"CREATE FUNCTION job_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO job_counts (tenant, is_active, jobs)
            SELECT tenant, is_active, -COUNT(*) FROM deleted_jobs
            GROUP BY tenant, is_active ORDER BY tenant, is_active
        ON CONFLICT (tenant, is_active) DO UPDATE SET jobs = job_counts.jobs + EXCLUDED.jobs;
        RETURN NULL;
    END $$"#,
    r#"CREATE FUNCTION job_counts_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO job_counts (tenant, is_active, jobs)
            SELECT t, a, d FROM (VALUES (OLD.tenant, OLD.is_active, -1),
                                        (NEW.tenant, NEW.is_active, 1)) AS moved (t, a, d)
            ORDER BY t, a
        ON CONFLICT (tenant, is_active) DO UPDATE SET jobs = job_counts.jobs + EXCLUDED.jobs;
        RETURN NULL;
    END $$"#,
    r#"CREATE FUNCTION job_counts_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM job_counts;
        RETURN NULL;
    END $$"#,
    "CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs \
     REFERENCING NEW TABLE AS inserted_jobs FOR EACH STATEMENT \
     EXECUTE FUNCTION job_counts_inserted()",
    "CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs \
     REFERENCING OLD TABLE AS deleted_jobs FOR EACH STATEMENT \
     EXECUTE FUNCTION job_counts_deleted()",
    "CREATE TRIGGER job_counts_update AFTER UPDATE OF tenant, is_active ON jobs FOR EACH ROW \
     WHEN (OLD.tenant IS DISTINCT FROM NEW.tenant OR OLD.is_active IS DISTINCT FROM NEW.is_active) \
     EXECUTE FUNCTION job_counts_moved()",
    "CREATE TRIGGER job_counts_truncate AFTER TRUNCATE ON jobs FOR EACH STATEMENT \
     EXECUTE FUNCTION job_counts_truncated()",
    "CREATE INDEX jobs_list_id_idx ON jobs (tenant, is_active, id)",
    "CREATE INDEX jobs_list_name_idx ON jobs (tenant, is_active, name, id)",
    "CREATE INDEX jobs_list_next_run_idx ON jobs (tenant, is_active, next_run, id)",
    "CREATE INDEX jobs_list_created_at_idx ON jobs (tenant, is_active, created_at, id)",
    "DROP INDEX jobs_is_active_idx",
    "DROP INDEX jobs_created_at_idx",
    "DROP INDEX jobs_tenant_id_idx",
];

const SQLITE_UP: &[&str] = &[
    r#"CREATE TABLE shared_secrets (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )"#,
    r#"CREATE TABLE job_counts (
        tenant    TEXT NOT NULL,
        is_active BOOLEAN NOT NULL,
        jobs      INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant, is_active)
    )"#,
    "INSERT INTO job_counts (tenant, is_active, jobs) \
     SELECT tenant, is_active, COUNT(*) FROM jobs GROUP BY tenant, is_active",
    r#"CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
        INSERT OR IGNORE INTO job_counts (tenant, is_active, jobs) VALUES (NEW.tenant, NEW.is_active, 0);
        UPDATE job_counts SET jobs = jobs + 1 WHERE tenant = NEW.tenant AND is_active = NEW.is_active;
    END"#,
    r#"CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN
        UPDATE job_counts SET jobs = jobs - 1 WHERE tenant = OLD.tenant AND is_active = OLD.is_active;
    END"#,
    r#"CREATE TRIGGER job_counts_update AFTER UPDATE OF tenant, is_active ON jobs
        WHEN OLD.tenant IS NOT NEW.tenant OR OLD.is_active IS NOT NEW.is_active BEGIN
        UPDATE job_counts SET jobs = jobs - 1 WHERE tenant = OLD.tenant AND is_active = OLD.is_active;
        INSERT OR IGNORE INTO job_counts (tenant, is_active, jobs) VALUES (NEW.tenant, NEW.is_active, 0);
        UPDATE job_counts SET jobs = jobs + 1 WHERE tenant = NEW.tenant AND is_active = NEW.is_active;
    END"#,
    "CREATE INDEX jobs_list_id_idx ON jobs (tenant, is_active, id)",
    "CREATE INDEX jobs_list_name_idx ON jobs (tenant, is_active, name, id)",
    "CREATE INDEX jobs_list_next_run_idx ON jobs (tenant, is_active, next_run, id)",
    "CREATE INDEX jobs_list_created_at_idx ON jobs (tenant, is_active, created_at, id)",
    "DROP INDEX jobs_is_active_idx",
    "DROP INDEX jobs_created_at_idx",
    "DROP INDEX jobs_tenant_id_idx",
];

const POSTGRES_DOWN: &[&str] = &[
    "CREATE INDEX jobs_tenant_id_idx ON jobs (tenant, id)",
    "CREATE INDEX jobs_created_at_idx ON jobs (created_at)",
    "CREATE INDEX jobs_is_active_idx ON jobs (is_active)",
    "DROP INDEX jobs_list_created_at_idx",
    "DROP INDEX jobs_list_next_run_idx",
    "DROP INDEX jobs_list_name_idx",
    "DROP INDEX jobs_list_id_idx",
    "DROP TRIGGER job_counts_truncate ON jobs",
    "DROP TRIGGER job_counts_update ON jobs",
    "DROP TRIGGER job_counts_delete ON jobs",
    "DROP TRIGGER job_counts_insert ON jobs",
    "DROP FUNCTION job_counts_truncated()",
    "DROP FUNCTION job_counts_moved()",
    "DROP FUNCTION job_counts_deleted()",
    "DROP FUNCTION job_counts_inserted()",
    "DROP TABLE job_counts",
    "DROP TABLE shared_secrets",
];

const SQLITE_DOWN: &[&str] = &[
    "CREATE INDEX jobs_tenant_id_idx ON jobs (tenant, id)",
    "CREATE INDEX jobs_created_at_idx ON jobs (created_at)",
    "CREATE INDEX jobs_is_active_idx ON jobs (is_active)",
    "DROP INDEX jobs_list_created_at_idx",
    "DROP INDEX jobs_list_next_run_idx",
    "DROP INDEX jobs_list_name_idx",
    "DROP INDEX jobs_list_id_idx",
    "DROP TRIGGER job_counts_update",
    "DROP TRIGGER job_counts_delete",
    "DROP TRIGGER job_counts_insert",
    "DROP TABLE job_counts",
    "DROP TABLE shared_secrets",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES_DOWN, SQLITE_DOWN).await
    }
}
