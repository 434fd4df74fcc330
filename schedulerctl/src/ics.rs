//! Holiday calendars from iCalendar files (`.ics`, RFC 5545): [`parse_ics`] reads the all-day
//! events of a file — bank holidays, a shutdown, a freeze — as calendar entries, and
//! [`IcsEntry::to_value`] gives each the `{"from", "to", "yearly", "label"}` form the calendars
//! API takes.
//!
//! # What is read
//! - Lines are unfolded first (a line starting with a space or a tab continues the one before);
//!   CRLF and LF line ends are both accepted.
//! - Only `VEVENT` components count. The properties of a component nested in one (`VALARM`)
//!   and of every other component (`VTIMEZONE`, `VTODO`, ...) are skipped.
//! - An event covers its days from `DTSTART` to `DTEND` (exclusive for a date; for a
//!   date-time, its date, or the day before when it ends at exactly midnight), or to its
//!   `DURATION` in whole days. A time of day and its zone are dropped: the date as written is
//!   the day excluded.
//! - `RRULE:FREQ=YEARLY` on the start's own month and day is a yearly entry; with `COUNT` or
//!   `UNTIL` it becomes one one-time entry per year instead (at most 100 per event). Any other
//!   rule (weekly, "first Monday of May", every other year) is refused: it is not a fixed date
//!   every year. `RDATE` adds one-time entries and `EXDATE` removes occurrences.
//! - A cancelled event (`STATUS:CANCELLED`) is skipped; a changed occurrence of a repeating
//!   event (`RECURRENCE-ID`) is refused, as its master would still cover the original day.
//! - No file panics the reader: at most 2 MiB, 5,000 events and 10,000 entries are read, date
//!   arithmetic is checked, and every error names the line it is on.

use std::fmt;

use chrono::{Datelike, Days, NaiveDate};
use serde_json::{Value, json};

/// The longest text read, in bytes (2 MiB).
const MAX_BYTES: usize = 2 * 1024 * 1024;

/// The most `VEVENT` components read from one file.
const MAX_EVENTS: usize = 5_000;

/// The most entries one event may stand for once its repetitions are listed.
const MAX_ENTRIES_PER_EVENT: usize = 100;

/// The most entries read from one file, all events together.
const MAX_ENTRIES: usize = 10_000;

/// The longest label read, in characters (the API keeps at most 200; this only bounds memory).
const MAX_LABEL_CHARS: usize = 1_000;

/// The latest year an entry may reach: dates are written with four digits.
const MAX_YEAR: i32 = 9_999;

/// The longest piece of the file quoted in an error, in characters.
const MAX_SHOWN_CHARS: usize = 60;

/// One excluded date range read from an `.ics` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IcsEntry {
    /// The first day excluded.
    pub(crate) from: NaiveDate,
    /// The last day excluded (inclusive; `from` for a single day).
    pub(crate) to: NaiveDate,
    /// True: the same month-days every year.
    pub(crate) yearly: bool,
    /// The event's `SUMMARY`, unescaped and trimmed; `None` when absent or blank.
    pub(crate) label: Option<String>,
}

impl IcsEntry {
    /// The calendar-entry JSON:
    /// `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD", "yearly": bool, "label": string|null}`.
    pub(crate) fn to_value(&self) -> Value {
        json!({
            "from": self.from.format("%Y-%m-%d").to_string(),
            "to": self.to.format("%Y-%m-%d").to_string(),
            "yearly": self.yearly,
            "label": self.label,
        })
    }
}

/// Why a file cannot be read, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IcsError {
    /// The 1-based line of the file the problem is on: the first line of a folded line, or the
    /// `BEGIN:VEVENT` line when something is missing from an event.
    pub(crate) line: usize,
    /// What is wrong, for a person to read.
    pub(crate) reason: String,
}

impl IcsError {
    /// An error on `line`.
    fn new(line: usize, reason: impl Into<String>) -> Self {
        Self {
            line,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for IcsError {
    /// `line N: reason`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for IcsError {}

/// Reads every `VEVENT` of `text` as calendar entries, in the order of the file (an event's
/// repetitions in date order, its `RDATE`s after them).
///
/// # Errors
/// An [`IcsError`] naming the line of the first problem: not an iCalendar file (no
/// `BEGIN:VCALENDAR`), too large, unbalanced `BEGIN`/`END`, an event without `DTSTART`, a
/// malformed date or duration, or a rule that is not one fixed date every year.
pub(crate) fn parse_ics(text: &str) -> Result<Vec<IcsEntry>, IcsError> {
    if text.len() > MAX_BYTES {
        return Err(IcsError::new(
            1,
            format!(
                "the file is {} bytes; at most {MAX_BYTES} (2 MiB) are read",
                text.len()
            ),
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = unfold(text);
    let is_calendar = lines.iter().any(|(_, line)| {
        Property::parse(line).is_some_and(|property| {
            property.name == "BEGIN" && property.value.trim().eq_ignore_ascii_case("VCALENDAR")
        })
    });
    if !is_calendar {
        return Err(IcsError::new(
            1,
            "not an iCalendar file: there is no BEGIN:VCALENDAR line",
        ));
    }

    // The open components, innermost last, each with the line of its BEGIN.
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut event: Option<Event> = None;
    let mut events = 0_usize;
    let mut entries = Vec::new();
    for (number, line) in &lines {
        let number = *number;
        if line.trim().is_empty() {
            continue;
        }
        let in_event = open.last().is_some_and(|(name, _)| name == "VEVENT");
        let Some(property) = Property::parse(line) else {
            if in_event {
                return Err(IcsError::new(
                    number,
                    format!("{} is not a NAME:VALUE line", shown(line)),
                ));
            }
            continue;
        };
        match property.name.as_str() {
            "BEGIN" => {
                let name = property.value.trim().to_ascii_uppercase();
                if name.is_empty() {
                    return Err(IcsError::new(number, "BEGIN without a component name"));
                }
                if name == "VEVENT" {
                    if let Some((_, begun)) = open.iter().find(|(open, _)| open == "VEVENT") {
                        return Err(IcsError::new(
                            number,
                            format!("BEGIN:VEVENT inside the VEVENT begun on line {begun}"),
                        ));
                    }
                    events = events.saturating_add(1);
                    if events > MAX_EVENTS {
                        return Err(IcsError::new(
                            number,
                            format!("more than {MAX_EVENTS} events; at most {MAX_EVENTS} are read"),
                        ));
                    }
                    event = Some(Event::new(number));
                }
                open.push((name, number));
            }
            "END" => {
                let name = property.value.trim().to_ascii_uppercase();
                match open.pop() {
                    None => {
                        return Err(IcsError::new(
                            number,
                            format!("END:{} without a BEGIN", shown(&name)),
                        ));
                    }
                    Some((begun, begun_line)) if begun != name => {
                        return Err(IcsError::new(
                            number,
                            format!(
                                "END:{} where END:{} was expected (BEGIN:{} is on line {})",
                                shown(&name),
                                shown(&begun),
                                shown(&begun),
                                begun_line
                            ),
                        ));
                    }
                    Some(_) => {
                        if name == "VEVENT"
                            && let Some(finished) = event.take()
                        {
                            entries.extend(finished.finish()?);
                            if entries.len() > MAX_ENTRIES {
                                return Err(IcsError::new(
                                    number,
                                    format!(
                                        "more than {MAX_ENTRIES} dates in the file; at most \
                                         {MAX_ENTRIES} are read"
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
            _ if in_event => {
                if let Some(current) = event.as_mut() {
                    current.read(number, &property)?;
                }
            }
            _ => {}
        }
    }
    if let Some((name, line)) = open.last() {
        return Err(IcsError::new(
            *line,
            format!(
                "BEGIN:{} is never closed by END:{}",
                shown(name),
                shown(name)
            ),
        ));
    }
    Ok(entries)
}

/// Joins folded lines (RFC 5545 §3.1: a line break followed by one space or tab continues the
/// line before) and drops the line ends, CRLF or LF. Each line comes with the 1-based number
/// of the file line it starts on.
fn unfold(text: &str) -> Vec<(usize, String)> {
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t'])
            && let Some((_, last)) = lines.last_mut()
        {
            last.push_str(rest);
            continue;
        }
        lines.push((index.saturating_add(1), raw.to_owned()));
    }
    lines
}

/// A content line split into its name, parameters and value.
struct Property<'a> {
    /// The property name, upper-cased (`DTSTART`).
    name: String,
    /// The parameters between the name and the value, without the leading `;`.
    params: &'a str,
    /// Everything after the first `:` that is not inside a quoted parameter value.
    value: &'a str,
}

impl<'a> Property<'a> {
    /// Splits `line`, or `None` when it is not `NAME[;PARAM=VALUE...]:VALUE` with a name of
    /// letters, digits and `-`.
    fn parse(line: &'a str) -> Option<Self> {
        let mut quoted = false;
        let mut colon = None;
        for (index, c) in line.char_indices() {
            match c {
                '"' => quoted = !quoted,
                ':' if !quoted => {
                    colon = Some(index);
                    break;
                }
                _ => {}
            }
        }
        let (head, rest) = line.split_at_checked(colon?)?;
        let value = rest.strip_prefix(':')?;
        let (name, params) = head.split_once(';').unwrap_or((head, ""));
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        valid.then(|| Self {
            name: name.to_ascii_uppercase(),
            params,
            value,
        })
    }

    /// The `VALUE=` parameter (`DATE`, `DATE-TIME`, ...), upper-cased, when there is one.
    fn value_type(&self) -> Option<String> {
        split_unquoted(self.params, ';')
            .into_iter()
            .find_map(|param| {
                let (key, value) = param.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("VALUE")
                    .then(|| value.trim().trim_matches('"').to_ascii_uppercase())
            })
    }
}

/// Splits `text` at each `separator` that is not inside double quotes.
fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (index, c) in text.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            parts.extend(text.get(start..index));
            start = index.saturating_add(c.len_utf8());
        }
    }
    parts.extend(text.get(start..));
    parts
}

/// A `DTSTART`, `DTEND`, `RDATE`, `EXDATE` or `UNTIL` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// A date, `YYYYMMDD`.
    Date(NaiveDate),
    /// A date-time, `YYYYMMDDTHHMMSS[Z]`: its date, and whether its time is 00:00:00.
    DateTime {
        /// The date part.
        date: NaiveDate,
        /// True when the time part is exactly midnight.
        midnight: bool,
    },
}

impl When {
    /// The date, whatever the form.
    fn date(self) -> NaiveDate {
        match self {
            Self::Date(date) | Self::DateTime { date, .. } => date,
        }
    }
}

/// What a `DURATION` means for the days an event covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    /// A whole number of days (`P2D`, `P1W`): the event covers that many days.
    Days(u64),
    /// Anything else (`PT1H`, `P1DT12H`, a negative duration): the event covers its start day.
    Other,
}

/// How a yearly rule ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Never: one yearly entry.
    Forever,
    /// After this many occurrences (`COUNT`).
    Times(usize),
    /// On or before this date (`UNTIL`).
    Until(NaiveDate),
}

/// What one `VEVENT` said, collected until its `END:VEVENT`.
struct Event {
    /// The line of its `BEGIN:VEVENT`.
    begin_line: usize,
    /// `DTSTART`, with its line.
    start: Option<(usize, When)>,
    /// `DTEND`, with its line.
    end: Option<(usize, When)>,
    /// `DURATION`, with its line.
    duration: Option<(usize, Span)>,
    /// `RRULE`'s text, with its line.
    rule: Option<(usize, String)>,
    /// The first `SUMMARY`, unescaped.
    summary: Option<String>,
    /// The `RDATE` dates, each with its line.
    added: Vec<(usize, NaiveDate)>,
    /// The `EXDATE` dates, each with its line.
    removed: Vec<(usize, NaiveDate)>,
    /// True after `STATUS:CANCELLED`.
    cancelled: bool,
}

impl Event {
    /// An event begun on `begin_line`, with nothing read yet.
    fn new(begin_line: usize) -> Self {
        Self {
            begin_line,
            start: None,
            end: None,
            duration: None,
            rule: None,
            summary: None,
            added: Vec::new(),
            removed: Vec::new(),
            cancelled: false,
        }
    }

    /// Takes in one of the event's own properties, found on `line`.
    fn read(&mut self, line: usize, property: &Property<'_>) -> Result<(), IcsError> {
        let error = move |reason: String| IcsError::new(line, reason);
        let name = property.name.as_str();
        match name {
            "DTSTART" | "DTEND" => {
                let when = parse_when(name, property.value, property.value_type().as_deref())
                    .map_err(error)?;
                let slot = if name == "DTSTART" {
                    &mut self.start
                } else {
                    &mut self.end
                };
                if slot.is_some() {
                    return Err(error(format!("a second {name} in one event")));
                }
                *slot = Some((line, when));
            }
            "DURATION" => {
                if self.duration.is_some() {
                    return Err(error("a second DURATION in one event".into()));
                }
                self.duration = Some((line, parse_duration(property.value).map_err(error)?));
            }
            "RRULE" => {
                if self.rule.is_some() {
                    return Err(error(
                        "a second RRULE in one event; list the dates instead".into(),
                    ));
                }
                self.rule = Some((line, property.value.trim().to_owned()));
            }
            "SUMMARY" if self.summary.is_none() => {
                let summary = unescape(property.value);
                if summary.trim().chars().count() > MAX_LABEL_CHARS {
                    return Err(error(format!(
                        "SUMMARY is longer than {MAX_LABEL_CHARS} characters"
                    )));
                }
                self.summary = Some(summary);
            }
            "RDATE" | "EXDATE" => {
                let value_type = property.value_type();
                if value_type.as_deref() == Some("PERIOD") || property.value.contains('/') {
                    return Err(error(format!(
                        "{name} periods are not supported; list the dates instead"
                    )));
                }
                for item in property.value.split(',') {
                    let date = parse_when(name, item, value_type.as_deref())
                        .map_err(error)?
                        .date();
                    let list = if name == "RDATE" {
                        &mut self.added
                    } else {
                        &mut self.removed
                    };
                    if list.len() >= MAX_ENTRIES_PER_EVENT {
                        return Err(error(format!(
                            "more than {MAX_ENTRIES_PER_EVENT} {name} dates in one event"
                        )));
                    }
                    list.push((line, date));
                }
            }
            "EXRULE" => {
                return Err(error(
                    "EXRULE is not supported; list the dates instead".into(),
                ));
            }
            "RECURRENCE-ID" => {
                return Err(error(
                    "a changed occurrence of a repeating event (RECURRENCE-ID) is not \
                     supported; list the dates instead"
                        .into(),
                ));
            }
            "STATUS" if property.value.trim().eq_ignore_ascii_case("CANCELLED") => {
                self.cancelled = true;
            }
            _ => {}
        }
        Ok(())
    }

    /// The entries the event stands for, once its `END:VEVENT` is read.
    fn finish(self) -> Result<Vec<IcsEntry>, IcsError> {
        if self.cancelled {
            return Ok(Vec::new());
        }
        let Some((_, start)) = self.start else {
            return Err(IcsError::new(self.begin_line, "VEVENT without DTSTART"));
        };
        let too_late =
            |line: usize| IcsError::new(line, format!("the event ends after the year {MAX_YEAR}"));
        let from = start.date();
        let to = match (self.end, self.duration) {
            (Some((line, end)), _) => {
                let (date, day_before) = match end {
                    When::Date(date) => (date, true),
                    When::DateTime { date, midnight } => (date, midnight),
                };
                if day_before {
                    date.checked_sub_days(Days::new(1))
                        .ok_or_else(|| IcsError::new(line, "DTEND is out of range"))?
                } else {
                    date
                }
            }
            (None, Some((line, Span::Days(days)))) => match days.checked_sub(1) {
                None => from,
                Some(more) => from
                    .checked_add_days(Days::new(more))
                    .ok_or_else(|| too_late(line))?,
            },
            (None, Some((_, Span::Other)) | None) => from,
        };
        let to = to.max(from);
        let span = Days::new(u64::try_from(to.signed_duration_since(from).num_days()).unwrap_or(0));
        let label = self
            .summary
            .as_deref()
            .map(str::trim)
            .filter(|label| !label.is_empty())
            .map(str::to_owned);

        let repeat = match &self.rule {
            None => None,
            Some((line, rule)) => {
                Some(parse_rule(rule, from).map_err(|reason| IcsError::new(*line, reason))?)
            }
        };
        let (yearly, mut starts) = match (repeat, &self.rule) {
            (Some(Repeat::Forever), _) => (true, vec![from]),
            (Some(ends), Some((line, rule))) => (
                false,
                yearly_starts(from, ends, rule).map_err(|reason| IcsError::new(*line, reason))?,
            ),
            _ => (false, vec![from]),
        };
        if yearly && let Some((line, _)) = self.removed.first() {
            return Err(IcsError::new(
                *line,
                "EXDATE on an event repeating every year without end cannot be represented; \
                 list the dates instead",
            ));
        }
        let removed = |date: &NaiveDate| self.removed.iter().any(|(_, gone)| gone == date);
        starts.retain(|date| !removed(date));

        let mut entries = Vec::new();
        let mut push = |day: NaiveDate, yearly: bool, line: usize| -> Result<(), IcsError> {
            let to = day
                .checked_add_days(span)
                .filter(|to| to.year() <= MAX_YEAR)
                .ok_or_else(|| too_late(line))?;
            if entries.len() >= MAX_ENTRIES_PER_EVENT {
                return Err(IcsError::new(
                    line,
                    format!(
                        "the event makes more than {MAX_ENTRIES_PER_EVENT} dates; at most \
                         {MAX_ENTRIES_PER_EVENT} are read per event"
                    ),
                ));
            }
            entries.push(IcsEntry {
                from: day,
                to,
                yearly,
                label: label.clone(),
            });
            Ok(())
        };
        for day in &starts {
            push(*day, yearly, self.begin_line)?;
        }
        for (line, day) in &self.added {
            if !removed(day) && !starts.contains(day) {
                starts.push(*day);
                push(*day, false, *line)?;
            }
        }
        Ok(entries)
    }
}

/// Reads an `RRULE` value for an event starting on `from`: `FREQ=YEARLY` on that month and
/// day, every year, optionally ending by `COUNT` or `UNTIL`.
fn parse_rule(rule: &str, from: NaiveDate) -> Result<Repeat, String> {
    let not_fixed = || {
        format!(
            "RRULE {} does not fall on the same date every year; list the dates instead",
            shown(rule)
        )
    };
    let mut seen: Vec<String> = Vec::new();
    let mut frequency = None;
    let mut count = None;
    let mut until = None;
    for part in rule.split(';').filter(|part| !part.trim().is_empty()) {
        let Some((key, value)) = part.split_once('=') else {
            return Err(format!(
                "RRULE {}: {} is not NAME=VALUE",
                shown(rule),
                shown(part)
            ));
        };
        let key = key.trim().to_ascii_uppercase();
        let value = value.trim();
        if seen.contains(&key) {
            return Err(format!(
                "RRULE {}: {} is given twice",
                shown(rule),
                shown(&key)
            ));
        }
        match key.as_str() {
            "FREQ" => frequency = Some(value.to_ascii_uppercase()),
            "INTERVAL" if value.parse::<u32>() == Ok(1) => {}
            "BYMONTH" if value.parse::<u32>() == Ok(from.month()) => {}
            "BYMONTHDAY" if value.parse::<u32>() == Ok(from.day()) => {}
            "COUNT" => count = Some(value),
            "UNTIL" => until = Some(value),
            "WKST" => {}
            _ => return Err(not_fixed()),
        }
        seen.push(key);
    }
    match frequency.as_deref() {
        Some("YEARLY") => {}
        Some(_) => return Err(not_fixed()),
        None => return Err(format!("RRULE {} has no FREQ", shown(rule))),
    }
    match (count, until) {
        (None, None) => Ok(Repeat::Forever),
        (Some(_), Some(_)) => Err(format!("RRULE {} has both COUNT and UNTIL", shown(rule))),
        (Some(count), None) => match count.parse::<usize>() {
            Ok(times) if times > MAX_ENTRIES_PER_EVENT => Err(format!(
                "RRULE {} repeats {times} times; at most {MAX_ENTRIES_PER_EVENT} dates are read \
                 per event",
                shown(rule)
            )),
            Ok(times) if times >= 1 => Ok(Repeat::Times(times)),
            _ => Err(format!(
                "RRULE {}: COUNT must be a whole number from 1",
                shown(rule)
            )),
        },
        (None, Some(until)) => parse_when("UNTIL", until, None)
            .map(|when| Repeat::Until(when.date()))
            .map_err(|reason| format!("RRULE {}: {reason}", shown(rule))),
    }
}

/// The start dates of a yearly `rule` that ends: `from` (which always counts), then the same
/// month and day of each later year (years without it, for 29 February, are skipped), until
/// `ends`.
fn yearly_starts(from: NaiveDate, ends: Repeat, rule: &str) -> Result<Vec<NaiveDate>, String> {
    let mut starts = vec![from];
    let mut year = from.year();
    loop {
        match ends {
            Repeat::Forever => break,
            Repeat::Times(times) if starts.len() >= times => break,
            Repeat::Until(until) if year >= until.year() => break,
            _ => {}
        }
        year = match year.checked_add(1) {
            Some(next) if next <= MAX_YEAR => next,
            _ => {
                return Err(format!(
                    "RRULE {} runs past the year {MAX_YEAR}",
                    shown(rule)
                ));
            }
        };
        let Some(date) = NaiveDate::from_ymd_opt(year, from.month(), from.day()) else {
            continue;
        };
        if let Repeat::Until(until) = ends
            && date > until
        {
            break;
        }
        if starts.len() >= MAX_ENTRIES_PER_EVENT {
            return Err(format!(
                "RRULE {} makes more than {MAX_ENTRIES_PER_EVENT} dates; at most \
                 {MAX_ENTRIES_PER_EVENT} are read per event",
                shown(rule)
            ));
        }
        starts.push(date);
    }
    Ok(starts)
}

/// Reads a date (`YYYYMMDD`) or a date-time (`YYYYMMDDTHHMMSS`, optionally ending in `Z`),
/// as `value_type` (the `VALUE=` parameter) allows; `name` is the property, for errors.
fn parse_when(name: &str, value: &str, value_type: Option<&str>) -> Result<When, String> {
    let text = value.trim();
    let malformed = || {
        format!(
            "{name} {} is not a date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSS)",
            shown(text)
        )
    };
    let (date_text, time_text) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let (Some(year), Some(month), Some(day)) = (
        digits(date_text.get(0..4)),
        digits(date_text.get(4..6)),
        digits(date_text.get(6..)),
    ) else {
        return Err(malformed());
    };
    if date_text.len() != 8 {
        return Err(malformed());
    }
    let date = i32::try_from(year)
        .ok()
        .filter(|year| *year >= 1)
        .and_then(|year| NaiveDate::from_ymd_opt(year, month, day))
        .ok_or_else(|| format!("{name} {} is not a real date", shown(text)))?;
    let when = match time_text {
        None => When::Date(date),
        Some(time) => {
            let time = time.strip_suffix('Z').unwrap_or(time);
            let (Some(hour), Some(minute), Some(second)) = (
                digits(time.get(0..2)),
                digits(time.get(2..4)),
                digits(time.get(4..)),
            ) else {
                return Err(malformed());
            };
            if time.len() != 6 {
                return Err(malformed());
            }
            if hour > 23 || minute > 59 || second > 60 {
                return Err(format!("{name} {} is not a real time", shown(text)));
            }
            When::DateTime {
                date,
                midnight: hour == 0 && minute == 0 && second == 0,
            }
        }
    };
    match (value_type, when) {
        (None, _) | (Some("DATE"), When::Date(_)) | (Some("DATE-TIME"), When::DateTime { .. }) => {
            Ok(when)
        }
        (Some("DATE"), _) => Err(format!(
            "{name};VALUE=DATE {} is not a date (YYYYMMDD)",
            shown(text)
        )),
        (Some("DATE-TIME"), _) => Err(format!(
            "{name};VALUE=DATE-TIME {} is not a date-time (YYYYMMDDTHHMMSS)",
            shown(text)
        )),
        (Some(other), _) => Err(format!(
            "{name} has VALUE={}; a DATE or DATE-TIME is expected",
            shown(other)
        )),
    }
}

/// The number written by `text` when it is one or more ASCII digits (and fits a `u32`).
fn digits(text: Option<&str>) -> Option<u32> {
    let text = text?;
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Reads a `DURATION` value (RFC 5545 §3.3.6: `[+|-]P` then weeks, or days and a time).
fn parse_duration(value: &str) -> Result<Span, String> {
    let text = value.trim();
    let malformed = || {
        format!(
            "DURATION {} is not a duration such as P1D, P2W or PT1H",
            shown(text)
        )
    };
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let rest = unsigned.strip_prefix('P').ok_or_else(malformed)?;
    let mut days: u64 = 0;
    let mut timed = false;
    let mut in_time = false;
    let mut number: Option<u64> = None;
    let mut any = false;
    for c in rest.chars() {
        if let Some(digit) = c.to_digit(10) {
            let next = number
                .unwrap_or(0)
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(digit)))
                .ok_or_else(malformed)?;
            number = Some(next);
            continue;
        }
        match c {
            'T' if !in_time && number.is_none() => in_time = true,
            'W' | 'D' if !in_time => {
                let n = number.take().ok_or_else(malformed)?;
                let n = if c == 'W' {
                    n.checked_mul(7).ok_or_else(malformed)?
                } else {
                    n
                };
                days = days.checked_add(n).ok_or_else(malformed)?;
                any = true;
            }
            'H' | 'M' | 'S' if in_time => {
                if number.take().ok_or_else(malformed)? > 0 {
                    timed = true;
                }
                any = true;
            }
            _ => return Err(malformed()),
        }
    }
    if number.is_some() || !any {
        return Err(malformed());
    }
    Ok(if negative || timed {
        Span::Other
    } else {
        Span::Days(days)
    })
}

/// Undoes the escapes of a TEXT value: `\,` `\;` `\\`, and `\n` or `\N` for a line break. An
/// unknown escape is kept as written.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(escaped @ (',' | ';' | '\\')) => out.push(escaped),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// `text` for an error message: at most [`MAX_SHOWN_CHARS`] characters, then `…`.
fn shown(text: &str) -> String {
    let mut short: String = text.chars().take(MAX_SHOWN_CHARS).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A date, for expected values.
    fn day(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    /// An expected entry.
    fn entry(from: NaiveDate, to: NaiveDate, yearly: bool, label: Option<&str>) -> IcsEntry {
        IcsEntry {
            from,
            to,
            yearly,
            label: label.map(str::to_owned),
        }
    }

    /// `body` inside a `VCALENDAR`, with LF line ends.
    fn calendar(body: &str) -> String {
        format!("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n{body}END:VCALENDAR\n")
    }

    /// One all-day event with `lines` inside, in a calendar.
    fn event(lines: &str) -> String {
        calendar(&format!("BEGIN:VEVENT\nUID:1@test\n{lines}END:VEVENT\n"))
    }

    /// The error `text` gives.
    fn error(text: &str) -> IcsError {
        parse_ics(text).unwrap_err()
    }

    /// A file like the gov.uk bank holiday feed: CRLF line ends, a folded SUMMARY, `DTEND`
    /// the day after each holiday, and a non-ASCII apostrophe.
    #[test]
    fn uk_bank_holidays_with_crlf_and_a_folded_summary() {
        let text = "BEGIN:VCALENDAR\r\n\
            VERSION:2.0\r\n\
            METHOD:PUBLISH\r\n\
            PRODID:-//uk.gov/GOVUK calendars//EN\r\n\
            CALSCALE:GREGORIAN\r\n\
            BEGIN:VEVENT\r\n\
            DTEND;VALUE=DATE:20260102\r\n\
            DTSTART;VALUE=DATE:20260101\r\n\
            SUMMARY:New Year’s Day\r\n\
            UID:ca6af7456b0088abad9a69f9f620f5ac-0@gov.uk\r\n\
            SEQUENCE:0\r\n\
            DTSTAMP:20260101T000000Z\r\n\
            END:VEVENT\r\n\
            BEGIN:VEVENT\r\n\
            DTEND;VALUE=DATE:20260505\r\n\
            DTSTART;VALUE=DATE:20260504\r\n\
            SUMMARY:Early May bank\r\n  holiday\r\n\
            UID:ca6af7456b0088abad9a69f9f620f5ac-1@gov.uk\r\n\
            SEQUENCE:0\r\n\
            DTSTAMP:20260101T000000Z\r\n\
            END:VEVENT\r\n\
            BEGIN:VEVENT\r\n\
            DTEND;VALUE=DATE:20261226\r\n\
            DTSTART;VALUE=DATE:20261225\r\n\
            SUMMARY:Christmas Day\r\n\
            UID:ca6af7456b0088abad9a69f9f620f5ac-2@gov.uk\r\n\
            END:VEVENT\r\n\
            END:VCALENDAR\r\n";
        assert_eq!(
            parse_ics(text).unwrap(),
            vec![
                entry(
                    day(2026, 1, 1),
                    day(2026, 1, 1),
                    false,
                    Some("New Year’s Day")
                ),
                entry(
                    day(2026, 5, 4),
                    day(2026, 5, 4),
                    false,
                    Some("Early May bank holiday")
                ),
                entry(
                    day(2026, 12, 25),
                    day(2026, 12, 25),
                    false,
                    Some("Christmas Day")
                ),
            ]
        );
    }

    /// A `DTEND` date is exclusive: a fortnight ending on a Monday covers up to the Sunday.
    #[test]
    fn a_multi_day_dtend_range_is_inclusive_of_the_day_before_dtend() {
        let text =
            event("DTSTART;VALUE=DATE:20260803\nDTEND;VALUE=DATE:20260817\nSUMMARY:Shutdown\n");
        assert_eq!(
            parse_ics(&text).unwrap(),
            vec![entry(
                day(2026, 8, 3),
                day(2026, 8, 16),
                false,
                Some("Shutdown")
            )]
        );
    }

    /// `FREQ=YEARLY`, alone or with the start's own month and day, is one yearly entry.
    #[test]
    fn a_yearly_rule_makes_a_yearly_entry() {
        for rule in [
            "FREQ=YEARLY",
            "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25",
            "freq=yearly;interval=1",
            "FREQ=YEARLY;WKST=MO;",
        ] {
            let text = event(&format!(
                "DTSTART;VALUE=DATE:20261225\nDTEND;VALUE=DATE:20261227\nRRULE:{rule}\nSUMMARY:Christmas\n"
            ));
            assert_eq!(
                parse_ics(&text).unwrap(),
                vec![entry(
                    day(2026, 12, 25),
                    day(2026, 12, 26),
                    true,
                    Some("Christmas")
                )],
                "{rule}"
            );
        }
    }

    /// `COUNT=3` lists three one-time entries, a year apart, each as long as the first.
    #[test]
    fn a_yearly_rule_with_count_is_expanded() {
        let text = event(
            "DTSTART;VALUE=DATE:20261231\nDTEND;VALUE=DATE:20270102\nRRULE:FREQ=YEARLY;COUNT=3\nSUMMARY:Turn of the year\n",
        );
        let label = Some("Turn of the year");
        assert_eq!(
            parse_ics(&text).unwrap(),
            vec![
                entry(day(2026, 12, 31), day(2027, 1, 1), false, label),
                entry(day(2027, 12, 31), day(2028, 1, 1), false, label),
                entry(day(2028, 12, 31), day(2029, 1, 1), false, label),
            ]
        );
    }

    /// `UNTIL` lists every year up to and including it; 29 February only in leap years.
    #[test]
    fn a_yearly_rule_until_a_date_is_expanded_and_skips_missing_days() {
        let text = event("DTSTART;VALUE=DATE:20260704\nRRULE:FREQ=YEARLY;UNTIL=20280704\n");
        assert_eq!(
            parse_ics(&text).unwrap(),
            vec![
                entry(day(2026, 7, 4), day(2026, 7, 4), false, None),
                entry(day(2027, 7, 4), day(2027, 7, 4), false, None),
                entry(day(2028, 7, 4), day(2028, 7, 4), false, None),
            ]
        );
        let text = event("DTSTART;VALUE=DATE:20280229\nRRULE:FREQ=YEARLY;COUNT=2\n");
        assert_eq!(
            parse_ics(&text).unwrap(),
            vec![
                entry(day(2028, 2, 29), day(2028, 2, 29), false, None),
                entry(day(2032, 2, 29), day(2032, 2, 29), false, None),
            ]
        );
    }

    /// More than 100 dates from one event are refused, whether by COUNT or by UNTIL.
    #[test]
    fn a_rule_past_one_hundred_dates_is_refused() {
        let text = event("DTSTART;VALUE=DATE:20260101\nRRULE:FREQ=YEARLY;COUNT=101\n");
        assert_eq!(
            error(&text),
            IcsError::new(
                7,
                "RRULE FREQ=YEARLY;COUNT=101 repeats 101 times; at most 100 dates are read per event"
            )
        );
        let text = event("DTSTART;VALUE=DATE:20260101\nRRULE:FREQ=YEARLY;COUNT=100\n");
        assert_eq!(parse_ics(&text).unwrap().len(), 100);
        let text = event("DTSTART;VALUE=DATE:20000101\nRRULE:FREQ=YEARLY;UNTIL=21000101\n");
        assert_eq!(
            error(&text),
            IcsError::new(
                7,
                "RRULE FREQ=YEARLY;UNTIL=21000101 makes more than 100 dates; at most 100 are \
                 read per event"
            )
        );
    }

    /// A date-time start in UTC keeps its date; a date-time end at midnight ends the day
    /// before, one at any other time ends that day.
    #[test]
    fn a_date_time_dtstart_with_z_takes_its_date() {
        let text = event("DTSTART:20261224T090000Z\nSUMMARY:Eve\n");
        assert_eq!(
            parse_ics(&text).unwrap(),
            vec![entry(
                day(2026, 12, 24),
                day(2026, 12, 24),
                false,
                Some("Eve")
            )]
        );
        let text = event("DTSTART:20261224T000000Z\nDTEND:20261226T000000Z\n");
        assert_eq!(
            parse_ics(&text).unwrap(),
            vec![entry(day(2026, 12, 24), day(2026, 12, 25), false, None)]
        );
        let text = event(
            "DTSTART;TZID=Europe/London:20261224T090000\nDTEND;TZID=Europe/London:20261226T000001\n",
        );
        assert_eq!(
            parse_ics(&text).unwrap(),
            vec![entry(day(2026, 12, 24), day(2026, 12, 26), false, None)]
        );
    }

    /// A VALARM's own SUMMARY, DURATION and DTSTART are not the event's.
    #[test]
    fn a_valarm_inside_an_event_is_ignored() {
        let text = event(
            "DTSTART;VALUE=DATE:20260525\n\
             BEGIN:VALARM\n\
             ACTION:DISPLAY\n\
             TRIGGER:-PT15M\n\
             DTSTART:20200101T000000\n\
             DURATION:P9D\n\
             SUMMARY:Reminder\n\
             RRULE:FREQ=WEEKLY\n\
             END:VALARM\n\
             SUMMARY:Spring bank holiday\n",
        );
        assert_eq!(
            parse_ics(&text).unwrap(),
            vec![entry(
                day(2026, 5, 25),
                day(2026, 5, 25),
                false,
                Some("Spring bank holiday")
            )]
        );
    }

    /// A VTIMEZONE, with its own DTSTART and RRULE, adds nothing.
    #[test]
    fn a_vtimezone_is_ignored() {
        let text = calendar(
            "BEGIN:VTIMEZONE\n\
             TZID:Europe/London\n\
             BEGIN:DAYLIGHT\n\
             DTSTART:19810329T010000\n\
             RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\n\
             TZOFFSETFROM:+0000\n\
             TZOFFSETTO:+0100\n\
             END:DAYLIGHT\n\
             BEGIN:STANDARD\n\
             DTSTART:19961027T020000\n\
             RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\n\
             END:STANDARD\n\
             END:VTIMEZONE\n\
             BEGIN:VEVENT\n\
             DTSTART;TZID=Europe/London:20260831T000000\n\
             SUMMARY:Summer bank holiday\n\
             END:VEVENT\n",
        );
        assert_eq!(
            parse_ics(&text).unwrap(),
            vec![entry(
                day(2026, 8, 31),
                day(2026, 8, 31),
                false,
                Some("Summer bank holiday")
            )]
        );
    }

    /// A SUMMARY's escapes are undone and it is trimmed; a blank one is no label.
    #[test]
    fn an_escaped_summary_is_unescaped() {
        let text = event(
            "DTSTART;VALUE=DATE:20261226\nSUMMARY;LANGUAGE=en-GB:  Boxing Day\\, St Stephen\\;s\\\\Day\\nobserved\\N2  \n",
        );
        assert_eq!(
            parse_ics(&text).unwrap(),
            vec![entry(
                day(2026, 12, 26),
                day(2026, 12, 26),
                false,
                Some("Boxing Day, St Stephen;s\\Day\nobserved\n2")
            )]
        );
        let text = event("DTSTART;VALUE=DATE:20261226\nSUMMARY:   \n");
        assert_eq!(parse_ics(&text).unwrap()[0].label, None);
    }

    /// `DURATION:P2D` covers two days, `P1W` seven; a duration in hours, one day.
    #[test]
    fn a_duration_of_days_or_weeks_sets_the_end() {
        let cases = [
            ("P2D", day(2026, 4, 4)),
            ("+P1W", day(2026, 4, 9)),
            ("PT1H", day(2026, 4, 3)),
            ("P1DT12H", day(2026, 4, 3)),
            ("P0D", day(2026, 4, 3)),
            ("-P3D", day(2026, 4, 3)),
        ];
        for (duration, to) in cases {
            let text = event(&format!(
                "DTSTART;VALUE=DATE:20260403\nDURATION:{duration}\nSUMMARY:Easter\n"
            ));
            assert_eq!(
                parse_ics(&text).unwrap(),
                vec![entry(day(2026, 4, 3), to, false, Some("Easter"))],
                "{duration}"
            );
        }
        let text = event("DTSTART;VALUE=DATE:20260403\nDURATION:2D\n");
        assert_eq!(
            error(&text),
            IcsError::new(7, "DURATION 2D is not a duration such as P1D, P2W or PT1H")
        );
    }

    /// A DTEND on or before DTSTART gives a single day.
    #[test]
    fn an_end_before_the_start_is_the_start_day() {
        let text = event("DTSTART;VALUE=DATE:20260403\nDTEND;VALUE=DATE:20260401\n");
        assert_eq!(
            parse_ics(&text).unwrap(),
            vec![entry(day(2026, 4, 3), day(2026, 4, 3), false, None)]
        );
    }

    /// EXDATE removes an occurrence of an expanded rule, RDATE adds one, and a cancelled
    /// event adds nothing.
    #[test]
    fn exdate_rdate_and_cancelled_events() {
        let text = event(
            "DTSTART;VALUE=DATE:20260101\n\
             RRULE:FREQ=YEARLY;COUNT=3\n\
             EXDATE;VALUE=DATE:20270101\n\
             RDATE;VALUE=DATE:20300102,20280101\n",
        );
        assert_eq!(
            parse_ics(&text).unwrap(),
            vec![
                entry(day(2026, 1, 1), day(2026, 1, 1), false, None),
                entry(day(2028, 1, 1), day(2028, 1, 1), false, None),
                entry(day(2030, 1, 2), day(2030, 1, 2), false, None),
            ]
        );
        let text = event("DTSTART;VALUE=DATE:20260101\nSTATUS:CANCELLED\n");
        assert_eq!(parse_ics(&text).unwrap(), vec![]);
        let text = event("DTSTART;VALUE=DATE:20260101\nRRULE:FREQ=YEARLY\nEXDATE:20270101\n");
        assert_eq!(
            error(&text),
            IcsError::new(
                8,
                "EXDATE on an event repeating every year without end cannot be represented; \
                 list the dates instead"
            )
        );
    }

    /// A `:` inside a quoted parameter value does not start the value.
    #[test]
    fn a_colon_in_a_quoted_parameter_is_not_the_value() {
        let text = event(
            "DTSTART;VALUE=DATE:20260101\nSUMMARY;ALTREP=\"http://example.com/a;b\":New Year\n",
        );
        assert_eq!(
            parse_ics(&text).unwrap(),
            vec![entry(
                day(2026, 1, 1),
                day(2026, 1, 1),
                false,
                Some("New Year")
            )]
        );
    }

    /// Text that is not a calendar is refused on line 1.
    #[test]
    fn a_file_that_is_not_a_calendar_is_refused() {
        for text in [
            "",
            "hello\nworld\n",
            "BEGIN:VEVENT\nDTSTART:20260101\nEND:VEVENT\n",
        ] {
            assert_eq!(
                error(text),
                IcsError::new(1, "not an iCalendar file: there is no BEGIN:VCALENDAR line"),
                "{text:?}"
            );
        }
        assert_eq!(
            error("").to_string(),
            "line 1: not an iCalendar file: there is no BEGIN:VCALENDAR line"
        );
    }

    /// An event without DTSTART is refused on its BEGIN line.
    #[test]
    fn a_vevent_without_dtstart_names_its_begin_line() {
        let text = calendar(
            "BEGIN:VEVENT\nDTSTART:20260101\nEND:VEVENT\nBEGIN:VEVENT\nSUMMARY:When?\nEND:VEVENT\n",
        );
        assert_eq!(error(&text), IcsError::new(7, "VEVENT without DTSTART"));
        assert_eq!(error(&text).to_string(), "line 7: VEVENT without DTSTART");
    }

    /// "First Monday of May", a weekly rule and every other year are not fixed dates.
    #[test]
    fn a_rule_that_is_not_a_fixed_yearly_date_is_refused() {
        for rule in [
            "FREQ=YEARLY;BYMONTH=5;BYDAY=1MO",
            "FREQ=WEEKLY",
            "FREQ=YEARLY;INTERVAL=2",
            "FREQ=YEARLY;BYMONTH=6",
        ] {
            let text = event(&format!("DTSTART;VALUE=DATE:20260504\nRRULE:{rule}\n"));
            assert_eq!(
                error(&text),
                IcsError::new(
                    7,
                    format!(
                        "RRULE {rule} does not fall on the same date every year; list the \
                         dates instead"
                    )
                ),
                "{rule}"
            );
        }
        let text = event("DTSTART;VALUE=DATE:20260504\nRRULE:FREQ=YEARLY;COUNT=2;UNTIL=20300101\n");
        assert_eq!(
            error(&text),
            IcsError::new(
                7,
                "RRULE FREQ=YEARLY;COUNT=2;UNTIL=20300101 has both COUNT and UNTIL"
            )
        );
    }

    /// Malformed and impossible dates are refused on their own line.
    #[test]
    fn a_malformed_date_is_refused() {
        let text = event("DTSTART;VALUE=DATE:2026-12-25\n");
        assert_eq!(
            error(&text),
            IcsError::new(
                6,
                "DTSTART 2026-12-25 is not a date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSS)"
            )
        );
        let text = event("DTSTART;VALUE=DATE:20260230\n");
        assert_eq!(
            error(&text),
            IcsError::new(6, "DTSTART 20260230 is not a real date")
        );
        let text = event("DTSTART:20260101\nDTEND:20260102T250000\n");
        assert_eq!(
            error(&text),
            IcsError::new(7, "DTEND 20260102T250000 is not a real time")
        );
        let text = event("DTSTART;VALUE=DATE:20260101T100000\n");
        assert_eq!(
            error(&text),
            IcsError::new(
                6,
                "DTSTART;VALUE=DATE 20260101T100000 is not a date (YYYYMMDD)"
            )
        );
    }

    /// Unbalanced BEGIN and END lines are refused.
    #[test]
    fn unbalanced_components_are_refused() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260101\n";
        assert_eq!(
            error(text),
            IcsError::new(2, "BEGIN:VEVENT is never closed by END:VEVENT")
        );
        let text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260101\nEND:VALARM\n";
        assert_eq!(
            error(text),
            IcsError::new(
                4,
                "END:VALARM where END:VEVENT was expected (BEGIN:VEVENT is on line 2)"
            )
        );
    }

    /// The text and the number of events are bounded.
    #[test]
    fn input_is_bounded() {
        let big = format!("BEGIN:VCALENDAR\n{}", "X".repeat(MAX_BYTES));
        assert_eq!(
            error(&big),
            IcsError::new(
                1,
                "the file is 2097168 bytes; at most 2097152 (2 MiB) are read"
            )
        );
        let one = "BEGIN:VEVENT\nDTSTART:20260101\nEND:VEVENT\n";
        let many = calendar(&one.repeat(MAX_EVENTS));
        assert_eq!(parse_ics(&many).unwrap().len(), MAX_EVENTS);
        let too_many = calendar(&one.repeat(MAX_EVENTS + 1));
        assert_eq!(
            error(&too_many),
            IcsError::new(
                4 + 3 * MAX_EVENTS,
                "more than 5000 events; at most 5000 are read"
            )
        );
    }

    /// The JSON form of an entry.
    #[test]
    fn an_entry_becomes_calendar_entry_json() {
        let yearly = entry(
            day(2026, 12, 25),
            day(2026, 12, 26),
            true,
            Some("Christmas"),
        );
        assert_eq!(
            yearly.to_value(),
            json!({"from": "2026-12-25", "to": "2026-12-26", "yearly": true, "label": "Christmas"})
        );
        let once = entry(day(2026, 8, 3), day(2026, 8, 3), false, None);
        assert_eq!(
            once.to_value(),
            json!({"from": "2026-08-03", "to": "2026-08-03", "yearly": false, "label": null})
        );
    }

    /// 2,000 deterministic pseudo-random inputs never panic, and every error names a line of
    /// the input. Each input is a calendar of events (now and then missing a BEGIN or an END)
    /// whose lines are either well-formed, so that some events are read to their end, or join
    /// iCalendar names and value fragments, ended by CRLF, LF or a fold, with printable ASCII
    /// noise.
    #[test]
    fn random_input_never_panics() {
        const NAMES: &[&str] = &[
            "BEGIN:",
            "END:",
            "DTSTART:",
            "DTSTART;VALUE=DATE:",
            "DTSTART;TZID=\"a:b\":",
            "DTEND;VALUE=DATE:",
            "DTEND:",
            "DURATION:",
            "RRULE:",
            "RRULE:FREQ=YEARLY;COUNT=",
            "RRULE:FREQ=YEARLY;UNTIL=",
            "EXDATE:",
            "RDATE;VALUE=DATE:",
            "RDATE;VALUE=PERIOD:",
            "SUMMARY:",
            "STATUS:",
            "RECURRENCE-ID:",
            "X-JUNK;P=\"q;r\":",
            "",
        ];
        const VALUES: &[&str] = &[
            "VCALENDAR",
            "VEVENT",
            "VEVENT",
            "VALARM",
            "VTIMEZONE",
            "20261225",
            "20261231",
            "20280229",
            "99991231",
            "00000101",
            "20261225T000000Z",
            "20261226T093000",
            "T",
            "000000",
            "Z",
            "2026",
            "1225",
            "0229",
            "P2D",
            "P1W",
            "PT1H",
            "-P1D",
            "P99999999999D",
            "FREQ=YEARLY",
            "FREQ=WEEKLY",
            "FREQ=YEARLY;COUNT=3",
            "FREQ=YEARLY;UNTIL=20300101",
            ";BYMONTH=12;BYMONTHDAY=25",
            ";BYDAY=1MO",
            ";INTERVAL=2",
            "3",
            "100",
            "101",
            ",",
            "\\,",
            "\\n",
            "\\",
            "\"",
            ":",
            ";",
            "CANCELLED",
            "é",
            "’",
            "\u{feff}",
        ];
        const LINES: &[&str] = &[
            "DTSTART;VALUE=DATE:20261225",
            "DTSTART:20280229",
            "DTSTART:20261224T090000Z",
            "DTEND;VALUE=DATE:20261227",
            "DTEND:20261226T000000Z",
            "DURATION:P2D",
            "DURATION:PT1H",
            "RRULE:FREQ=YEARLY",
            "RRULE:FREQ=YEARLY;COUNT=3",
            "RRULE:FREQ=YEARLY;UNTIL=20300101",
            "RRULE:FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25",
            "EXDATE;VALUE=DATE:20271225",
            "RDATE;VALUE=DATE:20291225",
            "SUMMARY:Christmas\\, Day",
            "SUMMARY:Early May\r\n  bank holiday",
            "STATUS:CONFIRMED",
            "UID:x@example.com",
            "X-JUNK;P=\"a:b\":c",
        ];
        const LINE_ENDS: &[&str] = &["\n", "\r\n", "\r\n", "\r\n ", "\n\t", ""];
        let noise: Vec<char> = (' '..='~').chain(['\n', '\r', '\t']).collect();
        let mut state: u64 = 0x5EED_1CA1_u64;
        let mut next = move |below: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(state >> 33).unwrap() % below
        };
        for _ in 0..2_000 {
            let mut text = String::new();
            let line = |text: &mut String, next: &mut dyn FnMut(usize) -> usize| {
                if next(2) == 0 {
                    text.push_str(LINES[next(LINES.len())]);
                    text.push_str("\r\n");
                    return;
                }
                text.push_str(NAMES[next(NAMES.len())]);
                for _ in 0..=next(3) {
                    text.push_str(VALUES[next(VALUES.len())]);
                }
                if next(8) == 0 {
                    for _ in 0..=next(4) {
                        text.push(noise[next(noise.len())]);
                    }
                }
                text.push_str(LINE_ENDS[next(LINE_ENDS.len())]);
            };
            if next(10) != 0 {
                text.push_str("BEGIN:VCALENDAR\r\n");
            }
            for _ in 0..next(6) {
                if next(20) != 0 {
                    text.push_str("BEGIN:VEVENT\r\n");
                }
                if next(4) != 0 {
                    text.push_str(LINES[next(3)]);
                    text.push_str("\r\n");
                }
                for _ in 0..next(5) {
                    if next(10) == 0 {
                        text.push_str("BEGIN:VALARM\r\nSUMMARY:x\r\nEND:VALARM\r\n");
                    }
                    line(&mut text, &mut next);
                }
                if next(20) != 0 {
                    text.push_str("END:VEVENT\r\n");
                }
            }
            if next(10) != 0 {
                text.push_str("END:VCALENDAR\r\n");
            }
            if let Err(error) = parse_ics(&text) {
                let lines = text.split('\n').count();
                assert!(
                    (1..=lines).contains(&error.line),
                    "line {} of {lines}: {text:?}",
                    error.line
                );
                assert!(!error.reason.is_empty());
            }
        }
    }
}
