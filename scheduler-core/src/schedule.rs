//! Standard 5-field cron schedules and their next-run computation in a time zone.
//!
//! # Syntax
//! `minute hour day-of-month month day-of-week`, as in Vixie cron and Python's croniter:
//! `*`, lists (`1,15`), ranges (`1-5`), steps (`*/15`, `1-10/3`), month names (`JAN`–`DEC`)
//! and day names (`SUN`–`SAT`) in any case; day-of-week `0`–`7` where both `0` and `7` are
//! Sunday. `L` (last day of the month, or `5L`: last Friday) and `#` (`1#2`: second Monday)
//! are accepted as the `croner` crate implements them. The macros `@yearly`, `@annually`,
//! `@monthly`, `@weekly`, `@daily`, `@midnight` and `@hourly` stand for their usual 5-field
//! expressions.
//!
//! When **both** day-of-month and day-of-week are restricted (neither is `*`), a day matches
//! when **either** matches: `0 0 1 * MON` fires on the 1st of each month and on every Monday.
//!
//! Rejected, with a message naming the problem: a field count other than 5 (seconds and years
//! are not supported), values out of range, unknown names, `@reboot`, and expressions that can
//! never fire (`0 0 30 2 *`).
//!
//! # Time rules
//! Expressions are evaluated on the wall clock of an IANA time zone:
//! - **Spring forward (gap):** a local time that does not exist that day fires at the first
//!   instant after the gap. `30 2 * * *` in America/New_York on 2025-03-09 fires at 03:00 EDT
//!   (07:00 UTC).
//! - **Fall back (overlap):** a fixed local time that occurs twice fires once, at its first
//!   occurrence. `30 1 * * *` in America/New_York on 2025-11-02 fires at 01:30 EDT (05:30 UTC)
//!   only — or at both occurrences (05:30 and 06:30 UTC) for a job with
//!   [`DstOverlap::Twice`].
//! - Interval expressions such as `0 * * * *` fire every real hour through both transitions.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::errors::CronError;
use croner::parser::{CronParser, Seconds, Year};

/// Why a cron expression was rejected; its `Display` is the message shown to users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronParseError(String);

impl CronParseError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// A validated standard cron expression, parsed once and kept in parsed form.
///
/// The only way to build one is [`CronSchedule::parse`]; everything downstream can rely on
/// it being a valid expression that fires at least once. Cloning is two reference-count
/// increments: every job read from the store and every claimed run carries one (a deep copy
/// of croner's pattern was 9% of a dispatcher's CPU in `bench/dispatch.sh`).
#[derive(Clone)]
pub struct CronSchedule {
    /// The expression exactly as the user wrote it (trimmed), returned by the API.
    expression: Arc<str>,
    /// croner's parsed pattern, evaluated on every next-run computation.
    cron: Arc<Cron>,
}

const FIELD_NAMES: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];
const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
/// Inclusive value ranges per field, used to name out-of-range values precisely.
const FIELD_RANGES: [(u32, u32); 5] = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];

fn parser() -> &'static CronParser {
    static PARSER: OnceLock<CronParser> = OnceLock::new();
    PARSER.get_or_init(|| {
        CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
    })
}

/// Expands a macro (`@daily`, …) into its 5-field form.
fn expand_macro(expression: &str) -> Result<&'static str, CronParseError> {
    match expression.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => Ok("0 0 1 1 *"),
        "@monthly" => Ok("0 0 1 * *"),
        "@weekly" => Ok("0 0 * * 0"),
        "@daily" | "@midnight" => Ok("0 0 * * *"),
        "@hourly" => Ok("0 * * * *"),
        "@reboot" => Err(CronParseError::new(
            "@reboot is not supported: jobs run on a time schedule, not at start-up",
        )),
        other => Err(CronParseError::new(format!(
            "unknown macro '{other}'; use one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"
        ))),
    }
}

/// Checks names and plain numbers of one field, so the message can name the field.
fn check_field(index: usize, field: &str) -> Result<(), CronParseError> {
    let name = FIELD_NAMES[index];
    let (low, high) = FIELD_RANGES[index];
    if field.contains('+') {
        return Err(CronParseError::new(format!(
            "'+' is not supported in the {name} field"
        )));
    }
    if field.split(',').any(str::is_empty) {
        return Err(CronParseError::new(format!(
            "empty list item in the {name} field"
        )));
    }
    for token in field.split(|c: char| !c.is_ascii_alphanumeric()) {
        if token.is_empty() {
            continue;
        }
        let upper = token.to_ascii_uppercase();
        if let Ok(value) = upper.parse::<u32>() {
            // Numbers after '/' are steps and after '#' are ordinals; croner checks those.
            if !(low..=high).contains(&value) && !is_step_or_ordinal(field, token) {
                return Err(CronParseError::new(format!(
                    "value {value} is out of range for the {name} field ({low}-{high})"
                )));
            }
            continue;
        }
        let known = match index {
            2 => upper == "L" || upper == "W" || is_number_then(&upper, 'W'),
            3 => MONTH_NAMES.contains(&upper.as_str()),
            4 => DAY_NAMES.contains(&upper.as_str()) || upper == "L" || is_number_then(&upper, 'L'),
            _ => false,
        };
        if !known {
            return Err(CronParseError::new(format!(
                "unknown name '{token}' in the {name} field"
            )));
        }
    }
    Ok(())
}

/// True for tokens like `15W` or `5L`: digits followed by one marker letter.
fn is_number_then(token: &str, marker: char) -> bool {
    token
        .strip_suffix(marker)
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// True when `token` appears in `field` right after a `/` or `#`.
fn is_step_or_ordinal(field: &str, token: &str) -> bool {
    field
        .match_indices(token)
        .any(|(at, _)| at > 0 && matches!(field.as_bytes()[at - 1], b'/' | b'#'))
}

fn describe_croner_error(error: CronError) -> CronParseError {
    let text = match error {
        CronError::InvalidPattern(m)
        | CronError::IllegalCharacters(m)
        | CronError::ComponentError(m) => m,
        other => other.to_string(),
    };
    CronParseError::new(text.trim_end_matches('.').to_string())
}

/// What a fixed local time that occurs twice (the autumn overlap) does.
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
pub enum DstOverlap {
    /// Fire once, at the first occurrence.
    #[default]
    Once,
    /// Fire at both occurrences.
    Twice,
}

impl CronSchedule {
    /// The first fire strictly after `instant` in `tz`, both occurrences of an
    /// overlapped local time counted with [`DstOverlap::Twice`].
    pub fn next_after_in(
        &self,
        instant: DateTime<Utc>,
        tz: Tz,
        overlap: DstOverlap,
    ) -> Option<DateTime<Utc>> {
        let once = self.next_after(instant, tz);
        if overlap == DstOverlap::Once {
            return once;
        }
        // A fire at the first occurrence of a doubled local time, at or before `instant`,
        // whose second occurrence is after it (overlaps are at most a few hours long).
        let mut at = self.next_at_or_after(instant - Duration::hours(3), tz);
        let mut second = None;
        while let Some(fire) = at {
            if fire > instant {
                break;
            }
            if let Some(later) = second_occurrence(fire, tz).filter(|later| *later > instant) {
                second = Some(later);
                break;
            }
            at = self.next_after(fire, tz);
        }
        match (once, second) {
            (Some(once), Some(second)) => Some(once.min(second)),
            (once, second) => once.or(second),
        }
    }

    /// The first fire at or after `instant` in `tz`, as [`CronSchedule::next_after_in`].
    pub fn next_at_or_after_in(
        &self,
        instant: DateTime<Utc>,
        tz: Tz,
        overlap: DstOverlap,
    ) -> Option<DateTime<Utc>> {
        if overlap == DstOverlap::Once {
            return self.next_at_or_after(instant, tz);
        }
        self.next_after_in(instant - Duration::seconds(1), tz, overlap)
            .filter(|at| *at >= instant)
            .or_else(|| self.next_after_in(instant, tz, overlap))
    }

    /// The first `count` fires at or after `instant` in `tz`, as
    /// [`CronSchedule::next_after_in`].
    pub fn upcoming_in(
        &self,
        instant: DateTime<Utc>,
        tz: Tz,
        count: usize,
        overlap: DstOverlap,
    ) -> Vec<DateTime<Utc>> {
        if overlap == DstOverlap::Once {
            return self.upcoming(instant, tz, count);
        }
        let mut out = Vec::with_capacity(count);
        let mut next = self.next_at_or_after_in(instant, tz, overlap);
        while let Some(at) = next {
            if out.len() == count {
                break;
            }
            out.push(at);
            next = self.next_after_in(at, tz, overlap);
        }
        out
    }
}

/// The second occurrence of `fire`'s local time in `tz` when `fire` is the first of two (the
/// autumn overlap); `None` otherwise.
fn second_occurrence(fire: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    let local = fire.with_timezone(&tz).naive_local();
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Ambiguous(first, second) if first.with_timezone(&Utc) == fire => {
            Some(second.with_timezone(&Utc))
        }
        _ => None,
    }
}

impl CronSchedule {
    /// The longest expression accepted, in characters (after trimming): what every store
    /// keeps (`VARCHAR(255)` on PostgreSQL), so no backend refuses a valid schedule.
    pub const MAX_CHARS: usize = 255;

    /// Parses and validates a standard 5-field expression or macro.
    ///
    /// # Errors
    /// A [`CronParseError`] whose message says what is wrong (field count, range, name, macro,
    /// or that the expression never fires).
    pub fn parse(expression: &str) -> Result<Self, CronParseError> {
        let trimmed = expression.trim();
        if trimmed.is_empty() {
            return Err(CronParseError::new("the expression is empty"));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(CronParseError::new(format!(
                "the expression is longer than {} characters",
                Self::MAX_CHARS
            )));
        }
        let standard = if trimmed.starts_with('@') {
            expand_macro(trimmed)?.to_string()
        } else {
            trimmed.to_string()
        };
        let fields: Vec<&str> = standard.split_whitespace().collect();
        if fields.len() != 5 {
            let hint = if fields.len() > 5 {
                "; seconds and years are not supported"
            } else {
                ""
            };
            return Err(CronParseError::new(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), got {}{hint}",
                fields.len()
            )));
        }
        for (index, field) in fields.iter().enumerate() {
            check_field(index, field)?;
        }
        let cron = parser().parse(&standard).map_err(describe_croner_error)?;
        let schedule = Self {
            expression: Arc::from(trimmed),
            cron: Arc::new(cron),
        };
        schedule.ensure_fires()?;
        Ok(schedule)
    }

    /// Rejects expressions such as `0 0 30 2 *` that match no real date.
    fn ensure_fires(&self) -> Result<(), CronParseError> {
        // Any date that exists falls within 28 years of the 2000-01-01 start (the Gregorian
        // calendar repeats with that period except around century years, and 2000 is a
        // leap year), so an expression that finds nothing by then never fires.
        let start = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
        let limit = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single();
        match (start, limit) {
            (Some(start), Some(limit)) => match self.cron.find_next_occurrence(&start, true) {
                Ok(found) if found < limit => Ok(()),
                _ => Err(CronParseError::new(
                    "the expression never fires: no date matches its day and month fields",
                )),
            },
            _ => Ok(()),
        }
    }

    /// The expression as written (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first fire instant strictly after `instant`, evaluated in `tz`.
    ///
    /// `None` when no fire exists within croner's search horizon (treated as "never fires").
    pub fn next_after(&self, instant: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        // Fires are on whole minutes, so the first candidate is the next whole second.
        self.next_at_or_after(instant.trunc_subsecs(0) + Duration::seconds(1), tz)
    }

    /// The first fire instant at or after `instant`, evaluated in `tz`.
    pub fn next_at_or_after(&self, instant: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let whole = if instant.timestamp_subsec_nanos() == 0 {
            instant
        } else {
            instant.trunc_subsecs(0) + Duration::seconds(1)
        };
        let local = whole.with_timezone(&tz);
        self.cron
            .find_next_occurrence(&local, true)
            .ok()
            .map(|found| found.with_timezone(&Utc))
    }

    /// The first `count` fire instants at or after `instant`, evaluated in `tz`.
    pub fn upcoming(&self, instant: DateTime<Utc>, tz: Tz, count: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(count);
        let mut next = self.next_at_or_after(instant, tz);
        while let Some(at) = next {
            if out.len() == count {
                break;
            }
            out.push(at);
            next = self.next_after(at, tz);
        }
        out
    }

    /// A short English reading of what the expression does, e.g. "At 09:00, on Monday".
    ///
    /// It reads the expression as it fires: a step larger than its field's range (`*/61`,
    /// `0 */25`, `0-59/1000`), which croner and croniter accept and which matches only the
    /// range's start, is read as that start ("At minute 0"), never as "every 61 minutes".
    pub fn describe(&self) -> String {
        let effective = effective_expression(&self.expression);
        if effective == *self.expression {
            return self.cron.describe();
        }
        parser()
            .parse(&effective)
            .map_or_else(|_| self.cron.describe(), |cron| cron.describe())
    }
}

/// `expression` (5 fields; macros are returned as they are) with every stepped part whose step
/// is larger than its range written as the one value it matches: `*/61` → `0`, `10-20/30` →
/// `10`, `*/13` in months → `1`. Everything else is kept as written.
fn effective_expression(expression: &str) -> String {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    if fields.len() != FIELD_RANGES.len() {
        return expression.to_string();
    }
    fields
        .iter()
        .zip(FIELD_RANGES)
        .map(|(field, (low, high))| {
            field
                .split(',')
                .map(|part| effective_part(part, low, high))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One comma-separated part of a field: `A-B/S` or `*/S` with `S > B - A` becomes `A`.
fn effective_part(part: &str, low: u32, high: u32) -> String {
    let Some((range, step)) = part.split_once('/') else {
        return part.to_string();
    };
    let Ok(step) = step.parse::<u32>() else {
        return part.to_string();
    };
    let bounds = if range == "*" {
        Some((low, high))
    } else {
        range
            .split_once('-')
            .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
    };
    match bounds {
        Some((start, end)) if end >= start && step > end - start => start.to_string(),
        _ => part.to_string(),
    }
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CronSchedule")
            .field(&self.expression)
            .finish()
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.expression == other.expression
    }
}

impl Eq for CronSchedule {}

impl FromStr for CronSchedule {
    type Err = CronParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn next5(expr: &str, from: &str, tz: Tz) -> Vec<String> {
        CronSchedule::parse(expr)
            .unwrap()
            .upcoming(utc(from), tz, 5)
            .into_iter()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .collect()
    }

    fn rejection(expr: &str) -> String {
        CronSchedule::parse(expr).unwrap_err().to_string()
    }

    #[test]
    fn monday_9am_fires_on_mondays_starting_at_an_inclusive_start() {
        assert_eq!(
            next5("0 9 * * 1", "2025-06-23T09:00:00Z", Tz::UTC),
            [
                "2025-06-23T09:00:00Z",
                "2025-06-30T09:00:00Z",
                "2025-07-07T09:00:00Z",
                "2025-07-14T09:00:00Z",
                "2025-07-21T09:00:00Z"
            ]
        );
    }

    #[test]
    fn next_after_is_strictly_after() {
        let s = CronSchedule::parse("0 9 * * 1").unwrap();
        assert_eq!(
            s.next_after(utc("2025-06-23T09:00:00Z"), Tz::UTC),
            Some(utc("2025-06-30T09:00:00Z"))
        );
        assert_eq!(
            s.next_after(utc("2025-06-23T08:59:59.999Z"), Tz::UTC),
            Some(utc("2025-06-23T09:00:00Z"))
        );
    }

    #[test]
    fn a_subsecond_start_is_not_rounded_back_to_an_earlier_fire() {
        let s = CronSchedule::parse("0 9 * * *").unwrap();
        assert_eq!(
            s.next_at_or_after(utc("2025-06-23T09:00:00.5Z"), Tz::UTC),
            Some(utc("2025-06-24T09:00:00Z"))
        );
    }

    #[test]
    fn first_of_the_month_fires_monthly() {
        assert_eq!(
            next5("0 9 1 * *", "2025-06-23T09:00:00Z", Tz::UTC),
            [
                "2025-07-01T09:00:00Z",
                "2025-08-01T09:00:00Z",
                "2025-09-01T09:00:00Z",
                "2025-10-01T09:00:00Z",
                "2025-11-01T09:00:00Z"
            ]
        );
    }

    #[test]
    fn zero_seven_and_sun_all_mean_sunday() {
        let expected = next5("0 12 * * 0", "2025-06-23T00:00:00Z", Tz::UTC);
        assert_eq!(expected[0], "2025-06-29T12:00:00Z");
        assert_eq!(
            next5("0 12 * * 7", "2025-06-23T00:00:00Z", Tz::UTC),
            expected
        );
        assert_eq!(
            next5("0 12 * * SUN", "2025-06-23T00:00:00Z", Tz::UTC),
            expected
        );
        assert_eq!(
            next5("0 12 * * sun", "2025-06-23T00:00:00Z", Tz::UTC),
            expected
        );
    }

    #[test]
    fn weekday_ranges_are_monday_to_friday() {
        let runs = next5("0 9 * * 1-5", "2025-06-21T00:00:00Z", Tz::UTC);
        assert_eq!(
            runs,
            [
                "2025-06-23T09:00:00Z",
                "2025-06-24T09:00:00Z",
                "2025-06-25T09:00:00Z",
                "2025-06-26T09:00:00Z",
                "2025-06-27T09:00:00Z"
            ]
        );
        assert_eq!(
            next5("0 9 * * mon-FRI", "2025-06-21T00:00:00Z", Tz::UTC),
            runs
        );
    }

    #[test]
    fn month_names_are_case_insensitive() {
        assert_eq!(
            next5("0 0 1 jan,Jul *", "2025-06-23T00:00:00Z", Tz::UTC)[..2],
            ["2025-07-01T00:00:00Z", "2026-01-01T00:00:00Z"]
        );
    }

    #[test]
    fn steps_and_stepped_ranges() {
        assert_eq!(
            next5("*/15 * * * *", "2025-06-23T00:01:00Z", Tz::UTC)[..3],
            [
                "2025-06-23T00:15:00Z",
                "2025-06-23T00:30:00Z",
                "2025-06-23T00:45:00Z"
            ]
        );
        assert_eq!(
            next5("1-10/3 0 * * *", "2025-06-23T00:00:00Z", Tz::UTC)[..4],
            [
                "2025-06-23T00:01:00Z",
                "2025-06-23T00:04:00Z",
                "2025-06-23T00:07:00Z",
                "2025-06-23T00:10:00Z"
            ]
        );
    }

    #[test]
    fn restricted_day_of_month_and_day_of_week_match_either() {
        // 2025-06-01 is a Sunday; the 1st of July is a Tuesday.
        let runs = next5("0 0 1 * MON", "2025-06-24T00:00:00Z", Tz::UTC);
        assert_eq!(
            runs,
            [
                "2025-06-30T00:00:00Z",
                "2025-07-01T00:00:00Z",
                "2025-07-07T00:00:00Z",
                "2025-07-14T00:00:00Z",
                "2025-07-21T00:00:00Z"
            ]
        );
    }

    #[test]
    fn every_macro_expands_to_its_standard_form() {
        let from = "2025-06-23T10:30:00Z";
        for (mac, standard) in [
            ("@yearly", "0 0 1 1 *"),
            ("@annually", "0 0 1 1 *"),
            ("@monthly", "0 0 1 * *"),
            ("@weekly", "0 0 * * 0"),
            ("@daily", "0 0 * * *"),
            ("@midnight", "0 0 * * *"),
            ("@hourly", "0 * * * *"),
        ] {
            assert_eq!(
                next5(mac, from, Tz::UTC),
                next5(standard, from, Tz::UTC),
                "{mac}"
            );
        }
        assert_eq!(next5("@daily", from, Tz::UTC)[0], "2025-06-24T00:00:00Z");
        assert_eq!(next5("@HOURLY", from, Tz::UTC)[0], "2025-06-23T11:00:00Z");
        assert_eq!(
            CronSchedule::parse("@daily").unwrap().expression(),
            "@daily"
        );
    }

    #[test]
    fn last_day_and_nth_weekday_work_as_croner_offers() {
        assert_eq!(
            next5("0 0 L * *", "2025-02-01T00:00:00Z", Tz::UTC)[..2],
            ["2025-02-28T00:00:00Z", "2025-03-31T00:00:00Z"]
        );
        // Second Monday of July 2025 is the 14th.
        assert_eq!(
            next5("0 0 * * 1#2", "2025-07-01T00:00:00Z", Tz::UTC)[0],
            "2025-07-14T00:00:00Z"
        );
        // Last Friday of June 2025 is the 27th.
        assert_eq!(
            next5("0 0 * * 5L", "2025-06-01T00:00:00Z", Tz::UTC)[0],
            "2025-06-27T00:00:00Z"
        );
    }

    #[test]
    fn a_wrong_field_count_says_seconds_are_not_supported() {
        let msg = rejection("0 0 9 * * 1");
        assert!(msg.contains("expected 5 fields"), "{msg}");
        assert!(msg.contains("seconds"), "{msg}");
        assert!(rejection("0 9 * *").contains("got 4"));
        assert_eq!(rejection("   "), "the expression is empty");
    }

    #[test]
    fn out_of_range_values_name_the_field() {
        assert_eq!(
            rejection("60 * * * *"),
            "value 60 is out of range for the minute field (0-59)"
        );
        assert_eq!(
            rejection("0 24 * * *"),
            "value 24 is out of range for the hour field (0-23)"
        );
        assert_eq!(
            rejection("0 0 32 * *"),
            "value 32 is out of range for the day-of-month field (1-31)"
        );
        assert_eq!(
            rejection("0 0 1 13 *"),
            "value 13 is out of range for the month field (1-12)"
        );
        assert_eq!(
            rejection("0 0 * * 8"),
            "value 8 is out of range for the day-of-week field (0-7)"
        );
        assert_eq!(
            rejection("0 0 0 * *"),
            "value 0 is out of range for the day-of-month field (1-31)"
        );
    }

    #[test]
    fn unknown_names_are_rejected() {
        assert_eq!(
            rejection("0 9 * * FOO"),
            "unknown name 'FOO' in the day-of-week field"
        );
        assert_eq!(
            rejection("0 9 * MON *"),
            "unknown name 'MON' in the month field"
        );
        assert_eq!(
            rejection("x 9 * * *"),
            "unknown name 'x' in the minute field"
        );
    }

    #[test]
    fn reboot_and_unknown_macros_are_rejected() {
        assert!(rejection("@reboot").contains("@reboot is not supported"));
        assert!(rejection("@fortnightly").contains("unknown macro"));
    }

    #[test]
    fn expressions_that_never_fire_are_rejected() {
        for expr in ["0 0 30 2 *", "0 0 31 4 *", "0 0 31 2,4,6,9,11 *"] {
            assert!(rejection(expr).contains("never fires"), "{expr}");
        }
        // February 29th exists in leap years: accepted.
        assert_eq!(
            next5("0 0 29 2 *", "2025-01-01T00:00:00Z", Tz::UTC)[0],
            "2028-02-29T00:00:00Z"
        );
    }

    #[test]
    fn malformed_syntax_is_rejected_with_a_message() {
        for expr in ["*/0 * * * *", "5-1 * * * *", "1,,2 * * * *", "0 9 * * 1+"] {
            assert!(CronSchedule::parse(expr).is_err(), "{expr}");
        }
    }

    #[test]
    fn new_york_spring_gap_fires_right_after_the_gap() {
        let ny = chrono_tz::America::New_York;
        let s = CronSchedule::parse("30 2 * * *").unwrap();
        // 2025-03-09: 02:00 EST jumps to 03:00 EDT.
        assert_eq!(
            s.next_after(utc("2025-03-08T12:00:00Z"), ny),
            Some(utc("2025-03-09T07:00:00Z"))
        );
        // The next day is normal again: 02:30 EDT = 06:30 UTC.
        assert_eq!(
            s.next_after(utc("2025-03-09T07:00:00Z"), ny),
            Some(utc("2025-03-10T06:30:00Z"))
        );
    }

    #[test]
    fn new_york_fall_overlap_fires_once_at_the_first_occurrence() {
        let ny = chrono_tz::America::New_York;
        let s = CronSchedule::parse("30 1 * * *").unwrap();
        let first = s.next_after(utc("2025-11-01T12:00:00Z"), ny);
        assert_eq!(first, Some(utc("2025-11-02T05:30:00Z")));
        // Not again at 01:30 EST (06:30 UTC): the next fire is the following day.
        assert_eq!(
            s.next_after(utc("2025-11-02T05:30:00Z"), ny),
            Some(utc("2025-11-03T06:30:00Z"))
        );
    }

    #[test]
    fn new_york_fall_overlap_fires_twice_when_the_job_asks() {
        let ny = chrono_tz::America::New_York;
        let s = CronSchedule::parse("30 1 * * *").unwrap();
        let twice = DstOverlap::Twice;
        assert_eq!(
            s.upcoming_in(utc("2025-11-01T12:00:00Z"), ny, 4, twice),
            [
                utc("2025-11-02T05:30:00Z"),
                utc("2025-11-02T06:30:00Z"),
                utc("2025-11-03T06:30:00Z"),
                utc("2025-11-04T06:30:00Z"),
            ]
        );
        // From between the two: the second comes next; after it, the next day.
        assert_eq!(
            s.next_after_in(utc("2025-11-02T05:30:00Z"), ny, twice),
            Some(utc("2025-11-02T06:30:00Z"))
        );
        assert_eq!(
            s.next_after_in(utc("2025-11-02T06:30:00Z"), ny, twice),
            Some(utc("2025-11-03T06:30:00Z"))
        );
        assert_eq!(
            s.next_at_or_after_in(utc("2025-11-02T06:30:00Z"), ny, twice),
            Some(utc("2025-11-02T06:30:00Z"))
        );
        // Hourly already fires every real hour: twice adds nothing and repeats nothing.
        let hourly = CronSchedule::parse("0 * * * *").unwrap();
        assert_eq!(
            hourly.upcoming_in(utc("2025-11-02T04:00:00Z"), ny, 4, twice),
            hourly.upcoming(utc("2025-11-02T04:00:00Z"), ny, 4)
        );
        // The spring gap is unchanged.
        assert_eq!(
            CronSchedule::parse("30 2 * * *").unwrap().next_after_in(
                utc("2025-03-09T05:00:00Z"),
                ny,
                twice
            ),
            Some(utc("2025-03-09T07:00:00Z"))
        );
    }

    #[test]
    fn hourly_fires_every_real_hour_through_both_transitions() {
        let ny = chrono_tz::America::New_York;
        let s = CronSchedule::parse("0 * * * *").unwrap();
        for (from, hours) in [("2025-03-09T04:00:00Z", 5), ("2025-11-02T03:00:00Z", 5)] {
            let runs = s.upcoming(utc(from), ny, hours);
            for pair in runs.windows(2) {
                assert_eq!(pair[1] - pair[0], Duration::hours(1), "{runs:?}");
            }
        }
    }

    #[test]
    fn london_spring_gap_and_autumn_overlap() {
        let london = chrono_tz::Europe::London;
        let s = CronSchedule::parse("30 1 * * *").unwrap();
        // 2025-03-30: 01:00 GMT jumps to 02:00 BST; 01:30 does not exist -> 02:00 BST = 01:00 UTC.
        assert_eq!(
            s.next_after(utc("2025-03-29T12:00:00Z"), london),
            Some(utc("2025-03-30T01:00:00Z"))
        );
        // 2025-10-26: 02:00 BST falls back to 01:00 GMT; 01:30 happens twice -> first (00:30 UTC).
        assert_eq!(
            s.next_after(utc("2025-10-25T12:00:00Z"), london),
            Some(utc("2025-10-26T00:30:00Z"))
        );
        assert_eq!(
            s.next_after(utc("2025-10-26T00:30:00Z"), london),
            Some(utc("2025-10-27T01:30:00Z"))
        );
    }

    #[test]
    fn sydney_spring_gap_and_autumn_overlap() {
        let sydney = chrono_tz::Australia::Sydney;
        let s = CronSchedule::parse("30 2 * * *").unwrap();
        // 2025-10-05: 02:00 AEST jumps to 03:00 AEDT; 02:30 -> 03:00 AEDT = 16:00 UTC on the 4th.
        assert_eq!(
            s.next_after(utc("2025-10-04T00:00:00Z"), sydney),
            Some(utc("2025-10-04T16:00:00Z"))
        );
        // 2025-04-06: 03:00 AEDT falls back to 02:00 AEST; 02:30 twice -> first, 15:30 UTC on the 5th.
        assert_eq!(
            s.next_after(utc("2025-04-05T00:00:00Z"), sydney),
            Some(utc("2025-04-05T15:30:00Z"))
        );
        assert_eq!(
            s.next_after(utc("2025-04-05T15:30:00Z"), sydney),
            Some(utc("2025-04-06T16:30:00Z"))
        );
    }

    #[test]
    fn local_times_follow_the_zone_offset() {
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        let s = CronSchedule::parse("0 9 * * *").unwrap();
        assert_eq!(
            s.next_after(utc("2025-06-23T00:00:00Z"), tokyo),
            Some(Utc.with_ymd_and_hms(2025, 6, 24, 0, 0, 0).unwrap())
        );
    }

    #[test]
    fn lenient_forms_are_described_as_they_fire() {
        for (expression, reading, first_two) in [
            (
                "*/61 * * * *",
                "minute 0",
                ["2025-02-01T00:00:00Z", "2025-02-01T01:00:00Z"],
            ),
            (
                "0-59/1000 * * * *",
                "minute 0",
                ["2025-02-01T00:00:00Z", "2025-02-01T01:00:00Z"],
            ),
            (
                "0 */25 * * *",
                "00:00",
                ["2025-02-01T00:00:00Z", "2025-02-02T00:00:00Z"],
            ),
            (
                "10-20/30 * * * *",
                "minute 10",
                ["2025-02-01T00:10:00Z", "2025-02-01T01:10:00Z"],
            ),
            (
                "0 0 * */13 *",
                "January",
                ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"],
            ),
            (
                "0 0 1W * *",
                "weekday nearest day 1",
                ["2025-02-03T00:00:00Z", "2025-03-03T00:00:00Z"],
            ),
            (
                "0 0 ? * *",
                "00:00",
                ["2025-02-01T00:00:00Z", "2025-02-02T00:00:00Z"],
            ),
        ] {
            let schedule = CronSchedule::parse(expression).unwrap();
            let described = schedule.describe();
            assert!(described.contains(reading), "{expression}: {described}");
            assert!(
                !described.contains("every 61")
                    && !described.contains("every 1000")
                    && !described.contains("every 25")
                    && !described.contains("every 13"),
                "{expression}: {described}"
            );
            assert_eq!(
                &next5(expression, "2025-02-01T00:00:00Z", Tz::UTC)[..2],
                first_two
            );
        }
        // Ordinary steps are read as steps.
        assert!(
            CronSchedule::parse("*/15 * * * *")
                .unwrap()
                .describe()
                .contains("15 minutes")
        );
        assert_eq!(effective_expression("@daily"), "@daily");
        assert_eq!(
            effective_expression("0,*/61 1-5/2 * * *"),
            "0,0 1-5/2 * * *"
        );
    }

    #[test]
    fn describe_reads_the_expression() {
        let d = CronSchedule::parse("0 9 * * 1").unwrap().describe();
        assert!(d.contains("09:00") && d.contains("Monday"), "{d}");
    }

    /// A valid expression of `len` characters or more: hour, day and weekday lists padded with
    /// repeated values.
    fn long_expression(len: usize) -> String {
        let hours = (0..24).map(|h| h.to_string()).collect::<Vec<_>>().join(",");
        let days = (1..32).map(|d| d.to_string()).collect::<Vec<_>>().join(",");
        let mut expression = format!("0 {hours} {days} * 1");
        while expression.len() < len {
            expression.push_str(",1");
        }
        expression
    }

    #[test]
    fn an_expression_longer_than_255_characters_is_rejected() {
        let at_limit = long_expression(CronSchedule::MAX_CHARS - 1);
        assert!(at_limit.len() <= CronSchedule::MAX_CHARS);
        assert!(CronSchedule::parse(&at_limit).is_ok());
        let long = long_expression(289);
        assert!(long.len() > CronSchedule::MAX_CHARS);
        assert_eq!(
            rejection(&long),
            "the expression is longer than 255 characters"
        );
    }
}
