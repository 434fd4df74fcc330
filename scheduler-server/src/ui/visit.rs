//! What a dashboard request works with: the use cases, the visit of one caller (their
//! services and viewer), and how a page or a fragment is answered.

use std::sync::Arc;

use maud::Markup;
use poem::http::StatusCode;
use poem::{Body, IntoResponse, Request, Response};
use scheduler_core::{JobId, RunId, ServiceError};

use super::error_pages::{error_page, read_only_page};
use super::form::FormFields;
use super::layout::{self, Nav, html_response, message_page};
use super::session;
use super::summary::Summary;
use super::viewer::Viewer;
use crate::auth::Auth;
use scheduler_core::{
    Clock, DayStats, Dispatcher, DispatcherHealth, JobService, Principal, RunService, Scope,
};
use std::time::Duration;

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
pub(crate) struct Visit {
    /// The visitor.
    pub(crate) viewer: Viewer,
    /// Jobs, as the visitor's tenant.
    pub(crate) jobs: JobService,
    /// Runs, as the visitor's tenant.
    pub(crate) runs: RunService,
}

impl Ui {
    /// The visit of an admitted caller (every page behind [`RequireScope`] has one); the
    /// refusal page otherwise.
    pub(crate) fn visit(&self, request: &Request) -> Result<Visit, Box<Response>> {
        let viewer = Viewer::of(request);
        let Some(principal) = viewer.principal.clone().map(|principal| Principal {
            dashboard: true,
            ..principal
        }) else {
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

    /// The visit of an admitted caller who may change jobs; the refusal page, or the
    /// read-only page for a read-only key, otherwise. The forms that change a job use it.
    pub(crate) fn writer_visit(&self, request: &Request) -> Result<Visit, Box<Response>> {
        let visit = self.visit(request)?;
        if !visit.viewer.can_write() {
            return Err(Box::new(read_only_page()));
        }
        Ok(visit)
    }

    /// The header strip's figures for `visit`.
    pub(crate) async fn summary(&self, visit: &Visit) -> Summary {
        let state = DispatcherHealth::of(self.dispatcher.as_ref(), self.tick_bound);
        Summary::load(&visit.runs, &visit.jobs, state, self.clock.now()).await
    }

    /// The last 24 hours of the visitor's tenant for the front page's charts; `None` (logged)
    /// when the store could not say.
    pub(crate) async fn day_stats(&self, visit: &Visit) -> Option<DayStats> {
        match visit.runs.day_stats(self.clock.now()).await {
            Ok(stats) => Some(stats),
            Err(error) => {
                tracing::warn!(%error, "dashboard: run statistics unavailable");
                None
            }
        }
    }
}

/// A full page for `visit`.
pub(crate) fn respond(
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
pub(crate) fn fragment(request: &Request, visit: &Visit, body: Markup) -> Response {
    visit
        .viewer
        .finish(request, html_response(StatusCode::OK, body))
}

/// The query string's fields.
pub(crate) fn query_fields(request: &Request) -> FormFields {
    FormFields::parse(request.uri().query().unwrap_or_default())
}

/// The request's own path and query as the browser sent it (a table's refresh URL; the
/// nest at `/ui` strips its prefix from `uri()`), without a page's one-time notice.
pub(crate) fn own_url(request: &Request) -> String {
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
pub(crate) fn wants_runs_region(request: &Request) -> bool {
    request.headers().contains_key("hx-request")
        && request
            .headers()
            .get("hx-target")
            .is_some_and(|t| t.as_bytes() == b"runs-region")
}

/// A path id; anything but a positive integer is an unknown job.
pub(crate) fn job_id(raw: &str) -> Result<JobId, Box<Response>> {
    crate::api::jobs::parse_job_id(raw).map_err(|_| Box::new(error_page(ServiceError::JobNotFound)))
}

/// A run's path id; anything but a positive integer is an unknown run.
pub(crate) fn run_id(raw: &str) -> Result<RunId, Box<Response>> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(RunId)
        .ok_or_else(|| Box::new(error_page(ServiceError::RunNotFound)))
}

/// A posted form's fields, after the CSRF checks.
pub(crate) async fn posted(request: &Request, body: Body) -> Result<FormFields, Box<Response>> {
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
