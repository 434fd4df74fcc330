//! The runs page across the caller's jobs, a run's page, and the live cron preview fragment
//! (its fires marked by the calendars the form names).

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use super::error_pages::{error_page, list_error_page};
use super::layout::Nav;
use super::paging::{self, RunsFilter};
use super::visit::{Ui, fragment, own_url, query_fields, respond, run_id, wants_runs_region};
use super::{preview, run, runs};

#[handler]
pub(crate) async fn runs_page(request: &Request, ui: Data<&Arc<Ui>>) -> Response {
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

/// A run's page (`GET /ui/runs/{id}`), with the notice of its replay button (`?done=`).
#[handler]
pub(crate) async fn run_page(
    request: &Request,
    ui: Data<&Arc<Ui>>,
    Path(id): Path<String>,
) -> Response {
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    let id = match run_id(&id) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let (found, summary) = tokio::join!(visit.runs.get(id), ui.summary(&visit));
    let found = match found {
        Ok(found) => found,
        Err(error) => return error_page(error),
    };
    // The output is a second read; a store failing it leaves the page without it.
    let output = visit.runs.output(id).await.ok().flatten();
    let fields = query_fields(request);
    let body = run::body(
        &visit.viewer,
        &found,
        run::notice(fields.get("done")),
        output.as_ref(),
    );
    let title = format!("Run #{}", found.run.id.0);
    respond(
        request,
        &visit,
        StatusCode::OK,
        &title,
        &summary,
        Nav::Runs,
        body,
    )
}

#[handler]
pub(crate) async fn preview_fragment(request: &Request, ui: Data<&Arc<Ui>>) -> Response {
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    let fields = query_fields(request);
    let calendars = preview::calendars(
        &visit.jobs,
        fields.get("calendars").unwrap_or_default(),
        fields.get("on_excluded").unwrap_or_default(),
    )
    .await;
    let body = preview::fragment(
        fields.get("cron_expression").unwrap_or_default(),
        fields.get("timezone").unwrap_or_default(),
        &calendars,
        ui.clock.now(),
    );
    fragment(request, &visit, body)
}
