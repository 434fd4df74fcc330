//! A job's page (`/ui/jobs/{id}`): its settings (with the calendars it excludes, each linked
//! to its page), its next 10 fire times (a fire a calendar skips marked "excluded by <name>",
//! a moved one "moved to <local time>"), its recent runs as a timeline
//! ([`super::charts::timeline`]), its run history with a status filter, and — for keys
//! that may write — run now, pause or resume, edit and delete (through a confirmation page).
//! Its "History" section (the latest changes, from the audit trail) is [`super::audit`]'s.

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use scheduler_core::timing::Fire;
use scheduler_core::{Job, JobRun, JobSpec, OnExcluded, ScheduleStatus, WireEnum};

use super::cells::{instant, status_badge, zoned_instant};
use super::cookies::CSRF_FIELD;
use super::paging::{Paged, RunsFilter};
use super::preview::calendar_mark;
use super::runs;
use super::viewer::Viewer;

/// Fires listed on a job's page.
pub const UPCOMING: usize = 10;

/// The notices a job page shows after an action (`?done=...`); anything else shows none.
pub fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "created" => Some("Job created."),
        "saved" => Some("Changes saved."),
        "run" => Some("Run started: it appears in the history below."),
        "paused" => Some("Job paused: it will not fire until resumed."),
        "resumed" => Some("Job resumed: its next run is computed from now."),
        "deleted" => Some("Job deleted."),
        "backfilled" => Some("Backfill started: its runs appear in the history below."),
        "paused-many" => Some("The matching active jobs are paused (see Paused above)."),
        "resumed-many" => Some("The matching paused jobs are resumed."),
        _ => None,
    }
}

/// A button posting to `/ui/jobs/{id}/{action}`.
fn action_button(viewer: &Viewer, job: &Job, action: &str, label: &str, class: &str) -> Markup {
    html! {
        form.inline method="post" action={"/ui/jobs/" (job.id.0) "/" (action)} {
            input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf);
            button class=(class) type="submit" id={"action-" (action)} { (label) }
        }
    }
}

/// What is said beside an upcoming fire: the calendar that skips it, where a calendar moved
/// it, or its jitter delay.
fn fire_note(spec: &JobSpec, fire: Fire) -> Markup {
    let calendars = &spec.calendars;
    let excluded = calendars.excluded_by(fire.at);
    let skipped = spec.skipped_by_calendar(fire);
    let moved =
        excluded.is_some() && skipped.is_none() && calendars.on_excluded == OnExcluded::Move;
    html! {
        @if skipped.is_some() {
            (calendar_mark(skipped, None, &spec.timezone))
        } @else if moved {
            (calendar_mark(excluded, Some(fire.due), &spec.timezone))
        } @else if fire.due != fire.at {
            " " span.jitter { "(+" ((fire.due - fire.at).num_seconds()) " s jitter)" }
        }
    }
}

/// The calendars a job excludes, each linked to its page, and what happens on their days.
fn calendars_setting(spec: &JobSpec) -> Markup {
    let calendars = &spec.calendars;
    html! {
        @if calendars.is_empty() {
            span.none { "none" }
        } @else {
            @for (i, name) in calendars.names.iter().enumerate() {
                @if i > 0 { ", " }
                a.calendar-link href={"/ui/calendars/" (name.as_str())} { (name.as_str()) }
            }
            " · a fire on their days "
            @match calendars.on_excluded {
                OnExcluded::Skip => { "is skipped" },
                OnExcluded::Move => { "moves to the next allowed day" },
            }
            " (" code #on-excluded { (calendars.on_excluded.as_str()) } ")"
        }
    }
}

/// The body of a job's page above its runs ([`runs_sections`]).
pub fn body(viewer: &Viewer, job: &Job, now: DateTime<Utc>, notice: Option<&str>) -> Markup {
    let upcoming = job.spec.upcoming(now, job.fire_count, UPCOMING);
    let tz = &job.spec.timezone;
    html! {
        div.title-row {
            h1 #job-title { (job.spec.name.as_str()) }
            @match job.schedule_status() {
                ScheduleStatus::Scheduled => { span.state.active #job-state { "active" } },
                ScheduleStatus::Paused if job.is_auto_paused() => {
                    span.state.paused #job-state { "paused" }
                    span.badge.failed #auto-paused-badge title="The scheduler paused it after consecutive failed runs" { "auto-paused" }
                },
                ScheduleStatus::Paused => { span.state.paused #job-state { "paused" } },
                ScheduleStatus::Completed => { span.state.completed #job-state { "completed" } },
            }
        }
        @if let Some(reason) = job.completed_reason() { p.notice #completed-reason { (reason) } }
        @if let Some(pause) = &job.pause {
            p.notice #pause-note-shown {
                @if pause.auto { "Paused by the scheduler at " (instant(Some(pause.at))) }
                @else { "Paused by " (pause.by.as_deref().unwrap_or("no key")) " at " (instant(Some(pause.at))) }
                @if let Some(note) = &pause.note { ": " (note) }
                @if let Some(until) = pause.until {
                    span #paused-until { " — resumes by itself at " (zoned_instant(Some(until), tz)) }
                }
            }
        }
        @if let Some(notice) = notice { p.notice role="status" #notice { (notice) } }
        @if viewer.can_write() {
            div.actions #job-actions {
                (action_button(viewer, job, "run", "Run now", "primary"))
                @if job.spec.is_active {
                    form.inline method="post" action={"/ui/jobs/" (job.id.0) "/pause"} {
                        input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf);
                        input #pause-note name="note" type="text" maxlength="1000"
                            placeholder="Why (optional)" aria-label="Why you pause it (optional)";
                        input #pause-until name="until" type="text" maxlength="40"
                            placeholder="Until (optional, e.g. 2030-01-06T06:00:00Z)"
                            aria-label="Resume by itself at (optional, RFC 3339)";
                        button type="submit" id="action-pause" { "Pause" }
                    }
                }
                @else { (action_button(viewer, job, "resume", "Resume", "")) }
                a.button href={"/ui/jobs/" (job.id.0) "/edit"} #action-edit { "Edit" }
                details.inline #backfill {
                    summary { "Backfill…" }
                    form.inline method="post" action={"/ui/jobs/" (job.id.0) "/backfill"} {
                        input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf);
                        input #backfill-from name="from" type="text" maxlength="40"
                            placeholder="From (RFC 3339)" aria-label="Backfill from (inclusive, RFC 3339)";
                        input #backfill-to name="to" type="text" maxlength="40"
                            placeholder="To (RFC 3339, past)" aria-label="Backfill to (exclusive, RFC 3339)";
                        button type="submit" id="action-backfill" { "Run past fires" }
                    }
                }
                a.button.danger href={"/ui/jobs/" (job.id.0) "/delete"} #action-delete { "Delete…" }
            }
        }
        div.columns {
            section aria-labelledby="settings-title" {
                h2 #settings-title { "Settings" }
                dl.settings {
                    dt { "Schedule" }
                    dd #schedule { (job.spec.schedule.describe()) " " code.expr { (job.spec.schedule.written()) } }
                    dt { "Runs" }
                    dd #fire-count {
                        (job.fire_count) " scheduled fires run"
                        @if let Some(max) = job.spec.max_runs { " of at most " (max) }
                    }
                    dt { "Time zone" } dd { (job.spec.timezone.name()) }
                    dt { "Calendars" } dd #job-calendars { (calendars_setting(&job.spec)) }
                    dt { "Next run" } dd #next-run { (zoned_instant(job.upcoming_run(), tz)) }
                    @if job.spec.jitter_seconds > 0 {
                        dt { "Jitter" } dd #jitter { "up to " (job.spec.jitter_seconds) " s per fire" }
                    }
                    @if job.spec.policy.pause_after_failures > 0 {
                        dt { "Auto-pause" }
                        dd #auto-pause {
                            "after " (job.spec.policy.pause_after_failures) " consecutive failures ("
                            (job.failure_streak) " so far)"
                        }
                    }
                    dt { "Last run" }
                    dd #last-run {
                        (instant(job.last_run))
                        @if let Some(status) = job.last_status { " " (status_badge(status)) }
                    }
                    @if let Some(error) = &job.last_error { dt { "Last error" } dd.error-text { (error) } }
                    dt { "Start" } dd { (instant(Some(job.spec.start_time))) }
                    dt { "End" } dd { (instant(job.spec.end_time)) }
                    @if !job.spec.description.as_str().is_empty() {
                        dt { "Description" } dd { (job.spec.description.as_str()) }
                    }
                    dt { "Parameters" }
                    dd { pre { (serde_json::to_string_pretty(job.spec.parameters.as_map()).unwrap_or_default()) } }
                    dt { "Delivery" }
                    dd {
                        @match &job.spec.target {
                            Some(target) => { code { (target.method) " " (target.url) } },
                            None => "the handler named by parameters.action (default: logged)",
                        }
                    }
                    dt { "Policies" }
                    dd {
                        "missed fires " code { (job.spec.policy.misfire.as_str()) }
                        @if job.spec.policy.misfire == scheduler_core::MisfirePolicy::CatchUp {
                            " within " (job.spec.policy.catch_up_window_seconds) " s"
                        }
                        " (grace " (job.spec.policy.misfire_grace_seconds) " s), overlap "
                        code { (job.spec.policy.concurrency.as_str()) } ", "
                        (job.spec.policy.max_retries) " retries (backoff "
                        (job.spec.policy.retry_backoff_seconds) " s), timeout "
                        (job.spec.policy.timeout_seconds) " s"
                        @if job.spec.schedule.cron().is_some() {
                            ", when clocks go back: " code #dst-overlap { (job.spec.policy.dst_overlap.as_str()) }
                        }
                    }
                    dt { "Owner" } dd { (job.spec.source.as_str()) " · created by "
                        (job.created_by.as_deref().unwrap_or("no key")) " · " (instant(Some(job.created_at))) }
                }
            }
            section aria-labelledby="upcoming-title" {
                h2 #upcoming-title { "Next " (UPCOMING) " fire times" }
                @if upcoming.is_empty() {
                    p.empty #no-upcoming {
                        @if job.spec.is_active { "It will not fire again." } @else { "Paused: none." }
                    }
                } @else {
                    ol.fires #upcoming {
                        @for fire in &upcoming {
                            // A fire on an excluded day is shown at its instant, then the mark.
                            @let excluded = job.spec.calendars.excluded_by(fire.at).is_some();
                            li {
                                (zoned_instant(Some(if excluded { fire.at } else { fire.due }), tz))
                                (fire_note(&job.spec, *fire))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A job's runs on its page: the `timeline` of its recent runs, then its run `history`
/// (filtered by `filter`, refreshing itself from `refresh_url`).
pub fn runs_sections(
    job: &Job,
    timeline: Markup,
    filter: &RunsFilter,
    history: &Paged<JobRun>,
    refresh_url: &str,
) -> Markup {
    html! {
        section aria-labelledby="timeline-title" {
            h2 #timeline-title { "Recent runs" }
            (timeline)
        }
        section aria-labelledby="history-title" {
            h2 #history-title { "Run history" }
            (runs::filters(&format!("/ui/jobs/{}", job.id.0), filter, false))
            (runs::table(history, false, refresh_url))
        }
    }
}

/// The body of the delete confirmation page.
pub fn confirm_delete(viewer: &Viewer, job: &Job) -> Markup {
    html! {
        h1 { "Delete " (job.spec.name.as_str()) "?" }
        p { "The job and its whole run history are deleted. A run executing now finishes; no
             new run starts. This cannot be undone." }
        div.actions {
            form.inline method="post" action={"/ui/jobs/" (job.id.0) "/delete"} {
                input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf);
                button.danger type="submit" #confirm-delete { "Delete the job" }
            }
            a.button href={"/ui/jobs/" (job.id.0)} { "Cancel" }
        }
    }
}
