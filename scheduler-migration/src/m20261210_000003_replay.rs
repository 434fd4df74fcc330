//! Replays: `job_runs.replay_of`, the run a replay starts again, unique (a run is replayed
//! once, however many replicas are asked at the same time).

use crate::run_for_backend;
use sea_orm_migration::prelude::*;

/// The column and its unique index.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE job_runs ADD COLUMN replay_of BIGINT NULL",
    "CREATE UNIQUE INDEX job_runs_replay_of_key ON job_runs (replay_of) WHERE replay_of IS NOT NULL",
];

const SQLITE_UP: &[&str] = &[
    "ALTER TABLE job_runs ADD COLUMN replay_of INTEGER NULL",
    "CREATE UNIQUE INDEX job_runs_replay_of_key ON job_runs (replay_of) WHERE replay_of IS NOT NULL",
];

const DOWN: &[&str] = &[
    "DROP INDEX job_runs_replay_of_key",
    "ALTER TABLE job_runs DROP COLUMN replay_of",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, DOWN, DOWN).await
    }
}
