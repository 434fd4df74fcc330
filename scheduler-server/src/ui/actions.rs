//! The job page's buttons: run now, pause, resume, and delete after a confirmation page;
//! and the run page's: replay an ended run.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};

use super::error_pages::error_page;
use super::layout::{Nav, message_page};
use super::session::see_other;
use super::visit::{Ui, job_id, posted, respond, run_id};
use super::{job, run};
use crate::api::wire_time::{parse_optional_instant, parse_until};

/// What a job page's button does.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Action {
    /// Run now.
    Run,
    /// Pause.
    Pause,
    /// Resume.
    Resume,
    /// Delete (after the confirmation page).
    Delete,
    /// Backfill the range of the form's `from` and `to`.
    Backfill,
}

pub(crate) async fn act(
    request: &Request,
    ui: &Ui,
    id: &str,
    body: Body,
    action: Action,
) -> Response {
    let fields = match posted(request, body).await {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    let id = match job_id(id) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let done = match action {
        Action::Run => visit.runs.run_now(id).await.map(|_| "run"),
        Action::Pause => match parse_until(fields.get("until")) {
            Ok(until) => visit
                .jobs
                .pause_until(id, fields.get("note"), until)
                .await
                .map(|_| "paused"),
            Err(error) => Err(error),
        },
        Action::Resume => visit.jobs.resume(id).await.map(|_| "resumed"),
        Action::Delete => visit.jobs.delete(id).await.map(|()| "deleted"),
        Action::Backfill => {
            let instant = |field: &str| parse_optional_instant(field, fields.get(field));
            match (instant("from"), instant("to")) {
                (Ok(from), Ok(to)) => visit
                    .runs
                    .backfill(id, from, to)
                    .await
                    .map(|_| "backfilled"),
                (Err(error), _) | (_, Err(error)) => Err(error),
            }
        }
    };
    match (done, action) {
        (Ok(done), Action::Delete) => see_other(&format!("/ui/?done={done}")),
        (Ok(done), _) => see_other(&format!("/ui/jobs/{}?done={done}", id.0)),
        (Err(error), _) => error_page(error),
    }
}

/// The maintenance switch's form (jobs page): pause (`action=pause`, with `note` and
/// `until`) or resume every job of the caller's tenant whose name starts with `name_prefix`.
#[handler]
pub(crate) async fn maintenance(request: &Request, ui: Data<&Arc<Ui>>, body: Body) -> Response {
    let fields = match posted(request, body).await {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    let prefix = fields.get("name_prefix");
    let done = match fields.get("action") {
        Some("pause") => match parse_until(fields.get("until")) {
            Ok(until) => visit
                .jobs
                .pause_matching(prefix, fields.get("note"), until)
                .await
                .map(|_| "paused-many"),
            Err(error) => Err(error),
        },
        Some("resume") => visit
            .jobs
            .resume_matching(prefix)
            .await
            .map(|_| "resumed-many"),
        _ => {
            return message_page(
                StatusCode::BAD_REQUEST,
                "Unknown action",
                "The form asks to pause or to resume.",
            );
        }
    };
    match done {
        Ok(done) => see_other(&format!("/ui/?done={done}")),
        Err(error) => error_page(error),
    }
}

/// The run page's "Replay" button (`POST /ui/runs/{id}/replay`): replays the ended run and
/// shows the replay's page — the one made now, or the one made before (a run is replayed
/// once), each with its notice. A running run answers the "Still running" page.
#[handler]
pub(crate) async fn replay(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    if let Err(refused) = posted(request, body).await {
        return *refused;
    }
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    let id = match run_id(&id) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    match visit.runs.replay(id).await {
        Ok((replayed, created)) => {
            let done = if created {
                "replayed"
            } else {
                "replayed-before"
            };
            see_other(&format!("{}?done={done}", run::path(replayed.run.id.0)))
        }
        Err(error) => error_page(error),
    }
}

#[handler]
pub(crate) async fn run_now(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    act(request, &ui, &id, body, Action::Run).await
}

#[handler]
pub(crate) async fn pause(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    act(request, &ui, &id, body, Action::Pause).await
}

#[handler]
pub(crate) async fn resume(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    act(request, &ui, &id, body, Action::Resume).await
}

#[handler]
pub(crate) async fn backfill(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    act(request, &ui, &id, body, Action::Backfill).await
}

#[handler]
pub(crate) async fn delete(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    act(request, &ui, &id, body, Action::Delete).await
}

#[handler]
pub(crate) async fn confirm_delete(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(id): Path<String>,
) -> Response {
    let visit = match ui.writer_visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    let job = match job_id(&id) {
        Ok(id) => visit.jobs.get(id).await,
        Err(page) => return *page,
    };
    let job = match job {
        Ok(job) => job,
        Err(error) => return error_page(error),
    };
    let summary = ui.summary(&visit).await;
    let body = job::confirm_delete(&visit.viewer, &job);
    respond(
        request,
        &visit,
        StatusCode::OK,
        "Delete job",
        &summary,
        Nav::Jobs,
        body,
    )
}
