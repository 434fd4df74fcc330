//! Calendars: named sets of days, per tenant, that jobs do not fire on — bank holidays, a
//! shutdown fortnight, a freeze. A calendar lists dates and date ranges read in its own time
//! zone, each optionally recurring every year (fixed holidays). A job lists the calendars it
//! excludes ([`JobCalendars`]) and says what happens to a fire on an excluded day
//! ([`OnExcluded`]): it is skipped (recorded `skipped`, "excluded by calendar <name>") or moved
//! to the next allowed day.
//!
//! # Rules
//! - An instant is excluded by a calendar when its **local date in the calendar's zone** falls
//!   in one of its entries: `from..=to` for a one-time entry; for a yearly one the same
//!   month-days every year (a range crossing New Year wraps; 29 February only in leap years).
//! - A **moved** fire runs at the same wall-clock time, in the job's zone, on the first later
//!   day no calendar of the job excludes — or at the job's next allowed fire when that comes
//!   first (the two are then one run). It keeps its schedule instant as `scheduled_for`.
//! - A job's copy of its calendars ([`CalendarRules`]) is compiled once: the check is two
//!   binary searches over sorted day ranges, whatever the number of entries.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde_json::{Map, Value, json};

use crate::error::{Invalid, ValidationErrors};
use crate::job_values::{Description, Timezone};
use crate::tenant::Tenant;
use crate::text::reject_nul;
use crate::wire::WireEnum;

crate::text::path_segment_name! {
    /// A calendar's name, unique in its tenant: 1 to 64 characters of ASCII letters, digits,
    /// `-`, `_` and `.`, starting with a letter or digit (it is a URL path segment).
    CalendarName,
    Invalid::CalendarName
}

/// One excluded date or date range of a calendar, both ends included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEntry {
    /// The first excluded day.
    pub from: NaiveDate,
    /// The last excluded day (`from` for a single date).
    pub to: NaiveDate,
    /// True: the same month-days every year (the year of `from` and `to` only orders them).
    pub yearly: bool,
    /// What the days are (`Christmas Day`), shown in lists and previews.
    pub label: Option<String>,
}

impl CalendarEntry {
    /// The longest label accepted, in characters.
    pub const MAX_LABEL_CHARS: usize = 200;

    /// The longest one-time range accepted: ten years of days.
    pub const MAX_RANGE_DAYS: i64 = 3_660;

    /// A checked entry.
    ///
    /// # Errors
    /// [`Invalid::DateRangeReversed`] when `to` is before `from`,
    /// [`Invalid::YearlyRangeTooLong`] for a yearly range of a year or more, `OutOfRange` for a
    /// one-time range longer than [`CalendarEntry::MAX_RANGE_DAYS`], and the label's errors.
    pub fn new(
        from: NaiveDate,
        to: NaiveDate,
        yearly: bool,
        label: Option<&str>,
    ) -> Result<Self, Invalid> {
        let days = (to - from).num_days();
        if days < 0 {
            return Err(Invalid::DateRangeReversed);
        }
        if yearly && days >= 365 {
            return Err(Invalid::YearlyRangeTooLong);
        }
        if days >= Self::MAX_RANGE_DAYS {
            return Err(Invalid::OutOfRange {
                min: 1,
                max: Self::MAX_RANGE_DAYS,
            });
        }
        let label = match label.map(str::trim).filter(|l| !l.is_empty()) {
            None => None,
            Some(text) => {
                reject_nul(text)?;
                if text.chars().count() > Self::MAX_LABEL_CHARS {
                    return Err(Invalid::TooLong {
                        max: Self::MAX_LABEL_CHARS,
                    });
                }
                Some(text.to_string())
            }
        };
        Ok(Self {
            from,
            to,
            yearly,
            label,
        })
    }

    /// Reads an entry from its JSON form: `{"date": "2026-12-25"}` or
    /// `{"from": "2026-08-03", "to": "2026-08-14"}`, with optional `"yearly": true` and
    /// `"label": "..."`.
    ///
    /// # Errors
    /// [`Invalid::CalendarEntry`] for a malformed object, and [`CalendarEntry::new`]'s.
    pub fn parse(value: &Value) -> Result<Self, Invalid> {
        let object = value.as_object().ok_or(Invalid::CalendarEntry)?;
        let date = |key: &str| -> Result<Option<NaiveDate>, Invalid> {
            match object.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| Invalid::NotADate),
                Some(_) => Err(Invalid::NotADate),
            }
        };
        let known = ["date", "from", "to", "yearly", "label"];
        if object.keys().any(|key| !known.contains(&key.as_str())) {
            return Err(Invalid::CalendarEntry);
        }
        let (from, to) = match (date("date")?, date("from")?, date("to")?) {
            (Some(day), None, None) => (day, day),
            (None, Some(from), Some(to)) => (from, to),
            (None, Some(from), None) => (from, from),
            _ => return Err(Invalid::CalendarEntry),
        };
        let yearly = match object.get("yearly") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(yearly)) => *yearly,
            Some(_) => return Err(Invalid::NotABoolean),
        };
        let label = match object.get("label") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.as_str()),
            Some(_) => return Err(Invalid::NotAString),
        };
        Self::new(from, to, yearly, label)
    }

    /// The JSON form the API returns and the stores keep: `from`, `to`, `yearly`, `label`.
    pub fn to_value(&self) -> Value {
        json!({
            "from": self.from.format("%Y-%m-%d").to_string(),
            "to": self.to.format("%Y-%m-%d").to_string(),
            "yearly": self.yearly,
            "label": self.label,
        })
    }
}

/// What a tenant writes about a calendar: its name, zone, description and entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDef {
    /// Unique in the tenant.
    pub name: CalendarName,
    /// The zone its dates are read in.
    pub timezone: Timezone,
    /// Free text.
    pub description: Description,
    /// The excluded dates and ranges, as written.
    pub entries: Vec<CalendarEntry>,
}

impl CalendarDef {
    /// The most entries one calendar holds.
    pub const MAX_ENTRIES: usize = 2_000;

    /// The entries as the JSON array text the stores keep.
    pub fn entries_text(&self) -> String {
        Value::Array(self.entries.iter().map(CalendarEntry::to_value).collect()).to_string()
    }

    /// Reads entries from a JSON array (each as [`CalendarEntry::parse`]), recording each
    /// failure as `dates[<index>]` in `errors`; `None` when any failed.
    pub fn read_entries(
        value: &Value,
        errors: &mut ValidationErrors,
    ) -> Option<Vec<CalendarEntry>> {
        let Some(items) = value.as_array() else {
            errors.add("dates", Invalid::NotAList);
            return None;
        };
        if items.len() > Self::MAX_ENTRIES {
            errors.add(
                "dates",
                Invalid::TooMany {
                    max: Self::MAX_ENTRIES,
                },
            );
            return None;
        }
        let mut entries = Vec::with_capacity(items.len());
        let mut failed = false;
        for (index, item) in items.iter().enumerate() {
            match CalendarEntry::parse(item) {
                Ok(entry) => entries.push(entry),
                Err(problem) => {
                    errors.add(format!("dates[{index}]"), problem);
                    failed = true;
                }
            }
        }
        (!failed).then_some(entries)
    }

    /// The JSON object a job row keeps of each calendar it uses (name, zone, entries).
    pub fn to_value(&self) -> Value {
        let mut object = Map::new();
        object.insert("name".into(), Value::from(self.name.as_str()));
        object.insert("timezone".into(), Value::from(self.timezone.name()));
        object.insert(
            "dates".into(),
            Value::Array(self.entries.iter().map(CalendarEntry::to_value).collect()),
        );
        Value::Object(object)
    }

    /// Reads back [`CalendarDef::to_value`] (the description is not kept there).
    ///
    /// # Errors
    /// The first problem found, for a row that no longer validates.
    pub fn from_value(value: &Value) -> Result<Self, Invalid> {
        let text = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .ok_or(Invalid::CalendarEntry)
        };
        let mut errors = ValidationErrors::new();
        let entries = value
            .get("dates")
            .and_then(|dates| Self::read_entries(dates, &mut errors));
        match (entries, errors.iter().next()) {
            (Some(entries), None) => Ok(Self {
                name: CalendarName::parse(text("name")?)?,
                timezone: Timezone::parse(text("timezone")?)?,
                description: Description::default(),
                entries,
            }),
            (_, Some(error)) => Err(error.problem.clone()),
            (None, None) => Err(Invalid::CalendarEntry),
        }
    }
}

/// Raw input for creating or replacing a calendar, before validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CalendarDraft {
    /// Required.
    pub name: Option<String>,
    /// Default `UTC`.
    pub timezone: Option<String>,
    /// Default empty.
    pub description: Option<String>,
    /// A JSON array of entries; default none.
    pub dates: Option<Value>,
    /// Errors found while reading the raw input; their fields are not checked again.
    pub input_errors: ValidationErrors,
}

impl CalendarDraft {
    /// Validates every field, all failures at once (an entry's as `dates[<index>]`).
    ///
    /// # Errors
    /// Each failing field.
    pub fn validate(self) -> Result<CalendarDef, ValidationErrors> {
        let mut errors = self.input_errors;
        let name = errors.check(
            "name",
            self.name
                .ok_or(Invalid::Required)
                .and_then(|raw| CalendarName::parse(&raw)),
        );
        let timezone = match self.timezone {
            None => Some(Timezone::default()),
            Some(raw) => errors.check("timezone", Timezone::parse(&raw)),
        };
        let description = match self.description {
            None => Some(Description::default()),
            Some(raw) => errors.check("description", Description::parse(&raw)),
        };
        let entries = match self.dates {
            None => Some(Vec::new()),
            Some(value) if errors.has("dates") => {
                drop(value);
                None
            }
            Some(value) => CalendarDef::read_entries(&value, &mut errors),
        };
        match (name, timezone, description, entries) {
            (Some(name), Some(timezone), Some(description), Some(entries)) if errors.is_empty() => {
                Ok(CalendarDef {
                    name,
                    timezone,
                    description,
                    entries,
                })
            }
            _ => Err(errors),
        }
    }
}

/// A stored calendar: its definition and who owns and changed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    /// What the tenant wrote.
    pub def: CalendarDef,
    /// Whose calendar it is.
    pub tenant: Tenant,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// The key that created it.
    pub created_by: Option<String>,
    /// The key that last changed it.
    pub updated_by: Option<String>,
}

/// A month-day as a sortable number: `1225` for 25 December.
fn month_day(date: NaiveDate) -> u32 {
    date.month() * 100 + date.day()
}

/// Sorts ranges and merges those that overlap or touch.
fn merged<T: Ord + Copy>(mut ranges: Vec<(T, T)>, touches: impl Fn(T, T) -> bool) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match out.last_mut() {
            Some(last) if touches(last.1, start) => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

/// True when `key` lies in one of the sorted, disjoint `ranges`.
fn within<T: Ord + Copy>(ranges: &[(T, T)], key: T) -> bool {
    let after = ranges.partition_point(|range| range.0 <= key);
    after > 0 && ranges[after - 1].1 >= key
}

/// A calendar compiled for checking instants: its definition, its one-time ranges as sorted
/// day numbers and its yearly ranges as sorted month-days (a range over New Year split in
/// two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarRules {
    def: CalendarDef,
    once: Vec<(i32, i32)>,
    yearly: Vec<(u32, u32)>,
}

impl CalendarRules {
    /// Compiles `def`.
    pub fn compile(def: CalendarDef) -> Self {
        let mut once = Vec::new();
        let mut yearly = Vec::new();
        for entry in &def.entries {
            if entry.yearly {
                let (start, end) = (month_day(entry.from), month_day(entry.to));
                if entry.from.year() == entry.to.year() {
                    yearly.push((start, end));
                } else {
                    yearly.push((start, 1231));
                    yearly.push((101, end));
                }
            } else {
                once.push((entry.from.num_days_from_ce(), entry.to.num_days_from_ce()));
            }
        }
        Self {
            once: merged(once, |end, start| start <= end.saturating_add(1)),
            yearly: merged(yearly, |end, start| start <= end),
            def,
        }
    }

    /// The definition compiled.
    pub fn def(&self) -> &CalendarDef {
        &self.def
    }

    /// The calendar's name.
    pub fn name(&self) -> &CalendarName {
        &self.def.name
    }

    /// True when the calendar excludes the local date `date`.
    pub fn excludes_date(&self, date: NaiveDate) -> bool {
        within(&self.once, date.num_days_from_ce()) || within(&self.yearly, month_day(date))
    }

    /// True when the calendar excludes `at`: its local date in the calendar's zone is listed.
    pub fn excludes(&self, at: DateTime<Utc>) -> bool {
        self.excludes_date(at.with_timezone(&self.def.timezone.tz()).date_naive())
    }

    /// When the excluded days around `at` end: the first instant (local midnight, in the
    /// calendar's zone) of the first later day the calendar does not exclude; `None` when it
    /// does not exclude `at`, or lists every day of the next [`JobCalendars::MAX_MOVE_DAYS`].
    pub fn excluded_until(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let tz = self.def.timezone.tz();
        let day = at.with_timezone(&tz).date_naive();
        if !self.excludes_date(day) {
            return None;
        }
        let next = (1..=JobCalendars::MAX_MOVE_DAYS)
            .filter_map(|days| day.checked_add_days(chrono::Days::new(u64::from(days))))
            .find(|day| !self.excludes_date(*day))?;
        let midnight = next.and_hms_opt(0, 0, 0)?;
        // A zone whose clocks skip midnight that day: the first instant after the gap.
        tz.from_local_datetime(&midnight)
            .earliest()
            .or_else(|| {
                tz.from_local_datetime(&midnight.checked_add_signed(Duration::hours(1))?)
                    .earliest()
            })
            .map(|instant| instant.with_timezone(&Utc))
    }

    /// The entry that excludes `date`, for showing its label.
    pub fn entry_for(&self, date: NaiveDate) -> Option<&CalendarEntry> {
        self.def.entries.iter().find(|entry| {
            if entry.yearly {
                let (start, end, day) =
                    (month_day(entry.from), month_day(entry.to), month_day(date));
                if entry.from.year() == entry.to.year() {
                    (start..=end).contains(&day)
                } else {
                    day >= start || day <= end
                }
            } else {
                (entry.from..=entry.to).contains(&date)
            }
        })
    }
}

/// What happens to a job's fire on a day one of its calendars excludes.
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
pub enum OnExcluded {
    /// Not run: recorded `skipped`, "excluded by calendar <name>".
    #[default]
    Skip,
    /// Run on the next day no calendar of the job excludes, at the same local time (or at the
    /// job's next allowed fire when that comes first).
    Move,
}

impl WireEnum for OnExcluded {}

/// The calendars a job excludes, by name, with the copy of each it fires by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobCalendars {
    /// The calendars' names, as the job lists them (no duplicates).
    pub names: Vec<CalendarName>,
    /// Skip or move a fire on an excluded day.
    pub on_excluded: OnExcluded,
    /// The calendars, compiled, in `names` order once resolved by the job service (empty
    /// until then); the store keeps them with the job and rewrites them when a calendar
    /// changes.
    pub rules: Vec<CalendarRules>,
}

impl JobCalendars {
    /// The most calendars one job lists.
    pub const MAX: usize = 20;

    /// The furthest a fire is moved, in days; a fire with no allowed day within it is skipped.
    pub const MAX_MOVE_DAYS: u32 = 3_660;

    /// True when the job lists no calendar.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Reads a list of names: no duplicates, at most [`JobCalendars::MAX`].
    ///
    /// # Errors
    /// The first bad name's problem, [`Invalid::DuplicateName`] or `TooMany`.
    pub fn parse_names(raw: &[String]) -> Result<Vec<CalendarName>, Invalid> {
        if raw.len() > Self::MAX {
            return Err(Invalid::TooMany { max: Self::MAX });
        }
        let mut names: Vec<CalendarName> = Vec::with_capacity(raw.len());
        for text in raw {
            let name = CalendarName::parse(text)?;
            if names.contains(&name) {
                return Err(Invalid::DuplicateName {
                    name: name.to_string(),
                });
            }
            names.push(name);
        }
        Ok(names)
    }

    /// True when `rules` are those of `names`, in order.
    pub fn is_resolved(&self) -> bool {
        self.names.len() == self.rules.len()
            && self
                .names
                .iter()
                .zip(&self.rules)
                .all(|(n, r)| n == r.name())
    }

    /// These calendars with `defs` as their copies (found by the service in the tenant).
    ///
    /// # Errors
    /// [`Invalid::UnknownCalendar`] naming the first listed name without a definition.
    pub fn resolve(mut self, defs: &[CalendarDef]) -> Result<Self, Invalid> {
        let mut rules = Vec::with_capacity(self.names.len());
        for name in &self.names {
            let def = defs.iter().find(|def| &def.name == name).ok_or_else(|| {
                Invalid::UnknownCalendar {
                    name: name.to_string(),
                }
            })?;
            rules.push(CalendarRules::compile(def.clone()));
        }
        self.rules = rules;
        Ok(self)
    }

    /// These calendars with the copy of `def` replaced (when the job lists it).
    #[must_use]
    pub fn with_calendar(mut self, def: &CalendarDef) -> Self {
        for rule in &mut self.rules {
            if rule.name() == &def.name {
                *rule = CalendarRules::compile(def.clone());
            }
        }
        self
    }

    /// The end of the run of excluded days `at` is in, across these calendars: the latest
    /// [`CalendarRules::excluded_until`] of those excluding it (another calendar may still
    /// exclude that instant; callers look again). `None` when none excludes `at`.
    pub fn excluded_until(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.rules
            .iter()
            .filter_map(|rule| rule.excluded_until(at))
            .max()
    }

    /// The first calendar that excludes `at`, if any.
    pub fn excluded_by(&self, at: DateTime<Utc>) -> Option<&CalendarName> {
        self.rules
            .iter()
            .find(|rule| rule.excludes(at))
            .map(CalendarRules::name)
    }

    /// Where a moved fire at `at` runs (**the move rule**): the same local time (in `tz`) of
    /// the first later day none of these calendars excludes, or the first later fire of the
    /// schedule they do not exclude when that comes first. `next_fire` gives the schedule's
    /// fire after an instant (`None`: no more); the search for an allowed fire stops after
    /// 1,024 fires (a schedule whose every fire is excluded). `None` when neither exists.
    pub fn moved_to(
        &self,
        at: DateTime<Utc>,
        tz: chrono_tz::Tz,
        mut next_fire: impl FnMut(DateTime<Utc>) -> Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let mut next = next_fire(at);
        let mut allowed_fire = None;
        for _ in 0..1_024 {
            let Some(candidate) = next else { break };
            if self.excluded_by(candidate).is_none() {
                allowed_fire = Some(candidate);
                break;
            }
            next = next_fire(candidate);
        }
        match (self.next_allowed_day(at, tz), allowed_fire) {
            (Some(day), Some(fire)) => Some(day.min(fire)),
            (day, fire) => day.or(fire),
        }
    }

    /// The instant `at` moved to the same local time (in `tz`) of the first later day none
    /// of these calendars excludes; `None` when there is none within
    /// [`JobCalendars::MAX_MOVE_DAYS`]. A local time that day lacks (a DST gap) is read
    /// after the gap.
    pub fn next_allowed_day(&self, at: DateTime<Utc>, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&tz).naive_local();
        (1..=Self::MAX_MOVE_DAYS).find_map(|days| {
            let wall = local.checked_add_signed(Duration::days(i64::from(days)))?;
            let instant = tz
                .from_local_datetime(&wall)
                .earliest()
                .or_else(|| {
                    tz.from_local_datetime(&(wall + Duration::hours(1)))
                        .earliest()
                })?
                .with_timezone(&Utc);
            self.excluded_by(instant).is_none().then_some(instant)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn calendar(name: &str, zone: &str, dates: Value) -> CalendarDef {
        CalendarDraft {
            name: Some(name.into()),
            timezone: Some(zone.into()),
            dates: Some(dates),
            ..CalendarDraft::default()
        }
        .validate()
        .unwrap()
    }

    #[test]
    fn names_are_url_safe() {
        for good in ["uk-bank-holidays", "Q4.freeze", "a", "2026_ops"] {
            assert!(CalendarName::parse(good).is_ok(), "{good}");
        }
        for bad in ["-x", "a/b", "a b", "ä", "..", "x?y"] {
            assert_eq!(
                CalendarName::parse(bad),
                Err(Invalid::CalendarName),
                "{bad}"
            );
        }
        assert_eq!(CalendarName::parse(" "), Err(Invalid::Blank));
        assert_eq!(
            CalendarName::parse(&"a".repeat(65)),
            Err(Invalid::TooLong { max: 64 })
        );
    }

    #[test]
    fn entries_read_dates_ranges_and_yearly_days_and_name_each_problem() {
        let mut errors = ValidationErrors::new();
        let entries = CalendarDef::read_entries(
            &json!([
                {"date": "2026-12-25", "label": "Christmas Day"},
                {"from": "2026-08-03", "to": "2026-08-14"},
                {"date": "2026-01-01", "yearly": true},
            ]),
            &mut errors,
        )
        .unwrap();
        assert!(errors.is_empty());
        assert_eq!(entries[0].from, entries[0].to);
        assert_eq!(entries[0].label.as_deref(), Some("Christmas Day"));
        assert!(entries[2].yearly);
        let bad = json!([
            {"date": "2026-02-30"},
            {"from": "2026-08-14", "to": "2026-08-03"},
            {"from": "2026-01-01", "to": "2027-01-01", "yearly": true},
            {"date": "2026-01-01", "when": "x"},
            "2026-01-01",
            {"date": "2026-01-01", "to": "2026-01-02"},
            {"date": "2026-01-01", "yearly": "yes"},
        ]);
        let mut errors = ValidationErrors::new();
        assert!(CalendarDef::read_entries(&bad, &mut errors).is_none());
        let found: Vec<(&str, &Invalid)> = errors
            .iter()
            .map(|e| (e.field.as_str(), &e.problem))
            .collect();
        assert_eq!(
            found,
            [
                ("dates[0]", &Invalid::NotADate),
                ("dates[1]", &Invalid::DateRangeReversed),
                ("dates[2]", &Invalid::YearlyRangeTooLong),
                ("dates[3]", &Invalid::CalendarEntry),
                ("dates[4]", &Invalid::CalendarEntry),
                ("dates[5]", &Invalid::CalendarEntry),
                ("dates[6]", &Invalid::NotABoolean),
            ]
        );
    }

    #[test]
    fn a_draft_names_every_bad_field() {
        let errors = CalendarDraft {
            name: Some("a b".into()),
            timezone: Some("Mars/Olympus".into()),
            dates: Some(json!({"date": "2026-01-01"})),
            ..CalendarDraft::default()
        }
        .validate()
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "timezone", "dates"]);
        let missing = CalendarDraft::default().validate().unwrap_err();
        assert!(missing.has("name"));
    }

    #[test]
    fn one_time_and_yearly_days_are_excluded_in_the_calendars_zone() {
        let rules = CalendarRules::compile(calendar(
            "uk",
            "Europe/London",
            json!([
                {"date": "2026-12-25"},
                {"from": "2026-08-03", "to": "2026-08-05"},
                {"date": "2026-01-01", "yearly": true},
                {"from": "2025-12-31", "to": "2026-01-02", "yearly": true},
                {"date": "2024-02-29", "yearly": true},
            ]),
        ));
        for excluded in [
            "2026-12-25",
            "2026-08-03",
            "2026-08-04",
            "2026-08-05",
            "2031-01-01",
            "2030-12-31",
            "2027-01-02",
            "2028-02-29",
        ] {
            assert!(rules.excludes_date(day(excluded)), "{excluded}");
        }
        for allowed in [
            "2027-12-25",
            "2026-08-02",
            "2026-08-06",
            "2026-01-03",
            "2026-12-30",
            "2027-03-01",
            "2027-02-28",
        ] {
            assert!(!rules.excludes_date(day(allowed)), "{allowed}");
        }
        // 2026-08-02 23:30 UTC is already 3 August in London (BST).
        assert!(rules.excludes(utc("2026-08-02T23:30:00Z")));
        assert!(!rules.excludes(utc("2026-08-02T22:30:00Z")));
        assert_eq!(
            rules.entry_for(day("2030-12-31")).map(|e| e.from),
            Some(day("2025-12-31"))
        );
    }

    #[test]
    fn touching_and_overlapping_ranges_merge() {
        let rules = CalendarRules::compile(calendar(
            "x",
            "UTC",
            json!([
                {"from": "2026-01-05", "to": "2026-01-07"},
                {"from": "2026-01-01", "to": "2026-01-04"},
                {"from": "2026-01-06", "to": "2026-01-10"},
                {"date": "2026-03-01"},
            ]),
        ));
        assert_eq!(rules.once.len(), 2);
        assert!(rules.excludes_date(day("2026-01-04")) && rules.excludes_date(day("2026-01-10")));
        assert!(!rules.excludes_date(day("2026-01-11")) && !rules.excludes_date(day("2026-02-28")));
    }

    #[test]
    fn names_resolve_against_the_tenants_calendars() {
        let uk = calendar("uk", "UTC", json!([{"date": "2026-12-25"}]));
        let names = JobCalendars::parse_names(&["uk".into()]).unwrap();
        let calendars = JobCalendars {
            names,
            ..JobCalendars::default()
        };
        assert!(!calendars.is_resolved());
        let resolved = calendars
            .clone()
            .resolve(std::slice::from_ref(&uk))
            .unwrap();
        assert!(resolved.is_resolved());
        assert_eq!(
            resolved
                .excluded_by(utc("2026-12-25T09:00:00Z"))
                .map(CalendarName::as_str),
            Some("uk")
        );
        let changed = resolved.with_calendar(&calendar("uk", "UTC", json!([])));
        assert_eq!(changed.excluded_by(utc("2026-12-25T09:00:00Z")), None);
        assert_eq!(
            JobCalendars {
                names: JobCalendars::parse_names(&["us".into()]).unwrap(),
                ..JobCalendars::default()
            }
            .resolve(&[uk]),
            Err(Invalid::UnknownCalendar { name: "us".into() })
        );
        assert_eq!(
            JobCalendars::parse_names(&["a".into(), "a".into()]),
            Err(Invalid::DuplicateName { name: "a".into() })
        );
    }

    #[test]
    fn a_fire_moves_to_the_same_local_time_of_the_next_allowed_day() {
        let cal = JobCalendars {
            names: JobCalendars::parse_names(&["x".into()]).unwrap(),
            on_excluded: OnExcluded::Move,
            rules: Vec::new(),
        }
        .resolve(&[calendar(
            "x",
            "America/New_York",
            json!([{"from": "2026-03-07", "to": "2026-03-08"}]),
        )])
        .unwrap();
        let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
        // Saturday 7 March 2026 09:00 EST → Monday 9 March 09:00 EDT (clocks changed Sunday).
        assert_eq!(
            cal.next_allowed_day(utc("2026-03-07T14:00:00Z"), ny),
            Some(utc("2026-03-09T13:00:00Z"))
        );
        // 02:30 on the 8th does not exist; the 9th has it.
        assert_eq!(
            cal.next_allowed_day(utc("2026-03-07T07:30:00Z"), ny),
            Some(utc("2026-03-09T06:30:00Z"))
        );
    }
}
