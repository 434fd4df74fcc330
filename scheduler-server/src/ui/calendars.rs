//! The calendars pages: `/ui/calendars` lists the tenant's calendars (name, time zone, number
//! of dates) with, for keys that may write, the form creating one; `/ui/calendars/{name}`
//! lists a calendar's dates (from, to, yearly, label) with its edit and delete buttons; the
//! delete confirmation page.

use maud::{Markup, html};
use scheduler_core::Calendar;

use super::calendar_form::{self, CalendarForm};
use super::cells::instant;
use super::cookies::CSRF_FIELD;
use super::viewer::Viewer;
use crate::error::FieldErrors;

/// The notices the calendars pages show after an action (`?done=...`); anything else shows
/// none.
pub fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "created" => Some("Calendar created."),
        "saved" => Some("Calendar saved: the jobs that list it now fire by its new dates."),
        "deleted" => Some("Calendar deleted."),
        _ => None,
    }
}

/// The page of the calendar `name`.
pub fn calendar_url(name: &str) -> String {
    format!("/ui/calendars/{name}")
}

/// The body of the calendars page: the list, then (for writers) the create form holding
/// `form` with `errors`.
pub fn list_body(
    viewer: &Viewer,
    calendars: &[Calendar],
    notice: Option<&str>,
    form: &CalendarForm,
    errors: &FieldErrors,
) -> Markup {
    html! {
        div.title-row { h1 { "Calendars" } }
        @if let Some(notice) = notice { p.notice role="status" #notice { (notice) } }
        p.help { "Days jobs do not fire on. A job lists calendars by name; a fire on one of
                  their days is skipped, or moved to the next allowed day." }
        @if calendars.is_empty() {
            p.empty #no-calendars { "No calendars yet." }
        } @else {
            div.table-wrap {
                table #calendars-table {
                    caption.visually-hidden { "Calendars" }
                    thead {
                        tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Time zone" }
                            th scope="col" { "Dates" }
                            th scope="col" { "Description" }
                        }
                    }
                    tbody {
                        @for calendar in calendars {
                            @let def = &calendar.def;
                            tr data-calendar=(def.name.as_str()) {
                                td data-label="Name" { span.cell {
                                    a.job-name href=(calendar_url(def.name.as_str())) { (def.name.as_str()) }
                                } }
                                td data-label="Time zone" { span.cell { (def.timezone.name()) } }
                                td data-label="Dates" .date-count { span.cell { (def.entries.len()) } }
                                td data-label="Description" { span.cell { (def.description.as_str()) } }
                            }
                        }
                    }
                }
            }
        }
        @if viewer.can_write() {
            section #new-calendar aria-labelledby="new-calendar-title" {
                h2 #new-calendar-title { "New calendar" }
                (calendar_form::render(viewer, form, errors, "/ui/calendars", false))
            }
        }
    }
}

/// The body of a calendar's page.
pub fn page_body(viewer: &Viewer, calendar: &Calendar, notice: Option<&str>) -> Markup {
    let def = &calendar.def;
    let url = calendar_url(def.name.as_str());
    html! {
        p { a href="/ui/calendars" { "← Calendars" } }
        div.title-row { h1 #calendar-title { (def.name.as_str()) } }
        @if let Some(notice) = notice { p.notice role="status" #notice { (notice) } }
        @if viewer.can_write() {
            div.actions #calendar-actions {
                a.button href={(url) "/edit"} #action-edit-calendar { "Edit" }
                a.button.danger href={(url) "/delete"} #action-delete-calendar { "Delete…" }
            }
        }
        dl.settings {
            dt { "Time zone" } dd #calendar-timezone { (def.timezone.name()) }
            @if !def.description.as_str().is_empty() {
                dt { "Description" } dd #calendar-description { (def.description.as_str()) }
            }
            dt { "Created" } dd { (instant(Some(calendar.created_at))) " by "
                (calendar.created_by.as_deref().unwrap_or("no key")) }
            dt { "Changed" } dd { (instant(Some(calendar.updated_at))) " by "
                (calendar.updated_by.as_deref().unwrap_or("no key")) }
        }
        section aria-labelledby="dates-title" {
            h2 #dates-title { "Dates (" (def.entries.len()) ")" }
            @if def.entries.is_empty() {
                p.empty #no-dates { "No dates: it excludes no day." }
            } @else {
                div.table-wrap {
                    table #dates-table {
                        caption.visually-hidden { "Excluded dates" }
                        thead {
                            tr {
                                th scope="col" { "From" }
                                th scope="col" { "To" }
                                th scope="col" { "Yearly" }
                                th scope="col" { "Label" }
                            }
                        }
                        tbody {
                            @for entry in &def.entries {
                                tr {
                                    td data-label="From" { span.cell { (entry.from.format("%Y-%m-%d").to_string()) } }
                                    td data-label="To" { span.cell { (entry.to.format("%Y-%m-%d").to_string()) } }
                                    td data-label="Yearly" { span.cell {
                                        @if entry.yearly { "every year" } @else { span.none { "once" } }
                                    } }
                                    td data-label="Label" { span.cell {
                                        @match &entry.label {
                                            Some(label) => { (label) },
                                            None => { span.none aria-label="none" { "—" } },
                                        }
                                    } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The body of the calendar's delete confirmation page.
pub fn confirm_delete(viewer: &Viewer, calendar: &Calendar) -> Markup {
    let name = calendar.def.name.as_str();
    let url = calendar_url(name);
    html! {
        h1 { "Delete the calendar " (name) "?" }
        p { "Its dates are deleted. A calendar a job still lists cannot be deleted: remove it
             from those jobs first. This cannot be undone." }
        div.actions {
            form.inline method="post" action={(url) "/delete"} {
                input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf);
                button.danger type="submit" #confirm-delete-calendar { "Delete the calendar" }
            }
            a.button href=(url) { "Cancel" }
        }
    }
}
