//! The dispatcher's settings and the rule that holds between two of them.

use std::time::Duration;

/// Dispatcher settings.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// This replica's name, stored on the runs it executes.
    pub worker: String,
    /// Fires of each kind the first claim after a quiet spell asks for; full claims double it
    /// up to [`DispatcherConfig::max_batch_size`].
    pub batch_size: u32,
    /// Most fires of each kind one claim asks for while a backlog lasts.
    pub max_batch_size: u32,
    /// Claims one replica runs at once while claims come back full (at least 1).
    pub claims_in_flight: usize,
    /// Most in-process handler runs (jobs without a target) executing at once in this
    /// replica (runs that executed and wait for their outcome to be stored do not count; at
    /// most as many as both limits together wait). A claim holds slots for what it asks
    /// while its transaction runs, so this must leave room for
    /// [`DispatcherConfig::claims_in_flight`] claims of
    /// [`DispatcherConfig::max_batch_size`] beside the runs executing: at 1,024, one claim of
    /// 1,000 left the second claimer 24 slots and a 10,000-fire burst ran at ~75% of the
    /// plain-SQL rate; at 4,096, at about the same rate as the SQL (`bench/dispatch.sh`).
    /// Lower it for handlers that each need much CPU or memory.
    pub max_concurrent_runs: usize,
    /// Most HTTP deliveries (jobs with a target) executing at once in this replica.
    pub max_concurrent_deliveries: usize,
    /// Most deliveries to one receiving host (by [`crate::http_target::HttpTarget::host_key`])
    /// executing at once; a host at its cap is left out of claims until one of its
    /// deliveries ends.
    pub max_deliveries_per_host: usize,
    /// The operator's limits for chosen hosts, shared by every replica through the store
    /// (deliveries in flight, a rate): see [`crate::host_limit`]. Empty by default.
    pub host_limits: std::sync::Arc<crate::host_limit::HostLimits>,
    /// The operator's per-tenant weights and caps on running runs, shared by every replica
    /// through the store: see [`crate::tenant_limit`]. Empty by default (equal shares).
    pub tenant_limits: std::sync::Arc<crate::tenant_limit::TenantLimits>,
    /// Most outcomes stored by one statement.
    pub record_batch: usize,
    /// Longest sleep between claims (jobs created on other replicas are seen this fast).
    pub poll_interval: Duration,
    /// A running run without a heartbeat for this long is abandoned and run again.
    pub lease: Duration,
    /// On shutdown, how long in-flight runs may take. Heartbeats go on meanwhile; at its end
    /// the runs still executing are abandoned (their requests dropped) and released to other
    /// replicas at once. Must be shorter than [`DispatcherConfig::lease`]
    /// ([`DispatcherConfig::check`]).
    pub shutdown_grace: Duration,
    /// The abandoned attempt of one fire that ends it `failed` instead of running it again
    /// (see [`crate::plan::plan_recovery`]).
    pub max_abandoned_attempts: u32,
    /// Longest one tick may take before it is abandoned (its transactions roll back) and the
    /// loop backs off and tries again.
    pub tick_timeout: Duration,
    /// Runs whose fire is older than this are deleted (history retention); `None` keeps them.
    pub retention: Option<Duration>,
    /// Newest runs kept per job; older ones are deleted. `None`: no cap.
    pub runs_per_job: Option<u32>,
    /// How often this replica prunes run history.
    pub prune_every: Duration,
    /// Most rows one prune statement deletes (small batches never hold claims up).
    pub prune_batch: u32,
    /// After each prune statement, pause this many times as long as it took (3: pruning
    /// takes at most a quarter of one database connection's time, so catching up on a large
    /// history leaves the database to the claims; measured in `bench/dispatch.sh`).
    pub prune_pace: u32,
}

impl DispatcherConfig {
    /// Defaults for `worker`: claims of 100 fires per kind growing to 1,000 under a backlog,
    /// 2 claims in flight, 4,096 handler runs and 4,096 deliveries at once (1,024 per host),
    /// outcomes stored 1,000 per statement, 1 s poll, 30 s lease, 25 s grace, a fire given up
    /// after 3 abandoned attempts, run history kept 30 days and at most 1,000 runs per job
    /// (pruned every minute, 1,000 rows per statement, paced to a quarter of the time).
    pub fn new(worker: impl Into<String>) -> Self {
        Self {
            worker: worker.into(),
            batch_size: 100,
            max_batch_size: 1_000,
            claims_in_flight: 2,
            max_concurrent_runs: 4_096,
            max_concurrent_deliveries: 4_096,
            max_deliveries_per_host: 1_024,
            host_limits: std::sync::Arc::default(),
            tenant_limits: std::sync::Arc::default(),
            record_batch: 1_000,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(25),
            max_abandoned_attempts: 3,
            tick_timeout: Duration::from_secs(10),
            retention: Some(Duration::from_secs(30 * 24 * 3600)),
            runs_per_job: Some(1_000),
            prune_every: Duration::from_secs(60),
            prune_batch: 1_000,
            prune_pace: 3,
        }
    }

    pub(super) fn heartbeat_interval(&self) -> Duration {
        (self.lease / 3).max(Duration::from_millis(100))
    }

    /// Checks the settings that only make sense together: the shutdown grace must be shorter
    /// than the lease, so a run whose replica is stopping is never taken for dead by another
    /// replica while it may still be executing (its heartbeats go on through the grace, and a
    /// heartbeat that fails then must not let the lease run out first).
    ///
    /// # Errors
    /// What is wrong, naming both settings.
    pub fn check(&self) -> Result<(), String> {
        if self.shutdown_grace >= self.lease {
            return Err(format!(
                "the shutdown grace ({} s) must be shorter than the run lease ({} s): another \
                 replica would run again, at once, the runs this one is still finishing",
                self.shutdown_grace.as_secs_f64(),
                self.lease.as_secs_f64()
            ));
        }
        Ok(())
    }
}
