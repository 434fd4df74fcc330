//! Backfill: the fires a job's schedule would have made in a past range, to run now. Which
//! instants, and the range's limits, are decided here; the store inserts them once each
//! (an instant that already has a run is not run again) and the dispatcher runs them under
//! the job's overlap policy.

use chrono::{DateTime, Duration, Utc};

use crate::error::{Invalid, ValidationErrors};
use crate::job::JobSpec;
use crate::timing::Schedule;

/// The most fires one backfill may create.
pub const BACKFILL_CAP: usize = 1_000;

/// The schedule instants of `spec` in `[from, to)` — a past range (`to` at most `now`) —
/// whatever the job's `start_time`, `end_time` and `max_runs` (a backfill is asked for
/// explicitly; an interval keeps its grid, anchored at `start_time`, before it too). Jitter
/// does not apply: a backfill runs now.
///
/// # Errors
/// `from`/`to` `Required`; `to` `ToNotAfterFrom` or `ToInFuture`; `to` `TooManyFires` when
/// the range holds more than [`BACKFILL_CAP`] fires.
pub fn backfill_fires(
    spec: &JobSpec,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if from.is_none() {
        errors.add("from", Invalid::Required);
    }
    if to.is_none() {
        errors.add("to", Invalid::Required);
    }
    let (Some(from), Some(to)) = (from, to) else {
        return Err(errors);
    };
    if to <= from {
        return Err(ValidationErrors::single("to", Invalid::ToNotAfterFrom));
    }
    if to > now {
        return Err(ValidationErrors::single("to", Invalid::ToInFuture));
    }
    let tz = spec.timezone.tz();
    let anchor = match spec.schedule {
        // The grid k·interval from start_time, continued before it.
        Schedule::Interval(every) => {
            let step = i64::from(every.seconds());
            let behind = (spec.start_time - from).num_seconds().max(0);
            spec.start_time - Duration::seconds((behind / step + 1) * step)
        }
        _ => from,
    };
    let mut fires = Vec::new();
    let mut after = from - Duration::microseconds(1);
    while let Some(at) = spec
        .schedule
        .first_fire_in(anchor, after, tz, spec.policy.dst_overlap)
    {
        if at >= to {
            break;
        }
        if fires.len() == BACKFILL_CAP {
            return Err(ValidationErrors::single(
                "to",
                Invalid::TooManyFires { max: BACKFILL_CAP },
            ));
        }
        fires.push(at);
        after = at;
    }
    Ok(fires)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job_input::JobDraft;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn spec(draft: JobDraft) -> JobSpec {
        JobDraft {
            name: Some("j".into()),
            ..draft
        }
        .validate(utc("2025-06-23T12:00:00Z"))
        .unwrap()
    }

    fn cron(expression: &str) -> JobSpec {
        spec(JobDraft {
            cron_expression: Some(expression.into()),
            ..JobDraft::default()
        })
    }

    #[test]
    fn an_hour_of_a_five_minute_job_is_twelve_fires_from_inclusive_to_exclusive() {
        let now = utc("2025-06-23T12:00:00Z");
        let fires = backfill_fires(
            &cron("*/5 * * * *"),
            Some(utc("2025-06-23T09:00:00Z")),
            Some(utc("2025-06-23T10:00:00Z")),
            now,
        )
        .unwrap();
        assert_eq!(fires.len(), 12);
        assert_eq!(fires[0], utc("2025-06-23T09:00:00Z"));
        assert_eq!(fires[11], utc("2025-06-23T09:55:00Z"));
        // The same range asked again gives the same instants (the store runs each once).
        assert_eq!(
            backfill_fires(
                &cron("*/5 * * * *"),
                Some(utc("2025-06-23T09:00:00Z")),
                Some(utc("2025-06-23T10:00:00Z")),
                now,
            )
            .unwrap(),
            fires
        );
    }

    #[test]
    fn ranges_are_checked_and_bounded() {
        let job = cron("* * * * *");
        let now = utc("2025-06-23T12:00:00Z");
        let problems = |from: Option<&str>, to: Option<&str>| {
            backfill_fires(&job, from.map(utc), to.map(utc), now)
                .unwrap_err()
                .iter()
                .map(|e| (e.field.clone(), e.problem.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            problems(None, None),
            [
                ("from".to_string(), Invalid::Required),
                ("to".to_string(), Invalid::Required)
            ]
        );
        assert_eq!(
            problems(Some("2025-06-23T10:00:00Z"), Some("2025-06-23T10:00:00Z")),
            [("to".to_string(), Invalid::ToNotAfterFrom)]
        );
        assert_eq!(
            problems(Some("2025-06-23T11:00:00Z"), Some("2025-06-23T12:00:01Z")),
            [("to".to_string(), Invalid::ToInFuture)]
        );
        // 1,000 minutes is the most; one more is refused, not truncated.
        let from = utc("2025-06-22T12:00:00Z");
        let fires =
            backfill_fires(&job, Some(from), Some(from + Duration::minutes(1_000)), now).unwrap();
        assert_eq!(fires.len(), BACKFILL_CAP);
        assert_eq!(
            problems(Some("2025-06-22T12:00:00Z"), Some("2025-06-22T04:41:00Z")),
            [("to".to_string(), Invalid::ToNotAfterFrom)]
        );
        assert_eq!(
            problems(Some("2025-06-22T12:00:00Z"), Some("2025-06-23T04:41:00Z")),
            [("to".to_string(), Invalid::TooManyFires { max: 1_000 })]
        );
    }

    #[test]
    fn an_interval_keeps_its_grid_before_start_time_and_a_one_off_its_instant() {
        let every = spec(JobDraft {
            interval_seconds: Some(5_400),
            start_time: Some(utc("2025-06-23T09:00:00Z")),
            ..JobDraft::default()
        });
        let fires = backfill_fires(
            &every,
            Some(utc("2025-06-23T05:00:00Z")),
            Some(utc("2025-06-23T11:00:00Z")),
            utc("2025-06-23T12:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            fires,
            ["06:00", "07:30", "09:00", "10:30"].map(|t| utc(&format!("2025-06-23T{t}:00Z")))
        );
    }
}
