//! The sea-orm entity of the `audit_log` table and its conversion to and from the core's
//! audit entries.

use scheduler_core::{
    AuditAction, AuditEntry, AuditKind, AuditRecord, RepositoryError, Tenant, WireEnum,
};
use sea_orm::entity::prelude::*;

use super::micros;

/// One row of `audit_log`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub(crate) struct Model {
    /// Identity, in the order recorded.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning tenant.
    pub tenant: String,
    /// When.
    pub at: DateTimeUtc,
    /// Who.
    pub actor: String,
    /// The request's id.
    pub request_id: Option<String>,
    /// `job`, `calendar` or `key`.
    pub kind: String,
    /// Which one (an id or a calendar's name).
    pub subject: String,
    /// Its name.
    pub subject_name: String,
    /// `create`, `update`, `pause`, `resume` or `delete`.
    pub action: String,
    /// The changes, a JSON array as text.
    #[sea_orm(column_type = "Text")]
    pub changes: String,
}

/// `audit_log` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A stored row that no longer reads is reported, not trusted.
fn corrupt(id: i64, field: &str, problem: impl std::fmt::Debug) -> RepositoryError {
    RepositoryError::Unavailable(format!(
        "audit entry {id} has an invalid stored {field}: {problem:?}"
    ))
}

impl Model {
    /// The core entry this row stores.
    pub(crate) fn into_entry(self) -> Result<AuditEntry, RepositoryError> {
        let id = self.id;
        let changes: serde_json::Value =
            serde_json::from_str(&self.changes).map_err(|e| corrupt(id, "changes", e))?;
        Ok(AuditEntry {
            id,
            record: AuditRecord {
                tenant: Tenant::parse(&self.tenant).map_err(|e| corrupt(id, "tenant", e))?,
                at: self.at,
                actor: self.actor,
                request_id: self.request_id,
                kind: AuditKind::parse(&self.kind).map_err(|e| corrupt(id, "kind", e))?,
                subject: self.subject,
                subject_name: self.subject_name,
                action: AuditAction::parse(&self.action).map_err(|e| corrupt(id, "action", e))?,
                changes: AuditRecord::changes_from(&changes)
                    .ok_or_else(|| corrupt(id, "changes", "not a list of changes"))?,
            },
        })
    }

    /// The row storing `record` (without an id).
    pub(crate) fn from_record(record: &AuditRecord) -> Self {
        Self {
            id: 0,
            tenant: record.tenant.as_str().to_string(),
            at: micros(record.at),
            actor: record.actor.clone(),
            request_id: record.request_id.clone(),
            kind: record.kind.as_str().to_string(),
            subject: record.subject.clone(),
            subject_name: record.subject_name.clone(),
            action: record.action.as_str().to_string(),
            changes: record.changes_value().to_string(),
        }
    }
}
