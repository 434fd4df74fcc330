//! The dashboard at `/ui/`: server-rendered HTML pages over the same use cases the API calls
//! (`JobService`/`RunService` acting for the caller's key), one file per page or idea.
//!
//! | path | what |
//! |---|---|
//! | `GET /ui/` | the jobs table ([`jobs`]) |
//! | `GET /ui/jobs/new`, `POST /ui/jobs` | the create form ([`form`]) |
//! | `GET /ui/jobs/{id}` | a job's page ([`job`]) |
//! | `GET /ui/jobs/{id}/edit`, `POST /ui/jobs/{id}` | the edit form |
//! | `POST /ui/jobs/{id}/run`, `/pause`, `/resume` | the job page's buttons |
//! | `GET`, `POST /ui/jobs/{id}/delete` | delete, after a confirmation page |
//! | `GET /ui/runs` | runs across jobs ([`runs`]) |
//! | `GET /ui/preview` | the live cron preview fragment ([`preview`]) |
//! | `GET`, `POST /ui/login`, `POST /ui/logout` | the session ([`session`]) |
//! | `GET /ui/static/...` | the stylesheet and htmx ([`assets`]) |
//!
//! Handlers translate: query string or form → the API's readers and the core's requests →
//! the use case → a page. The header strip on every page is [`summary`]; tables are paged by
//! [`paging`]. None of these routes is in the OpenAPI document: they answer HTML.

pub mod assets;
pub mod cells;
pub mod cookies;
pub mod form;
pub mod job;
pub mod jobs;
pub mod layout;
pub mod paging;
pub mod preview;
pub mod runs;
pub mod session;
pub mod summary;
pub mod viewer;

use std::sync::Arc;
use std::time::Duration;

use maud::{Markup, html};
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{
    Body, Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler, post,
};
use scheduler_core::{
    Clock, Dispatcher, DispatcherHealth, Job, JobId, JobService, RunService, Scope, ServiceError,
};

use crate::api::body::{read_draft, read_patch};
use crate::auth::Auth;
use crate::config::AuthMode;
use crate::error::{ApiError, FieldErrors, field_errors};
use form::{FormFields, JobForm};
use layout::{Nav, html_response, message_page};
use paging::{JobsFilter, ListError, RunsFilter};
use session::{RequireScope, see_other};
use summary::Summary;
use viewer::Viewer;

/// What the dashboard works with.
pub struct Ui {
    /// The job use cases (each request acts for its caller).
    pub jobs: JobService,
    /// The run use cases.
    pub runs: RunService,
    /// "Now", for previews and the strip's last hour.
    pub clock: Arc<dyn Clock>,
    /// This replica's dispatcher, when its loop runs here (the strip's "dispatcher").
    pub dispatcher: Option<Dispatcher>,
    /// Longest time without a tick before the dispatcher counts as stalled.
    pub tick_bound: Duration,
    /// The front door (key lookups at login; the auth mode).
    pub auth: Arc<Auth>,
}

/// One request's view of the use cases: who asks, and the services acting for them.
struct Visit {
    /// The visitor.
    viewer: Viewer,
    /// Jobs, as the visitor's tenant.
    jobs: JobService,
    /// Runs, as the visitor's tenant.
    runs: RunService,
}

impl Ui {
    /// The visit of an admitted caller (every page behind [`RequireScope`] has one); the
    /// refusal page otherwise.
    fn visit(&self, request: &Request) -> Result<Visit, Box<Response>> {
        let viewer = Viewer::of(request);
        let Some(principal) = viewer.principal.clone() else {
            let refusal = crate::auth::authorize(request, Scope::Read)
                .err()
                .unwrap_or_else(|| Box::new(StatusCode::UNAUTHORIZED.into_response()));
            return Err(Box::new(session::page_for_refusal(request, &refusal)));
        };
        Ok(Visit {
            jobs: self.jobs.acting_as(principal.clone()),
            runs: self.runs.acting_as(principal),
            viewer,
        })
    }

    /// The header strip's figures for `visit`.
    async fn summary(&self, visit: &Visit) -> Summary {
        let state = DispatcherHealth::of(self.dispatcher.as_ref(), self.tick_bound);
        Summary::load(&visit.runs, state, self.clock.now()).await
    }
}

/// A full page for `visit`.
fn respond(
    request: &Request,
    visit: &Visit,
    status: StatusCode,
    title: &str,
    summary: &Summary,
    nav: Nav,
    body: Markup,
) -> Response {
    let page = layout::page(title, &visit.viewer, summary, nav, body);
    visit.viewer.finish(request, html_response(status, page))
}

/// A fragment (an htmx swap) for `visit`.
fn fragment(request: &Request, visit: &Visit, body: Markup) -> Response {
    visit
        .viewer
        .finish(request, html_response(StatusCode::OK, body))
}

/// The page for an error of a use case (causes were logged by the mapping): the status and
/// sentence the API answers with, as a page.
fn error_page(error: ServiceError) -> Response {
    let error = ApiError::from(error);
    let status = error.status();
    match error {
        ApiError::Validation(fields) => invalid_page(&fields),
        ApiError::InvalidPage => message_page(status, "No such page", error.message()),
        ApiError::InvalidCursor => message_page(
            status,
            "No such page",
            "Invalid cursor: this link was made for another list; start from the first page.",
        ),
        ApiError::RunConflict => message_page(status, "Try again", error.message()),
        ApiError::Unavailable => message_page(status, "Unavailable", error.message()),
        ApiError::Internal => message_page(status, "Error", error.message()),
        ApiError::JobNotFound | ApiError::RunNotFound | ApiError::KeyNotFound => {
            message_page(status, "Not found", error.message())
        }
    }
}

/// A 400 page listing bad parameters by name.
fn invalid_page(fields: &FieldErrors) -> Response {
    let text = fields
        .iter()
        .map(|(field, problems)| format!("{field}: {}", problems.join(" ")))
        .collect::<Vec<_>>()
        .join("; ");
    message_page(StatusCode::BAD_REQUEST, "Invalid request", &text)
}

fn list_error_page(error: ListError) -> Response {
    match error {
        ListError::Invalid(errors) => invalid_page(&field_errors(&errors)),
        ListError::Service(error) => error_page(error),
    }
}

/// The page refusing a read-only key a write form.
fn read_only_page() -> Response {
    message_page(
        StatusCode::FORBIDDEN,
        "Read-only key",
        "Your key may only read: changing, running, pausing and deleting jobs need a key \
         with the write scope.",
    )
}

/// The query string's fields.
fn query_fields(request: &Request) -> FormFields {
    FormFields::parse(request.uri().query().unwrap_or_default())
}

/// The request's own path and query as the browser sent it (a table's refresh URL; the
/// nest at `/ui` strips its prefix from `uri()`), without a page's one-time notice.
fn own_url(request: &Request) -> String {
    let uri = request.original_uri();
    let kept: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    let kept: Vec<(String, String)> = kept.into_iter().filter(|(k, _)| k != "done").collect();
    match serde_urlencoded::to_string(&kept) {
        Ok(query) if !query.is_empty() => format!("{}?{query}", uri.path()),
        _ => uri.path().to_string(),
    }
}

/// Whether htmx asks for the run table alone (a refresh).
fn wants_runs_region(request: &Request) -> bool {
    request.headers().contains_key("hx-request")
        && request
            .headers()
            .get("hx-target")
            .is_some_and(|t| t.as_bytes() == b"runs-region")
}

/// A path id; anything but a positive integer is an unknown job.
fn job_id(raw: &str) -> Result<JobId, Box<Response>> {
    crate::api::jobs::parse_job_id(raw).map_err(|_| Box::new(error_page(ServiceError::JobNotFound)))
}

/// A posted form's fields, after the CSRF checks.
async fn posted(request: &Request, body: Body) -> Result<FormFields, Box<Response>> {
    let text = body.into_string().await.map_err(|_| {
        Box::new(message_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The form could not be read.",
        ))
    })?;
    let fields = FormFields::parse(&text);
    session::check_post(request, &fields)?;
    Ok(fields)
}

#[handler]
async fn jobs_page(request: &Request, ui: Data<&Arc<Ui>>) -> Response {
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    let fields = query_fields(request);
    let filter = JobsFilter::read(&fields);
    let (listed, summary) = tokio::join!(
        paging::jobs(&visit.jobs, &filter, &fields),
        ui.summary(&visit)
    );
    let page = match listed {
        Ok(page) => page,
        Err(error) => return list_error_page(error),
    };
    let notice = job::notice(fields.get("done"));
    let body = jobs::body(&visit.viewer, &filter, &page, notice);
    respond(
        request,
        &visit,
        StatusCode::OK,
        "Jobs",
        &summary,
        Nav::Jobs,
        body,
    )
}

/// The create or edit form page, with `errors` beside the fields.
async fn form_page(
    request: &Request,
    ui: &Ui,
    visit: &Visit,
    editing: Option<&Job>,
    form: &JobForm,
    errors: &FieldErrors,
) -> Response {
    let (title, action) = match editing {
        Some(job) => (
            format!("Edit {}", job.spec.name.as_str()),
            format!("/ui/jobs/{}", job.id.0),
        ),
        None => ("New job".to_string(), "/ui/jobs".to_string()),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let summary = ui.summary(visit).await;
    let rendered = form::render(
        &visit.viewer,
        form,
        errors,
        &action,
        editing.is_some(),
        ui.clock.now(),
    );
    let body = html! {
        @if let Some(job) = editing {
            p { a href={"/ui/jobs/" (job.id.0)} { "← " (job.spec.name.as_str()) } }
        }
        h1 { (title) }
        (rendered)
    };
    respond(request, visit, status, &title, &summary, Nav::Jobs, body)
}

#[handler]
async fn new_form(request: &Request, ui: Data<&Arc<Ui>>) -> Response {
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    if !visit.viewer.can_write() {
        return read_only_page();
    }
    form_page(
        request,
        &ui,
        &visit,
        None,
        &JobForm::new_job(),
        &FieldErrors::new(),
    )
    .await
}

/// Field errors of a failed create or update, or the page for any other failure.
fn form_errors(error: ServiceError) -> Result<FieldErrors, Box<Response>> {
    match ApiError::from(error) {
        ApiError::Validation(fields) => Ok(fields),
        ApiError::JobNotFound => Err(Box::new(error_page(ServiceError::JobNotFound))),
        ApiError::Unavailable => Err(Box::new(error_page(ServiceError::Unavailable(
            String::new(),
        )))),
        _ => Err(Box::new(message_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error",
            "Internal server error.",
        ))),
    }
}

#[handler]
async fn create(request: &Request, ui: Data<&Arc<Ui>>, body: Body) -> Response {
    let fields = match posted(request, body).await {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    let form = JobForm::posted(&fields, None);
    let created = match read_draft(&form.to_body(false)) {
        Ok(draft) => visit.jobs.create(draft).await,
        Err(errors) => Err(errors.into()),
    };
    match created {
        Ok(job) => see_other(&format!("/ui/jobs/{}?done=created", job.id.0)),
        Err(error) => match form_errors(error) {
            Ok(errors) => form_page(request, &ui, &visit, None, &form, &errors).await,
            Err(page) => *page,
        },
    }
}

#[handler]
async fn edit_form(request: &Request, ui: Data<&Arc<Ui>>, Path(id): Path<String>) -> Response {
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    if !visit.viewer.can_write() {
        return read_only_page();
    }
    let job = match job_id(&id) {
        Ok(id) => visit.jobs.get(id).await,
        Err(page) => return *page,
    };
    match job {
        Ok(job) => {
            let form = JobForm::of_job(&job);
            form_page(request, &ui, &visit, Some(&job), &form, &FieldErrors::new()).await
        }
        Err(error) => error_page(error),
    }
}

#[handler]
async fn update(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let fields = match posted(request, body).await {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    let visit = match ui.visit(request) {
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
    let form = JobForm::posted(&fields, Some(&job));
    let updated = match read_patch(&form.to_body(true)) {
        Ok(patch) => visit.jobs.update(job.id, patch).await,
        Err(errors) => Err(errors.into()),
    };
    match updated {
        Ok(job) => see_other(&format!("/ui/jobs/{}?done=saved", job.id.0)),
        Err(error) => match form_errors(error) {
            Ok(errors) => form_page(request, &ui, &visit, Some(&job), &form, &errors).await,
            Err(page) => *page,
        },
    }
}

#[handler]
async fn job_page(request: &Request, ui: Data<&Arc<Ui>>, Path(id): Path<String>) -> Response {
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    let id = match job_id(&id) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let fields = query_fields(request);
    let filter = RunsFilter::read(&fields);
    let now = ui.clock.now();
    let path = format!("/ui/jobs/{}", id.0);
    let refresh = own_url(request);
    if wants_runs_region(request) {
        return match paging::runs(&visit.runs, Some(id), &filter, &fields, &path, now).await {
            Ok(history) => fragment(request, &visit, runs::table(&history, false, &refresh)),
            Err(error) => list_error_page(error),
        };
    }
    let (job, history, summary) = tokio::join!(
        visit.jobs.get(id),
        paging::runs(&visit.runs, Some(id), &filter, &fields, &path, now),
        ui.summary(&visit)
    );
    let job = match job {
        Ok(job) => job,
        Err(error) => return error_page(error),
    };
    let history = match history {
        Ok(history) => history,
        Err(error) => return list_error_page(error),
    };
    let notice = job::notice(fields.get("done"));
    let body = job::body(
        &visit.viewer,
        &job,
        now,
        &filter,
        &history,
        &refresh,
        notice,
    );
    let title = job.spec.name.as_str().to_string();
    respond(
        request,
        &visit,
        StatusCode::OK,
        &title,
        &summary,
        Nav::Jobs,
        body,
    )
}

/// What a job page's button does.
#[derive(Debug, Clone, Copy)]
enum Action {
    /// Run now.
    Run,
    /// Pause.
    Pause,
    /// Resume.
    Resume,
    /// Delete (after the confirmation page).
    Delete,
}

async fn act(request: &Request, ui: &Ui, id: &str, body: Body, action: Action) -> Response {
    if let Err(refused) = posted(request, body).await {
        return *refused;
    }
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
        Action::Pause => visit.jobs.pause(id).await.map(|_| "paused"),
        Action::Resume => visit.jobs.resume(id).await.map(|_| "resumed"),
        Action::Delete => visit.jobs.delete(id).await.map(|()| "deleted"),
    };
    match (done, action) {
        (Ok(done), Action::Delete) => see_other(&format!("/ui/?done={done}")),
        (Ok(done), _) => see_other(&format!("/ui/jobs/{}?done={done}", id.0)),
        (Err(error), _) => error_page(error),
    }
}

#[handler]
async fn run_now(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    act(request, &ui, &id, body, Action::Run).await
}

#[handler]
async fn pause(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    act(request, &ui, &id, body, Action::Pause).await
}

#[handler]
async fn resume(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    act(request, &ui, &id, body, Action::Resume).await
}

#[handler]
async fn delete(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    act(request, &ui, &id, body, Action::Delete).await
}

#[handler]
async fn confirm_delete(request: &Request, ui: Data<&Arc<Ui>>, Path(id): Path<String>) -> Response {
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    if !visit.viewer.can_write() {
        return read_only_page();
    }
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

#[handler]
async fn runs_page(request: &Request, ui: Data<&Arc<Ui>>) -> Response {
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    let fields = query_fields(request);
    let filter = RunsFilter::read(&fields);
    let now = ui.clock.now();
    let refresh = own_url(request);
    let listing = paging::runs(&visit.runs, None, &filter, &fields, "/ui/runs", now);
    if wants_runs_region(request) {
        return match listing.await {
            Ok(page) => fragment(request, &visit, runs::table(&page, true, &refresh)),
            Err(error) => list_error_page(error),
        };
    }
    let (listed, summary) = tokio::join!(listing, ui.summary(&visit));
    match listed {
        Ok(page) => {
            let body = runs::body(&filter, &page, &refresh);
            respond(
                request,
                &visit,
                StatusCode::OK,
                "Runs",
                &summary,
                Nav::Runs,
                body,
            )
        }
        Err(error) => list_error_page(error),
    }
}

#[handler]
async fn preview_fragment(request: &Request, ui: Data<&Arc<Ui>>) -> Response {
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    let fields = query_fields(request);
    let body = preview::fragment(
        fields.get("cron_expression").unwrap_or_default(),
        fields.get("timezone").unwrap_or_default(),
        ui.clock.now(),
    );
    fragment(request, &visit, body)
}

#[handler]
async fn login_page(request: &Request, ui: Data<&Arc<Ui>>) -> Response {
    let mut response = session::login_page(request, ui.auth.mode == AuthMode::Off);
    layout::secure_headers(&mut response);
    response
}

#[handler]
async fn login(request: &Request, ui: Data<&Arc<Ui>>, body: Body) -> Response {
    let text = body.into_string().await.unwrap_or_default();
    let fields = FormFields::parse(&text);
    let mut response = session::login(request, &fields, &ui.auth).await;
    layout::secure_headers(&mut response);
    response
}

#[handler]
async fn logout(request: &Request, body: Body) -> Response {
    let text = body.into_string().await.unwrap_or_default();
    session::logout(request, &FormFields::parse(&text))
}

#[handler]
fn static_asset(Path(name): Path<String>) -> Response {
    assets::serve(&name)
}

/// The dashboard's routes, to be nested at `/ui`; unknown paths answer a 404 page. Each
/// route declares its scope beside it ([`RequireScope`]): pages need `read`, form posts
/// `write`; login, logout and the static assets are open.
pub fn routes(ui: Ui) -> impl Endpoint<Output = Response> {
    let read = RequireScope(Scope::Read);
    let write = RequireScope(Scope::Write);
    Route::new()
        .at("/", get(jobs_page.with(read)))
        .at("/jobs", post(create.with(write)))
        .at("/jobs/new", get(new_form.with(read)))
        .at(
            "/jobs/:id",
            get(job_page.with(read)).post(update.with(write)),
        )
        .at("/jobs/:id/edit", get(edit_form.with(read)))
        .at("/jobs/:id/run", post(run_now.with(write)))
        .at("/jobs/:id/pause", post(pause.with(write)))
        .at("/jobs/:id/resume", post(resume.with(write)))
        .at(
            "/jobs/:id/delete",
            get(confirm_delete.with(read)).post(delete.with(write)),
        )
        .at("/runs", get(runs_page.with(read)))
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
