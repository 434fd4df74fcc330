//! `MetricsTelemetry`: the core's `Telemetry` port over the `metrics` facade — the
//! dispatcher's metric names, what they mean, and the one place each is recorded (a process
//! that installs no recorder pays almost nothing; the server installs a Prometheus one).

use std::time::Duration;

use chrono::{DateTime, Utc};
use scheduler_core::{
    ChannelKind, NotifierTelemetry, OutboxDepth, RunStatus, RunTrigger, SkipReason, Telemetry,
    Tenant, WireEnum,
};

/// Runs recorded, by `status` and `trigger` (a skipped fire is a run with status `skipped`).
pub const RUNS_TOTAL: &str = "scheduler_runs_total";
/// How long executed runs took, in seconds.
pub const RUN_DURATION_SECONDS: &str = "scheduler_run_duration_seconds";
/// How late scheduled fires started: start − scheduled_for, in seconds.
pub const FIRE_LATENESS_SECONDS: &str = "scheduler_fire_lateness_seconds";
/// Fires not executed, by `reason` (`misfire`, `forbid`).
pub const FIRES_SKIPPED_TOTAL: &str = "scheduler_fires_skipped_total";
/// Runs whose worker died and that were run again (or given up at the cap).
pub const RUNS_ABANDONED_TOTAL: &str = "scheduler_runs_abandoned_total";
/// Runs executing in this replica.
pub const RUNS_IN_FLIGHT: &str = "scheduler_runs_in_flight";
/// Due fires no claim has taken yet (sampled).
pub const DUE_BACKLOG: &str = "scheduler_due_backlog";
/// How late scheduled fires of each `tenant`'s jobs started, in seconds.
pub const TENANT_FIRE_LATENESS_SECONDS: &str = "scheduler_tenant_fire_lateness_seconds";
/// Due fires no claim has taken yet, by `tenant` (sampled).
pub const TENANT_DUE_BACKLOG: &str = "scheduler_tenant_due_backlog";
/// Deliveries executing in this replica, by target `host` (sampled; hosts that had some).
pub const HOST_DELIVERIES_IN_FLIGHT: &str = "scheduler_host_deliveries_in_flight";
/// Claims that left a `host`'s due fires for later: it had `max_deliveries_per_host`
/// deliveries executing in this replica.
pub const HOST_SATURATED_CLAIMS_TOTAL: &str = "scheduler_host_saturated_claims_total";
/// Deliveries to a `host` it throttled (HTTP 429/503 with `Retry-After`): the host is held
/// back from every replica's claims until the delay ends.
pub const HOST_THROTTLED_TOTAL: &str = "scheduler_host_throttled_total";
/// Claims that left a `host`'s due fires for later because of its operator limit
/// (`SCHEDULER_HOST_LIMITS`).
pub const HOST_LIMITED_CLAIMS_TOTAL: &str = "scheduler_host_limited_claims_total";
/// Claims that left a `tenant`'s due fires for later because of its `running` cap
/// (`SCHEDULER_TENANT_LIMITS`).
pub const TENANT_CAPPED_CLAIMS_TOTAL: &str = "scheduler_tenant_capped_claims_total";
/// When this replica last completed a claim, in Unix seconds.
pub const LAST_CLAIM_TIMESTAMP_SECONDS: &str = "scheduler_last_claim_timestamp_seconds";
/// Claims (ticks) that failed.
pub const CLAIM_ERRORS_TOTAL: &str = "scheduler_claim_errors_total";
/// Runs deleted by history retention.
pub const RUNS_PRUNED_TOTAL: &str = "scheduler_runs_pruned_total";
/// Jobs that paused themselves after `pause_after_failures` consecutive failures.
pub const JOBS_AUTO_PAUSED_TOTAL: &str = "scheduler_jobs_auto_paused_total";
/// Counter: notification attempts, by channel `kind` and `outcome` (`sent`, `failed`).
pub const NOTIFICATIONS_TOTAL: &str = "scheduler_notifications_total";
/// Gauge: notifications neither delivered nor given up (every tenant).
pub const NOTIFICATION_OUTBOX_DEPTH: &str = "scheduler_notification_outbox_depth";
/// Gauge: age of the oldest undelivered notification, 0 when there is none.
pub const NOTIFICATION_OLDEST_AGE_SECONDS: &str = "scheduler_notification_oldest_age_seconds";

/// Describes every dispatcher metric to the installed recorder (help texts and units).
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        RUNS_TOTAL,
        "Runs recorded, by status and trigger (skipped fires included)."
    );
    describe_histogram!(
        RUN_DURATION_SECONDS,
        Unit::Seconds,
        "How long executed runs took."
    );
    describe_histogram!(
        FIRE_LATENESS_SECONDS,
        Unit::Seconds,
        "How late scheduled fires started (start - scheduled_for)."
    );
    describe_counter!(
        FIRES_SKIPPED_TOTAL,
        "Fires not executed, by reason (misfire, forbid)."
    );
    describe_counter!(
        RUNS_ABANDONED_TOTAL,
        "Runs whose worker stopped heartbeating, by outcome (rerun, given_up)."
    );
    describe_gauge!(RUNS_IN_FLIGHT, "Runs executing in this replica.");
    describe_histogram!(
        TENANT_FIRE_LATENESS_SECONDS,
        Unit::Seconds,
        "How late scheduled fires started, by tenant."
    );
    describe_gauge!(
        TENANT_DUE_BACKLOG,
        "Due fires that no claim has taken yet, by tenant (sampled)."
    );
    describe_gauge!(
        HOST_DELIVERIES_IN_FLIGHT,
        "Deliveries executing in this replica, by target host (sampled)."
    );
    describe_counter!(
        HOST_SATURATED_CLAIMS_TOTAL,
        "Claims that left a host's due fires for later: the host had max_deliveries_per_host \
         deliveries executing in this replica."
    );
    describe_counter!(
        HOST_LIMITED_CLAIMS_TOTAL,
        "Claims that left a host's due fires for later because of its operator limit \
         (parallel or rate)."
    );
    describe_counter!(
        TENANT_CAPPED_CLAIMS_TOTAL,
        "Claims that left a tenant's due fires for later because of its running cap."
    );
    describe_counter!(
        HOST_THROTTLED_TOTAL,
        "Deliveries a host throttled (HTTP 429/503 with Retry-After): the host is held back \
         from claims until the delay ends."
    );
    describe_gauge!(
        DUE_BACKLOG,
        "Due fires that no claim has taken yet (sampled)."
    );
    describe_gauge!(
        LAST_CLAIM_TIMESTAMP_SECONDS,
        Unit::Seconds,
        "Unix time of this replica's last completed claim."
    );
    describe_counter!(CLAIM_ERRORS_TOTAL, "Claims that failed.");
    describe_counter!(
        RUNS_PRUNED_TOTAL,
        "Runs deleted by history retention (age and per-job cap)."
    );
    describe_counter!(
        JOBS_AUTO_PAUSED_TOTAL,
        "Jobs paused by the scheduler after pause_after_failures consecutive failed runs."
    );
    describe_counter!(
        NOTIFICATIONS_TOTAL,
        "Notification attempts by channel kind and outcome (sent, failed)."
    );
    describe_gauge!(
        NOTIFICATION_OUTBOX_DEPTH,
        "Notifications neither delivered nor given up."
    );
    describe_gauge!(
        NOTIFICATION_OLDEST_AGE_SECONDS,
        Unit::Seconds,
        "Age of the oldest undelivered notification (0: none)."
    );
}

/// Registers every dispatcher metric family with the installed recorder before anything
/// happens, so dashboards and alerts see zeros and empty histograms on a healthy system instead
/// of "no data": each counter at 0 for every label value it can take (runs by every final
/// status and trigger, skips by reason, abandoned runs by outcome), both histograms empty, the
/// in-flight and backlog gauges at 0. The last-claim timestamp stays absent until a claim
/// completes (a 0 would read as a claim in 1970).
pub fn register() {
    for status in RunStatus::choices() {
        if *status == RunStatus::Running.as_str() {
            continue;
        }
        for trigger in RunTrigger::choices() {
            metrics::counter!(RUNS_TOTAL, "status" => *status, "trigger" => *trigger).increment(0);
        }
    }
    for reason in [SkipReason::Forbid.label(), "misfire", "catch_up"] {
        metrics::counter!(FIRES_SKIPPED_TOTAL, "reason" => reason).increment(0);
    }
    for outcome in ["rerun", "given_up"] {
        metrics::counter!(RUNS_ABANDONED_TOTAL, "outcome" => outcome).increment(0);
    }
    metrics::counter!(CLAIM_ERRORS_TOTAL).increment(0);
    metrics::counter!(RUNS_PRUNED_TOTAL).increment(0);
    metrics::counter!(JOBS_AUTO_PAUSED_TOTAL).increment(0);
    let _ = metrics::histogram!(RUN_DURATION_SECONDS);
    let _ = metrics::histogram!(FIRE_LATENESS_SECONDS);
    metrics::gauge!(RUNS_IN_FLIGHT).set(0.0);
    metrics::gauge!(DUE_BACKLOG).set(0.0);
    for kind in ChannelKind::choices() {
        for outcome in ["sent", "failed"] {
            metrics::counter!(NOTIFICATIONS_TOTAL, "kind" => *kind, "outcome" => outcome)
                .increment(0);
        }
    }
    metrics::gauge!(NOTIFICATION_OUTBOX_DEPTH).set(0.0);
    metrics::gauge!(NOTIFICATION_OLDEST_AGE_SECONDS).set(0.0);
}

impl NotifierTelemetry for MetricsTelemetry {
    fn attempt(&self, kind: ChannelKind, sent: bool) {
        let outcome = if sent { "sent" } else { "failed" };
        metrics::counter!(NOTIFICATIONS_TOTAL, "kind" => kind.as_str(), "outcome" => outcome)
            .increment(1);
    }

    fn outbox(&self, depth: &OutboxDepth, now: DateTime<Utc>) {
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!(NOTIFICATION_OUTBOX_DEPTH).set(depth.undelivered as f64);
        let age = depth
            .oldest
            .map_or(0.0, |oldest| (now - oldest).as_seconds_f64().max(0.0));
        metrics::gauge!(NOTIFICATION_OLDEST_AGE_SECONDS).set(age);
    }
}

/// Records the dispatcher's events as metrics through the `metrics` facade (whatever
/// recorder the process installed).
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsTelemetry;

impl Telemetry for MetricsTelemetry {
    fn runs_pruned(&self, count: u64) {
        metrics::counter!(RUNS_PRUNED_TOTAL).increment(count);
    }

    fn jobs_auto_paused(&self, count: usize) {
        metrics::counter!(JOBS_AUTO_PAUSED_TOTAL)
            .increment(u64::try_from(count).unwrap_or(u64::MAX));
    }

    fn run_recorded(&self, status: RunStatus, trigger: RunTrigger, ran_for: Option<Duration>) {
        metrics::counter!(RUNS_TOTAL, "status" => status.as_str(), "trigger" => trigger.as_str())
            .increment(1);
        if let Some(ran_for) = ran_for {
            metrics::histogram!(RUN_DURATION_SECONDS).record(ran_for.as_secs_f64());
        }
    }

    fn fire_skipped(&self, reason: &SkipReason) {
        metrics::counter!(FIRES_SKIPPED_TOTAL, "reason" => reason.label()).increment(1);
    }

    fn fire_started(&self, tenant: &Tenant, lateness: Duration) {
        let seconds = lateness.as_secs_f64();
        metrics::histogram!(FIRE_LATENESS_SECONDS).record(seconds);
        metrics::histogram!(TENANT_FIRE_LATENESS_SECONDS, "tenant" => tenant.as_str().to_string())
            .record(seconds);
    }

    fn runs_abandoned(&self, rerun: usize, given_up: usize) {
        for (outcome, count) in [("rerun", rerun), ("given_up", given_up)] {
            if count > 0 {
                metrics::counter!(RUNS_ABANDONED_TOTAL, "outcome" => outcome)
                    .increment(u64::try_from(count).unwrap_or(u64::MAX));
            }
        }
    }

    // Gauges are f64; counts and instants this large fit well enough.
    #[allow(clippy::cast_precision_loss)]
    fn in_flight(&self, count: usize) {
        metrics::gauge!(RUNS_IN_FLIGHT).set(count as f64);
    }

    #[allow(clippy::cast_precision_loss)]
    fn claimed(&self, at: DateTime<Utc>) {
        metrics::gauge!(LAST_CLAIM_TIMESTAMP_SECONDS).set(at.timestamp_millis() as f64 / 1000.0);
    }

    fn claim_failed(&self) {
        metrics::counter!(CLAIM_ERRORS_TOTAL).increment(1);
    }

    #[allow(clippy::cast_precision_loss)]
    fn backlog(&self, due: u64) {
        metrics::gauge!(DUE_BACKLOG).set(due as f64);
    }

    #[allow(clippy::cast_precision_loss)]
    fn tenant_backlog(&self, tenant: &Tenant, due: u64) {
        metrics::gauge!(TENANT_DUE_BACKLOG, "tenant" => tenant.as_str().to_string())
            .set(due as f64);
    }

    #[allow(clippy::cast_precision_loss)]
    fn host_deliveries(&self, host: &str, in_flight: usize) {
        metrics::gauge!(HOST_DELIVERIES_IN_FLIGHT, "host" => host.to_string())
            .set(in_flight as f64);
    }

    fn host_saturated(&self, host: &str) {
        metrics::counter!(HOST_SATURATED_CLAIMS_TOTAL, "host" => host.to_string()).increment(1);
    }

    fn host_throttled(&self, host: &str) {
        metrics::counter!(HOST_THROTTLED_TOTAL, "host" => host.to_string()).increment(1);
    }

    fn host_limited(&self, host: &str) {
        metrics::counter!(HOST_LIMITED_CLAIMS_TOTAL, "host" => host.to_string()).increment(1);
    }

    fn tenant_capped(&self, tenant: &str) {
        metrics::counter!(TENANT_CAPPED_CLAIMS_TOTAL, "tenant" => tenant.to_string()).increment(1);
    }
}
