//! The one wiring of a scheduler over a database: its stores, the job and run use cases and
//! the dispatcher. The embedding builder ([`crate::SchedulerBuilder::start`]) and the server
//! (`scheduler_server::Application`) both start here, each adding only what is theirs (typed
//! handlers and declared schedules; HTTP, keys and signing).

use std::sync::Arc;
use std::time::Duration;

use scheduler_adapters::{
    InMemoryJobCache, MetricsTelemetry, NoJobCache, PgWorkerPresence, SeaOrmAuditLog,
    SeaOrmCalendarStore, SeaOrmChannelStore, SeaOrmJobRepository, SeaOrmOutbox, SeaOrmRunStats,
    SeaOrmRunStore, cursor_key,
};
use scheduler_core::{
    Clock, Dispatcher, DispatcherConfig, HostResolver, JobCache, JobExecutor, JobService, Outbox,
    RepositoryError, RunService, RunStore, TargetGuard,
};
use sea_orm::{DatabaseBackend, DatabaseConnection};

/// What the wiring needs.
pub struct Parts {
    /// The open, migrated pool.
    pub db: DatabaseConnection,
    /// The read cache of jobs ([`default_cache`] when the program has no preference).
    pub cache: Arc<dyn JobCache>,
    /// "Now".
    pub clock: Arc<dyn Clock>,
    /// What runs a job: handlers, HTTP deliveries, or both.
    pub executor: Arc<dyn JobExecutor>,
    /// The dispatcher's settings.
    pub dispatcher: DispatcherConfig,
    /// Reads by id and inserts in flight at once (see `SeaOrmJobRepository::with_slots`);
    /// `None` for the repository's default.
    pub batch_slots: Option<usize>,
    /// The SSRF guard targets are written under, with the resolver it checks names with;
    /// `None`: the core's default guard, no name resolution at write time.
    pub target_guard: Option<(TargetGuard, Option<Arc<dyn HostResolver>>)>,
}

/// The running parts of a scheduler.
#[derive(Clone)]
pub struct Wired {
    /// The job use cases.
    pub jobs: JobService,
    /// The run use cases.
    pub runs: RunService,
    /// The dispatcher (its loop is the caller's to start).
    pub dispatcher: Dispatcher,
    /// The notification outbox (a `Notifier` over it is the caller's to start).
    pub outbox: Arc<dyn Outbox>,
}

/// The cache a process uses when it has no shared one: in process on SQLite (a single
/// process), none on PostgreSQL (replicas must never serve each other stale data).
pub fn default_cache(db: &DatabaseConnection, capacity: u64, ttl: Duration) -> Arc<dyn JobCache> {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => Arc::new(InMemoryJobCache::new(capacity, ttl)),
        _ => Arc::new(NoJobCache),
    }
}

/// Wires the stores, the use cases and the dispatcher over `parts.db`. Cursors are signed
/// with the key every process of this database shares.
///
/// # Errors
/// The store's, when the shared cursor key cannot be read or made.
pub async fn wire(parts: Parts) -> Result<Wired, RepositoryError> {
    let cursors = cursor_key(&parts.db).await?;
    let repository = match parts.batch_slots {
        Some(slots) => SeaOrmJobRepository::with_slots(parts.db.clone(), slots),
        None => SeaOrmJobRepository::new(parts.db.clone()),
    };
    let mut jobs = JobService::new(
        Arc::new(repository),
        parts.cache.clone(),
        parts.clock.clone(),
    )
    .with_cursor_key(cursors)
    .with_calendars(Arc::new(SeaOrmCalendarStore::new(parts.db.clone())))
    .with_audit(Arc::new(SeaOrmAuditLog::new(parts.db.clone())));
    let outbox: Arc<dyn Outbox> = Arc::new(SeaOrmOutbox::new(parts.db.clone()));
    jobs = jobs.with_channels(
        Arc::new(SeaOrmChannelStore::new(parts.db.clone())),
        outbox.clone(),
    );
    if let Some((guard, resolver)) = parts.target_guard {
        jobs = jobs.with_target_guard(guard, resolver);
    }
    let store: Arc<dyn RunStore> = Arc::new(SeaOrmRunStore::new(parts.db.clone()));
    let dispatcher = Dispatcher::new(
        store.clone(),
        parts.executor,
        parts.cache,
        parts.clock,
        Arc::new(MetricsTelemetry),
        parts.dispatcher,
    );
    // PostgreSQL: replicas find a dead one in about a second by its session (SQLite: one
    // process; the lease).
    let dispatcher = match PgWorkerPresence::new(parts.db.clone()) {
        Some(presence) => dispatcher.with_presence(Arc::new(presence)),
        None => dispatcher,
    };
    let runs = RunService::new(jobs.clone(), store, dispatcher.clone())
        .with_stats(Arc::new(SeaOrmRunStats::new(parts.db.clone())));
    Ok(Wired {
        jobs,
        runs,
        dispatcher,
        outbox,
    })
}
