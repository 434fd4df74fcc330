//! The cron preview use case: validate an expression in a zone and list its next fires.

use chrono::{DateTime, Utc};

use crate::calendar::{CalendarName, JobCalendars, OnExcluded};
use crate::error::{Invalid, ValidationErrors};
use crate::job_values::Timezone;
use crate::schedule::CronSchedule;
use crate::text::reject_nul;

/// Raw input of a preview, as read from a request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PreviewRequest {
    /// The expression; required.
    pub expression: Option<String>,
    /// IANA zone; default `UTC`.
    pub timezone: Option<String>,
    /// List fires at or after this instant; default now.
    pub after: Option<DateTime<Utc>>,
    /// How many fires, 1 to [`PreviewRequest::MAX_COUNT`]; default 5.
    pub count: Option<i64>,
    /// `once` (default) or `twice`: a local time that occurs twice when clocks go back.
    pub dst_overlap: Option<String>,
    /// The calendars to mark excluded fires by (resolved by the caller, e.g. through
    /// `JobService::calendar_rules`), and whether such fires are skipped or moved.
    pub calendars: JobCalendars,
    /// Errors found while reading the raw input; their fields are not checked again.
    pub input_errors: ValidationErrors,
}

/// What a preview's calendars do to one fire.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FireMark {
    /// The first calendar excluding the fire's day.
    pub excluded_by: Option<CalendarName>,
    /// Where a moved fire runs (`on_excluded: move`).
    pub moved_to: Option<DateTime<Utc>>,
}

/// A valid expression read in a zone, with its next fires.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    /// The parsed expression.
    pub schedule: CronSchedule,
    /// The zone it was read in.
    pub timezone: Timezone,
    /// The first fires at or after `after`.
    pub next_runs: Vec<DateTime<Utc>>,
    /// For each fire of `next_runs`, what the calendars do to it (all default without).
    pub marks: Vec<FireMark>,
}

impl PreviewRequest {
    /// Most fires one preview lists.
    pub const MAX_COUNT: i64 = 100;
    /// Fires listed when no count is asked for.
    pub const DEFAULT_COUNT: i64 = 5;

    /// Validates every parameter (all failures at once) and computes the fires, with `now`
    /// as the default start.
    ///
    /// # Errors
    /// Each bad parameter: `expression` (`RequiredParameter`, `NulCharacter`, `Cron`),
    /// `timezone`, `count` (`OutOfRange`), and those found while reading.
    pub fn evaluate(self, now: DateTime<Utc>) -> Result<Preview, ValidationErrors> {
        let mut errors = self.input_errors;
        let schedule = errors.check(
            "expression",
            self.expression
                .ok_or(Invalid::RequiredParameter)
                .and_then(|raw| {
                    reject_nul(&raw)?;
                    CronSchedule::parse(&raw).map_err(Invalid::Cron)
                }),
        );
        let timezone = match self.timezone {
            None => Some(Timezone::default()),
            Some(raw) => errors.check("timezone", Timezone::parse(&raw)),
        };
        let count = errors.check(
            "count",
            Some(self.count.unwrap_or(Self::DEFAULT_COUNT))
                .filter(|n| (1..=Self::MAX_COUNT).contains(n))
                .and_then(|n| usize::try_from(n).ok())
                .ok_or(Invalid::OutOfRange {
                    min: 1,
                    max: Self::MAX_COUNT,
                }),
        );
        let overlap = match self.dst_overlap.as_deref() {
            None => Some(crate::schedule::DstOverlap::Once),
            Some(raw) => errors.check("dst_overlap", crate::wire::WireEnum::parse(raw)),
        };
        match (schedule, timezone, count, overlap) {
            (Some(schedule), Some(timezone), Some(count), Some(overlap)) if errors.is_empty() => {
                let tz = timezone.tz();
                let next_runs = schedule.upcoming_in(self.after.unwrap_or(now), tz, count, overlap);
                let marks = marks(&self.calendars, &schedule, &next_runs, tz, overlap);
                Ok(Preview {
                    schedule,
                    timezone,
                    next_runs,
                    marks,
                })
            }
            _ => Err(errors),
        }
    }
}

/// What `calendars` do to each of `fires` (consecutive fires of `schedule`): excluded ones
/// named, and with `move` their new instant — the same local time of the next allowed day, or
/// the next allowed fire when that comes first (the rule of `JobSpec::fire`).
fn marks(
    calendars: &JobCalendars,
    schedule: &CronSchedule,
    fires: &[DateTime<Utc>],
    tz: chrono_tz::Tz,
    overlap: crate::schedule::DstOverlap,
) -> Vec<FireMark> {
    fires
        .iter()
        .map(|at| {
            let Some(name) = calendars.excluded_by(*at) else {
                return FireMark::default();
            };
            let moved_to = (calendars.on_excluded == OnExcluded::Move)
                .then(|| {
                    calendars.moved_to(*at, tz, |after| schedule.next_after_in(after, tz, overlap))
                })
                .flatten();
            FireMark {
                excluded_by: Some(name.clone()),
                moved_to,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_are_utc_five_fires_from_now() {
        let preview = PreviewRequest {
            expression: Some("0 9 * * 1".into()),
            ..PreviewRequest::default()
        }
        .evaluate(utc("2025-06-23T10:00:00Z"))
        .unwrap();
        assert_eq!(preview.timezone.name(), "UTC");
        assert_eq!(preview.next_runs.len(), 5);
        assert_eq!(preview.next_runs[0], utc("2025-06-30T09:00:00Z"));
    }

    #[test]
    fn every_bad_parameter_is_reported() {
        let errors = PreviewRequest {
            expression: Some("0 0 30 2 *".into()),
            timezone: Some("Nowhere".into()),
            count: Some(101),
            input_errors: ValidationErrors::single("after", Invalid::NotAnInstant),
            ..PreviewRequest::default()
        }
        .evaluate(utc("2025-06-23T10:00:00Z"))
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["after", "expression", "timezone", "count"]);
        let missing = PreviewRequest::default()
            .evaluate(utc("2025-06-23T10:00:00Z"))
            .unwrap_err();
        assert_eq!(
            missing,
            ValidationErrors::single("expression", Invalid::RequiredParameter)
        );
    }
}
