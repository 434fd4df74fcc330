//! The audit trail's pages: a job's whole history (`/ui/jobs/{id}/history`, any reader of
//! the job) and the tenant's audit page (`/ui/audit`, admin keys only: its route needs the
//! `admin` scope, and others get the "admins only" refusal page). Both page by cursor, [`PAGE_SIZE`] entries at a time.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use super::audit::{self, AuditPageFilter};
use super::error_pages::{error_page, list_error_page};
use super::layout::Nav;
use super::paging::{self, PAGE_SIZE};
use super::visit::{Ui, job_id, query_fields, respond};

/// `GET /ui/jobs/{id}/history`: every entry of a job's history, newest first, paged by
/// `?cursor=`.
#[handler]
pub(crate) async fn job_history_page(
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
    let path = format!("/ui/jobs/{}/history", id.0);
    let (job, page, summary) = tokio::join!(
        visit.jobs.get(id),
        paging::job_history(&visit.jobs, id, PAGE_SIZE, &fields, &path),
        ui.summary(&visit)
    );
    let job = match job {
        Ok(job) => job,
        Err(error) => return error_page(error),
    };
    let page = match page {
        Ok(page) => page,
        Err(error) => return list_error_page(error),
    };
    let title = format!("History of {}", job.spec.name.as_str());
    let body = audit::history_body(&job, &page);
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

/// `GET /ui/audit`: the tenant's audit trail, newest first, filtered by `?kind=&actor=` and
/// paged by `?cursor=`; admin keys only (the route declares it: others get the "admins
/// only" page).
#[handler]
pub(crate) async fn audit_page(request: &Request, ui: Data<&Arc<Ui>>) -> Response {
    let visit = match ui.visit(request) {
        Ok(visit) => visit,
        Err(refusal) => return *refusal,
    };
    let fields = query_fields(request);
    let filter = AuditPageFilter {
        kind: fields.get("kind").unwrap_or_default().trim().to_string(),
        actor: fields.get("actor").unwrap_or_default().trim().to_string(),
    };
    let (page, summary) = tokio::join!(
        paging::audit(&visit.jobs, &filter.kind, &filter.actor, &fields),
        ui.summary(&visit)
    );
    let page = match page {
        Ok(page) => page,
        Err(error) => return list_error_page(error),
    };
    let body = audit::audit_body(&filter, &page);
    respond(
        request,
        &visit,
        StatusCode::OK,
        "Audit",
        &summary,
        Nav::Audit,
        body,
    )
}
