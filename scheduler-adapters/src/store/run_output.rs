//! `run_outputs`: the sea-orm entity of a run's kept output, its insert inside an outcome
//! batch's transaction (SQLite; PostgreSQL writes it in the batch's one statement, see
//! `run_sql::finish_runs`) and its read.

use scheduler_core::{RepositoryError, RunId, RunOutput};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveModelTrait, IntoActiveModel};

use super::repository_error;

/// One row of `run_outputs`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "run_outputs")]
pub(crate) struct Model {
    /// The run.
    #[sea_orm(primary_key, auto_increment = false)]
    pub run_id: i64,
    /// The answer's content type.
    pub content_type: Option<String>,
    /// The text kept.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// Whether more was answered than kept.
    pub truncated: bool,
    /// The answer's size, as read.
    pub size: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The row keeping `output` of run `run_id`.
    pub(crate) fn of(run_id: RunId, output: &RunOutput) -> Self {
        Self {
            run_id: run_id.0,
            content_type: output.content_type.clone(),
            body: output.body.clone(),
            truncated: output.truncated,
            size: i64::try_from(output.size).unwrap_or(i64::MAX),
        }
    }

    /// The output this row keeps.
    pub(crate) fn into_output(self) -> RunOutput {
        RunOutput {
            content_type: self.content_type,
            body: self.body,
            truncated: self.truncated,
            size: u64::try_from(self.size).unwrap_or(0),
        }
    }
}

/// Keeps `output` of run `run_id` inside `txn`.
pub(super) async fn insert_in(
    txn: &sea_orm::DatabaseTransaction,
    run_id: RunId,
    output: &RunOutput,
) -> Result<(), RepositoryError> {
    Model::of(run_id, output)
        .into_active_model()
        .reset_all()
        .insert(txn)
        .await
        .map_err(repository_error)?;
    Ok(())
}

/// The output kept for run `id`.
pub(super) async fn find(
    db: &impl sea_orm::ConnectionTrait,
    id: RunId,
) -> Result<Option<RunOutput>, RepositoryError> {
    Ok(Entity::find_by_id(id.0)
        .one(db)
        .await
        .map_err(repository_error)?
        .map(Model::into_output))
}
