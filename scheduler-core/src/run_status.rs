//! Why a run exists and where it stands: the two enums jobs and runs both carry.

use crate::wire::WireEnum;

/// Why a run exists.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum RunTrigger {
    /// A fire of the job's schedule.
    Schedule,
    /// `POST /scheduler/jobs/{id}/run/`.
    Manual,
    /// A retry of a failed or timed-out attempt.
    Retry,
    /// A past fire run on request (`POST /scheduler/jobs/{id}/backfill/`).
    Backfill,
    /// An ended run started again on request (`POST /scheduler/runs/{id}/replay/`).
    Replay,
}

/// Where a run stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum RunStatus {
    /// Being executed by `worker`, which heartbeats.
    Running,
    /// The handler or target reported success.
    Succeeded,
    /// The handler or target reported failure (see `error`).
    Failed,
    /// Stopped after the job's `timeout_seconds`.
    TimedOut,
    /// Not executed (misfire `skip`, or concurrency `forbid`); `error` says why.
    Skipped,
    /// Its worker stopped heartbeating; a new attempt was started.
    Abandoned,
    /// Stopped by a cancel request while it ran (`error` says by whom); never retried.
    Cancelled,
    /// The receiver asked to slow down (HTTP 429 or 503 with `Retry-After`): the fire is
    /// attempted again once the delay passes (`retry_at`), without using one of the job's
    /// retries, at most [`crate::plan::MAX_THROTTLES`] times per fire.
    Throttled,
}

impl WireEnum for RunTrigger {}
impl WireEnum for RunStatus {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Invalid;
    #[test]
    fn statuses_and_triggers_have_snake_case_wire_names() {
        assert_eq!(RunStatus::TimedOut.as_str(), "timed_out");
        assert_eq!(RunStatus::parse("abandoned"), Ok(RunStatus::Abandoned));
        assert_eq!(RunTrigger::parse("retry"), Ok(RunTrigger::Retry));
        assert!(matches!(
            RunStatus::parse("exploded"),
            Err(Invalid::NotAChoice { .. })
        ));
    }
}
