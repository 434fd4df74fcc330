//! The audit trail's use cases: a tenant's entries (filtered, newest first, in signed cursor
//! pages), one job's history, and the entries of calendar changes.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::audit::{AuditAction, AuditEntry, AuditKind, AuditRecord, change_record};
use crate::calendar::Calendar;
use crate::cursor::Direction;
use crate::error::{Invalid, ServiceError, ValidationErrors};
use crate::job::JobId;
use crate::ports::AuditQuery;
use crate::wire::WireEnum;

use super::JobService;

/// What a client asks of the audit trail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    /// `job`, `calendar` or `key`.
    pub kind: Option<String>,
    /// A job's or key's id, a calendar's name.
    pub subject: Option<String>,
    /// An actor, exactly (`ops`, `dashboard: ops`).
    pub actor: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
    /// Entries per page, 1 to [`AuditFilter::MAX_PAGE_SIZE`] (default 50).
    pub page_size: Option<i64>,
    /// The cursor of the page to read (from a previous page's `next`).
    pub cursor: Option<String>,
}

impl AuditFilter {
    /// The most entries one page holds.
    pub const MAX_PAGE_SIZE: i64 = 500;
}

/// One page of entries: newest first, and the cursor of the next (older) page.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    /// The entries.
    pub items: Vec<AuditEntry>,
    /// The cursor of the next page; `None` on the last.
    pub next: Option<String>,
}

/// The scope cursors of audit pages are bound to.
const CURSOR_SCOPE: &str = "audit";

/// The fields of a calendar an entry compares.
fn calendar_fields(calendar: &Calendar) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("timezone".into(), Value::from(calendar.def.timezone.name()));
    map.insert(
        "description".into(),
        Value::from(calendar.def.description.as_str()),
    );
    map.insert(
        "dates".into(),
        Value::Array(
            calendar
                .def
                .entries
                .iter()
                .map(crate::calendar::CalendarEntry::to_value)
                .collect(),
        ),
    );
    map
}

impl JobService {
    /// The entry for a calendar going from `before` to `after` (`None`: created / deleted).
    pub(crate) fn calendar_record(
        &self,
        before: Option<&Calendar>,
        after: Option<&Calendar>,
    ) -> Option<AuditRecord> {
        let calendar = after.or(before)?;
        let name = calendar.def.name.to_string();
        change_record(
            &self.principal().audit_actor(),
            self.now(),
            (AuditKind::Calendar, name.clone(), name),
            before.map(calendar_fields).as_ref(),
            after.map(calendar_fields).as_ref(),
            AuditAction::Update,
        )
    }

    /// The acting tenant's audit entries, filtered, newest first.
    ///
    /// # Errors
    /// `Validation` naming `kind` or `page_size`, `InvalidCursor`, `Unavailable`.
    pub async fn audit_entries(&self, filter: AuditFilter) -> Result<AuditPage, ServiceError> {
        let mut errors = ValidationErrors::new();
        let kind = filter
            .kind
            .as_deref()
            .and_then(|raw| errors.check("kind", crate::wire::WireEnum::parse(raw)));
        let size = errors.check("page_size", super::list_page_size(filter.page_size));
        // Text filters are compared with stored text: no NUL (no store keeps one), and no
        // longer than what is stored.
        for (field, value, max) in [
            ("subject", filter.subject.as_deref(), 255),
            ("actor", filter.actor.as_deref(), 300),
        ] {
            if let Some(value) = value {
                let checked = crate::text::reject_nul(value).and_then(|()| {
                    if value.chars().count() > max {
                        Err(Invalid::TooLong { max })
                    } else {
                        Ok(())
                    }
                });
                errors.check(field, checked);
            }
        }
        let Some(size) = size.filter(|_| errors.is_empty()) else {
            return Err(errors.into());
        };
        let tenant = &self.principal().tenant;
        let before_id = match filter.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(token) => {
                let (_, position) = self.cursors().decode(tenant, CURSOR_SCOPE, token)?;
                Some(position.as_i64().ok_or(ServiceError::InvalidCursor)?)
            }
        };
        let log = self
            .audit
            .as_ref()
            .ok_or_else(|| ServiceError::Unavailable("no audit log is configured".into()))?;
        let mut items = log
            .list(&AuditQuery {
                tenant: tenant.clone(),
                kind,
                subject: filter.subject,
                actor: filter.actor,
                since: filter.since,
                until: filter.until,
                before_id,
                limit: size + 1,
            })
            .await?;
        let more = items.len() > size as usize;
        items.truncate(size as usize);
        let next = more
            .then(|| items.last().map(|last| last.id))
            .flatten()
            .map(|id| {
                self.cursors()
                    .encode(tenant, CURSOR_SCOPE, Direction::Forward, Value::from(id))
            });
        Ok(AuditPage { items, next })
    }

    /// The history of the acting tenant's job `id`: its entries, newest first.
    ///
    /// # Errors
    /// `JobNotFound`, and those of [`JobService::audit_entries`].
    pub async fn job_history(
        &self,
        id: JobId,
        filter: AuditFilter,
    ) -> Result<AuditPage, ServiceError> {
        self.load(id).await?;
        self.audit_entries(AuditFilter {
            kind: Some(AuditKind::Job.as_str().to_string()),
            subject: Some(id.to_string()),
            ..filter
        })
        .await
    }
}
