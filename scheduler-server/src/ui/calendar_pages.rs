//! The calendars pages' handlers: the list with its create form and the post creating one, a
//! calendar's page, its edit form and the post replacing it, and delete after a confirmation
//! page (refused, as the API refuses it, while a job lists the calendar).

use std::sync::Arc;

use maud::html;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use scheduler_core::Calendar;

use super::calendar_form::{self, CalendarForm};
use super::calendars::{self, calendar_url};
use super::error_pages::{error_page, form_errors};
use super::layout::Nav;
use super::session::see_other;
use super::visit::{Ui, Visit, posted, query_fields, respond};
use crate::error::FieldErrors;

/// The calendars page holding `form` with `errors` in its create form.
async fn list_page(
    request: &Request,
    ui: &Ui,
    visit: &Visit,
    form: &CalendarForm,
    errors: &FieldErrors,
) -> Response {
    let fields = query_fields(request);
    let (listed, summary) = tokio::join!(visit.jobs.list_calendars(), ui.summary(visit));
    let listed = match listed {
        Ok(listed) => listed,
        Err(error) => return error_page(error),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let notice = calendars::notice(fields.get("done"));
    let body = calendars::list_body(&visit.viewer, &listed, notice, form, errors);
    respond(
        request,
        visit,
        status,
        "Calendars",
        &summary,
        Nav::Calendars,
        body,
    )
}

/// `GET /ui/calendars`: the list, and the create form for writers.
#[handler]
pub(crate) async fn calendars_page(request: &Request, ui: Data<&Arc<Ui>>) -> Response {
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    list_page(
        request,
        &ui,
        &visit,
        &CalendarForm::new_calendar(),
        &FieldErrors::new(),
    )
    .await
}

/// `POST /ui/calendars`: creates a calendar (a taken name is the name field's error).
#[handler]
pub(crate) async fn create_calendar(request: &Request, ui: Data<&Arc<Ui>>, body: Body) -> Response {
    let fields = match posted(request, body).await {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    let form = CalendarForm::posted(&fields);
    match visit.jobs.save_calendar(form.to_draft(None), false).await {
        Ok(saved) => see_other(&format!(
            "{}?done=created",
            calendar_url(saved.calendar.def.name.as_str())
        )),
        Err(error) => match form_errors(error) {
            Ok(errors) => list_page(request, &ui, &visit, &form, &errors).await,
            Err(page) => *page,
        },
    }
}

/// `GET /ui/calendars/{name}`: a calendar's dates.
#[handler]
pub(crate) async fn calendar_page(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(name): Path<String>,
) -> Response {
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    let fields = query_fields(request);
    let (calendar, summary) = tokio::join!(visit.jobs.get_calendar(&name), ui.summary(&visit));
    let calendar = match calendar {
        Ok(calendar) => calendar,
        Err(error) => return error_page(error),
    };
    let notice = calendars::notice(fields.get("done"));
    let body = calendars::page_body(&visit.viewer, &calendar, notice);
    let title = calendar.def.name.as_str().to_string();
    respond(
        request,
        &visit,
        StatusCode::OK,
        &title,
        &summary,
        Nav::Calendars,
        body,
    )
}

/// The edit form of the calendar `name` holding `form` with `errors`.
async fn edit_page(
    request: &Request,
    ui: &Ui,
    visit: &Visit,
    name: &str,
    form: &CalendarForm,
    errors: &FieldErrors,
) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let summary = ui.summary(visit).await;
    let url = calendar_url(name);
    let title = format!("Edit {name}");
    let body = html! {
        p { a href=(url) { "← " (name) } }
        h1 { (title) }
        (calendar_form::render(&visit.viewer, form, errors, &url, true))
    };
    respond(
        request,
        visit,
        status,
        &title,
        &summary,
        Nav::Calendars,
        body,
    )
}

/// `GET /ui/calendars/{name}/edit`: the form replacing a calendar, filled with it.
#[handler]
pub(crate) async fn edit_calendar_form(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(name): Path<String>,
) -> Response {
    let visit = match ui.writer_visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    match visit.jobs.get_calendar(&name).await {
        Ok(calendar) => {
            let form = CalendarForm::of_calendar(&calendar);
            let name = calendar.def.name.as_str();
            edit_page(request, &ui, &visit, name, &form, &FieldErrors::new()).await
        }
        Err(error) => error_page(error),
    }
}

/// `POST /ui/calendars/{name}`: replaces (or creates) the calendar of the URL; the jobs
/// listing it are recomputed in the same transaction.
#[handler]
pub(crate) async fn replace_calendar(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(name): Path<String>,
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
    // The calendar of the URL: the form's name field is only shown.
    let form = CalendarForm {
        name: name.clone(),
        ..CalendarForm::posted(&fields)
    };
    match visit
        .jobs
        .save_calendar(form.to_draft(Some(&name)), true)
        .await
    {
        Ok(saved) => see_other(&format!(
            "{}?done=saved",
            calendar_url(saved.calendar.def.name.as_str())
        )),
        Err(error) => match form_errors(error) {
            Ok(errors) => edit_page(request, &ui, &visit, &name, &form, &errors).await,
            Err(page) => *page,
        },
    }
}

/// The acting tenant's calendar `name`, or the page saying why not.
async fn found(visit: &Visit, name: &str) -> Result<Calendar, Box<Response>> {
    visit
        .jobs
        .get_calendar(name)
        .await
        .map_err(|error| Box::new(error_page(error)))
}

/// `GET /ui/calendars/{name}/delete`: the confirmation page.
#[handler]
pub(crate) async fn confirm_delete_calendar(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(name): Path<String>,
) -> Response {
    let visit = match ui.writer_visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    let calendar = match found(&visit, &name).await {
        Ok(calendar) => calendar,
        Err(page) => return *page,
    };
    let summary = ui.summary(&visit).await;
    let body = calendars::confirm_delete(&visit.viewer, &calendar);
    respond(
        request,
        &visit,
        StatusCode::OK,
        "Delete calendar",
        &summary,
        Nav::Calendars,
        body,
    )
}

/// `POST /ui/calendars/{name}/delete`: deletes the calendar; while a job lists it, the 409
/// page the API's refusal maps to.
#[handler]
pub(crate) async fn delete_calendar(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(name): Path<String>,
    body: Body,
) -> Response {
    if let Err(refused) = posted(request, body).await {
        return *refused;
    }
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    match visit.jobs.delete_calendar(&name).await {
        Ok(()) => see_other("/ui/calendars?done=deleted"),
        Err(error) => error_page(error),
    }
}
