//! `jobs.target_host`: the receiving host of a job's target, as the core computes it
//! (`scheduler_core::host_key`), stored with the job so the claim can leave out the fires of
//! hosts at their per-host cap by comparing a column — instead of deriving the key from the
//! target's JSON in SQL, a second copy of the rule. Written by the job store on every insert
//! and update; this migration fills it for the jobs that exist, in batches of 5,000 by id.

use crate::run_for_backend;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

/// `jobs.target_host`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &["ALTER TABLE jobs ADD COLUMN target_host VARCHAR(2048) NULL"];
const SQLITE_UP: &[&str] = &["ALTER TABLE jobs ADD COLUMN target_host TEXT NULL"];
const DOWN: &[&str] = &["ALTER TABLE jobs DROP COLUMN target_host"];

/// Jobs read per backfill round.
const BATCH: usize = 5_000;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES_UP, SQLITE_UP).await?;
        backfill(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, DOWN, DOWN).await
    }
}

/// Sets `target_host` of every job with a target, from its URL, by the core's rule.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = db.get_database_backend();
    let (select, update) = match backend {
        DatabaseBackend::Postgres => (
            "SELECT id, target->>'url' AS url FROM jobs \
             WHERE target IS NOT NULL AND id > $1 ORDER BY id LIMIT $2",
            "UPDATE jobs AS j SET target_host = v.host \
             FROM json_to_recordset($1::json) AS v(id bigint, host text) WHERE j.id = v.id",
        ),
        _ => (
            "SELECT id, json_extract(target, '$.url') AS url FROM jobs \
             WHERE target IS NOT NULL AND id > ? ORDER BY id LIMIT ?",
            "UPDATE jobs SET target_host = (SELECT json_extract(value, '$.host') \
                 FROM json_each(?1) WHERE json_extract(value, '$.id') = jobs.id) \
             WHERE id IN (SELECT json_extract(value, '$.id') FROM json_each(?1))",
        ),
    };
    let mut after = 0i64;
    loop {
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                select,
                [
                    after.into(),
                    <i64 as std::convert::TryFrom<usize>>::try_from(BATCH)
                        .unwrap_or(i64::MAX)
                        .into(),
                ],
            ))
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get::<i64>("", "id")?;
        let mut hosts = Vec::with_capacity(rows.len());
        for row in &rows {
            let id = row.try_get::<i64>("", "id")?;
            let url = row
                .try_get::<Option<String>>("", "url")?
                .unwrap_or_default();
            hosts.push(serde_json::json!({"id": id, "host": scheduler_core::host_key(&url)}));
        }
        let batch = serde_json::Value::Array(hosts).to_string();
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            update,
            [batch.into()],
        ))
        .await?;
        if rows.len() < BATCH {
            return Ok(());
        }
    }
}
