//! Run statistics for the dashboard's front page: a tenant's runs of the last day per hour
//! and status, and how late scheduled fires started (p50 and p99 per hour). The store reads
//! the runs ([`RunStats`], bounded by [`MAX_SAMPLES`]); counting, bucketing and percentiles
//! are here, pure.
//!
//! Fire lateness is what the dispatcher reports as `fire_started`: a run's start minus when
//! its fire was due ([`RunSample::due`], jitter included), counted for the first attempt at a
//! scheduled fire that started (not for skips, manual runs, retries, recoveries, backfills or
//! replays, whose start is late on purpose or by a backoff).

use async_trait::async_trait;
use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::error::RepositoryError;
use crate::run::Run;
use crate::run_status::{RunStatus, RunTrigger};
use crate::tenant::Tenant;

/// How far back the front page looks: its [`HOURS`] hour buckets, the current one included.
pub const HOURS: usize = 24;

/// Most runs a [`RunStats`] read returns (the newest fires first): a day of a very busy
/// tenant is summarized from its newest 50,000 runs, and says so ([`DayStats::truncated`]).
pub const MAX_SAMPLES: usize = 50_000;

/// Every run status, in declaration order: the order counts are listed in.
const STATUSES: [RunStatus; 8] = [
    RunStatus::Running,
    RunStatus::Succeeded,
    RunStatus::Failed,
    RunStatus::TimedOut,
    RunStatus::Skipped,
    RunStatus::Abandoned,
    RunStatus::Cancelled,
    RunStatus::Throttled,
];

/// The place of `status` in [`STATUSES`].
fn status_index(status: RunStatus) -> usize {
    match status {
        RunStatus::Running => 0,
        RunStatus::Succeeded => 1,
        RunStatus::Failed => 2,
        RunStatus::TimedOut => 3,
        RunStatus::Skipped => 4,
        RunStatus::Abandoned => 5,
        RunStatus::Cancelled => 6,
        RunStatus::Throttled => 7,
    }
}

/// One run as the statistics read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSample {
    /// The fire instant the run serves.
    pub scheduled_for: DateTime<Utc>,
    /// When a jittered fire was due (`None`: at `scheduled_for`).
    pub due_at: Option<DateTime<Utc>>,
    /// When it started (or the skip was recorded).
    pub started_at: DateTime<Utc>,
    /// Where it stands.
    pub status: RunStatus,
    /// Why it exists.
    pub trigger: RunTrigger,
    /// 1 for the first attempt at its fire.
    pub attempt: i32,
}

impl RunSample {
    /// The sample of `run`.
    pub fn of(run: &Run) -> Self {
        Self {
            scheduled_for: run.scheduled_for,
            due_at: run.due_at,
            started_at: run.started_at,
            status: run.status,
            trigger: run.trigger,
            attempt: run.attempt,
        }
    }

    /// When its fire was due: `due_at`, else `scheduled_for` (as [`crate::Run::due`]).
    pub fn due(&self) -> DateTime<Utc> {
        self.due_at.unwrap_or(self.scheduled_for)
    }

    /// How late its fire started, for the first attempt at a scheduled fire that started
    /// (never negative); `None` for every other run.
    pub fn fire_lateness(&self) -> Option<Duration> {
        let counted = self.trigger == RunTrigger::Schedule
            && self.attempt == 1
            && self.status != RunStatus::Skipped;
        counted.then(|| (self.started_at - self.due()).max(Duration::zero()))
    }
}

/// What a [`RunStats`] read returns: the runs, the newest fires first, and whether more
/// matched than [`MAX_SAMPLES`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSamples {
    /// At most [`MAX_SAMPLES`] runs.
    pub samples: Vec<RunSample>,
    /// True when older runs of the window were left out.
    pub truncated: bool,
}

/// The runs the front page summarizes, read from the store.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait RunStats: Send + Sync {
    /// The runs of `tenant`'s jobs serving fires at or after `since` (the dashboard asks for
    /// [`day_start`], at most [`HOURS`] back), the newest fires first. MUST return at most
    /// [`MAX_SAMPLES`] of them, with `truncated` set when more matched, so one read stays
    /// bounded however busy the tenant.
    async fn runs_since(
        &self,
        tenant: &Tenant,
        since: DateTime<Utc>,
    ) -> Result<RunSamples, RepositoryError>;
}

/// The p50 and p99 of a set of fire lateness values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lateness {
    /// Half the fires started at most this late.
    pub p50: Duration,
    /// 99 % of the fires started at most this late.
    pub p99: Duration,
    /// How many fires the figures are of.
    pub fires: usize,
}

impl Lateness {
    /// The percentiles of `values` (in any order); `None` for none.
    pub fn of(mut values: Vec<Duration>) -> Option<Self> {
        values.sort_unstable();
        Some(Self {
            p50: percentile(&values, 50)?,
            p99: percentile(&values, 99)?,
            fires: values.len(),
        })
    }
}

/// The `p`th percentile (nearest rank, `p` in 1..=100) of `sorted` (ascending): the smallest
/// value at least `p` % of the values are at or below; `None` when there are none.
pub fn percentile(sorted: &[Duration], p: u8) -> Option<Duration> {
    let n = sorted.len();
    // The rank ⌈p·n/100⌉, at least 1: for p = 50 and n = 4, the 2nd value.
    let rank = (usize::from(p.clamp(1, 100)) * n).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// One hour of the front page's day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourBucket {
    /// The hour's start (UTC).
    pub hour: DateTime<Utc>,
    /// Runs started in the hour, by status (see [`HourBucket::count`]).
    by_status: [u64; STATUSES.len()],
    /// The lateness of the fires that started in the hour.
    pub lateness: Option<Lateness>,
}

impl HourBucket {
    /// An hour without runs.
    pub fn empty(hour: DateTime<Utc>) -> Self {
        Self {
            hour,
            by_status: [0; STATUSES.len()],
            lateness: None,
        }
    }

    /// The runs of `status` that started in the hour.
    pub fn count(&self, status: RunStatus) -> u64 {
        self.by_status[status_index(status)]
    }

    /// Every run that started in the hour.
    pub fn total(&self) -> u64 {
        self.by_status.iter().sum()
    }

    /// The statuses with runs in the hour and their counts, in declaration order.
    pub fn counts(&self) -> impl Iterator<Item = (RunStatus, u64)> + '_ {
        STATUSES
            .iter()
            .map(|status| (*status, self.count(*status)))
            .filter(|(_, n)| *n > 0)
    }
}

/// The front page's day: [`HOURS`] buckets, oldest first, the last one the current hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayStats {
    /// The hours, oldest first.
    pub hours: Vec<HourBucket>,
    /// The lateness of every counted fire of the day.
    pub lateness: Option<Lateness>,
    /// True when the store left older runs out ([`MAX_SAMPLES`]).
    pub truncated: bool,
}

/// The start of the current hour.
fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    // Truncating to a whole hour of a valid instant cannot fail; should it, the instant
    // itself still names its bucket.
    at.duration_trunc(Duration::hours(1)).unwrap_or(at)
}

/// The first instant of the day [`DayStats::of`] summarizes at `now`: the start of the hour
/// [`HOURS`]` - 1` hours before the current one.
pub fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    hour_of(now) - Duration::hours(i64::try_from(HOURS - 1).unwrap_or(23))
}

impl DayStats {
    /// The day at `now` from `read`: each run counted in the hour it started (runs starting
    /// before [`day_start`] or after `now` left out), each hour's fire lateness and the day's.
    pub fn of(read: &RunSamples, now: DateTime<Utc>) -> Self {
        let start = day_start(now);
        let mut hours: Vec<HourBucket> = (0..HOURS)
            .map(|i| HourBucket::empty(start + Duration::hours(i64::try_from(i).unwrap_or(0))))
            .collect();
        let mut late: Vec<Vec<Duration>> = vec![Vec::new(); HOURS];
        for sample in &read.samples {
            if sample.started_at < start || sample.started_at > now {
                continue;
            }
            let index = usize::try_from((sample.started_at - start).num_hours()).unwrap_or(0);
            let Some(bucket) = hours.get_mut(index) else {
                continue;
            };
            bucket.by_status[status_index(sample.status)] += 1;
            if let (Some(lateness), Some(values)) = (sample.fire_lateness(), late.get_mut(index)) {
                values.push(lateness);
            }
        }
        let all: Vec<Duration> = late.iter().flatten().copied().collect();
        for (bucket, values) in hours.iter_mut().zip(late) {
            bucket.lateness = Lateness::of(values);
        }
        Self {
            hours,
            lateness: Lateness::of(all),
            truncated: read.truncated,
        }
    }

    /// Every run of the day.
    pub fn total(&self) -> u64 {
        self.hours.iter().map(HourBucket::total).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn ms(n: i64) -> Duration {
        Duration::milliseconds(n)
    }

    fn sample(started: &str, late_ms: i64, status: RunStatus, trigger: RunTrigger) -> RunSample {
        let started_at = at(started);
        RunSample {
            scheduled_for: started_at - ms(late_ms),
            due_at: None,
            started_at,
            status,
            trigger,
            attempt: 1,
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&values, 50), Some(ms(50)));
        assert_eq!(percentile(&values, 99), Some(ms(99)));
        assert_eq!(percentile(&values, 100), Some(ms(100)));
        let four = [ms(1), ms(2), ms(3), ms(4)];
        assert_eq!(percentile(&four, 50), Some(ms(2)));
        assert_eq!(percentile(&four, 99), Some(ms(4)));
        assert_eq!(percentile(&[ms(7)], 1), Some(ms(7)));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn lateness_sorts_its_values_first() {
        let lateness = Lateness::of(vec![ms(900), ms(10), ms(30), ms(20)]).unwrap();
        assert_eq!(
            (lateness.p50, lateness.p99, lateness.fires),
            (ms(20), ms(900), 4)
        );
        assert_eq!(Lateness::of(Vec::new()), None);
    }

    #[test]
    fn only_first_attempts_at_scheduled_fires_that_started_count_as_fire_lateness() {
        let scheduled = sample(
            "2025-06-23T09:00:01Z",
            1_000,
            RunStatus::Succeeded,
            RunTrigger::Schedule,
        );
        assert_eq!(scheduled.fire_lateness(), Some(ms(1_000)));
        let jittered = RunSample {
            due_at: Some(scheduled.scheduled_for + ms(400)),
            ..scheduled
        };
        assert_eq!(jittered.fire_lateness(), Some(ms(600)));
        let early = RunSample {
            due_at: Some(scheduled.started_at + ms(5)),
            ..scheduled
        };
        assert_eq!(early.fire_lateness(), Some(Duration::zero()));
        for trigger in [
            RunTrigger::Manual,
            RunTrigger::Retry,
            RunTrigger::Backfill,
            RunTrigger::Replay,
        ] {
            assert_eq!(
                RunSample {
                    trigger,
                    ..scheduled
                }
                .fire_lateness(),
                None
            );
        }
        let skipped = RunSample {
            status: RunStatus::Skipped,
            ..scheduled
        };
        assert_eq!(skipped.fire_lateness(), None);
        let recovered = RunSample {
            attempt: 2,
            ..scheduled
        };
        assert_eq!(recovered.fire_lateness(), None);
    }

    #[test]
    fn the_day_is_the_last_24_hours_ending_with_the_current_one() {
        let now = at("2025-06-23T09:40:00Z");
        assert_eq!(day_start(now), at("2025-06-22T10:00:00Z"));
        let day = DayStats::of(&RunSamples::default(), now);
        assert_eq!(day.hours.len(), HOURS);
        assert_eq!(day.hours[0].hour, at("2025-06-22T10:00:00Z"));
        assert_eq!(day.hours[23].hour, at("2025-06-23T09:00:00Z"));
        assert_eq!((day.total(), day.lateness, day.truncated), (0, None, false));
    }

    #[test]
    fn runs_are_counted_by_the_hour_they_started_in_and_by_status() {
        let now = at("2025-06-23T09:40:00Z");
        let read = RunSamples {
            samples: vec![
                sample(
                    "2025-06-23T09:10:00Z",
                    10,
                    RunStatus::Succeeded,
                    RunTrigger::Schedule,
                ),
                sample(
                    "2025-06-23T09:20:00Z",
                    30,
                    RunStatus::Failed,
                    RunTrigger::Schedule,
                ),
                sample(
                    "2025-06-23T09:30:00Z",
                    0,
                    RunStatus::Failed,
                    RunTrigger::Manual,
                ),
                sample(
                    "2025-06-23T08:59:59Z",
                    200,
                    RunStatus::Succeeded,
                    RunTrigger::Schedule,
                ),
                sample(
                    "2025-06-22T10:00:00Z",
                    0,
                    RunStatus::Skipped,
                    RunTrigger::Schedule,
                ),
                // Before the day and after now: left out.
                sample(
                    "2025-06-22T09:59:59Z",
                    0,
                    RunStatus::Succeeded,
                    RunTrigger::Schedule,
                ),
                sample(
                    "2025-06-23T09:41:00Z",
                    0,
                    RunStatus::Succeeded,
                    RunTrigger::Schedule,
                ),
            ],
            truncated: true,
        };
        let day = DayStats::of(&read, now);
        assert_eq!(day.total(), 5);
        assert!(day.truncated);
        let last = &day.hours[23];
        assert_eq!(
            last.counts().collect::<Vec<_>>(),
            [(RunStatus::Succeeded, 1), (RunStatus::Failed, 2)]
        );
        let last_late = last.lateness.unwrap();
        assert_eq!(
            (last_late.p50, last_late.p99, last_late.fires),
            (ms(10), ms(30), 2)
        );
        assert_eq!(day.hours[22].count(RunStatus::Succeeded), 1);
        assert_eq!(day.hours[22].lateness.unwrap().p50, ms(200));
        assert_eq!(day.hours[0].count(RunStatus::Skipped), 1);
        assert_eq!(day.hours[0].lateness, None);
        let whole = day.lateness.unwrap();
        assert_eq!((whole.p50, whole.p99, whole.fires), (ms(30), ms(200), 3));
    }
}
