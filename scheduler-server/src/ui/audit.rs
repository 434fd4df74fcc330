//! The audit trail as the dashboard shows it: a job's "History" section (its latest entries
//! on its page), a job's full history page (`/ui/jobs/{id}/history`) and the tenant's audit
//! page (`/ui/audit`, admin keys only). Each entry is a row: when, who, what was done, and
//! its changes as a compact list of `field: before → after` (JSON values compact, strings
//! unquoted, null as `—`, long values cut with `…`).

use maud::{Markup, html};
use scheduler_core::{AuditEntry, AuditKind, FieldChange, Job, Timezone, WireEnum};
use serde_json::Value;

use super::cells::{instant, zoned_instant};
use super::paging::AuditPaged;

/// Entries the "History" section of a job's page lists.
pub const RECENT: i64 = 20;

/// Characters of a value shown before it is cut with `…`.
pub const VALUE_CHARS: usize = 80;

/// Changes of an entry listed before the rest fold behind "n more".
pub const CHANGES_SHOWN: usize = 6;

/// The audit page's filter, as read from its query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditPageFilter {
    /// `job`, `calendar`, `key`, or empty for all.
    pub kind: String,
    /// An actor, exactly, or empty for all.
    pub actor: String,
}

/// A value as a change shows it: strings unquoted (the empty string as `""`, to be seen),
/// null as `—`, anything else as compact JSON; cut to [`VALUE_CHARS`] characters with `…`.
pub fn value_text(value: &Value) -> String {
    shorten(&whole_text(value), VALUE_CHARS)
}

/// A change as one line: `field: before → after`.
pub fn change_text(change: &FieldChange) -> String {
    format!(
        "{}: {} → {}",
        change.field,
        value_text(&change.before),
        value_text(&change.after)
    )
}

/// At most `max` characters of `text`, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// An entry's changes as a compact list; past [`CHANGES_SHOWN`], the rest fold behind a
/// "n more" disclosure.
fn changes(changes: &[FieldChange]) -> Markup {
    let (shown, folded) = if changes.len() > CHANGES_SHOWN {
        changes.split_at(CHANGES_SHOWN - 1)
    } else {
        (changes, &[][..])
    };
    html! {
        @if changes.is_empty() {
            span.none aria-label="none" { "—" }
        } @else {
            ul.changes {
                @for change in shown { (change_item(change)) }
            }
            @if !folded.is_empty() {
                details.more-changes {
                    summary { (folded.len()) " more" }
                    ul.changes {
                        @for change in folded { (change_item(change)) }
                    }
                }
            }
        }
    }
}

/// One change's line; a cut value's whole text is its title.
fn change_item(change: &FieldChange) -> Markup {
    let whole = format!(
        "{}: {} → {}",
        change.field,
        whole_text(&change.before),
        whole_text(&change.after)
    );
    let line = change_text(change);
    html! {
        li data-field=(change.field) title=[(whole != line).then_some(whole)] { (line) }
    }
}

/// A value's whole text (as [`value_text`], uncut).
fn whole_text(value: &Value) -> String {
    match value {
        Value::Null => "—".to_string(),
        Value::String(text) if text.is_empty() => "\"\"".to_string(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// An action's name as a badge.
fn action_badge(entry: &AuditEntry) -> Markup {
    let action = entry.record.action.as_str();
    html! { span class={"badge action-" (action)} { (action) } }
}

/// The page an entry's subject has: a job's page, a calendar's page; keys have none.
fn subject_link(entry: &AuditEntry) -> Option<String> {
    let subject = &entry.record.subject;
    match entry.record.kind {
        AuditKind::Job => subject
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(|id| format!("/ui/jobs/{id}")),
        AuditKind::Calendar => Some(format!("/ui/calendars/{}", path_segment(subject))),
        AuditKind::Key | AuditKind::Channel => None,
    }
}

/// `text` as one URL path segment: every byte but the unreserved characters (letters,
/// digits, `-._~`) percent-encoded.
fn path_segment(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// The subject cell of the audit page: its kind, and its name linked to its page.
fn subject_cell(entry: &AuditEntry) -> Markup {
    let record = &entry.record;
    let name = if record.subject_name.is_empty() {
        record.subject.as_str()
    } else {
        record.subject_name.as_str()
    };
    html! {
        span.kind { (record.kind.as_str()) } " "
        @match subject_link(entry) {
            Some(href) => { a.subject href=(href) { (name) } },
            None => { span.subject { (name) } },
        }
        @if record.kind == AuditKind::Key { " " span.none { "#" (record.subject) } }
    }
}

/// A table of entries, newest first: with the subject column (the audit page) or without
/// (a job's history, its times also on `zone`'s wall clock).
fn table(entries: &[AuditEntry], zone: Option<&Timezone>, id: &str) -> Markup {
    html! {
        div.table-wrap {
            table.audit id=(id) {
                caption.visually-hidden { "Changes, newest first" }
                thead {
                    tr {
                        th scope="col" { "When" }
                        th scope="col" { "Who" }
                        th scope="col" { "Action" }
                        @if zone.is_none() { th scope="col" { "Subject" } }
                        th scope="col" { "Changes" }
                    }
                }
                tbody {
                    @for entry in entries {
                        tr data-entry-id=(entry.id) data-action=(entry.record.action.as_str()) {
                            td data-label="When" { span.cell {
                                @match zone {
                                    Some(zone) => (zoned_instant(Some(entry.record.at), zone)),
                                    None => (instant(Some(entry.record.at))),
                                }
                            } }
                            td.actor data-label="Who" { span.cell { (entry.record.actor) } }
                            td data-label="Action" { span.cell { (action_badge(entry)) } }
                            @if zone.is_none() {
                                td data-label="Subject" { span.cell { (subject_cell(entry)) } }
                            }
                            td data-label="Changes" { span.cell { (changes(&entry.record.changes)) } }
                        }
                    }
                }
            }
        }
    }
}

/// The "History" section of a job's page: its latest entries (`None`: the trail could not
/// be read), and "Older…" to its history page when there are more.
pub fn section(job: &Job, recent: Option<&AuditPaged>) -> Markup {
    html! {
        section #history aria-labelledby="audit-title" {
            h2 #audit-title { "History" }
            @match recent {
                None => { p.empty #no-history { "The history is unavailable right now." } },
                Some(page) if page.items.is_empty() => {
                    p.empty #no-history { "No changes recorded." }
                },
                Some(page) => {
                    (table(&page.items, Some(&job.spec.timezone), "history-table"))
                    @if let Some(older) = &page.older {
                        p.pager { a href=(older) rel="next" #history-older { "Older…" } }
                    }
                },
            }
        }
    }
}

/// The `← Newest` / `Older →` links of an audit table.
fn pager(page: &AuditPaged) -> Markup {
    html! {
        @if page.newest.is_some() || page.older.is_some() {
            nav.pager aria-label="Pages" {
                @if let Some(newest) = &page.newest { a href=(newest) rel="first" { "← Newest" } }
                @if let Some(older) = &page.older { a href=(older) rel="next" { "Older →" } }
            }
        }
    }
}

/// The body of a job's history page.
pub fn history_body(job: &Job, page: &AuditPaged) -> Markup {
    html! {
        p { a href={"/ui/jobs/" (job.id.0)} { "← " (job.spec.name.as_str()) } }
        h1 #history-title { "History of " (job.spec.name.as_str()) }
        p.help { "Every recorded change of this job, newest first." }
        @if page.items.is_empty() {
            p.empty #no-history { "No changes recorded." }
        } @else {
            (table(&page.items, Some(&job.spec.timezone), "history-table"))
        }
        (pager(page))
    }
}

/// The body of the audit page.
pub fn audit_body(filter: &AuditPageFilter, page: &AuditPaged) -> Markup {
    html! {
        h1 #audit-page-title { "Audit" }
        p.help { "Every change of your tenant's jobs, calendars and keys, newest first; times in UTC." }
        form.filters method="get" action="/ui/audit" {
            div.field {
                label for="audit-kind" { "Kind" }
                select #audit-kind name="kind" {
                    option value="" selected[filter.kind.is_empty()] { "Any kind" }
                    @for kind in [AuditKind::Job, AuditKind::Calendar, AuditKind::Key] {
                        option value=(kind.as_str()) selected[filter.kind == kind.as_str()] {
                            (kind.as_str())
                        }
                    }
                }
            }
            div.field {
                label for="audit-actor" { "Who (exactly)" }
                input #audit-actor name="actor" type="text" maxlength="200" value=(filter.actor)
                    placeholder="ops, dashboard: ops";
            }
            button type="submit" { "Filter" }
        }
        @if page.items.is_empty() {
            p.empty #no-audit { "No changes match." }
        } @else {
            (table(&page.items, None, "audit-table"))
        }
        (pager(page))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(field: &str, before: Value, after: Value) -> FieldChange {
        FieldChange {
            field: field.into(),
            before,
            after,
        }
    }

    #[test]
    fn changes_read_as_field_before_after_with_strings_unquoted_and_null_as_a_dash() {
        assert_eq!(
            change_text(&change(
                "cron_expression",
                json!("@daily"),
                json!("0 9 * * *")
            )),
            "cron_expression: @daily → 0 9 * * *"
        );
        assert_eq!(
            change_text(&change("pause_note", Value::Null, json!("db"))),
            "pause_note: — → db"
        );
        assert_eq!(
            change_text(&change("parameters", json!({}), json!({"a": [1, true]}))),
            "parameters: {} → {\"a\":[1,true]}"
        );
        assert_eq!(
            change_text(&change("is_active", json!(true), json!(false))),
            "is_active: true → false"
        );
        assert_eq!(
            change_text(&change("description", json!(""), json!("weekly"))),
            "description: \"\" → weekly"
        );
    }

    #[test]
    fn calendar_names_are_linked_as_one_path_segment() {
        assert_eq!(path_segment("holidays-2030"), "holidays-2030");
        assert_eq!(path_segment("a/b c?é"), "a%2Fb%20c%3F%C3%A9");
    }

    #[test]
    fn long_values_are_cut_on_a_character_boundary() {
        let long = "é".repeat(VALUE_CHARS + 5);
        let text = value_text(&json!(long));
        assert_eq!(text.chars().count(), VALUE_CHARS + 1);
        assert!(text.ends_with('…'));
        assert_eq!(value_text(&json!("short")), "short");
    }

    #[test]
    fn user_text_is_escaped_and_many_changes_fold() {
        let many: Vec<FieldChange> = (0..10)
            .map(|i| change(&format!("f{i}"), Value::Null, json!("<b>x</b>")))
            .collect();
        let html = changes(&many).into_string();
        assert!(!html.contains("<b>x</b>") && html.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(html.contains("<summary>5 more</summary>"), "{html}");
        assert_eq!(html.matches("<li ").count(), 10);
    }
}
