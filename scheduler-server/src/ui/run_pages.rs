//! The runs page across the caller's jobs, and the live cron preview fragment (its fires
//! marked by the calendars the form names).

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Request, Response, handler};

use super::error_pages::list_error_page;
use super::layout::Nav;
use super::paging::{self, RunsFilter};
use super::visit::{Ui, fragment, own_url, query_fields, respond, wants_runs_region};
use super::{preview, runs};

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
