//! The claim protocol's types: what a claim may take, what it took, what a recovery did,
//! and a run whose execution ended. The store carries out what [`crate::plan`] decides.

use chrono::{DateTime, Utc};

use crate::job::{Job, JobId};
use crate::plan::{RunOutcome, SkipReason};
use crate::run::{Run, RunId};

/// A run claimed for execution by this worker, with its job as claimed.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedRun {
    /// The run, status `running`.
    pub run: Run,
    /// The job at claim time.
    pub job: Job,
}

/// What one recovery of stale runs did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recovered {
    /// The next attempts to execute now (status `running`), one per stale run run again.
    pub runs: Vec<ClaimedRun>,
    /// Stale runs ended `failed` at the abandon cap, not run again.
    pub given_up: usize,
    /// Every job whose `last_status` the recovery changed.
    pub changed_jobs: Vec<JobId>,
}

/// What one claim transaction did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClaimBatch {
    /// Runs to execute now (status `running`).
    pub runs: Vec<ClaimedRun>,
    /// Every job whose `next_run`/`last_run` the claim changed (run or skipped).
    pub advanced_jobs: Vec<JobId>,
    /// How many of the advanced jobs have no target (counted against the claim's
    /// `handlers`); the rest have one (counted against its `deliveries`).
    pub advanced_handlers: u32,
    /// The fires recorded as `skipped`, with why.
    pub skipped: Vec<(JobId, SkipReason)>,
    /// Running runs the claim recorded `cancelled` because their `replace` job fired again,
    /// with the job: whichever replica executes them stops them, and the job's new run
    /// starts once they stopped.
    pub replaced: Vec<(JobId, RunId)>,
    /// Hosts whose due fires the claim left for later because of their operator limits
    /// ([`HostLimits`]: `parallel` full or the rate spent).
    pub limited_hosts: Vec<String>,
    /// Tenants whose due fires the claim left for later because of their `running` cap
    /// ([`TenantLimits`]).
    pub capped_tenants: Vec<String>,
}

/// What one claim may take: up to `handlers` due jobs without a target and up to
/// `deliveries` due jobs with one (each kind has its own execution capacity, see
/// [`crate::plan::ExecutionKind`]), leaving jobs whose target's host is in `saturated_hosts`
/// (by [`crate::http_target::HttpTarget::host_key`]) for later.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClaimRequest {
    /// The claim's instant: jobs with `next_run <= now` are due.
    pub now: DateTime<Utc>,
    /// The replica claiming, stored on the runs.
    pub worker: String,
    /// Most jobs without a target to take.
    pub handlers: u32,
    /// Most jobs with a target to take.
    pub deliveries: u32,
    /// Host keys at their per-host cap in this replica: their jobs are not taken.
    pub saturated_hosts: Vec<String>,
    /// The operator's per-host limits, applied to the claim's planned fires with
    /// [`HostLimits::admit_claim`] in its transaction: fires past a host's limit stay due.
    pub host_limits: std::sync::Arc<HostLimits>,
    /// The operator's per-tenant weights (each tenant's share of the claim) and caps on
    /// running runs, applied with [`TenantLimits::admit_claim`] in the claim's transaction.
    pub tenant_limits: std::sync::Arc<TenantLimits>,
}

use crate::host_limit::HostLimits;
use crate::tenant_limit::TenantLimits;

/// A run whose execution ended, with what to record.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedRun {
    /// The run as claimed (status `running`).
    pub run: Run,
    /// Its outcome.
    pub outcome: RunOutcome,
    /// Its job's `pause_after_failures` when the run was claimed (0: the job never pauses
    /// itself, and the store keeps no failure streak for this outcome).
    pub pause_after_failures: u32,
    /// What the target answered or the handler returned, kept with the outcome.
    pub output: Option<crate::run_output::RunOutput>,
    /// Set when the run was throttled: its receiving host, held until the run's `retry_at`.
    pub host_hold: Option<HostHold>,
}

/// A receiving host that asked to slow down (HTTP 429/503 with `Retry-After`): every
/// replica's claims leave the deliveries to it for later until `until`, so no delivery slot
/// is taken by a fire the host would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostHold {
    /// The host key ([`crate::http_target::HttpTarget::host_key`]).
    pub host: String,
    /// Until when (a later hold of the same host wins).
    pub until: DateTime<Utc>,
}
