//! A run's page (`/ui/runs/{id}`): where it stands, its job, its fire, attempt and trigger,
//! its error in full, the run it replays ("Replay of run #N", linked) and — for keys that may
//! write, once it has ended — a "Replay" button posting to `/ui/runs/{id}/replay`.

use maud::{Markup, html};
use scheduler_core::{JobRun, RunOutput, RunStatus, WireEnum};

use super::cells::{duration, instant, status_badge};
use super::cookies::CSRF_FIELD;
use super::viewer::Viewer;

/// The notices a run page shows after its button (`?done=...`); anything else shows none.
pub fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "replayed" => Some("Replay started: this is the new run."),
        "replayed-before" => {
            Some("That run was replayed before (a run is replayed once): this is its replay.")
        }
        _ => None,
    }
}

/// The path of run `id`'s page.
pub fn path(id: i64) -> String {
    format!("/ui/runs/{id}")
}

/// The body of a run's page, with what its target answered (`output`), when kept.
pub fn body(
    viewer: &Viewer,
    JobRun { run, job_name }: &JobRun,
    notice: Option<&str>,
    output: Option<&RunOutput>,
) -> Markup {
    html! {
        div.title-row {
            h1 #run-title { "Run #" (run.id.0) }
            (status_badge(run.status))
        }
        @if let Some(original) = run.replay_of {
            p.notice #replay-of {
                "Replay of " a href=(path(original.0)) { "run #" (original.0) }
            }
        }
        @if let Some(notice) = notice { p.notice role="status" #notice { (notice) } }
        @if viewer.can_write() && run.status != RunStatus::Running {
            div.actions #run-actions {
                form.inline method="post" action={(path(run.id.0)) "/replay"} {
                    input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf);
                    button.primary type="submit" id="action-replay" { "Replay" }
                }
            }
        }
        dl.settings #run-details {
            dt { "Job" }
            dd #run-job {
                a href={"/ui/jobs/" (run.job_id.0)} {
                    @match job_name {
                        Some(name) => (name),
                        None => { "#" (run.job_id.0) },
                    }
                }
            }
            dt { "Status" } dd #run-status { (status_badge(run.status)) }
            dt { "Trigger" } dd #run-trigger { (run.trigger.as_str()) }
            dt { "Scheduled for" } dd { (instant(Some(run.scheduled_for))) }
            dt { "Started" } dd { (instant(Some(run.started_at))) }
            dt { "Finished" } dd { (instant(run.finished_at)) }
            dt { "Duration" } dd { (duration(run.duration())) }
            dt { "Attempt" } dd #run-attempt { (run.attempt) }
            @if let Some(retry_at) = run.retry_at {
                dt { "Retry at" } dd { (instant(Some(retry_at))) }
            }
            dt { "Worker" } dd { (run.worker) }
            @if let Some(error) = &run.error {
                dt { "Error" } dd.error-text #run-error { (error) }
            }
        }
        @if let Some(output) = output {
            h2 { "Output" }
            p.muted #run-output-meta {
                (output.content_type.as_deref().unwrap_or("no content type")) ", "
                (output.size) " bytes"
                @if output.truncated { " (only the first 64 KiB of text is kept)" }
            }
            @if !output.body.is_empty() {
                pre.output #run-output { (output.body) }
            }
        }
    }
}
