//! Run tables: the runs page across the caller's jobs (`/ui/runs`, newest first, failures
//! highlighted, filtered by status and time, refreshing itself every few seconds) and the run
//! history on a job's page. A table refreshes by asking its own URL again with htmx, which
//! answers the table alone.

use maud::{Markup, html};
use scheduler_core::{JobRun, WireEnum};

use super::cells::{STATUSES, duration, instant, is_failure, pager, status_badge};
use super::paging::{Paged, RunsFilter};

/// Seconds between a run table's refreshes.
pub const REFRESH_SECONDS: u32 = 3;

/// The filter form above a run table (`action` is the table's page).
pub fn filters(action: &str, filter: &RunsFilter, with_time: bool) -> Markup {
    html! {
        form.filters method="get" action=(action) {
            div.field {
                label for="status" { "Status" }
                select #status name="status" {
                    option value="" selected[filter.status.is_empty()] { "Any status" }
                    @for status in STATUSES {
                        option value=(status.as_str()) selected[filter.status == status.as_str()] {
                            (status.as_str().replace('_', " "))
                        }
                    }
                }
            }
            @if with_time {
                div.field {
                    label for="since" { "Scheduled" }
                    select #since name="since" {
                        @for (value, label) in RunsFilter::SINCE {
                            option value=(value) selected[filter.since == value] { (label) }
                        }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
    }
}

/// A run table that refreshes itself from `refresh_url` (the page's own URL); `with_job` adds
/// the job column (left out of a job's own history).
pub fn table(page: &Paged<JobRun>, with_job: bool, refresh_url: &str) -> Markup {
    html! {
        div #runs-region hx-get=(refresh_url) hx-trigger={"every " (REFRESH_SECONDS) "s"}
            hx-select="#runs-region" hx-swap="outerHTML" {
            @if page.items.is_empty() {
                p.empty #no-runs { "No runs match." }
            } @else {
                div.table-wrap {
                    table.runs #runs-table {
                        caption.visually-hidden { "Runs, newest first" }
                        thead {
                            tr {
                                th scope="col" { "Status" }
                                @if with_job { th scope="col" { "Job" } }
                                th scope="col" { "Scheduled for" }
                                th scope="col" { "Started" }
                                th scope="col" { "Duration" }
                                th scope="col" { "Attempt" }
                                th scope="col" { "Trigger" }
                                th scope="col" { "Error" }
                            }
                        }
                        tbody {
                            @for run in &page.items { (row(run, with_job)) }
                        }
                    }
                }
            }
            (pager(page.previous.as_deref(), page.next.as_deref()))
        }
    }
}

/// One run's row; failures are highlighted.
fn row(JobRun { run, job_name }: &JobRun, with_job: bool) -> Markup {
    html! {
        tr.failure[is_failure(run.status)] data-run-id=(run.id.0) data-status=(run.status.as_str()) {
            td data-label="Status" { span.cell { (status_badge(run.status)) } }
            @if with_job {
                td data-label="Job" { span.cell {
                    a href={"/ui/jobs/" (run.job_id.0)} {
                        @match job_name {
                            Some(name) => (name),
                            None => { "#" (run.job_id.0) },
                        }
                    }
                } }
            }
            td data-label="Scheduled for" { span.cell {
                a.run-link href=(super::run::path(run.id.0)) title={"Run #" (run.id.0)} {
                    (instant(Some(run.scheduled_for)))
                }
            } }
            td data-label="Started" { span.cell { (instant(Some(run.started_at))) } }
            td data-label="Duration" { span.cell { (duration(run.duration())) } }
            td data-label="Attempt" { span.cell { (run.attempt) } }
            td data-label="Trigger" { span.cell { (run.trigger.as_str()) } }
            td data-label="Error" .error-text { span.cell {
                @match &run.error {
                    Some(error) => { span title=(error) { (shorten(error, 160)) } },
                    None => { span.none aria-label="none" { "—" } },
                }
            } }
        }
    }
}

/// At most `max` characters of `text`, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// The body of the runs page.
pub fn body(filter: &RunsFilter, page: &Paged<JobRun>, refresh_url: &str) -> Markup {
    html! {
        h1 { "Runs" }
        p.help { "Every run of your jobs, newest first; this table refreshes every "
            (REFRESH_SECONDS) " seconds." }
        (filters("/ui/runs", filter, true))
        (table(page, true, refresh_url))
    }
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn long_errors_are_shortened_on_a_character_boundary() {
        assert_eq!(shorten("ééééé", 3), "ééé…");
        assert_eq!(shorten("short", 10), "short");
    }
}
