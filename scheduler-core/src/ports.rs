//! The ports: what the core needs from the world, as traits. Each method's doc is its
//! contract; adapters are tested against these words.
//!
//! Every store method MAY fail with `Unavailable` (the store cannot be reached or failed) and
//! `Rejected` (the store refused a value; the domain's limits exist so this does not happen),
//! besides the errors its doc names.

pub use crate::entropy::Entropy;
use crate::tenant::Tenant;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audit::{AuditEntry, AuditKind, AuditRecord};
use crate::calendar::{Calendar, CalendarName};
use crate::claim::{ClaimBatch, ClaimRequest, ClaimedRun, FinishedRun, Recovered};
use crate::error::RepositoryError;
use crate::job::{BulkChange, Job, JobChanges, JobId, NewJob};
use crate::job_query::{JobPage, JobSlice};
use crate::job_state::CancelPlan;
use crate::job_values::{JobName, Owner};
use crate::plan::RunOutcome;
use crate::plan::SkipReason;
use crate::policy::JobSource;
use crate::run::{Run, RunId};
use crate::run_query::{RunPage, RunSlice};
use crate::run_status::{RunStatus, RunTrigger};
use std::time::Duration;

/// Durable storage of jobs. The store is the source of truth.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait JobRepository: Send + Sync {
    /// Stores a new job and returns it with its assigned id.
    ///
    /// MUST return `Conflict(JobName)` when a job with that name exists — decided by the
    /// store's unique constraint, so that of two concurrent inserts exactly one wins.
    /// MUST return `Unavailable` when the store cannot be reached. Calls made at once may
    /// share a statement, but one call's failure MUST NOT fail another.
    async fn insert(&self, job: NewJob) -> Result<Job, RepositoryError>;

    /// The job with `id`, or `Ok(None)` when there is none. `Unavailable` when unreachable.
    async fn get(&self, id: JobId) -> Result<Option<Job>, RepositoryError>;

    /// One page of jobs filtered and ordered as `slice` says, ties broken by id in the
    /// ordering's direction; jobs that never fire (`next_run` null) sort after every other
    /// ascending and before them descending.
    ///
    /// For an `Offset` window: the rows after `offset`, `total` = jobs matching the filter
    /// (exact; read in O(1) unless a name search is set), `more` = rows follow the page. For
    /// a `Keyset` window: the rows strictly after (`Forward`) or before (`Backward`) the
    /// position, in list order either way, `total` = `None`, `more` = a row beyond the page
    /// exists in the direction read; the cost MUST NOT grow with the rows before the
    /// position (an index range, not an offset). `Unavailable` when unreachable.
    async fn list(&self, slice: &JobSlice) -> Result<JobPage, RepositoryError>;

    /// Overwrites every field of the stored job `job.id` except `fire_count` (the claim's
    /// alone: an edit MUST NOT write back a count it read, or a fire claimed meanwhile is
    /// lost) and returns it as stored.
    ///
    /// MUST return `NotFound` when no such job exists, `Conflict(JobName)` when the new name
    /// belongs to another job, `Unavailable` when unreachable.
    async fn update(&self, job: Job) -> Result<Job, RepositoryError>;

    /// Deletes the job. MUST return `NotFound` when no such job exists, `Unavailable` when
    /// unreachable.
    async fn delete(&self, id: JobId) -> Result<(), RepositoryError>;

    /// Succeeds when the store answers a trivial query; `Unavailable` otherwise.
    async fn ping(&self) -> Result<(), RepositoryError>;

    /// `tenant`'s job named `name`, or `Ok(None)`. `Unavailable` when unreachable.
    async fn find_by_name(
        &self,
        tenant: &Tenant,
        name: &JobName,
    ) -> Result<Option<Job>, RepositoryError>;

    /// The maintenance switch: in one transaction, every job of `tenant` whose name starts
    /// with `prefix` (exactly, case included; every job for an empty prefix) and that
    /// `change` applies to (active jobs for a pause, paused ones for a resume), its row
    /// locked, stored as [`BulkChange::apply`] makes it, `updated_by` set to `by`
    /// (`fire_count` untouched). Returns the jobs changed, as stored, in id order.
    async fn change_matching(
        &self,
        tenant: &Tenant,
        prefix: &str,
        change: &BulkChange,
        by: Option<String>,
    ) -> Result<Vec<Job>, RepositoryError>;

    /// Every job of `tenant` owned by `source` (for [`JobSource::Code`]: the jobs programs
    /// declared), in id
    /// order. `Unavailable` when unreachable.
    async fn list_by_source(
        &self,
        tenant: &Tenant,
        source: JobSource,
    ) -> Result<Vec<Job>, RepositoryError>;

    /// What an apply of `owner`'s file set compares itself with: every job of `tenant`
    /// managed by `owner`, and every job of `tenant` named one of `names` (whoever manages
    /// it), each once, in id order. `Unavailable` when unreachable.
    async fn list_for_apply(
        &self,
        tenant: &Tenant,
        owner: &Owner,
        names: &[JobName],
    ) -> Result<Vec<Job>, RepositoryError>;

    /// Writes an apply in one transaction: every insert, every update (written as
    /// [`JobRepository::update`] writes one: `fire_count` and the failure streak are not
    /// written back) and every delete — or, on any error, none of them. Returns the inserted
    /// jobs, then the updated ones, as stored, in the order given.
    ///
    /// MUST return `Conflict(JobName)` when an insert's name is taken in its tenant,
    /// `NotFound` when an updated or deleted job no longer exists, `Unavailable` when
    /// unreachable; in each case nothing was written.
    async fn apply_changes(&self, changes: JobChanges) -> Result<Vec<Job>, RepositoryError>;
}

/// Which audit entries a list reads: one tenant's, newest first, optionally narrowed.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditQuery {
    /// Whose entries.
    pub tenant: Tenant,
    /// Only this kind.
    pub kind: Option<AuditKind>,
    /// Only this subject (a job's id, a calendar's name, a key's id).
    pub subject: Option<String>,
    /// Only this actor, exactly.
    pub actor: Option<String>,
    /// Only entries at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only entries before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only entries older than this one (by id): the position of a cursor page.
    pub before_id: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// Durable storage of the audit trail: entries are only appended (and deleted past their
/// retention).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends `record`. `Unavailable` when unreachable.
    async fn record(&self, record: AuditRecord) -> Result<(), RepositoryError>;

    /// The entries `query` names, newest (highest id) first, at most `query.limit`; the
    /// cost MUST NOT grow with the entries before `before_id` (an index range).
    async fn list(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, RepositoryError>;
    /// Deletes up to `limit` entries recorded before `before` (every tenant), oldest first;
    /// how many it deleted.
    async fn prune(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, RepositoryError>;
}

/// How [`CalendarStore::save`] writes a calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarWrite {
    /// Only a new calendar: `Conflict(CalendarName)` when the tenant has one of the name.
    Create,
    /// A new calendar, or the tenant's calendar of that name replaced (its `created_at` and
    /// `created_by` kept).
    Upsert,
}

/// What [`CalendarStore::save`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarSaved {
    /// The calendar as stored.
    pub calendar: Calendar,
    /// True when it did not exist before.
    pub created: bool,
    /// The jobs rewritten with its new copy, in id order.
    pub jobs: Vec<JobId>,
}

/// Durable storage of the tenants' calendars.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait CalendarStore: Send + Sync {
    /// Every calendar of `tenant`, by name. `Unavailable` when unreachable.
    async fn list(&self, tenant: &Tenant) -> Result<Vec<Calendar>, RepositoryError>;

    /// The calendars of `tenant` named in `names` (a name without one is simply absent).
    /// `Unavailable` when unreachable.
    async fn find(
        &self,
        tenant: &Tenant,
        names: &[CalendarName],
    ) -> Result<Vec<Calendar>, RepositoryError>;

    /// Stores `calendar` as `write` says and, in the same transaction, every job of its
    /// tenant that lists it, its row locked, as [`Job::with_calendar`] makes it at `now` (so
    /// changing a calendar recomputes the next run of every job using it, and no job is left
    /// with an old copy). MUST return `Conflict(CalendarName)` for a `Create` of a taken
    /// name, decided by the store's unique constraint.
    async fn save(
        &self,
        calendar: Calendar,
        write: CalendarWrite,
        now: DateTime<Utc>,
    ) -> Result<CalendarSaved, RepositoryError>;

    /// Deletes `tenant`'s calendar `name`. MUST return `NotFound` when there is none and
    /// `Conflict(CalendarInUse)` when a job of the tenant lists it (checked in the same
    /// transaction as the delete).
    async fn delete(&self, tenant: &Tenant, name: &CalendarName) -> Result<(), RepositoryError>;
}

/// Proof of what a cache had seen when a lookup missed; a later `put` with it is dropped if
/// the entry was invalidated in between, so a slow reader can never store stale data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheTicket {
    /// The cache's invalidation generation at the lookup (shared by replicas for Redis).
    pub generation: u64,
    /// The generation of a process-local tier in front of a shared cache (0 without one).
    pub local: u64,
}

impl CacheTicket {
    /// A ticket of a cache with one tier.
    pub const fn at(generation: u64) -> Self {
        Self {
            generation,
            local: 0,
        }
    }
}

/// The answer of a cache lookup.
#[derive(Debug, Clone, PartialEq)]
pub enum CacheLookup<T> {
    /// The cached value.
    Hit(T),
    /// Not cached; store the fresh value with this ticket.
    Miss(CacheTicket),
}

/// A read cache for jobs and job-list pages.
///
/// A cache failure is never a request failure: no method returns an error. An adapter that
/// cannot reach its backend answers `Miss` and drops writes (logging the outage once).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait JobCache: Send + Sync {
    /// The cached job, or a miss with a ticket.
    async fn get_job(&self, id: JobId) -> CacheLookup<Job>;

    /// Stores `job`. MUST NOT store it when an invalidation of that id happened after
    /// `ticket` was issued.
    async fn put_job(&self, job: &Job, ticket: CacheTicket);

    /// Drops the cached job `id` and every cached list page; later `put`s holding older
    /// tickets for them are ignored.
    async fn invalidate_job(&self, id: JobId);

    /// [`JobCache::invalidate_job`] for many jobs at once (one round trip where possible).
    async fn invalidate_jobs(&self, ids: &[JobId]);

    /// The cached page for `slice`, or a miss with a ticket.
    async fn get_list(&self, slice: &JobSlice) -> CacheLookup<JobPage>;

    /// Stores a list page. MUST NOT store it when any invalidation happened after `ticket`.
    async fn put_list(&self, slice: &JobSlice, page: &JobPage, ticket: CacheTicket);

    /// How the cache is doing, for readiness and metrics. Never blocks on the backend.
    fn report(&self) -> CacheReport;
}

/// The state of a cache backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Answering.
    Ok,
    /// Not answering: reads go to the store until it recovers.
    Degraded,
    /// No cache is configured.
    Disabled,
}

impl CacheStatus {
    /// `ok`, `degraded` or `disabled`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Degraded => "degraded",
            Self::Disabled => "disabled",
        }
    }
}

/// A cache's state and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheReport {
    /// Whether the backend answers.
    pub status: CacheStatus,
    /// Lookups answered from the cache since start.
    pub hits: u64,
    /// Lookups that went to the store since start.
    pub misses: u64,
}

/// The current instant. The core never reads the system clock itself, so tests control time.
#[cfg_attr(test, mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// What the dispatcher reports as it works — the recorder port: an adapter turns these
/// events into a metrics registry's series (`scheduler_adapters::MetricsTelemetry`). Calls are
/// on the dispatch path: implementations MUST NOT block or fail.
pub trait Telemetry: Send + Sync {
    /// A run ended with `status` and `trigger`; `ran_for` is how long it executed (`None` for
    /// a fire skipped without executing).
    fn run_recorded(&self, status: RunStatus, trigger: RunTrigger, ran_for: Option<Duration>);
    /// A fire was skipped for `reason` (its skipped run is reported by `run_recorded` too).
    fn fire_skipped(&self, reason: &SkipReason);
    /// A scheduled fire of a job of `tenant` started `lateness` after its instant.
    fn fire_started(&self, tenant: &crate::tenant::Tenant, lateness: Duration);
    /// Stale runs were recovered: `rerun` run again, `given_up` ended at the abandon cap.
    fn runs_abandoned(&self, rerun: usize, given_up: usize);
    /// `count` runs execute here now (or await their outcome's record).
    fn in_flight(&self, count: usize);
    /// A claim completed at `at`.
    fn claimed(&self, at: DateTime<Utc>);
    /// A claim (tick) failed.
    fn claim_failed(&self);
    /// `due` fires were due and unclaimed when sampled.
    fn backlog(&self, due: u64);
    /// `due` fires of `tenant`'s jobs were due and unclaimed when sampled (0 for a tenant
    /// reported before whose backlog is gone).
    fn tenant_backlog(&self, tenant: &crate::tenant::Tenant, due: u64);
    /// `in_flight` deliveries to `host` (its host key) execute here now (sampled; 0 for a
    /// host reported before that has none left).
    fn host_deliveries(&self, host: &str, in_flight: usize);
    /// A claim left `host`'s due fires for later: it had
    /// `max_deliveries_per_host` deliveries executing here.
    fn host_saturated(&self, host: &str);
    /// A delivery to `host` was throttled (HTTP 429/503 with `Retry-After`): the host is held
    /// back from claims until the delay ends.
    fn host_throttled(&self, host: &str);
    /// A claim left `host`'s due fires for later: its operator limit (`parallel` or `rate`)
    /// allowed no more now.
    fn host_limited(&self, host: &str);
    /// A claim left `tenant`'s due fires for later: it had its `running` cap of runs
    /// executing.
    fn tenant_capped(&self, tenant: &str);
    /// History retention deleted `count` runs.
    fn runs_pruned(&self, count: u64);
    /// These many jobs paused themselves after consecutive failures.
    fn jobs_auto_paused(&self, count: usize);
}

/// A [`Telemetry`] that keeps nothing: for programs without metrics, and tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTelemetry;

impl Telemetry for NoTelemetry {
    fn run_recorded(&self, _: RunStatus, _: RunTrigger, _: Option<Duration>) {}
    fn fire_skipped(&self, _: &SkipReason) {}
    fn fire_started(&self, _: &crate::tenant::Tenant, _: Duration) {}
    fn runs_abandoned(&self, _: usize, _: usize) {}
    fn in_flight(&self, _: usize) {}
    fn claimed(&self, _: DateTime<Utc>) {}
    fn claim_failed(&self) {}
    fn backlog(&self, _: u64) {}
    fn tenant_backlog(&self, _: &crate::tenant::Tenant, _: u64) {}
    fn host_deliveries(&self, _: &str, _: usize) {}
    fn host_saturated(&self, _: &str) {}
    fn host_throttled(&self, _: &str) {}
    fn host_limited(&self, _: &str) {}
    fn tenant_capped(&self, _: &str) {}
    fn runs_pruned(&self, _: u64) {}
    fn jobs_auto_paused(&self, _: usize) {}
}

/// Durable run history and the claim protocol. The store — not any in-memory timer — decides
/// who executes a fire.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait RunStore: Send + Sync {
    /// In ONE transaction: take active jobs with `next_run <= request.now` that no other
    /// transaction holds (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: a serialized write),
    /// earliest `next_run` first (SHOULD first give every tenant with due jobs an equal share
    /// of each kind: PostgreSQL does) — at most `request.handlers` jobs without a target and
    /// at most `request.deliveries` with one, none whose target's host key is in
    /// `request.saturated_hosts` — plan each with [`crate::plan::plan_fire`], insert its run
    /// (`running` for `request.worker`, or `skipped`), set `next_run` and `last_run`, commit.
    /// A `Replace` plan first records the job's `running` runs `cancelled` (returned in
    /// `replaced`); a `Wait` plan inserts no run and only stores the plan's `next_run` and
    /// `next_fire` (the pending fire).
    /// Returns the runs to execute and every job it advanced.
    ///
    /// MUST NOT return a fire twice, to this or any other caller: the unique key
    /// `(job_id, scheduled_for, attempt)` is the last line of defence. SHOULD cost a fixed
    /// number of round trips whatever the batch size (PostgreSQL: lock, one write, commit).
    async fn claim_due(&self, request: &ClaimRequest) -> Result<ClaimBatch, RepositoryError>;

    /// In one transaction: takes up to `limit` runs whose `retry_at <= now`, clears their
    /// `retry_at`, plans each with [`crate::plan::plan_retry`] against its job as stored now,
    /// and inserts the planned attempts `running` for `worker`. Each retry is returned once.
    async fn claim_retries(
        &self,
        now: DateTime<Utc>,
        worker: &str,
        limit: u32,
    ) -> Result<Vec<ClaimedRun>, RepositoryError>;

    /// In one transaction: takes up to `limit` `running` runs of the `lost` workers (cause
    /// [`crate::plan::RecoveryCause::Lost`]) and then, up to the limit, those whose
    /// `heartbeat_at` is older than `stale_before` (`Silent`), plans each with
    /// [`crate::plan::plan_recovery`] (with `max_abandoned_attempts`), records the planned
    /// status and error on it, and inserts the planned attempts `running` for `worker`. Each
    /// stale run is recovered once.
    #[allow(clippy::too_many_arguments)]
    async fn recover_abandoned(
        &self,
        stale_before: DateTime<Utc>,
        now: DateTime<Utc>,
        worker: &str,
        lost: &[String],
        limit: u32,
        max_abandoned_attempts: u32,
    ) -> Result<Recovered, RepositoryError>;

    /// Sets `heartbeat_at = now` on these runs while they are `running`, in one statement
    /// whatever their number (PostgreSQL: `= ANY($1)`).
    async fn heartbeat(&self, ids: &[RunId], now: DateTime<Utc>) -> Result<(), RepositoryError>;
    /// Makes the `running` runs among `ids` — abandoned by this replica as it shuts down, their
    /// execution already stopped — recoverable at once: as if their heartbeat had stopped a
    /// lease ago, so the next [`RunStore::recover_abandoned`] of any replica records them
    /// `abandoned` and runs the next attempt. MUST NOT touch a run that is not `running`.
    async fn release(&self, ids: &[RunId]) -> Result<(), RepositoryError>;

    /// Records the outcome of a `running` run and, when it is the latest attempt at its job's
    /// last fire, the job's `last_status`/`last_error`, in one transaction. A run no longer
    /// `running` (recovered elsewhere) or deleted with its job is left as it is. (No failure
    /// streak is kept for it: see [`RunStore::finish_many`].)
    async fn finish(&self, run: &Run, outcome: &RunOutcome) -> Result<(), RepositoryError> {
        self.finish_many(&[FinishedRun {
            run: run.clone(),
            outcome: outcome.clone(),
            pause_after_failures: 0,
            output: None,
            host_hold: None,
        }])
        .await
        .map(drop)
    }

    /// [`RunStore::finish`] for many runs, all or nothing: on success every outcome is
    /// recorded, on error none is. SHOULD be one statement per call on stores that allow it
    /// (PostgreSQL: one `UPDATE ... FROM` over the batch, the jobs' status in the same
    /// statement). MUST return `Rejected` only when the store refused a value of the batch
    /// (the caller then records the outcomes one by one, so only the one at fault is
    /// changed), `Unavailable` when it could not be reached.
    ///
    /// In the same transaction, for the outcomes it stored of jobs that pause themselves: the
    /// jobs' failure streaks move as [`crate::job_state::failure_streaks`] says (active jobs
    /// only), and a job whose stored streak then calls for it ([`Job::auto_pause`]) is paused
    /// with that note (`next_run` cleared). Returns the jobs it paused.
    async fn finish_many(&self, finished: &[FinishedRun]) -> Result<Vec<JobId>, RepositoryError>;

    /// In one transaction, when run `id` is `running`: records it `cancelled` as `plan` says
    /// (finished at `plan.at`, `plan.error`, no retry) and writes `plan.status_write`;
    /// returns the run as stored. The replica executing it stops it when it next asks
    /// [`RunStore::ended_among`]. MUST return `NotFound` when there is no such run and
    /// `Conflict(RunEnded)` when it is not running.
    async fn cancel(&self, id: RunId, plan: &CancelPlan) -> Result<Run, RepositoryError>;

    /// Records that these cancelled runs' executions have stopped (their `heartbeat_at` set
    /// to the Unix epoch, which no running run has): what [`RunStore::all_stopped`] reads.
    async fn mark_stopped(&self, ids: &[RunId]) -> Result<(), RepositoryError>;

    /// True when none of `ids` executes any more: each is marked stopped
    /// ([`RunStore::mark_stopped`]) or gone.
    async fn all_stopped(&self, ids: &[RunId]) -> Result<bool, RepositoryError>;

    /// Which of `ids` are no longer `running` (ended, cancelled, or deleted with their job),
    /// read by primary key in one statement.
    async fn ended_among(&self, ids: &[RunId]) -> Result<Vec<RunId>, RepositoryError>;

    /// In one transaction: takes up to `limit` paused jobs whose pause ends at or before
    /// `now` (`PauseNote::until`) that no other transaction holds, and stores each as
    /// [`Job::resumed`] at `now` says (its `fire_count` untouched). Returns the jobs it
    /// resumed; each is resumed once.
    async fn resume_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<JobId>, RepositoryError>;

    /// In one transaction: for each of `fires` (from [`crate::backfill::backfill_fires`]) that
    /// has no run of job `job_id` yet, inserts a first attempt `running` for `worker`,
    /// trigger `backfill`, started at `now`; an instant that has a run (scheduled, manual or
    /// an earlier backfill) is left alone, so the same range asked twice — even at once, on
    /// two replicas — runs each instant once. Returns the runs inserted, with the job.
    /// MUST return `NotFound` when the job does not exist.
    async fn insert_backfill(
        &self,
        job_id: JobId,
        fires: &[DateTime<Utc>],
        now: DateTime<Utc>,
        worker: &str,
    ) -> Result<Vec<ClaimedRun>, RepositoryError>;

    /// Inserts a replay of the ended run `original`: the next attempt at its fire (same job
    /// and `scheduled_for`, `attempt` one past the fire's highest), trigger `replay`,
    /// `replay_of` the original, no retries used, `running` for `worker`; the job's row is
    /// counted like other runs, its status fields untouched. Returns it and `true` — or,
    /// when `original` was replayed already, that replay and `false`: never a second one,
    /// whatever the concurrency (the job's row lock orders the calls, a unique index backs
    /// it). MUST return `NotFound` when there is no such run (or its job is gone), and
    /// `Conflict(RunRunning)` while it runs.
    async fn insert_replay(
        &self,
        original: RunId,
        now: DateTime<Utc>,
        worker: &str,
    ) -> Result<(ClaimedRun, bool), RepositoryError>;

    /// Inserts a `manual` run of job `job_id` for `now`, `running` for `worker`, and sets the
    /// job's `last_run` to `now` and `last_status` to `running`.
    /// MUST return `NotFound` when the job does not exist, and `Conflict(RunFire)` when a run
    /// of the job for that instant exists.
    async fn start_manual(
        &self,
        job_id: JobId,
        now: DateTime<Utc>,
        worker: &str,
    ) -> Result<ClaimedRun, RepositoryError>;

    /// The run, or `None`.
    async fn get(&self, id: RunId) -> Result<Option<Run>, RepositoryError>;

    /// What run `id` answered or returned ([`crate::run_output`]), when anything was kept.
    async fn output(
        &self,
        id: RunId,
    ) -> Result<Option<crate::run_output::RunOutput>, RepositoryError>;

    /// One page of the runs matching `slice`'s filter (status, trigger, job, tenant, fire
    /// instants in `[scheduled_after, scheduled_before)`), newest first (id descending).
    /// `Offset` windows carry the total matching; `Keyset` windows read the runs strictly
    /// older (`Forward`) or newer (`Backward`) than the run id they hold, from an index range
    /// (MUST NOT cost more for a later page), without a total; `more` as for jobs.
    async fn list(&self, slice: &RunSlice) -> Result<RunPage, RepositoryError>;

    /// How many active jobs have a fire due at `now` that no claim has taken yet (the
    /// dispatch backlog).
    async fn due_backlog(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError>;

    /// [`RunStore::due_backlog`] by tenant: each tenant with due fires and their count (a
    /// tenant without any is absent).
    async fn due_by_tenant(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(crate::tenant::Tenant, u64)>, RepositoryError>;

    /// Deletes at most `batch` ended runs past the history bounds — fired before
    /// `older_than`, or older than the newest `keep_per_job` runs of their job — and returns
    /// how many it deleted. MUST NOT delete a `running` run, nor a failed run waiting for its
    /// retry. Several replicas may call it at once; the store may let only one work.
    async fn prune(
        &self,
        older_than: Option<DateTime<Utc>>,
        keep_per_job: Option<u32>,
        batch: u32,
    ) -> Result<u64, RepositoryError>;

    /// The earliest `next_run` of any active job (to sleep until then).
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, RepositoryError>;

    /// How many runs of `tenant`'s jobs (every tenant's when `None`) serve fires at or after
    /// `since`, per status; statuses without such runs are left out.
    async fn count_by_status_since(
        &self,
        tenant: Option<Tenant>,
        since: DateTime<Utc>,
    ) -> Result<Vec<(RunStatus, u64)>, RepositoryError>;
}

/// Executes one run of a job. `Err` carries the failure text stored on the run (sanitized
/// and bounded by the dispatcher before it is stored).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait JobExecutor: Send + Sync {
    /// Runs `run` of `job` to completion. The dispatcher bounds it by the job's timeout.
    async fn execute(&self, job: &Job, run: &Run) -> Result<(), String>;

    /// [`JobExecutor::execute`], with what the target answered or the handler returned (kept
    /// on the run, see [`crate::run_output`]) and whether the receiver asked to slow down.
    /// What the dispatcher calls; by default, no output.
    async fn execute_with_output(&self, job: &Job, run: &Run) -> Executed {
        Executed::new(self.execute(job, run).await, None)
    }
}

/// What one execution came to, as the executor saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// Success, or the failure text stored on the run.
    pub result: Result<(), String>,
    /// What the target answered or the handler returned.
    pub output: Option<crate::run_output::RunOutput>,
    /// Set when the receiver answered 429 or 503 with a `Retry-After`: the delay it asked
    /// for. The run is then `throttled`, not failed ([`crate::plan::plan_outcome`]).
    pub retry_after: Option<std::time::Duration>,
}

impl Executed {
    /// An execution that ended with `result` and `output`, nobody asking to slow down.
    pub fn new(result: Result<(), String>, output: Option<crate::run_output::RunOutput>) -> Self {
        Self {
            result,
            output,
            retry_after: None,
        }
    }
}

/// Resolves a target's host name to the addresses it would be dialled at, for the SSRF guard
/// at write time ([`crate::target_guard`]).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait HostResolver: Send + Sync {
    /// The addresses of `host`; `Err` (the resolver's reason) when it does not resolve now.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<std::net::IpAddr>, String>;
}
