//! `RunService`: the run use cases the API calls — a job's run history, one run, and a manual
//! run now. Each run is shown with its job's name ([`JobRun`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::cursor::{InvalidCursor, Keyset};
use crate::dispatcher::Dispatcher;
use crate::error::{RepositoryError, ServiceError};
use crate::job::JobId;
use crate::page::{Listing, navigation};
use crate::paging::Paging;
use crate::ports::RunStore;
use crate::run::{Run, RunId};
use crate::run_query::RunQuery;
use crate::run_status::RunStatus;
use crate::service::JobService;
use chrono::{DateTime, Utc};

/// A run as people read it: the run, and the name of its job (`None` when the job was deleted
/// while the run was read).
#[derive(Debug, Clone, PartialEq)]
pub struct JobRun {
    /// The run.
    pub run: Run,
    /// Its job's name.
    pub job_name: Option<String>,
}

/// What one backfill did.
#[derive(Debug, Clone, PartialEq)]
pub struct Backfilled {
    /// The runs it created (running, or waiting for their turn), oldest fire first.
    pub runs: Vec<Run>,
    /// The instants in the range that already had a run, left alone.
    pub already_run: usize,
    /// The job's name.
    pub job_name: String,
}

/// The run use cases over the run store, the job service (a job's runs exist only while the
/// job does) and the dispatcher (which executes manual runs).
#[derive(Clone)]
pub struct RunService {
    /// To check that a job exists.
    jobs: JobService,
    /// Run history.
    store: Arc<dyn RunStore>,
    /// Starts and executes manual runs on this replica.
    dispatcher: Dispatcher,
    /// The day's figures of a tenant's runs (the dashboard's charts), when wired.
    stats: Option<Arc<dyn crate::run_stats::RunStats>>,
}

impl RunService {
    /// Wires the service.
    pub fn new(jobs: JobService, store: Arc<dyn RunStore>, dispatcher: Dispatcher) -> Self {
        Self {
            jobs,
            store,
            dispatcher,
            stats: None,
        }
    }

    /// One page of the runs of job `job_id` matching `query`, newest first; cursors of this
    /// list belong to this job.
    ///
    /// # Errors
    /// `JobNotFound` for an unknown job, `InvalidPage` for an empty numbered page after the
    /// first, `InvalidCursor`, `Unavailable` when the store is down.
    pub async fn list_for_job(
        &self,
        job_id: JobId,
        query: &RunQuery,
    ) -> Result<Listing<JobRun>, ServiceError> {
        let job = self.jobs.get(job_id).await?;
        let listing = self
            .listed(
                &query.clone().for_job(job_id),
                &format!("runs:job:{job_id}"),
            )
            .await?;
        let name = job.spec.name.as_str().to_string();
        Ok(listing.map(|run| JobRun {
            run,
            job_name: Some(name.clone()),
        }))
    }

    /// The same service acting for `principal` (see [`JobService::acting_as`]): only the runs
    /// of the tenant's jobs are visible.
    #[must_use]
    pub fn acting_as(&self, principal: crate::auth::Principal) -> Self {
        Self {
            jobs: self.jobs.acting_as(principal),
            ..self.clone()
        }
    }

    /// The same service reading the day's figures of runs from `stats`.
    #[must_use]
    pub fn with_stats(mut self, stats: Arc<dyn crate::run_stats::RunStats>) -> Self {
        self.stats = Some(stats);
        self
    }

    /// The acting tenant's runs of the last [`crate::run_stats::HOURS`] hours by hour (counts
    /// by status, fire lateness p50/p99), as of `now`.
    ///
    /// # Errors
    /// `Unavailable` (also for a service wired without figures).
    pub async fn day_stats(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::run_stats::DayStats, ServiceError> {
        let stats = self
            .stats
            .as_ref()
            .ok_or_else(|| ServiceError::Unavailable("no run statistics are wired".into()))?;
        let since = crate::run_stats::day_start(now);
        let read = stats
            .runs_since(&self.jobs.principal().tenant, since)
            .await?;
        Ok(crate::run_stats::DayStats::of(&read, now))
    }

    /// One page of the runs, across jobs, matching `query`, newest first.
    ///
    /// # Errors
    /// `InvalidPage` for an empty numbered page after the first (as the original's
    /// paginator), `InvalidCursor` for a cursor that does not verify for this tenant and
    /// list, `Unavailable` when the store is down.
    pub async fn list(&self, query: &RunQuery) -> Result<Listing<JobRun>, ServiceError> {
        let listing = self.listed(query, "runs").await?;
        let names = self
            .job_names(listing.items.iter().map(|run| run.job_id).collect())
            .await;
        Ok(listing.map(|run| JobRun {
            job_name: names.get(&run.job_id).cloned(),
            run,
        }))
    }

    /// The names of the jobs `ids`, read at once (each through the cache; a job gone
    /// meanwhile has none).
    async fn job_names(&self, ids: HashSet<JobId>) -> HashMap<JobId, String> {
        let reads = ids.into_iter().map(|id| async move {
            self.jobs
                .get(id)
                .await
                .ok()
                .map(|job| (id, job.spec.name.as_str().to_string()))
        });
        futures_util::future::join_all(reads)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// A page of the list `scope` (what its cursors are bound to).
    async fn listed(&self, query: &RunQuery, scope: &str) -> Result<Listing<Run>, ServiceError> {
        let tenant = &self.jobs.principal().tenant;
        let cursors = self.jobs.cursors();
        let keyset = match query.paging() {
            Paging::Cursor(Some(token)) => {
                let (direction, position) = cursors.decode(tenant, scope, token)?;
                let id = match position.as_array().map(Vec::as_slice) {
                    Some([id]) => id.as_i64().map(RunId).ok_or(InvalidCursor)?,
                    _ => return Err(InvalidCursor.into()),
                };
                Some(Keyset {
                    from: Some(id),
                    direction,
                })
            }
            Paging::Number(_) | Paging::Cursor(None) => None,
        };
        let slice = query.slice_for(Some(tenant.clone()), keyset);
        let page = self.store.list(&slice).await?;
        if query.page().is_some_and(|page| page > 1) && page.items.is_empty() {
            return Err(ServiceError::InvalidPage);
        }
        let (next, previous) = navigation(
            &slice.window,
            query.page().unwrap_or(1),
            &page,
            |direction, run| {
                cursors.encode(tenant, scope, direction, serde_json::json!([run.id.0]))
            },
        );
        Ok(Listing {
            total: page.total,
            items: page.items,
            next,
            previous,
        })
    }

    /// The run `id`.
    ///
    /// # Errors
    /// `RunNotFound`, or `Unavailable` when the store is down.
    pub async fn get(&self, id: RunId) -> Result<JobRun, ServiceError> {
        let run = self.store.get(id).await?.ok_or(ServiceError::RunNotFound)?;
        // A run is visible only with its job, to the job's tenant.
        match self.jobs.get(run.job_id).await {
            Ok(job) => Ok(JobRun {
                run,
                job_name: Some(job.spec.name.as_str().to_string()),
            }),
            Err(ServiceError::JobNotFound) => Err(ServiceError::RunNotFound),
            Err(other) => Err(other),
        }
    }

    /// What run `id` answered or returned (its job's tenant only): `None` when nothing was
    /// kept (an empty answer, a handler, a run still running).
    ///
    /// # Errors
    /// `RunNotFound` (also another tenant's run), `Unavailable`.
    pub async fn output(
        &self,
        id: RunId,
    ) -> Result<Option<crate::run_output::RunOutput>, ServiceError> {
        self.get(id).await?;
        Ok(self.store.output(id).await?)
    }

    /// Starts a manual run of job `job_id` now on this replica; the schedule is unchanged.
    ///
    /// # Errors
    /// `JobNotFound`, `Conflict(RunFire)` when a manual run of the job started at the same
    /// instant, `Unavailable`.
    pub async fn run_now(&self, job_id: JobId) -> Result<JobRun, ServiceError> {
        let job = self.jobs.get(job_id).await?;
        let run = self
            .dispatcher
            .run_now(job_id)
            .await
            .map_err(|error| match error {
                RepositoryError::NotFound => ServiceError::JobNotFound,
                other => other.into(),
            })?;
        Ok(JobRun {
            run,
            job_name: Some(job.spec.name.as_str().to_string()),
        })
    }

    /// Backfills job `job_id` over `[from, to)`: the fires its schedule would have made in
    /// that past range ([`crate::backfill::backfill_fires`], at most
    /// [`crate::backfill::BACKFILL_CAP`]) that have no run yet are inserted (trigger
    /// `backfill`) and run on this replica under the job's overlap policy. Returns the runs
    /// created and how many instants already had one.
    ///
    /// # Errors
    /// `JobNotFound`, `Validation` naming `from` or `to`, `Unavailable`.
    pub async fn backfill(
        &self,
        job_id: JobId,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Backfilled, ServiceError> {
        let job = self.jobs.get(job_id).await?;
        let fires = crate::backfill::backfill_fires(&job.spec, from, to, self.jobs.now())?;
        let runs = self
            .dispatcher
            .backfill(job_id, &fires)
            .await
            .map_err(|error| match error {
                RepositoryError::NotFound => ServiceError::JobNotFound,
                other => other.into(),
            })?;
        Ok(Backfilled {
            already_run: fires.len().saturating_sub(runs.len()),
            runs,
            job_name: job.spec.name.as_str().to_string(),
        })
    }

    /// Cancels run `id` while it runs: the store records it `cancelled` ("cancelled by
    /// <key>", never retried); the replica executing it stops it — at once when that is this
    /// one, within about a second otherwise (`Dispatcher::stop_ended_runs`).
    ///
    /// # Errors
    /// `RunNotFound` (also another tenant's run), `Conflict(RunEnded)` when it is not
    /// running, `Unavailable`.
    pub async fn cancel(&self, id: RunId) -> Result<JobRun, ServiceError> {
        let shown = self.get(id).await?;
        let principal = self.jobs.principal();
        let plan = crate::job_state::plan_cancel(
            &shown.run,
            principal.key_name.as_deref(),
            self.jobs.now(),
        );
        let run = self
            .store
            .cancel(id, &plan)
            .await
            .map_err(|error| match error {
                RepositoryError::NotFound => ServiceError::RunNotFound,
                other => other.into(),
            })?;
        self.dispatcher.stop_run(id);
        self.jobs.forget(run.job_id).await;
        Ok(JobRun {
            run,
            job_name: shown.job_name,
        })
    }

    /// Replays the ended run `id` (of the acting tenant's job): a new run of the same fire —
    /// same job, parameters and target as the job has now, `scheduled_for` kept (the
    /// receiver's idempotency key), the next attempt number, trigger `replay`, `replay_of` the
    /// original — started on this replica under the job's overlap policy. Returns it and
    /// whether it was made now: a run is replayed once; asked again (even at the same time,
    /// on another replica) the answer is that same replay.
    ///
    /// # Errors
    /// `RunNotFound`, `Conflict(RunRunning)` while the run runs, `Unavailable`.
    pub async fn replay(&self, id: RunId) -> Result<(JobRun, bool), ServiceError> {
        let shown = self.get(id).await?;
        let (run, created) = self
            .dispatcher
            .replay(id)
            .await
            .map_err(|error| match error {
                RepositoryError::NotFound => ServiceError::RunNotFound,
                other => other.into(),
            })?;
        if created {
            self.jobs.forget(run.job_id).await;
        }
        Ok((
            JobRun {
                run,
                job_name: shown.job_name,
            },
            created,
        ))
    }

    /// How many runs of the acting tenant's jobs serve fires at or after `since`, per status
    /// (statuses without runs left out): the dashboard's "last hour".
    ///
    /// # Errors
    /// `Unavailable` when the store is down.
    pub async fn status_counts_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(RunStatus, u64)>, ServiceError> {
        let tenant = self.jobs.principal().tenant.clone();
        Ok(self
            .store
            .count_by_status_since(Some(tenant), since)
            .await?)
    }

    /// How many active jobs (of every tenant) have a fire due at `now` that no dispatcher has
    /// claimed yet: the dispatch backlog, as the `scheduler_backlog` gauge counts it.
    ///
    /// # Errors
    /// `Unavailable` when the store is down.
    pub async fn due_backlog(&self, now: DateTime<Utc>) -> Result<u64, ServiceError> {
        Ok(self.store.due_backlog(now).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatcher::DispatcherConfig;
    use crate::ports::{
        CacheLookup, CacheTicket, MockClock, MockJobCache, MockJobExecutor, MockJobRepository,
        MockRunStore,
    };
    use chrono::{DateTime, Utc};

    fn now() -> DateTime<Utc> {
        "2025-06-23T08:00:00Z".parse().unwrap()
    }

    fn service(repo: MockJobRepository, store: MockRunStore) -> RunService {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        let clock = Arc::new(clock);
        let mut cache = MockJobCache::new();
        cache
            .expect_get_job()
            .returning(|_| CacheLookup::Miss(CacheTicket::at(0)));
        cache.expect_invalidate_job().return_const(());
        let cache = Arc::new(cache);
        let store: Arc<dyn RunStore> = Arc::new(store);
        let jobs = JobService::new(Arc::new(repo), cache.clone(), clock.clone());
        let dispatcher = Dispatcher::new(
            store.clone(),
            Arc::new(MockJobExecutor::new()),
            cache,
            clock,
            Arc::new(crate::ports::NoTelemetry),
            DispatcherConfig::new("test"),
        );
        RunService::new(jobs, store, dispatcher)
    }

    #[tokio::test]
    async fn runs_of_an_unknown_job_are_job_not_found() {
        let mut repo = MockJobRepository::new();
        repo.expect_get().returning(|_| Ok(None));
        let mut store = MockRunStore::new();
        store.expect_list().never();
        let result = service(repo, store)
            .list_for_job(JobId(4), &RunQuery::default())
            .await;
        assert_eq!(result, Err(ServiceError::JobNotFound));
    }

    #[tokio::test]
    async fn an_unknown_run_is_run_not_found_and_an_outage_unavailable() {
        let mut store = MockRunStore::new();
        store.expect_get().returning(|id| match id.0 {
            1 => Ok(None),
            _ => Err(RepositoryError::Unavailable("down".into())),
        });
        let runs = service(MockJobRepository::new(), store);
        assert_eq!(runs.get(RunId(1)).await, Err(ServiceError::RunNotFound));
        assert!(matches!(
            runs.get(RunId(2)).await,
            Err(ServiceError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn a_manual_run_of_an_unknown_job_is_job_not_found() {
        // Unknown (or another tenant's): refused before the dispatcher starts anything.
        let mut repo = MockJobRepository::new();
        repo.expect_get().returning(|_| Ok(None));
        let mut store = MockRunStore::new();
        store.expect_start_manual().never();
        let result = service(repo, store).run_now(JobId(9)).await;
        assert_eq!(result, Err(ServiceError::JobNotFound));
    }
}
