//! A job's schedule, of one of three kinds: a cron expression read in the job's zone, a fixed
//! interval anchored at the job's `start_time`, or a single instant.
//!
//! # Rules
//! - **Cron** fires by [`CronSchedule`]'s rules (DST gap and overlap included).
//! - **Interval** fire `k` is `start_time + k·interval` (k = 0, 1, …), counted in real
//!   seconds: it never drifts (a late fire does not move the next one) and a DST change
//!   does not move it either (every 3,600 s stays 3,600 s apart across a change, although
//!   its wall-clock hour shifts).
//! - **Once** fires at its instant, and never again.

use std::fmt;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use crate::error::Invalid;
use crate::schedule::{CronSchedule, DstOverlap};

/// A number of seconds between fires, 1 to [`Interval::MAX_SECONDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Interval(u32);

impl Interval {
    /// The longest interval: 366 days (a leap year), so a job fires at least once a year.
    pub const MAX_SECONDS: u32 = 366 * 24 * 3600;

    /// The interval of `seconds`, 1 to [`Interval::MAX_SECONDS`].
    ///
    /// # Errors
    /// `OutOfRange` outside the bounds.
    pub fn from_seconds(seconds: i64) -> Result<Self, Invalid> {
        u32::try_from(seconds)
            .ok()
            .filter(|s| (1..=Self::MAX_SECONDS).contains(s))
            .map(Self)
            .ok_or(Invalid::OutOfRange {
                min: 1,
                max: i64::from(Self::MAX_SECONDS),
            })
    }

    /// The interval in seconds.
    pub fn seconds(self) -> u32 {
        self.0
    }

    fn duration(self) -> Duration {
        Duration::seconds(i64::from(self.0))
    }

    /// In words: `every 90 minutes`, `every 2 hours`, `every 45 seconds`.
    pub fn describe(self) -> String {
        let s = self.0;
        let (n, unit) = if s.is_multiple_of(86_400) {
            (s / 86_400, "day")
        } else if s.is_multiple_of(3_600) {
            (s / 3_600, "hour")
        } else if s.is_multiple_of(60) {
            (s / 60, "minute")
        } else {
            (s, "second")
        };
        if n == 1 {
            format!("every {unit}")
        } else {
            format!("every {n} {unit}s")
        }
    }
}

/// When a job fires: exactly one kind.
#[derive(Clone, PartialEq)]
pub enum Schedule {
    /// A 5-field cron expression, read in the job's zone.
    Cron(CronSchedule),
    /// Every so many seconds from the job's `start_time`.
    Interval(Interval),
    /// Once, at this instant.
    Once(DateTime<Utc>),
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cron(cron) => write!(f, "Cron({:?})", cron.expression()),
            Self::Interval(every) => write!(f, "Interval({}s)", every.seconds()),
            Self::Once(at) => write!(f, "Once({at})"),
        }
    }
}

impl From<CronSchedule> for Schedule {
    fn from(cron: CronSchedule) -> Self {
        Self::Cron(cron)
    }
}

impl Schedule {
    /// The wire names of the three kinds, in the order errors list them.
    pub const FIELDS: [&'static str; 3] = ["cron_expression", "interval_seconds", "run_at"];

    /// The cron expression, for a cron schedule.
    pub fn cron(&self) -> Option<&CronSchedule> {
        match self {
            Self::Cron(cron) => Some(cron),
            _ => None,
        }
    }

    /// The interval, for an interval schedule.
    pub fn interval(&self) -> Option<Interval> {
        match self {
            Self::Interval(every) => Some(*every),
            _ => None,
        }
    }

    /// The instant, for a one-off schedule.
    pub fn run_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Once(at) => Some(*at),
            _ => None,
        }
    }

    /// The wire name of this kind's field (one of [`Schedule::FIELDS`]).
    pub fn field(&self) -> &'static str {
        match self {
            Self::Cron(_) => Self::FIELDS[0],
            Self::Interval(_) => Self::FIELDS[1],
            Self::Once(_) => Self::FIELDS[2],
        }
    }

    /// The first fire `t` with `t >= start` and `t > now`, read in `tz` (cron only uses
    /// it); `None` when there is none.
    pub fn first_fire(
        &self,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
        tz: Tz,
    ) -> Option<DateTime<Utc>> {
        match self {
            Self::Cron(cron) if start > now => cron.next_at_or_after(start, tz),
            Self::Cron(cron) => cron.next_after(now, tz),
            Self::Interval(every) => {
                if start > now {
                    return Some(start);
                }
                let step = every.duration().num_microseconds()?;
                let elapsed = (now - start).num_microseconds()?;
                let k = elapsed / step + 1;
                start.checked_add_signed(Duration::microseconds(k.checked_mul(step)?))
            }
            Self::Once(at) => (*at >= start && *at > now).then_some(*at),
        }
    }

    /// [`Schedule::first_fire`] with a cron job's choice for the autumn overlap.
    pub fn first_fire_in(
        &self,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
        tz: Tz,
        overlap: DstOverlap,
    ) -> Option<DateTime<Utc>> {
        match self {
            Self::Cron(cron) if start > now => cron.next_at_or_after_in(start, tz, overlap),
            Self::Cron(cron) => cron.next_after_in(now, tz, overlap),
            _ => self.first_fire(start, now, tz),
        }
    }

    /// [`Schedule::fires_from`] with a cron job's choice for the autumn overlap.
    pub fn fires_from_in(
        &self,
        first: DateTime<Utc>,
        tz: Tz,
        count: usize,
        overlap: DstOverlap,
    ) -> Vec<DateTime<Utc>> {
        match self {
            Self::Cron(cron) => cron.upcoming_in(first, tz, count, overlap),
            _ => self.fires_from(first, tz, count),
        }
    }

    /// `count` fires starting with `first` (itself a fire), in `tz`.
    pub fn fires_from(&self, first: DateTime<Utc>, tz: Tz, count: usize) -> Vec<DateTime<Utc>> {
        match self {
            Self::Cron(cron) => cron.upcoming(first, tz, count),
            Self::Interval(every) => {
                std::iter::successors(Some(first), |at| at.checked_add_signed(every.duration()))
                    .take(count)
                    .collect()
            }
            Self::Once(at) => std::iter::once(*at).take(count.min(1)).collect(),
        }
    }

    /// In words: the cron expression's reading, `every 90 minutes`, or `once, at <instant>`.
    pub fn describe(&self) -> String {
        match self {
            Self::Cron(cron) => cron.describe(),
            Self::Interval(every) => every.describe(),
            Self::Once(at) => format!(
                "once, at {}",
                at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            ),
        }
    }

    /// What the dashboard and tables show beside the words: the expression, the interval in
    /// seconds (`5400s`), or the instant.
    pub fn written(&self) -> String {
        match self {
            Self::Cron(cron) => cron.expression().to_string(),
            Self::Interval(every) => format!("{}s", every.seconds()),
            Self::Once(at) => at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        }
    }
}

/// The most a fire may be delayed by jitter: one hour.
pub const MAX_JITTER_SECONDS: u32 = 3_600;

/// How many fires of a cron schedule the jitter bound is checked against (its smallest gap
/// must exceed the jitter, so jittered fires never swap order).
const GAP_SAMPLE: usize = 500;

/// The delay of the fire at `nominal` of the job `seed` (its tenant and name) under a
/// jitter of up to `max_seconds`: pseudo-random, uniform over `0..=max_seconds` in
/// milliseconds, and **deterministic** — every replica and every process computes the same
/// delay for the same job and instant, so they agree on the due time and a preview shows the
/// real one. SHA-256 over the seed and the instant's microseconds; the modulo bias of a
/// 64-bit value over at most 3,600,001 buckets is below 2⁻⁴¹.
pub fn jitter_offset(seed: &str, nominal: DateTime<Utc>, max_seconds: u32) -> Duration {
    if max_seconds == 0 {
        return Duration::zero();
    }
    let mut hash = Sha256::new();
    hash.update(seed.as_bytes());
    hash.update([0]);
    hash.update(nominal.timestamp_micros().to_be_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let buckets = u64::from(max_seconds) * 1_000 + 1;
    let millis = u64::from_be_bytes(first) % buckets;
    Duration::milliseconds(i64::try_from(millis).unwrap_or(0))
}

/// One fire: the schedule's instant (the run's `scheduled_for`) and when it is due (later by
/// the job's jitter; the same instant without jitter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fire {
    /// The instant the schedule names.
    pub at: DateTime<Utc>,
    /// When it runs: `at` plus the jitter delay.
    pub due: DateTime<Utc>,
}

impl Schedule {
    /// The smallest gap between two fires, over the next fires from `from` (an interval's
    /// own length; `None` for a one-off, which has no gap): what a jitter must stay below.
    pub fn smallest_gap(&self, from: DateTime<Utc>, tz: Tz) -> Option<Duration> {
        match self {
            Self::Cron(cron) => {
                let fires = cron.upcoming(from, tz, GAP_SAMPLE);
                fires.windows(2).map(|w| w[1] - w[0]).min()
            }
            Self::Interval(every) => Some(every.duration()),
            Self::Once(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn every(seconds: i64) -> Schedule {
        Schedule::Interval(Interval::from_seconds(seconds).unwrap())
    }

    #[test]
    fn intervals_are_bounded() {
        assert!(Interval::from_seconds(0).is_err());
        assert!(Interval::from_seconds(-5).is_err());
        assert!(Interval::from_seconds(i64::from(Interval::MAX_SECONDS) + 1).is_err());
        assert_eq!(Interval::from_seconds(1).unwrap().seconds(), 1);
        assert_eq!(
            Interval::from_seconds(i64::from(Interval::MAX_SECONDS))
                .unwrap()
                .seconds(),
            Interval::MAX_SECONDS
        );
    }

    #[test]
    fn an_interval_fires_at_start_then_every_step_from_it_without_drift() {
        let start = utc("2025-06-23T09:00:00Z");
        let s = every(5400);
        // Before the start: the start itself.
        assert_eq!(
            s.first_fire(start, utc("2025-06-23T08:00:00Z"), Tz::UTC),
            Some(start)
        );
        // At the start: not again; the next step.
        assert_eq!(
            s.first_fire(start, start, Tz::UTC),
            Some(utc("2025-06-23T10:30:00Z"))
        );
        // A late now (after an outage) lands on the grid, not on now + interval.
        assert_eq!(
            s.first_fire(start, utc("2025-06-23T14:17:31.5Z"), Tz::UTC),
            Some(utc("2025-06-23T15:00:00Z"))
        );
        // Exactly on a step: the following one.
        assert_eq!(
            s.first_fire(start, utc("2025-06-23T15:00:00Z"), Tz::UTC),
            Some(utc("2025-06-23T16:30:00Z"))
        );
    }

    #[test]
    fn an_interval_keeps_real_seconds_across_dst_in_the_jobs_zone() {
        let tz: Tz = "America/New_York".parse().unwrap();
        // 2025-03-09 02:00 EST → 03:00 EDT; 2025-11-02 02:00 EDT → 01:00 EST.
        let start = utc("2025-03-09T05:00:00Z"); // 00:00 EST
        let s = every(3600);
        let fires = s.fires_from(
            s.first_fire(start, utc("2025-03-09T04:00:00Z"), tz)
                .unwrap(),
            tz,
            4,
        );
        let gaps: Vec<i64> = fires
            .windows(2)
            .map(|w| (w[1] - w[0]).num_seconds())
            .collect();
        assert_eq!(gaps, vec![3600, 3600, 3600]);
        assert_eq!(fires[3], utc("2025-03-09T08:00:00Z")); // 04:00 EDT: one wall hour skipped
        // Months later, across the fall-back, still on the UTC grid of the start.
        let after = s
            .first_fire(start, utc("2025-11-02T05:59:59Z"), tz)
            .unwrap();
        assert_eq!(after, utc("2025-11-02T06:00:00Z")); // 01:00 EST, the second 01:00
        assert_eq!(
            s.first_fire(start, after, tz),
            Some(utc("2025-11-02T07:00:00Z"))
        );
    }

    #[test]
    fn a_one_off_fires_once_if_still_ahead_and_not_before_start() {
        let at = utc("2025-06-24T14:00:00Z");
        let s = Schedule::Once(at);
        let start = utc("2025-06-01T00:00:00Z");
        assert_eq!(
            s.first_fire(start, utc("2025-06-24T13:59:59Z"), Tz::UTC),
            Some(at)
        );
        assert_eq!(s.first_fire(start, at, Tz::UTC), None);
        assert_eq!(
            s.first_fire(utc("2025-06-25T00:00:00Z"), start, Tz::UTC),
            None
        );
        assert_eq!(s.fires_from(at, Tz::UTC, 5), vec![at]);
        assert!(s.fires_from(at, Tz::UTC, 0).is_empty());
    }

    #[test]
    fn jitter_is_deterministic_bounded_and_spread_uniformly() {
        let at = utc("2025-06-23T09:00:00Z");
        // The same job and instant: the same delay, in any process (a fixed expected value
        // pins the function, so a change that would make replicas disagree fails here).
        let offset = jitter_offset("default/report", at, 300);
        assert_eq!(offset, jitter_offset("default/report", at, 300));
        assert_eq!(offset.num_milliseconds(), 29_926); // checked with Python's hashlib
        assert_ne!(offset, jitter_offset("default/other", at, 300));
        assert_eq!(jitter_offset("default/report", at, 0), Duration::zero());
        // Over 20,000 instants: within bounds, and each tenth of the range gets its share.
        let mut deciles = [0u32; 10];
        for k in 0..20_000 {
            let nominal = at + Duration::minutes(k);
            let ms = jitter_offset("default/report", nominal, 300).num_milliseconds();
            assert!((0..=300_000).contains(&ms));
            deciles[usize::try_from(ms * 10 / 300_001).unwrap()] += 1;
        }
        for count in deciles {
            assert!((1_800..=2_200).contains(&count), "{deciles:?}");
        }
    }

    #[test]
    fn the_smallest_gap_is_the_intervals_or_the_crons_closest_fires() {
        let from = utc("2025-06-23T00:00:00Z");
        assert_eq!(
            every(90).smallest_gap(from, Tz::UTC),
            Some(Duration::seconds(90))
        );
        let cron = Schedule::Cron(CronSchedule::parse("0,10 9 * * *").unwrap());
        assert_eq!(
            cron.smallest_gap(from, Tz::UTC),
            Some(Duration::minutes(10))
        );
        assert_eq!(Schedule::Once(from).smallest_gap(from, Tz::UTC), None);
    }

    #[test]
    fn kinds_read_in_words() {
        assert_eq!(every(5400).describe(), "every 90 minutes");
        assert_eq!(every(3600).describe(), "every hour");
        assert_eq!(every(172_800).describe(), "every 2 days");
        assert_eq!(every(45).describe(), "every 45 seconds");
        assert_eq!(
            Schedule::Once(utc("2025-06-24T14:00:00Z")).describe(),
            "once, at 2025-06-24T14:00:00Z"
        );
        assert_eq!(every(90).written(), "90s");
    }
}
