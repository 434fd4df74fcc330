//! Per-job run policies (misfire, concurrency, retries, timeout, auto-pause) and who owns a
//! job.

use crate::error::{Invalid, ValidationErrors};
pub use crate::schedule::DstOverlap;
use crate::wire::WireEnum;

/// What to do with a fire found later than its grace period (every replica was down).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum MisfirePolicy {
    /// Run once for everything missed, then resume the schedule.
    #[default]
    FireOnce,
    /// Record a `skipped` run and resume the schedule.
    Skip,
    /// Run every missed fire inside `catch_up_window_seconds` before now, oldest first, at
    /// most the last [`CATCH_UP_CAP`] of them, one after the other; a fire before those is
    /// recorded `skipped`, then the schedule resumes.
    CatchUp,
}

/// The most missed fires a `catch_up` job runs after an outage (the most recent ones).
pub const CATCH_UP_CAP: usize = 100;

/// What to do with a fire while the job's previous run is still running.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum ConcurrencyPolicy {
    /// Run anyway, side by side.
    #[default]
    Allow,
    /// Record a `skipped` run instead.
    Forbid,
    /// Stop the running run (recorded `cancelled`: a handler's task is cancelled, a delivery
    /// aborted) and start the new one.
    Replace,
    /// Keep the fire pending (at most one: fires due meanwhile fold into it) and start it
    /// when the running run ends.
    BufferOne,
}

/// Who owns a job: the API (created by a client), or a program that declares it in code and
/// reconciles it at every start ([`crate::JobService::declare`]); only `code` jobs are removed
/// by [`crate::JobService::prune_declared`].
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum JobSource {
    /// Created through the API (or a plain `JobService::create`).
    #[default]
    Api,
    /// Declared in a program's code.
    Code,
}

impl WireEnum for MisfirePolicy {}
impl WireEnum for DstOverlap {}
impl WireEnum for ConcurrencyPolicy {}
impl WireEnum for JobSource {}

/// How the dispatcher runs a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunPolicy {
    /// Late fires beyond the grace period.
    pub misfire: MisfirePolicy,
    /// Seconds a fire may be late and still count as on time.
    pub misfire_grace_seconds: u32,
    /// With `catch_up`: how far back missed fires are run, in seconds.
    pub catch_up_window_seconds: u32,
    /// Overlapping runs.
    pub concurrency: ConcurrencyPolicy,
    /// Failed or timed-out runs are retried this many times.
    pub max_retries: u32,
    /// First retry delay in seconds; doubled for each further retry.
    pub retry_backoff_seconds: u32,
    /// A run taking longer is stopped and marked `timed_out`.
    pub timeout_seconds: u32,
    /// The job pauses itself after this many consecutive failed runs (each counted once its
    /// retries are exhausted; a success starts the count again); 0: never.
    pub pause_after_failures: u32,
    /// A cron job's fixed local time that occurs twice in the autumn overlap: fire once (at
    /// the first occurrence) or twice.
    pub dst_overlap: DstOverlap,
}

impl Default for RunPolicy {
    fn default() -> Self {
        Self {
            misfire: MisfirePolicy::FireOnce,
            misfire_grace_seconds: 60,
            catch_up_window_seconds: 3_600,
            concurrency: ConcurrencyPolicy::Allow,
            max_retries: 0,
            retry_backoff_seconds: 10,
            timeout_seconds: 300,
            pause_after_failures: 0,
            dst_overlap: DstOverlap::Once,
        }
    }
}

/// Accepted range of each numeric policy field, inclusive: `(field, min, max)`.
pub const POLICY_RANGES: [(&str, u32, u32); 6] = [
    ("misfire_grace_seconds", 0, 86_400),
    ("catch_up_window_seconds", 1, 604_800),
    ("max_retries", 0, 100),
    ("retry_backoff_seconds", 1, 86_400),
    ("timeout_seconds", 1, 86_400),
    ("pause_after_failures", 0, 1_000),
];

impl RunPolicy {
    /// Delay before retry number `retry` (1-based): backoff × 2^(retry-1), capped at a day.
    pub fn retry_delay_seconds(&self, retry: u32) -> u64 {
        let factor = 1u64 << retry.saturating_sub(1).min(20);
        (u64::from(self.retry_backoff_seconds) * factor).min(86_400)
    }
}

/// Raw policy fields of a request; absent fields keep the base value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyInput {
    /// `fire_once` or `skip`.
    pub misfire_policy: Option<String>,
    /// 0 to 86,400.
    pub misfire_grace_seconds: Option<i64>,
    /// 1 to 604,800 (a week).
    pub catch_up_window_seconds: Option<i64>,
    /// `allow` or `forbid`.
    pub concurrency_policy: Option<String>,
    /// 0 to 100.
    pub max_retries: Option<i64>,
    /// 1 to 86,400.
    pub retry_backoff_seconds: Option<i64>,
    /// 1 to 86,400.
    pub timeout_seconds: Option<i64>,
    /// 0 (never) to 1,000.
    pub pause_after_failures: Option<i64>,
    /// `once` or `twice`.
    pub dst_overlap: Option<String>,
}

/// `value` (or `base` when absent) when it lies in the range [`POLICY_RANGES`] gives `field`.
fn in_range(
    errors: &mut ValidationErrors,
    field: &'static str,
    value: Option<i64>,
    base: u32,
) -> u32 {
    let Some(value) = value else {
        return base;
    };
    let (low, high) = POLICY_RANGES
        .iter()
        .find(|(name, _, _)| *name == field)
        .map_or((0, u32::MAX), |(_, low, high)| (*low, *high));
    let checked = u32::try_from(value)
        .ok()
        .filter(|v| (low..=high).contains(v))
        .ok_or(Invalid::OutOfRange {
            min: i64::from(low),
            max: i64::from(high),
        });
    errors.check(field, checked).unwrap_or(base)
}

/// The present choice of `field`, parsed, or `base`.
fn choice<T: WireEnum>(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<&str>,
    base: T,
) -> T {
    match raw {
        None => base,
        Some(raw) => errors.check(field, T::parse(raw)).unwrap_or(base),
    }
}

impl PolicyInput {
    /// The policy with the present fields applied to `base`, errors recorded per field.
    pub fn apply(&self, base: &RunPolicy, errors: &mut ValidationErrors) -> RunPolicy {
        RunPolicy {
            misfire: choice(
                errors,
                "misfire_policy",
                self.misfire_policy.as_deref(),
                base.misfire,
            ),
            misfire_grace_seconds: in_range(
                errors,
                "misfire_grace_seconds",
                self.misfire_grace_seconds,
                base.misfire_grace_seconds,
            ),
            catch_up_window_seconds: in_range(
                errors,
                "catch_up_window_seconds",
                self.catch_up_window_seconds,
                base.catch_up_window_seconds,
            ),
            concurrency: choice(
                errors,
                "concurrency_policy",
                self.concurrency_policy.as_deref(),
                base.concurrency,
            ),
            max_retries: in_range(errors, "max_retries", self.max_retries, base.max_retries),
            retry_backoff_seconds: in_range(
                errors,
                "retry_backoff_seconds",
                self.retry_backoff_seconds,
                base.retry_backoff_seconds,
            ),
            timeout_seconds: in_range(
                errors,
                "timeout_seconds",
                self.timeout_seconds,
                base.timeout_seconds,
            ),
            pause_after_failures: in_range(
                errors,
                "pause_after_failures",
                self.pause_after_failures,
                base.pause_after_failures,
            ),
            dst_overlap: choice(
                errors,
                "dst_overlap",
                self.dst_overlap.as_deref(),
                base.dst_overlap,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let p = RunPolicy::default();
        assert_eq!(p.misfire, MisfirePolicy::FireOnce);
        assert_eq!(p.misfire_grace_seconds, 60);
        assert_eq!(p.concurrency, ConcurrencyPolicy::Allow);
        assert_eq!(
            (p.max_retries, p.retry_backoff_seconds, p.timeout_seconds),
            (0, 10, 300)
        );
    }

    #[test]
    fn backoff_doubles_per_retry() {
        let p = RunPolicy::default();
        assert_eq!(
            [1, 2, 3, 4].map(|r| p.retry_delay_seconds(r)),
            [10, 20, 40, 80]
        );
    }

    #[test]
    fn policies_have_snake_case_wire_names() {
        assert_eq!(MisfirePolicy::FireOnce.as_str(), "fire_once");
        assert_eq!(MisfirePolicy::parse("skip"), Ok(MisfirePolicy::Skip));
        assert_eq!(ConcurrencyPolicy::Forbid.as_str(), "forbid");
        assert_eq!(
            ConcurrencyPolicy::parse("sometimes"),
            Err(Invalid::NotAChoice {
                value: "sometimes".into(),
                choices: &["allow", "forbid", "replace", "buffer_one"]
            })
        );
        assert_eq!(
            ConcurrencyPolicy::parse("allow\0"),
            Err(Invalid::NulCharacter)
        );
    }

    #[test]
    fn bad_policy_values_are_named() {
        let mut errors = ValidationErrors::new();
        PolicyInput {
            misfire_policy: Some("sometimes".into()),
            max_retries: Some(-1),
            timeout_seconds: Some(0),
            ..PolicyInput::default()
        }
        .apply(&RunPolicy::default(), &mut errors);
        let found: Vec<(&str, &Invalid)> = errors
            .iter()
            .map(|e| (e.field.as_str(), &e.problem))
            .collect();
        assert_eq!(found[0].0, "misfire_policy");
        assert_eq!(
            &found[1..],
            [
                ("max_retries", &Invalid::OutOfRange { min: 0, max: 100 }),
                (
                    "timeout_seconds",
                    &Invalid::OutOfRange {
                        min: 1,
                        max: 86_400
                    }
                )
            ]
        );
    }

    #[test]
    fn numbers_beyond_i32_are_out_of_range_not_wrapped() {
        let mut errors = ValidationErrors::new();
        let policy = PolicyInput {
            max_retries: Some(i64::from(u32::MAX) + 1),
            ..PolicyInput::default()
        }
        .apply(&RunPolicy::default(), &mut errors);
        assert_eq!(policy.max_retries, 0);
        assert!(errors.has("max_retries"));
    }
}
