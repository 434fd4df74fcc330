//! The header strip on every dashboard page: whether this replica's dispatcher ticks, the
//! dispatch backlog, how many of the tenant's jobs are paused (the maintenance switch's
//! state), and the runs of the last hour by status.

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use scheduler_core::{DispatcherHealth, JobQuery, JobService, RunService, RunStatus, WireEnum};

use super::cells::{STATUSES, is_failure};

/// The window of the strip's run counts.
pub const LAST_HOUR: chrono::Duration = chrono::Duration::hours(1);

/// What the strip shows; a figure the store could not give is `None` ("unavailable").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// This replica's dispatcher.
    pub dispatcher: DispatcherHealth,
    /// Active jobs (of every tenant) due and not yet claimed.
    pub backlog: Option<u64>,
    /// The caller's runs of the last hour, per status.
    pub last_hour: Option<Vec<(RunStatus, u64)>>,
    /// The caller's paused jobs.
    pub paused: Option<u64>,
}

impl Summary {
    /// Reads the strip's figures (three store queries, at once).
    pub async fn load(
        runs: &RunService,
        jobs: &JobService,
        dispatcher: DispatcherHealth,
        now: DateTime<Utc>,
    ) -> Self {
        let paused_query = JobQuery::new(Some(1), Some(1), Some(false), None);
        let paused_count = async {
            let query = paused_query.map_err(scheduler_core::ServiceError::from)?;
            jobs.list(&query).await.map(|page| page.total.unwrap_or(0))
        };
        let (backlog, last_hour, paused) = tokio::join!(
            runs.due_backlog(now),
            runs.status_counts_since(now - LAST_HOUR),
            paused_count
        );
        let logged = |what: &str, error: scheduler_core::ServiceError| {
            tracing::warn!(%error, "dashboard summary: {what} unavailable");
        };
        Self {
            dispatcher,
            backlog: backlog.map_err(|e| logged("backlog", e)).ok(),
            last_hour: last_hour.map_err(|e| logged("run counts", e)).ok(),
            paused: paused.map_err(|e| logged("paused jobs", e)).ok(),
        }
    }

    /// The strip.
    pub fn render(&self) -> Markup {
        let (class, text) = match self.dispatcher {
            DispatcherHealth::Up => ("ok", "up"),
            DispatcherHealth::Stalled => ("bad", "stalled"),
            DispatcherHealth::Off => ("muted", "off on this replica"),
        };
        html! {
            section.strip aria-label="Scheduler status" {
                div.stat {
                    span.label { "Dispatcher" }
                    span class={"value " (class)} #dispatcher-state { (text) }
                }
                div.stat {
                    span.label { "Backlog" }
                    span.value #backlog {
                        @match self.backlog {
                            Some(n) => { (n) " due" },
                            None => "unavailable",
                        }
                    }
                }
                div.stat {
                    span.label { "Paused" }
                    span.value #paused-count {
                        @match self.paused {
                            Some(0) => "no jobs",
                            Some(n) => a.count.bad href="/ui/?state=paused" { (n) @if n == 1 { " job" } @else { " jobs" } },
                            None => "unavailable",
                        }
                    }
                }
                div.stat.wide {
                    span.label { "Last hour" }
                    span.value #last-hour {
                        @match &self.last_hour {
                            None => "unavailable",
                            Some(counts) if counts.is_empty() => "no runs",
                            Some(counts) => {
                                @for status in STATUSES {
                                    @if let Some((_, n)) = counts.iter().find(|(s, _)| *s == status) {
                                        a.count.bad[is_failure(status)]
                                            href={"/ui/runs?status=" (status.as_str()) "&since=1h"} {
                                            (n) " " (status.as_str().replace('_', " "))
                                        }
                                    }
                                }
                            },
                        }
                    }
                }
            }
        }
    }
}
