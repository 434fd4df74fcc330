//! The jobs table, a job's page, and the create and edit forms with their posts.

use std::sync::Arc;

use maud::html;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use scheduler_core::Job;

use super::error_pages::{error_page, form_errors, list_error_page};
use super::form::FormFields;
use super::form::{self, JobForm};
use super::layout::Nav;
use super::paging::{self, JobsFilter, RunsFilter};
use super::session::see_other;
use super::visit::{
    Ui, Visit, fragment, job_id, own_url, posted, query_fields, respond, wants_runs_region,
};
use super::{audit, charts, job, jobs, preview, runs};
use crate::api::body::{read_draft, read_patch};
use crate::error::FieldErrors;

#[handler]
pub(crate) async fn jobs_page(request: &Request, ui: Data<&Arc<Ui>>) -> Response {
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    let fields = query_fields(request);
    let filter = JobsFilter::read(&fields);
    let (listed, summary, day) = tokio::join!(
        paging::jobs(&visit.jobs, &filter, &fields),
        ui.summary(&visit),
        ui.day_stats(&visit)
    );
    let page = match listed {
        Ok(page) => page,
        Err(error) => return list_error_page(error),
    };
    let notice = job::notice(fields.get("done"));
    let overview = charts::overview(day.as_ref());
    let body = jobs::body(&visit.viewer, &filter, &page, notice, overview);
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
pub(crate) async fn form_page(
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
    let (summary, calendars) = tokio::join!(
        ui.summary(visit),
        preview::calendars(
            &visit.jobs,
            form.value("calendars"),
            form.value("on_excluded")
        )
    );
    let preview = preview::fragment(
        form.value("cron_expression"),
        form.value("timezone"),
        &calendars,
        ui.clock.now(),
    );
    let rendered = form::render(
        &visit.viewer,
        form,
        errors,
        &action,
        editing.is_some(),
        preview,
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
pub(crate) async fn new_form(request: &Request, ui: Data<&Arc<Ui>>) -> Response {
    let visit = match ui.writer_visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
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

#[handler]
pub(crate) async fn create(request: &Request, ui: Data<&Arc<Ui>>, body: Body) -> Response {
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
pub(crate) async fn edit_form(
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
    match job {
        Ok(job) => {
            let form = JobForm::of_job(&job);
            form_page(request, &ui, &visit, Some(&job), &form, &FieldErrors::new()).await
        }
        Err(error) => error_page(error),
    }
}

#[handler]
pub(crate) async fn update(
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
pub(crate) async fn job_page(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(id): Path<String>,
) -> Response {
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
    // The page's own `cursor` pages its runs: the history section always starts newest.
    let history_path = format!("{path}/history");
    let newest = FormFields::default();
    let (job, history, recent, summary) = tokio::join!(
        visit.jobs.get(id),
        paging::runs(&visit.runs, Some(id), &filter, &fields, &path, now),
        paging::job_history(&visit.jobs, id, audit::RECENT, &newest, &history_path),
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
    // The timeline draws the newest runs whatever the table shows: the table's first page
    // when it is unfiltered, else a read of its own.
    let timeline = if filter == RunsFilter::default() && fields.get("cursor").is_none() {
        charts::timeline(&history.items, now)
    } else {
        match paging::runs(
            &visit.runs,
            Some(id),
            &RunsFilter::default(),
            &newest,
            &path,
            now,
        )
        .await
        {
            Ok(newest) => charts::timeline(&newest.items, now),
            Err(error) => return list_error_page(error),
        }
    };
    // A trail that cannot be read leaves the rest of the page as it is.
    let recent = recent
        .inspect_err(|error| tracing::warn!(?error, "dashboard: a job's history unavailable"))
        .ok();
    let notice = job::notice(fields.get("done"));
    let body = html! {
        (job::body(&visit.viewer, &job, now, notice))
        (job::runs_sections(&job, timeline, &filter, &history, &refresh))
        (audit::section(&job, recent.as_ref()))
    };
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
