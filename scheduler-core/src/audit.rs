//! The audit trail: who changed what, when, through which request — every create, change,
//! pause, resume and delete of a job, a calendar or a key, with a field-by-field diff
//! (secrets shown as `***`). Entries are made by the use cases after a write succeeded
//! ([`AuditRecord`]) and kept by an [`crate::ports::AuditLog`] store.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::job::Job;
use crate::tenant::Tenant;
use crate::wire::WireEnum;

/// What kind of thing an entry is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum AuditKind {
    /// A job (subject: its id).
    Job,
    /// A calendar (subject: its name).
    Calendar,
    /// An API key (subject: its id).
    Key,
    /// A notification channel (subject: its name).
    Channel,
}

impl WireEnum for AuditKind {}

/// What was done.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum AuditAction {
    /// Created.
    Create,
    /// Changed (PUT, PATCH, a calendar replaced).
    Update,
    /// A job paused (by a key, the maintenance switch or itself).
    Pause,
    /// A job resumed.
    Resume,
    /// Deleted (a key revoked).
    Delete,
}

impl WireEnum for AuditAction {}

/// One field that changed: its value before and after (`null` when absent).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// The field's wire name.
    pub field: String,
    /// Before (`null` on a create).
    pub before: Value,
    /// After (`null` on a delete).
    pub after: Value,
}

/// Who acts, as an entry records it: the tenant, the actor's name and the request id
/// (`crate::Principal::audit_actor` makes it for a caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Whose things the actor changes.
    pub tenant: Tenant,
    /// The name recorded (`ops`, `dashboard: ops`, `local`).
    pub name: String,
    /// The request's id, when the change came through one.
    pub request_id: Option<String>,
}

impl Actor {
    /// The scheduler itself, acting on `tenant`'s job (an auto-pause, a pause that ended):
    /// recorded as `scheduler`, without a request.
    pub fn scheduler(tenant: &Tenant) -> Self {
        Self {
            tenant: tenant.clone(),
            name: "scheduler".to_string(),
            request_id: None,
        }
    }
}

/// An entry about to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Whose thing it is (only that tenant's keys see the entry).
    pub tenant: Tenant,
    /// When.
    pub at: DateTime<Utc>,
    /// Who: the key's name, `dashboard: <key name>` for a dashboard session, `local` for a
    /// request served without a key, `scheduler` for the scheduler itself (an auto-pause or
    /// an ended pause).
    pub actor: String,
    /// The request's id (`X-Request-Id`), when it came through one.
    pub request_id: Option<String>,
    /// What it is about.
    pub kind: AuditKind,
    /// Which one: a job's or key's id, a calendar's name.
    pub subject: String,
    /// Its name (a job's or key's name, a calendar's).
    pub subject_name: String,
    /// What was done.
    pub action: AuditAction,
    /// The fields that changed, in field order.
    pub changes: Vec<FieldChange>,
}

/// A recorded entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Its id: entries are numbered in the order recorded.
    pub id: i64,
    /// What was recorded.
    pub record: AuditRecord,
}

impl AuditRecord {
    /// An entry for `actor`'s change at `at`.
    pub fn by(
        actor: &Actor,
        at: DateTime<Utc>,
        kind: AuditKind,
        action: AuditAction,
        subject: String,
        subject_name: String,
        changes: Vec<FieldChange>,
    ) -> Self {
        Self {
            tenant: actor.tenant.clone(),
            at,
            actor: actor.name.clone(),
            request_id: actor.request_id.clone(),
            kind,
            subject,
            subject_name,
            action,
            changes,
        }
    }

    /// The changes as the JSON array stores keep and the API shows.
    pub fn changes_value(&self) -> Value {
        Value::Array(
            self.changes
                .iter()
                .map(|c| json!({"field": c.field, "before": c.before, "after": c.after}))
                .collect(),
        )
    }

    /// Reads back [`AuditRecord::changes_value`]; `None` for a malformed value.
    pub fn changes_from(value: &Value) -> Option<Vec<FieldChange>> {
        value
            .as_array()?
            .iter()
            .map(|item| {
                Some(FieldChange {
                    field: item.get("field")?.as_str()?.to_string(),
                    before: item.get("before").cloned().unwrap_or(Value::Null),
                    after: item.get("after").cloned().unwrap_or(Value::Null),
                })
            })
            .collect()
    }
}

/// The diff of two field maps: every field whose value differs, in the order of `after`'s
/// fields then `before`'s fields missing from it.
pub fn diff(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<FieldChange> {
    let mut changes: Vec<FieldChange> = after
        .iter()
        .filter(|(field, value)| before.get(*field).unwrap_or(&Value::Null) != *value)
        .map(|(field, value)| FieldChange {
            field: field.clone(),
            before: before.get(field).cloned().unwrap_or(Value::Null),
            after: value.clone(),
        })
        .collect();
    changes.extend(
        before
            .iter()
            .filter(|(field, value)| !after.contains_key(*field) && !value.is_null())
            .map(|(field, value)| FieldChange {
                field: field.clone(),
                before: value.clone(),
                after: Value::Null,
            }),
    );
    changes
}

/// The entry of `actor`'s change of one thing (`kind`, its subject and name) from the
/// fields `before` to the fields `after` (`None`: created, deleted): `Create`, `Delete`, or
/// `update` (an update, a pause, a resume) when both exist; `None` for an `Update` that
/// changed no field.
pub fn change_record(
    actor: &Actor,
    at: DateTime<Utc>,
    (kind, subject, subject_name): (AuditKind, String, String),
    before: Option<&Map<String, Value>>,
    after: Option<&Map<String, Value>>,
    update: AuditAction,
) -> Option<AuditRecord> {
    let empty = Map::new();
    let changes = diff(before.unwrap_or(&empty), after.unwrap_or(&empty));
    let action = match (before, after) {
        (None, _) => AuditAction::Create,
        (Some(_), None) => AuditAction::Delete,
        (Some(_), Some(_)) => update,
    };
    if changes.is_empty() && action == AuditAction::Update {
        return None;
    }
    Some(AuditRecord::by(
        actor,
        at,
        kind,
        action,
        subject,
        subject_name,
        changes,
    ))
}

/// The fields of a job an entry compares, with the API's names: what a client writes, and
/// the pause record. A target's header values are `***` (they are never shown).
pub fn job_fields(job: &Job) -> Map<String, Value> {
    fields(job, true)
}

/// [`job_fields`], with the header values as they are when `mask` is false (to compare).
fn fields(job: &Job, mask: bool) -> Map<String, Value> {
    let spec = &job.spec;
    let policy = &spec.policy;
    let mut map = Map::new();
    let mut put = |field: &str, value: Value| {
        map.insert(field.to_string(), value);
    };
    let instant =
        |at: DateTime<Utc>| Value::from(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    put("name", Value::from(spec.name.as_str()));
    put("description", Value::from(spec.description.as_str()));
    put(
        "cron_expression",
        spec.schedule
            .cron()
            .map_or(Value::Null, |c| Value::from(c.expression())),
    );
    put(
        "interval_seconds",
        spec.schedule
            .interval()
            .map_or(Value::Null, |i| Value::from(i.seconds())),
    );
    put(
        "run_at",
        spec.schedule.run_at().map_or(Value::Null, instant),
    );
    put("timezone", Value::from(spec.timezone.name()));
    put("start_time", instant(spec.start_time));
    put("end_time", spec.end_time.map_or(Value::Null, instant));
    put("max_runs", spec.max_runs.map_or(Value::Null, Value::from));
    put("jitter_seconds", Value::from(spec.jitter_seconds));
    put(
        "parameters",
        Value::Object(spec.parameters.as_map().clone()),
    );
    put("is_active", Value::from(spec.is_active));
    put("misfire_policy", Value::from(policy.misfire.as_str()));
    put(
        "misfire_grace_seconds",
        Value::from(policy.misfire_grace_seconds),
    );
    put(
        "catch_up_window_seconds",
        Value::from(policy.catch_up_window_seconds),
    );
    put(
        "concurrency_policy",
        Value::from(policy.concurrency.as_str()),
    );
    put("max_retries", Value::from(policy.max_retries));
    put(
        "retry_backoff_seconds",
        Value::from(policy.retry_backoff_seconds),
    );
    put("timeout_seconds", Value::from(policy.timeout_seconds));
    put(
        "pause_after_failures",
        Value::from(policy.pause_after_failures),
    );
    put("dst_overlap", Value::from(policy.dst_overlap.as_str()));
    put(
        "calendars",
        Value::Array(
            spec.calendars
                .names
                .iter()
                .map(|n| Value::from(n.as_str()))
                .collect(),
        ),
    );
    put(
        "on_excluded",
        Value::from(spec.calendars.on_excluded.as_str()),
    );
    put(
        "target",
        spec.target.as_ref().map_or(Value::Null, |target| {
            let mut value = target.to_value();
            if !mask {
                return value;
            }
            if let Some(Value::Object(headers)) = value.get_mut("headers") {
                for header in headers.values_mut() {
                    *header = Value::from("***");
                }
            }
            value
        }),
    );
    put(
        "pause_note",
        job.pause
            .as_ref()
            .and_then(|p| p.note.clone())
            .map_or(Value::Null, Value::from),
    );
    put(
        "paused_until",
        job.pause
            .as_ref()
            .and_then(|p| p.until)
            .map_or(Value::Null, instant),
    );
    map
}

/// The entry for a job going from `before` to `after` (`None`: created / deleted), by
/// `actor` at `at`; `None` when nothing an entry compares changed.
pub fn job_record(
    actor: &Actor,
    at: DateTime<Utc>,
    before: Option<&Job>,
    after: Option<&Job>,
) -> Option<AuditRecord> {
    let job = after.or(before)?;
    let update = match (before, after) {
        (Some(b), Some(a)) if b.spec.is_active && !a.spec.is_active => AuditAction::Pause,
        (Some(b), Some(a)) if !b.spec.is_active && a.spec.is_active => AuditAction::Resume,
        _ => AuditAction::Update,
    };
    // Compared with header values as they are (a rotated secret is a change), shown masked.
    let mut record = change_record(
        actor,
        at,
        (
            AuditKind::Job,
            job.id.to_string(),
            job.spec.name.as_str().to_string(),
        ),
        before.map(|job| fields(job, false)).as_ref(),
        after.map(|job| fields(job, false)).as_ref(),
        update,
    )?;
    let masked = |job: Option<&Job>| {
        job.and_then(|job| job_fields(job).remove("target"))
            .unwrap_or(Value::Null)
    };
    for change in record.changes.iter_mut().filter(|c| c.field == "target") {
        change.before = masked(before);
        change.after = masked(after);
    }
    Some(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobId;
    use crate::job_input::JobDraft;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn job(draft: JobDraft) -> Job {
        let now = utc("2025-06-23T08:00:00Z");
        Job {
            id: JobId(7),
            spec: draft.validate(now).unwrap(),
            last_run: None,
            last_status: None,
            last_error: None,
            next_run: None,
            next_fire: None,
            fire_count: 0,
            pause: None,
            failure_streak: 0,
            created_at: now,
            updated_at: now,
            tenant: Tenant::default_tenant(),
            created_by: None,
            updated_by: None,
        }
    }

    fn draft() -> JobDraft {
        JobDraft {
            name: Some("report".into()),
            cron_expression: Some("0 9 * * 1".into()),
            target: Some(json!({"type": "http", "url": "https://example.com/hook",
                "headers": {"Authorization": "Bearer secret"}})),
            ..JobDraft::default()
        }
    }

    fn key(name: &str) -> Actor {
        Actor {
            tenant: Tenant::default_tenant(),
            name: name.into(),
            request_id: Some("r-1".into()),
        }
    }

    #[test]
    fn a_create_lists_every_field_with_secrets_masked() {
        let created = job(draft());
        let record = job_record(&key("ops"), created.created_at, None, Some(&created)).unwrap();
        assert_eq!(record.action, AuditAction::Create);
        assert_eq!(
            (record.actor.as_str(), record.request_id.as_deref()),
            ("ops", Some("r-1"))
        );
        assert_eq!(
            (record.subject.as_str(), record.subject_name.as_str()),
            ("7", "report")
        );
        let target = record.changes.iter().find(|c| c.field == "target").unwrap();
        assert_eq!(target.before, Value::Null);
        assert_eq!(target.after["headers"]["Authorization"], "***");
        assert!(!record.changes_value().to_string().contains("secret"));
        // Fields without a value on either side are not listed.
        assert!(record.changes.iter().all(|c| c.field != "end_time"));
    }

    #[test]
    fn an_update_lists_only_what_changed_and_names_pause_and_resume() {
        let before = job(draft());
        let mut after = before.clone();
        after.spec.description = crate::job_values::Description::parse("weekly").unwrap();
        let record =
            job_record(&key("ops"), before.created_at, Some(&before), Some(&after)).unwrap();
        assert_eq!(record.action, AuditAction::Update);
        assert_eq!(
            record.changes,
            [FieldChange {
                field: "description".into(),
                before: json!(""),
                after: json!("weekly"),
            }]
        );
        // Nothing compared changed (only the scheduler's own state): no entry.
        let mut ran = before.clone();
        ran.fire_count = 3;
        assert_eq!(
            job_record(&key("ops"), before.created_at, Some(&before), Some(&ran)),
            None
        );
        // A header value changed is a change, masked on both sides.
        let mut rotated = before.clone();
        if let Some(target) = rotated.spec.target.as_mut() {
            target
                .headers
                .insert("Authorization".into(), "Bearer other".into());
        }
        let record = job_record(
            &key("ops"),
            before.created_at,
            Some(&before),
            Some(&rotated),
        )
        .unwrap();
        assert_eq!(record.changes.len(), 1);
        assert_eq!(record.changes[0].field, "target");
        assert_eq!(record.changes[0].before["headers"]["Authorization"], "***");
        assert!(!record.changes_value().to_string().contains("Bearer"));
        let mut paused = before.clone();
        paused.spec.is_active = false;
        let record = job_record(
            &key("dashboard: ops"),
            before.created_at,
            Some(&before),
            Some(&paused),
        )
        .unwrap();
        assert_eq!(
            (record.action, record.actor.as_str()),
            (AuditAction::Pause, "dashboard: ops")
        );
        let record =
            job_record(&key("ops"), before.created_at, Some(&paused), Some(&before)).unwrap();
        assert_eq!(record.action, AuditAction::Resume);
        let record = job_record(&key("ops"), before.created_at, Some(&before), None).unwrap();
        assert_eq!(record.action, AuditAction::Delete);
        assert!(record.changes.iter().all(|c| c.after.is_null()));
    }

    #[test]
    fn changes_read_back_as_written() {
        let record = job_record(
            &key("local"),
            utc("2025-06-23T08:00:00Z"),
            None,
            Some(&job(draft())),
        )
        .unwrap();
        assert_eq!(record.actor, "local");
        assert_eq!(
            AuditRecord::changes_from(&record.changes_value()),
            Some(record.changes)
        );
        assert_eq!(AuditRecord::changes_from(&json!([{"before": 1}])), None);
    }
}
