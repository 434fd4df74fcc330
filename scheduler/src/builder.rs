//! [`Scheduler::builder`]: connect, migrate, register typed handlers, reconcile the schedules
//! the program declares, and run the dispatcher until [`Scheduler::shutdown`].
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use scheduler_adapters::{
    DatabaseConfig, SystemClock, connect, default_worker_name, mask_password,
};
use scheduler_core::{Clock, Dispatcher, DispatcherConfig, Job, JobService, Run, RunService};
use sea_orm::DatabaseConnection;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::handler::{BoxError, Ctx, Handlers};
use crate::wiring::{Parts, Wired, default_cache, wire};

use crate::calendar::Calendar;
use crate::error::Error;
use crate::schedule::Schedule;

/// Where the jobs live.
enum Store {
    Url(DatabaseConfig),
    Connection(DatabaseConnection),
}

/// Builds a [`Scheduler`]: see the crate docs for a quick start. Defaults: the dispatcher
/// runs in this process with [`DispatcherConfig::new`]'s settings and worker name
/// `<host>-<pid>` (`scheduler_adapters::default_worker_name`); the system clock; on SQLite an in-process read cache, on PostgreSQL none
/// (several processes share the database, and none may serve another's stale data).
pub struct SchedulerBuilder {
    store: Option<Store>,
    handlers: Handlers,
    fallback: bool,
    schedules: Vec<Schedule>,
    calendars: Vec<Calendar>,
    prune: bool,
    dispatcher: DispatcherConfig,
    dispatch: bool,
    clock: Option<Arc<dyn Clock>>,
}

impl SchedulerBuilder {
    fn new() -> Self {
        Self {
            store: None,
            handlers: Handlers::new(),
            fallback: false,
            schedules: Vec::new(),
            calendars: Vec::new(),
            prune: false,
            dispatcher: DispatcherConfig::new(default_worker_name()),
            dispatch: true,
            clock: None,
        }
    }

    /// The database: `sqlite://path?mode=rwc` (one process) or
    /// `postgres://user:pass@host/db` (any number of processes: each fire runs once).
    pub fn database(mut self, url: impl Into<String>) -> Self {
        self.store = Some(Store::Url(DatabaseConfig::new(url)));
        self
    }

    /// The database with pool settings (size, timeouts).
    pub fn database_config(mut self, config: DatabaseConfig) -> Self {
        self.store = Some(Store::Url(config));
        self
    }

    /// An existing sea-orm pool (for example the program's own); migrations still run on it.
    pub fn connection(mut self, db: DatabaseConnection) -> Self {
        self.store = Some(Store::Connection(db));
        self
    }

    /// Runs `handler` for jobs whose `parameters.action` is `action`: `async fn(Ctx, P) ->
    /// Result<(), E>`, with the job's other parameters deserialized into `P` and `E` any
    /// error (`std::error::Error`, `anyhow::Error`, `String`). A registered `action` replaces
    /// an earlier one of the same name.
    pub fn handler<P, E, F, Fut>(mut self, action: &str, handler: F) -> Self
    where
        P: DeserializeOwned + Send + 'static,
        E: Into<BoxError> + 'static,
        F: Fn(Ctx, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.handlers.add(action, handler);
        self
    }

    /// Declares the schedule `name` on `cron` (UTC) with `params`, run by the handler whose
    /// parameter type is `P`. Reconciled at start: created if missing, updated if it changed,
    /// left alone otherwise. For a time zone, retries or an explicit handler, use
    /// [`SchedulerBuilder::declare`] with a [`Schedule`].
    pub fn schedule<P: Serialize + 'static>(
        self,
        name: impl Into<String>,
        cron: impl Into<String>,
        params: P,
    ) -> Self {
        self.declare(Schedule::new(name, cron).params(params))
    }

    /// Declares a calendar of excluded days (in the `default` tenant), stored at start before
    /// the schedules: created when missing, replaced when it differs (every job listing it
    /// is then recomputed), left alone when equal.
    pub fn calendar(mut self, calendar: Calendar) -> Self {
        self.calendars.push(calendar);
        self
    }

    /// Declares a schedule built with [`Schedule`]'s setters.
    pub fn declare(mut self, schedule: Schedule) -> Self {
        self.schedules.push(schedule);
        self
    }

    /// At start, also deletes the jobs earlier runs of the program declared and this one no
    /// longer does. Only jobs declared in code are touched, never jobs created through the API.
    /// Every process of the program must declare the same set (a process of an older version
    /// would prune the newer schedules).
    pub fn prune_undeclared(mut self) -> Self {
        self.prune = true;
        self
    }

    /// Changes any dispatcher setting (worker name, claim batch, concurrency, poll interval,
    /// lease, shutdown grace, ...).
    pub fn dispatcher(mut self, configure: impl FnOnce(&mut DispatcherConfig)) -> Self {
        configure(&mut self.dispatcher);
        self
    }

    /// Does not run the dispatcher in this process (it only declares and manages jobs; other
    /// processes fire them).
    pub fn without_dispatcher(mut self) -> Self {
        self.dispatch = false;
        self
    }

    /// Succeeds runs of jobs whose action has no handler here, logging them, instead of
    /// failing them (what the server does for jobs without a target).
    pub fn log_unhandled(mut self) -> Self {
        self.fallback = true;
        self
    }

    /// The source of "now" (tests drive time with their own).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Connects, migrates (safely when several processes start at once), reconciles the
    /// declared schedules, and starts the dispatcher.
    ///
    /// # Errors
    /// [`Error`]: dispatcher settings that contradict each other, no or unreachable
    /// database, a declared schedule that is invalid or has no handler, a store failure while
    /// reconciling. Nothing runs then.
    pub async fn start(self) -> Result<Scheduler, Error> {
        self.dispatcher.check().map_err(Error::Dispatcher)?;
        let db = match self.store {
            None => return Err(Error::NoDatabase),
            Some(Store::Connection(db)) => db,
            Some(Store::Url(config)) => connect(&config).await.map_err(|e| Error::Database {
                url: mask_password(&config.url),
                cause: e.to_string(),
            })?,
        };
        scheduler_migration::migrate(&db)
            .await
            .map_err(|e| Error::Database {
                url: "(migrations)".to_string(),
                cause: e.to_string(),
            })?;
        let drafts = self
            .schedules
            .iter()
            .map(|schedule| schedule.draft(self.handlers.registered()))
            .collect::<Result<Vec<_>, _>>()?;

        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let shutdown = self.handlers.shutdown_token();
        let mut actions = self.handlers.into_action_handlers();
        if self.fallback {
            actions.fallback(|job: Job, run: Run| async move {
                tracing::info!(job_id = %job.id, run_id = %run.id, "no handler here for this job; logged");
                Ok(())
            });
        }
        let Wired {
            jobs,
            runs,
            dispatcher,
            ..
        } = wire(Parts {
            cache: default_cache(&db, 10_000, Duration::from_secs(60)),
            db: db.clone(),
            clock,
            executor: Arc::new(actions),
            dispatcher: self.dispatcher,
            batch_slots: None,
            target_guard: None,
        })
        .await
        .map_err(|e| Error::Store(e.to_string()))?;
        for calendar in &self.calendars {
            let draft = calendar.draft();
            let wanted = draft.clone().validate().map_err(|errors| Error::Calendar {
                name: calendar.name.clone(),
                errors,
            })?;
            let stored = jobs.get_calendar(&calendar.name).await.ok();
            if stored.is_none_or(|stored| stored.def != wanted) {
                jobs.save_calendar(draft, true)
                    .await
                    .map_err(|e| Error::Store(e.to_string()))?;
            }
        }
        for (schedule, draft) in self.schedules.iter().zip(drafts) {
            let (job, declared) = jobs
                .declare(draft)
                .await
                .map_err(|e| Error::from_service(&schedule.name, e))?;
            tracing::info!(job_id = %job.id, name = schedule.name, ?declared, next_run = ?job.next_run, "schedule declared");
        }
        if self.prune {
            let keep: Vec<&str> = self.schedules.iter().map(|s| s.name.as_str()).collect();
            let removed = jobs
                .prune_declared(&keep)
                .await
                .map_err(|e| Error::Store(e.to_string()))?;
            for job in removed {
                tracing::info!(job_id = %job.id, name = job.spec.name.as_str(), "undeclared schedule removed");
            }
        }

        let (stop, stopped) = oneshot::channel::<()>();
        let looping = self.dispatch.then(|| {
            let dispatcher = dispatcher.clone();
            tokio::spawn(async move {
                dispatcher
                    .run(async {
                        let _ = stopped.await;
                    })
                    .await;
            })
        });
        Ok(Scheduler {
            jobs,
            runs,
            dispatcher,
            db,
            stop: Some(stop),
            looping,
            shutdown,
        })
    }
}

/// A running scheduler: its dispatcher fires the jobs in the database (each fire exactly once
/// across every process sharing it) until [`Scheduler::shutdown`].
pub struct Scheduler {
    jobs: JobService,
    runs: RunService,
    dispatcher: Dispatcher,
    db: DatabaseConnection,
    stop: Option<oneshot::Sender<()>>,
    looping: Option<JoinHandle<()>>,
    shutdown: CancellationToken,
}

impl Scheduler {
    /// A builder; see the crate docs.
    pub fn builder() -> SchedulerBuilder {
        SchedulerBuilder::new()
    }

    /// The job use cases: create, list, pause, resume, delete jobs at run time.
    pub fn jobs(&self) -> &JobService {
        &self.jobs
    }

    /// The run use cases: history, manual runs.
    pub fn runs(&self) -> &RunService {
        &self.runs
    }

    /// The dispatcher (tests call [`Dispatcher::tick`] with a controlled clock).
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// The database pool.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Stops claiming, cancels the running handlers' [`Ctx::cancelled`] tokens, and waits up
    /// to the dispatcher's shutdown grace for them to finish; a run still going after it is
    /// recovered by another process after its lease.
    ///
    /// # Errors
    /// When the dispatcher task itself panicked.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        self.shutdown.cancel();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(looping) = self.looping.take() {
            looping
                .await
                .map_err(|e| Error::Store(format!("the dispatcher task failed: {e}")))?;
        }
        Ok(())
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        // Dropped without shutdown: stop claiming at least.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
