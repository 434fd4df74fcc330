//! Run list pages: the SQL behind `RunStore::list`, newest first (id descending).
//!
//! A job's runs are read from `job_runs_job_idx (job_id, id DESC)`, runs across a tenant's
//! jobs from the primary key, each run's job checked by a primary-key probe (`EXISTS`). A cursor holds a run
//! id, so a cursor page is an id range of the same index whatever its depth; a numbered page
//! counts the matching runs (`COUNT(*)`, O(matching runs)) and skips `offset` of them.

use scheduler_core::{Direction, RepositoryError, RunPage, RunSlice, Window, WireEnum};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, Statement,
};

use super::entity as jobs;
use super::run_entity as runs;
use super::{bound_offset, micros, repository_error};

/// The runs the slice's filter holds, unordered.
fn filtered(slice: &RunSlice) -> Select<runs::Entity> {
    let filter = &slice.filter;
    let mut select = runs::Entity::find();
    if let Some(job_id) = filter.job_id {
        select = select.filter(runs::Column::JobId.eq(job_id.0));
    }
    if let Some(tenant) = &filter.tenant {
        // A correlated EXISTS: each run listed costs one primary-key probe of `jobs`, where
        // `IN (SELECT id FROM jobs WHERE tenant = …)` would read every job of the tenant.
        select = select.filter(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(jobs::Entity)
                .and_where(
                    Expr::col((jobs::Entity, jobs::Column::Id))
                        .equals((runs::Entity, runs::Column::JobId)),
                )
                .and_where(Expr::col((jobs::Entity, jobs::Column::Tenant)).eq(tenant.as_str()))
                .to_owned(),
        ));
    }
    if let Some(status) = filter.status {
        select = select.filter(runs::Column::Status.eq(status.as_str()));
    }
    if let Some(trigger) = filter.trigger {
        select = select.filter(runs::Column::Trigger.eq(trigger.as_str()));
    }
    if let Some(after) = filter.scheduled_after {
        select = select.filter(runs::Column::ScheduledFor.gte(micros(after)));
    }
    if let Some(before) = filter.scheduled_before {
        select = select.filter(runs::Column::ScheduledFor.lt(micros(before)));
    }
    select
}

/// The page's query; for a cursor page one row more than the page (to tell whether another
/// follows), in reverse list order when reading backwards.
fn page_select(slice: &RunSlice) -> Select<runs::Entity> {
    let select = filtered(slice);
    match &slice.window {
        Window::Offset { offset, limit } => select
            .order_by_desc(runs::Column::Id)
            .offset(bound_offset(*offset))
            .limit(*limit),
        Window::Keyset { keyset, limit } => {
            // Newest first: forward reads older runs (smaller ids), backward newer ones.
            let backward = keyset.direction == Direction::Backward;
            let select = match (keyset.from, backward) {
                (None, _) => select,
                (Some(from), false) => select.filter(runs::Column::Id.lt(from.0)),
                (Some(from), true) => select.filter(runs::Column::Id.gt(from.0)),
            };
            let ordered = if backward {
                select.order_by_asc(runs::Column::Id)
            } else {
                select.order_by_desc(runs::Column::Id)
            };
            ordered.limit(limit.saturating_add(1))
        }
    }
}

/// The statements `list` sends for `slice` on `backend` — the page, then the count for a
/// numbered page — so a check can `EXPLAIN` exactly them.
pub fn statements(backend: DbBackend, slice: &RunSlice) -> Vec<Statement> {
    let mut statements = vec![page_select(slice).build(backend)];
    if matches!(slice.window, Window::Offset { .. }) {
        statements.push(
            filtered(slice)
                .select_only()
                .column_as(runs::Column::Id.count(), "n")
                .build(backend),
        );
    }
    statements
}

/// One page of runs for `slice`.
pub(super) async fn list(
    db: &DatabaseConnection,
    slice: &RunSlice,
) -> Result<RunPage, RepositoryError> {
    let rows = page_select(slice).all(db).await.map_err(repository_error)?;
    let mut items = rows
        .into_iter()
        .map(runs::Model::into_run)
        .collect::<Result<Vec<_>, _>>()?;
    match &slice.window {
        Window::Offset { offset, .. } => {
            let total = filtered(slice).count(db).await.map_err(repository_error)?;
            let shown = u64::try_from(items.len()).unwrap_or(u64::MAX);
            Ok(RunPage {
                total: Some(total),
                more: offset.saturating_add(shown) < total,
                items,
            })
        }
        Window::Keyset { keyset, limit } => {
            let more = u64::try_from(items.len()).unwrap_or(u64::MAX) > *limit;
            items.truncate(usize::try_from(*limit).unwrap_or(usize::MAX));
            if keyset.direction == Direction::Backward {
                items.reverse();
            }
            Ok(RunPage {
                total: None,
                items,
                more,
            })
        }
    }
}
