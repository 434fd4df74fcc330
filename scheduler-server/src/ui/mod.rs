//! The dashboard at `/ui/`: server-rendered HTML pages over the same use cases the API calls
//! (`JobService`/`RunService` acting for the caller's key), one file per page or idea.
//!
//! | path | what |
//! |---|---|
//! | `GET /ui/` | the jobs table ([`jobs`]), under the last 24 hours' charts ([`charts`]) |
//! | `GET /ui/jobs/new`, `POST /ui/jobs` | the create form ([`form`]) |
//! | `GET /ui/jobs/{id}` | a job's page ([`job`]), with its runs' timeline ([`charts`]) and latest changes ([`audit`]) |
//! | `GET /ui/jobs/{id}/history` | a job's whole history, paged ([`audit_pages`]) |
//! | `GET /ui/jobs/{id}/edit`, `POST /ui/jobs/{id}` | the edit form |
//! | `POST /ui/jobs/{id}/run`, `/pause`, `/resume` | the job page's buttons |
//! | `GET`, `POST /ui/jobs/{id}/delete` | delete, after a confirmation page |
//! | `GET /ui/runs` | runs across jobs ([`runs`]) |
//! | `GET /ui/runs/{id}` | a run's page ([`run`]) |
//! | `POST /ui/runs/{id}/replay` | the run page's "Replay" button (an ended run) |
//! | `GET /ui/calendars`, `POST /ui/calendars` | the calendars and the create form ([`calendars`], [`calendar_form`]) |
//! | `GET /ui/calendars/{name}` | a calendar's dates |
//! | `GET /ui/calendars/{name}/edit`, `POST /ui/calendars/{name}` | the replace form |
//! | `GET`, `POST /ui/calendars/{name}/delete` | delete a calendar, after a confirmation page |
//! | `GET /ui/audit` | the tenant's audit trail, admin keys only ([`audit_pages`]) |
//! | `GET /ui/preview` | the live cron preview fragment, marked by calendars ([`preview`]) |
//! | `GET`, `POST /ui/login`, `POST /ui/logout` | the session ([`session`]) |
//! | `GET /ui/static/...` | the stylesheet and htmx ([`assets`]) |
//!
//! Handlers translate: query string or form → the API's readers and the core's requests →
//! the use case → a page. The header strip on every page is [`summary`]; tables are paged by
//! [`paging`]. None of these routes is in the OpenAPI document: they answer HTML.

pub mod actions;
pub mod assets;
pub mod audit;
pub mod audit_pages;
pub mod calendar_form;
pub mod calendar_pages;
pub mod calendars;
pub mod cells;
pub mod charts;
pub mod cookies;
pub mod error_pages;
pub mod form;
pub mod job;
pub mod job_pages;
pub mod jobs;
pub mod layout;
pub mod paging;
pub mod preview;
pub mod run;
pub mod run_pages;
pub mod runs;
pub mod session;
pub mod session_pages;
pub mod summary;
pub mod viewer;
pub mod visit;

use std::sync::Arc;

use poem::http::StatusCode;
use poem::{Endpoint, EndpointExt, Response, Route, get, post};
use scheduler_core::Scope;

use actions::{backfill, confirm_delete, delete, maintenance, pause, replay, resume, run_now};
use audit_pages::{audit_page, job_history_page};
use calendar_pages::{
    calendar_page, calendars_page, confirm_delete_calendar, create_calendar, delete_calendar,
    edit_calendar_form, replace_calendar,
};
use job_pages::{create, edit_form, job_page, jobs_page, new_form, update};
use layout::message_page;
use run_pages::{preview_fragment, run_page, runs_page};
use session::RequireScope;
use session_pages::{login, login_page, logout, static_asset};

pub use visit::Ui;

/// The dashboard's routes, to be nested at `/ui`; unknown paths answer a 404 page. Each
/// route declares its scope beside it ([`RequireScope`]): pages need `read` (the audit page
/// `admin`), form posts `write`; login, logout and the static assets are open.
pub fn routes(ui: Ui) -> impl Endpoint<Output = Response> {
    let read = RequireScope(Scope::Read);
    let write = RequireScope(Scope::Write);
    let admin = RequireScope(Scope::Admin);
    Route::new()
        .at("/", get(jobs_page.with(read)))
        .at("/jobs", post(create.with(write)))
        .at("/jobs/new", get(new_form.with(read)))
        .at(
            "/jobs/:id",
            get(job_page.with(read)).post(update.with(write)),
        )
        .at("/jobs/:id/edit", get(edit_form.with(read)))
        .at("/jobs/:id/history", get(job_history_page.with(read)))
        .at("/jobs/:id/run", post(run_now.with(write)))
        .at("/jobs/:id/pause", post(pause.with(write)))
        .at("/jobs/:id/resume", post(resume.with(write)))
        .at("/jobs/:id/backfill", post(backfill.with(write)))
        .at(
            "/jobs/:id/delete",
            get(confirm_delete.with(read)).post(delete.with(write)),
        )
        .at("/maintenance", post(maintenance.with(write)))
        .at("/runs", get(runs_page.with(read)))
        .at("/runs/:id", get(run_page.with(read)))
        .at("/runs/:id/replay", post(replay.with(write)))
        .at("/audit", get(audit_page.with(admin)))
        .at(
            "/calendars",
            get(calendars_page.with(read)).post(create_calendar.with(write)),
        )
        .at(
            "/calendars/:name",
            get(calendar_page.with(read)).post(replace_calendar.with(write)),
        )
        .at("/calendars/:name/edit", get(edit_calendar_form.with(read)))
        .at(
            "/calendars/:name/delete",
            get(confirm_delete_calendar.with(read)).post(delete_calendar.with(write)),
        )
        .at("/preview", get(preview_fragment.with(read)))
        .at("/login", get(login_page).post(login))
        .at("/logout", post(logout))
        .at("/static/:name", get(static_asset))
        .data(Arc::new(ui))
        .catch_all_error(|error: poem::Error| async move {
            let status = error.status();
            if status == StatusCode::METHOD_NOT_ALLOWED {
                message_page(
                    status,
                    "Not allowed",
                    "This page does not accept that method.",
                )
            } else {
                message_page(StatusCode::NOT_FOUND, "Not found", "There is no such page.")
            }
        })
}
