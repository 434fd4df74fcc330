//! `/scheduler/audit/` and `/scheduler/jobs/{id}/history/`: the audit trail — who changed
//! what, when and through which request, with each change's field-by-field diff.

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::{ApiResponse, Object, OpenApi};
use scheduler_core::service::{AuditFilter, AuditPage};
use scheduler_core::{AuditEntry, JobService};

use super::body::ParamReader;
use super::docs::{IntRange, RawParam, raw};
use super::jobs::parse_job_id;
use super::output::FastJson;
use super::tags::ApiTags;
use super::wire_time::UtcInstant;
use crate::auth::{Admin, Caller, Read};
use crate::error::{OpError, errors};

/// One field a change touched.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "AuditChange")]
pub struct ChangeOut {
    /// The field's API name.
    pub field: String,
    /// Its value before (null on a create, or when unset); secrets as `***`.
    pub before: serde_json::Value,
    /// Its value after (null on a delete, or when unset); secrets as `***`.
    pub after: serde_json::Value,
}

/// One change.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "AuditEntry")]
pub struct EntryOut {
    /// Entries are numbered in the order recorded.
    pub id: i64,
    /// When.
    pub at: UtcInstant,
    /// Who: the key's name, `dashboard: <key name>`, or `local` (no key).
    pub actor: String,
    /// The request's `X-Request-Id`.
    #[oai(nullable)]
    pub request_id: Option<String>,
    /// `job`, `calendar` or `key`.
    pub kind: String,
    /// Which one: a job's or key's id, a calendar's name.
    pub subject: String,
    /// Its name.
    pub subject_name: String,
    /// `create`, `update`, `pause`, `resume` or `delete`.
    pub action: String,
    /// The fields that changed.
    pub changes: Vec<ChangeOut>,
}

impl From<AuditEntry> for EntryOut {
    fn from(entry: AuditEntry) -> Self {
        use scheduler_core::WireEnum;
        let record = entry.record;
        Self {
            id: entry.id,
            at: UtcInstant(record.at),
            actor: record.actor,
            request_id: record.request_id,
            kind: record.kind.as_str().to_string(),
            subject: record.subject,
            subject_name: record.subject_name,
            action: record.action.as_str().to_string(),
            changes: record
                .changes
                .into_iter()
                .map(|c| ChangeOut {
                    field: c.field,
                    before: c.before,
                    after: c.after,
                })
                .collect(),
        }
    }
}

/// A page of entries, newest first.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "AuditPage")]
pub struct PageOut {
    /// The URL of the next (older) page; null on the last.
    #[oai(nullable)]
    pub next: Option<String>,
    /// The entries.
    pub results: Vec<EntryOut>,
}

/// 200 with a page.
#[derive(Debug, ApiResponse)]
pub enum Listed {
    /// The entries.
    #[oai(status = 200)]
    Page(FastJson<PageOut>),
}

/// The audit endpoints.
pub struct AuditApi {
    /// The use cases.
    pub service: JobService,
}

/// The page's answer, its `next` link made from the request's URL with the cursor replaced.
fn page_out(request: &Request, page: AuditPage) -> PageOut {
    let next = page.next.map(|cursor| {
        let uri = request.original_uri();
        let kept: Vec<String> = uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty() && !pair.starts_with("cursor="))
            .map(str::to_string)
            .chain(std::iter::once(format!("cursor={cursor}")))
            .collect();
        format!("{}?{}", uri.path(), kept.join("&"))
    });
    PageOut {
        next,
        results: page.items.into_iter().map(EntryOut::from).collect(),
    }
}

#[OpenApi]
impl AuditApi {
    /// Your tenant's audit trail: every create, change, pause, resume and delete of a job, a
    /// calendar or a key, newest first, with who, when, the request id and a field-by-field
    /// diff. Follow `next` for older entries.
    #[oai(
        path = "/scheduler/audit",
        method = "get",
        tag = "ApiTags::Audit",
        operation_id = "listAudit"
    )]
    #[allow(clippy::too_many_arguments)] // one argument per documented query parameter
    async fn list(
        &self,
        caller: Caller<Admin>,
        request: &Request,
        /// Only `job`, `calendar` or `key` entries.
        kind: Query<Option<RawParam<String>>>,
        /// Only entries about this job or key id, or calendar name.
        subject: Query<Option<RawParam<String>>>,
        /// Only changes by this actor, exactly (`ops`, `dashboard: ops`).
        actor: Query<Option<RawParam<String>>>,
        /// Only entries at or after this RFC 3339 instant.
        since: Query<Option<RawParam<chrono::DateTime<chrono::Utc>>>>,
        /// Only entries before this RFC 3339 instant.
        until: Query<Option<RawParam<chrono::DateTime<chrono::Utc>>>>,
        /// Entries per page, 1-500 (default 50).
        page_size: Query<Option<RawParam<IntRange<1, 500>>>>,
        /// The cursor of a `next` link.
        cursor: Query<Option<RawParam<String>>>,
    ) -> Result<Listed, OpError<errors::Audit>> {
        let mut params = ParamReader::default();
        let filter = AuditFilter {
            kind: raw(&kind.0).map(str::to_string),
            subject: raw(&subject.0).map(str::to_string),
            actor: raw(&actor.0).map(str::to_string),
            since: params.instant("since", raw(&since.0)),
            until: params.instant("until", raw(&until.0)),
            page_size: params.integer("page_size", raw(&page_size.0)),
            cursor: raw(&cursor.0).map(str::to_string),
        };
        if !params.errors.is_empty() {
            return Err(params.errors.into());
        }
        let page = self
            .service
            .acting_as(caller.into_principal())
            .audit_entries(filter)
            .await?;
        Ok(Listed::Page(FastJson(page_out(request, page))))
    }

    /// A job's history: its audit entries, newest first.
    #[oai(
        path = "/scheduler/jobs/:id/history",
        method = "get",
        tag = "ApiTags::Audit",
        operation_id = "jobHistory"
    )]
    async fn history(
        &self,
        caller: Caller<Read>,
        request: &Request,
        id: Path<RawParam<i64>>,
        /// Entries per page, 1-500 (default 50).
        page_size: Query<Option<RawParam<IntRange<1, 500>>>>,
        /// The cursor of a `next` link.
        cursor: Query<Option<RawParam<String>>>,
    ) -> Result<Listed, OpError<errors::JobHistory>> {
        let id = parse_job_id(&id.0.raw)?;
        let mut params = ParamReader::default();
        let page_size = params.integer("page_size", raw(&page_size.0));
        if !params.errors.is_empty() {
            return Err(params.errors.into());
        }
        let page = self
            .service
            .acting_as(caller.into_principal())
            .job_history(
                id,
                AuditFilter {
                    page_size,
                    cursor: raw(&cursor.0).map(str::to_string),
                    ..AuditFilter::default()
                },
            )
            .await?;
        Ok(Listed::Page(FastJson(page_out(request, page))))
    }
}
