//! The jobs page (`/ui/`): the caller's jobs as a table — name, schedule in words, time zone,
//! next run (the next that a calendar does not skip, in UTC and, beside it, in the job's
//! zone), last run with its status, active or paused — searchable by name, filtered by
//! state, paginated — under the tenant's last 24 hours drawn as charts
//! ([`super::charts::overview`]).

use maud::{Markup, html};
use scheduler_core::{Job, ScheduleStatus};

use super::cells::{instant, pager, status_badge, zoned_instant};
use super::paging::{JobsFilter, Paged};
use super::viewer::Viewer;

/// The body of the jobs page.
pub fn body(
    viewer: &Viewer,
    filter: &JobsFilter,
    page: &Paged<Job>,
    notice: Option<&str>,
    overview: Markup,
) -> Markup {
    html! {
        div.title-row {
            h1 { "Jobs" }
            @if viewer.can_write() {
                a.button.primary href="/ui/jobs/new" #new-job { "New job" }
            }
        }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        (overview)
        form.filters method="get" action="/ui/" role="search" {
            div.field {
                label for="name" { "Name" }
                input #name type="search" name="name" value=(filter.name)
                    placeholder="Part of a name" autocomplete="off";
            }
            div.field {
                label for="state" { "State" }
                select #state name="state" {
                    @for (value, label) in [("", "Active and paused"), ("active", "Active"), ("paused", "Paused")] {
                        option value=(value) selected[filter.state == value] { (label) }
                    }
                }
            }
            button type="submit" { "Filter" }
            @if !filter.name.is_empty() || !filter.state.is_empty() {
                a href="/ui/" { "Clear" }
            }
        }
        @if viewer.can_write() {
            details.maintenance #maintenance {
                summary { "Maintenance switch: pause or resume many jobs" }
                form method="post" action="/ui/maintenance" {
                    input type="hidden" name=(super::cookies::CSRF_FIELD) value=(viewer.csrf);
                    div.grid {
                        div.field {
                            label for="name_prefix" { "Names starting with" }
                            input #name_prefix name="name_prefix" type="text" maxlength="255"
                                placeholder="e.g. etl- (empty: every job)";
                        }
                        div.field {
                            label for="maintenance-note" { "Why (for a pause)" }
                            input #maintenance-note name="note" type="text" maxlength="1000";
                        }
                        div.field {
                            label for="maintenance-until" { "Until (for a pause, optional)" }
                            input #maintenance-until name="until" type="text" maxlength="40"
                                placeholder="2030-01-06T06:00:00Z";
                        }
                    }
                    button type="submit" name="action" value="pause" #pause-many { "Pause matching jobs" }
                    " "
                    button type="submit" name="action" value="resume" #resume-many { "Resume matching jobs" }
                }
            }
        }
        @if page.items.is_empty() {
            p.empty #no-jobs {
                @if filter.name.is_empty() && filter.state.is_empty() { "No jobs yet." }
                @else { "No job matches this filter." }
            }
        } @else {
            div.table-wrap {
                table.jobs #jobs-table {
                    caption.visually-hidden { "Jobs" }
                    thead {
                        tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Schedule" }
                            th scope="col" { "Time zone" }
                            th scope="col" { "Next run" }
                            th scope="col" { "Last run" }
                            th scope="col" { "State" }
                        }
                    }
                    tbody {
                        @for job in &page.items { (row(job)) }
                    }
                }
            }
        }
        (pager(page.previous.as_deref(), page.next.as_deref()))
    }
}

/// One job's row.
fn row(job: &Job) -> Markup {
    html! {
        tr data-job-id=(job.id.0) {
            td data-label="Name" { span.cell {
                a.job-name href={"/ui/jobs/" (job.id.0)} { (job.spec.name.as_str()) }
            } }
            td data-label="Schedule" { span.cell {
                span.reading { (job.spec.schedule.describe()) }
                " " code.expr { (job.spec.schedule.written()) }
            } }
            td data-label="Time zone" { span.cell { (job.spec.timezone.name()) } }
            td data-label="Next run" .next-run { span.cell { (zoned_instant(job.upcoming_run(), &job.spec.timezone)) } }
            td data-label="Last run" .last-run { span.cell {
                (instant(job.last_run))
                @if let Some(status) = job.last_status { " " (status_badge(status)) }
            } }
            td data-label="State" { span.cell {
                @match job.schedule_status() {
                    ScheduleStatus::Scheduled => { span.state.active { "active" } },
                    ScheduleStatus::Paused if job.is_auto_paused() => {
                        span.state.paused { "paused" } " " span.badge.failed.auto-paused { "auto-paused" }
                    },
                    ScheduleStatus::Paused => { span.state.paused { "paused" } },
                    ScheduleStatus::Completed => { span.state.completed { "completed" } },
                }
            } }
        }
    }
}
