//! Documentation-only input types: the schemas the OpenAPI document shows for request bodies
//! and raw parameters, and the plumbing that reads input as sent while documenting it with
//! those schemas.
//!
//! Why: poem-openapi rejects a body that does not match its type with one generic message.
//! The original service names every failing field, so bodies are read as any JSON value
//! (`LooseBody`) and checked field by field (`body.rs`), while the document shows the shape
//! a client should send (`JobInputDoc`). The schemas state the same limits the domain
//! enforces, so a generated client sends what the server accepts.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{Example, ParseFromJSON, ParseFromParameter, ParseResult, Type};
use scheduler_core::{ConcurrencyPolicy, DstOverlap, MisfirePolicy, OnExcluded};
use serde_json::Value;

use super::choices::{OneOf, TargetMethods, TargetTypes, Timezones};
use super::output::JsonObject;

/// The body of a backfill, as documented (read field by field, `api/body.rs`).
#[derive(Debug, Clone, Object)]
#[oai(rename = "BackfillRange", example)]
pub struct BackfillDoc {
    /// The range's first instant (inclusive), RFC 3339.
    pub from: DateTime<Utc>,
    /// Its end (exclusive), RFC 3339, not in the future; at most 1,000 fires of the schedule
    /// in between.
    pub to: DateTime<Utc>,
}

impl Example for BackfillDoc {
    fn example() -> Self {
        Self {
            from: "2030-01-06T09:00:00Z".parse().unwrap_or_default(),
            to: "2030-01-06T10:00:00Z".parse().unwrap_or_default(),
        }
    }
}

/// One excluded date or range of a calendar, as documented (read by the core,
/// `CalendarEntry::parse`).
#[derive(Debug, Clone, Object)]
#[oai(rename = "CalendarDate")]
pub struct CalendarDateDoc {
    /// A single day, `YYYY-MM-DD` (instead of `from`/`to`).
    pub date: Option<chrono::NaiveDate>,
    /// The first day of a range, `YYYY-MM-DD`.
    pub from: Option<chrono::NaiveDate>,
    /// The last day of the range (included); default `from`.
    pub to: Option<chrono::NaiveDate>,
    /// True: the same days every year (a fixed holiday; a range over New Year wraps, 29
    /// February counts only in leap years). Default false.
    pub yearly: Option<bool>,
    /// What the days are, at most 200 characters.
    #[oai(validator(max_length = 200))]
    pub label: Option<String>,
}

/// The body of creating or replacing a calendar, as documented (read field by field).
#[derive(Debug, Clone, Object)]
#[oai(rename = "CalendarInput", example)]
pub struct CalendarInputDoc {
    /// Unique in your tenant: 1-64 characters of letters, digits, `-`, `_`, `.`, starting
    /// with a letter or digit. In a PUT, the name in the path.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub name: Option<String>,
    /// The IANA zone its dates are read in (a job's fire is excluded when its date there is
    /// listed). Default `UTC`.
    pub timezone: Option<OneOf<Timezones>>,
    /// Free text, at most 10,000 characters.
    #[oai(validator(max_length = 10000))]
    pub description: Option<String>,
    /// The excluded days, at most 2,000 entries. `schedulerctl calendars import` reads them
    /// from an iCalendar (`.ics`) file.
    #[oai(validator(max_items = 2000))]
    pub dates: Option<Vec<CalendarDateDoc>>,
}

impl Example for CalendarInputDoc {
    fn example() -> Self {
        let day = |text: &str| text.parse().ok();
        Self {
            name: Some("uk-bank-holidays".into()),
            timezone: Some(OneOf::new("Europe/London")),
            description: Some("England and Wales".into()),
            dates: Some(vec![
                CalendarDateDoc {
                    date: day("2026-12-25"),
                    from: None,
                    to: None,
                    yearly: Some(true),
                    label: Some("Christmas Day".into()),
                },
                CalendarDateDoc {
                    date: None,
                    from: day("2026-08-03"),
                    to: day("2026-08-14"),
                    yearly: None,
                    label: Some("Summer shutdown".into()),
                },
            ]),
        }
    }
}

/// An integer parameter documented with the range the server accepts (`MAX` = `i64::MAX`
/// means unbounded above); the value itself is checked by the core.
pub struct IntRange<const MIN: i64, const MAX: i64>(i64);

impl<const MIN: i64, const MAX: i64> Type for IntRange<MIN, MAX> {
    const IS_REQUIRED: bool = true;
    type RawValueType = i64;
    type RawElementValueType = i64;

    fn name() -> Cow<'static, str> {
        format!("integer({MIN}..={MAX})").into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            minimum: Some(MIN as f64),
            maximum: (MAX != i64::MAX).then_some(MAX as f64),
            ..MetaSchema::new_with_format("integer", "int64")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

/// Where runs are delivered: each run is sent as JSON to `url`.
#[derive(Debug, Clone, Object)]
#[oai(rename = "HttpTargetInput")]
pub struct TargetIn {
    /// Always `http`.
    #[oai(rename = "type")]
    pub kind: OneOf<TargetTypes>,
    /// An `http://` or `https://` URL naming a host.
    #[oai(validator(max_length = 2048, pattern = r"^https?://[^/\s]\S*$"))]
    pub url: String,
    /// Default `POST`.
    pub method: Option<OneOf<TargetMethods>>,
    /// Extra request headers: names of letters, digits, `-` and `_`, values without line
    /// breaks.
    #[oai(validator(max_properties = 32))]
    pub headers: Option<BTreeMap<String, String>>,
}

/// The body of POST (and PUT): the documented shape. The server reads any JSON object and
/// ignores unknown fields.
#[derive(Object)]
#[oai(rename = "JobInput", example)]
pub struct JobInputDoc {
    /// Unique name, 1-255 characters after trimming.
    #[oai(validator(min_length = 1, max_length = 255))]
    pub name: String,
    /// Standard 5-field cron expression (at most 255 characters); macros `@hourly`,
    /// `@daily`, `@midnight`, `@weekly`, `@monthly`, `@yearly`, `@annually`. Seconds are not
    /// supported. A job has exactly one of `cron_expression`, `interval_seconds` and
    /// `run_at` (a null one counts as absent); with none, `cron_expression` is the field
    /// named missing.
    #[oai(validator(min_length = 1, max_length = 255))]
    pub cron_expression: Option<String>,
    /// Every this many seconds (1 to 31,622,400: 366 days), anchored at `start_time`: fire
    /// k is at `start_time + k·interval_seconds`, so a late fire never shifts the next ones,
    /// and a DST change does not either (the interval is real seconds).
    #[oai(validator(minimum(value = "1"), maximum(value = "31622400")))]
    pub interval_seconds: Option<u32>,
    /// Once, at this RFC 3339 instant, which must be in the future (and within
    /// `start_time`..`end_time`). After it fires the job is `completed`.
    pub run_at: Option<DateTime<Utc>>,
    /// Complete the job after this many scheduled fires have run (1 to 1,000,000; retries
    /// and manual runs do not count). Default none: no limit.
    #[oai(validator(minimum(value = "1"), maximum(value = "1000000")))]
    pub max_runs: Option<u32>,
    /// Delay each fire by up to this many seconds (0-3600, and less than the shortest gap
    /// between two fires of the schedule): a pseudo-random delay, the same on every replica
    /// for a given job name and fire instant, spread uniformly. The run keeps its
    /// `scheduled_for` and records `due_at`. Default 0.
    #[oai(validator(minimum(value = "0"), maximum(value = "3600")))]
    pub jitter_seconds: Option<u32>,
    /// Free text, at most 10,000 characters. Default empty.
    #[oai(validator(max_length = 10000))]
    pub description: Option<String>,
    /// RFC 3339 instant (a time without offset is read as UTC). Default now.
    pub start_time: Option<DateTime<Utc>>,
    /// RFC 3339 instant after `start_time`. Default none.
    #[oai(nullable)]
    pub end_time: Option<DateTime<Utc>>,
    /// IANA time zone name. Default `UTC`.
    pub timezone: Option<OneOf<Timezones>>,
    /// JSON object, at most 64 KiB serialized. Default `{}`.
    pub parameters: Option<JsonObject>,
    /// Default true.
    pub is_active: Option<bool>,
    /// Default `fire_once` (run once for everything missed); `skip` (record a skipped run);
    /// `catch_up` (run each missed fire within `catch_up_window_seconds`, oldest first, the
    /// last 100 at most, and record an older one as skipped).
    pub misfire_policy: Option<OneOf<MisfirePolicy>>,
    /// Default 60.
    #[oai(validator(minimum(value = "0"), maximum(value = "86400")))]
    pub misfire_grace_seconds: Option<u32>,
    /// With `misfire_policy: catch_up`: how far back missed fires are run, 1-604800 seconds
    /// (the last 100 of them at most, oldest first). Default 3600.
    #[oai(validator(minimum(value = "1"), maximum(value = "604800")))]
    pub catch_up_window_seconds: Option<u32>,
    /// A fire while the job's previous run still runs: `allow` (default: run side by side),
    /// `forbid` (record it skipped), `replace` (stop the running run, recorded `cancelled`,
    /// and start the new one), `buffer_one` (keep it pending, at most one — later fires
    /// fold into it — and start it within a second of the running run's end).
    pub concurrency_policy: Option<OneOf<ConcurrencyPolicy>>,
    /// Default 0.
    #[oai(validator(minimum(value = "0"), maximum(value = "100")))]
    pub max_retries: Option<u32>,
    /// Default 10.
    #[oai(validator(minimum(value = "1"), maximum(value = "86400")))]
    pub retry_backoff_seconds: Option<u32>,
    /// Default 300.
    #[oai(validator(minimum(value = "1"), maximum(value = "86400")))]
    pub timeout_seconds: Option<u32>,
    /// Pause the job after this many consecutive failed runs (retries exhausted), keeping
    /// the reason ("auto-paused after N consecutive failures: <last error>"); 0-1000,
    /// default 0: never.
    #[oai(validator(minimum(value = "0"), maximum(value = "1000")))]
    pub pause_after_failures: Option<u32>,
    /// A cron job's fixed local time that occurs twice when clocks go back: `once` (the
    /// default: at its first occurrence) or `twice` (at both). Intervals and one-offs count
    /// real time and are not affected.
    pub dst_overlap: Option<OneOf<DstOverlap>>,
    /// Names of your tenant's calendars (`/scheduler/calendars/`, at most 20) whose days
    /// the job does not fire on. Changing a calendar recomputes every job using it.
    /// Default none.
    #[oai(validator(max_items = 20))]
    pub calendars: Option<Vec<String>>,
    /// A fire on a day one of `calendars` excludes: `skip` (default: recorded as a `skipped`
    /// run, "excluded by calendar <name>") or `move` (run at the same local time on the next
    /// day no calendar excludes — or at the job's next allowed fire when that comes first,
    /// as one run — keeping its `scheduled_for`).
    pub on_excluded: Option<OneOf<OnExcluded>>,
    /// Where runs are delivered. Default none: the handler registered for
    /// `parameters.action` runs.
    #[oai(nullable)]
    pub target: Option<TargetIn>,
}

impl Example for JobInputDoc {
    fn example() -> Self {
        Self {
            name: "Weekly Report".into(),
            cron_expression: Some("0 9 * * 1".into()),
            interval_seconds: None,
            run_at: None,
            max_runs: None,
            jitter_seconds: None,
            description: Some("Generate weekly sales report".into()),
            start_time: "2025-06-23T09:00:00Z".parse().ok(),
            end_time: None,
            timezone: Some(OneOf::new("UTC")),
            parameters: Some(JsonObject(
                serde_json::json!({"report_type": "weekly", "recipients": ["sales@example.com"]}),
            )),
            is_active: Some(true),
            misfire_policy: None,
            misfire_grace_seconds: None,
            catch_up_window_seconds: None,
            concurrency_policy: None,
            max_retries: None,
            retry_backoff_seconds: None,
            timeout_seconds: None,
            pause_after_failures: Some(5),
            dst_overlap: None,
            calendars: Some(vec!["uk-bank-holidays".into()]),
            on_excluded: Some(OneOf::new("skip")),
            target: None,
        }
    }
}

/// The body of PATCH: any subset of the writable fields.
#[derive(Object)]
#[oai(rename = "JobPatch")]
pub struct JobPatchDoc {
    /// New unique name, 1-255 characters after trimming.
    #[oai(validator(min_length = 1, max_length = 255))]
    pub name: Option<String>,
    /// New expression; the job becomes a cron job and `next_run` is recomputed. Give at
    /// most one of `cron_expression`, `interval_seconds` and `run_at`.
    #[oai(validator(min_length = 1, max_length = 255))]
    pub cron_expression: Option<String>,
    /// New interval; the job becomes an interval job anchored at its `start_time`.
    #[oai(validator(minimum(value = "1"), maximum(value = "31622400")))]
    pub interval_seconds: Option<u32>,
    /// New instant (in the future); the job becomes a one-off.
    pub run_at: Option<DateTime<Utc>>,
    /// New limit of scheduled fires, or null to remove it; raising it resumes a job that
    /// completed by it.
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "1000000")))]
    pub max_runs: Option<u32>,
    /// New jitter, 0-3600 seconds (0 removes it).
    #[oai(validator(minimum(value = "0"), maximum(value = "3600")))]
    pub jitter_seconds: Option<u32>,
    /// New description.
    #[oai(validator(max_length = 10000))]
    pub description: Option<String>,
    /// New start; `next_run` is recomputed.
    pub start_time: Option<DateTime<Utc>>,
    /// New end, or null to remove it; `next_run` is recomputed.
    #[oai(nullable)]
    pub end_time: Option<DateTime<Utc>>,
    /// New zone; `next_run` is recomputed.
    pub timezone: Option<OneOf<Timezones>>,
    /// New parameters (replaces the whole object).
    pub parameters: Option<JsonObject>,
    /// Pause (false) or resume (true).
    pub is_active: Option<bool>,
    /// New misfire policy.
    pub misfire_policy: Option<OneOf<MisfirePolicy>>,
    /// 0-86400.
    #[oai(validator(minimum(value = "0"), maximum(value = "86400")))]
    pub misfire_grace_seconds: Option<u32>,
    /// 1-604800.
    #[oai(validator(minimum(value = "1"), maximum(value = "604800")))]
    pub catch_up_window_seconds: Option<u32>,
    /// New concurrency policy.
    pub concurrency_policy: Option<OneOf<ConcurrencyPolicy>>,
    /// 0-100.
    #[oai(validator(minimum(value = "0"), maximum(value = "100")))]
    pub max_retries: Option<u32>,
    /// 1-86400.
    #[oai(validator(minimum(value = "1"), maximum(value = "86400")))]
    pub retry_backoff_seconds: Option<u32>,
    /// 1-86400.
    #[oai(validator(minimum(value = "1"), maximum(value = "86400")))]
    pub timeout_seconds: Option<u32>,
    /// 0 (never) to 1000.
    #[oai(validator(minimum(value = "0"), maximum(value = "1000")))]
    pub pause_after_failures: Option<u32>,
    /// `once` or `twice`.
    pub dst_overlap: Option<OneOf<DstOverlap>>,
    /// New list of calendar names (replacing the list; `[]` removes them all); `next_run`
    /// is recomputed.
    #[oai(validator(max_items = 20))]
    pub calendars: Option<Vec<String>>,
    /// `skip` or `move`.
    pub on_excluded: Option<OneOf<OnExcluded>>,
    /// New target, or null to remove it.
    #[oai(nullable)]
    pub target: Option<TargetIn>,
}

/// Input kept as sent (`Raw`) and checked by the handler — so a bad value becomes a field
/// error in the original's shape, not poem-openapi's generic one — while the OpenAPI document
/// shows the schema of `Doc`.
pub struct Documented<Raw, Doc> {
    /// The input as sent.
    pub raw: Raw,
    /// Which documented schema this input stands for.
    _doc: PhantomData<Doc>,
}

impl<Raw, Doc> Documented<Raw, Doc> {
    fn new(raw: Raw) -> Self {
        Self {
            raw,
            _doc: PhantomData,
        }
    }
}

/// A request body read as any JSON value, documented as `Doc`.
pub type LooseBody<Doc> = Documented<Value, Doc>;

/// A query or path parameter kept as text, documented as `T`.
pub type RawParam<T> = Documented<String, T>;

/// A query parameter documented as required (and as `T`) but read as optional, so that its
/// absence is reported by the core in the original's words, beside the other parameters.
pub type RequiredParam<T> = Documented<Option<String>, T>;

impl<Raw: Send + Sync, Doc: Type> Type for Documented<Raw, Doc> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Raw;
    type RawElementValueType = Raw;

    fn name() -> Cow<'static, str> {
        Doc::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        Doc::schema_ref()
    }

    fn register(registry: &mut Registry) {
        Doc::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.raw)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<Doc: Type> ParseFromJSON for LooseBody<Doc> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Ok(Self::new(value.unwrap_or(Value::Null)))
    }
}

impl<T: Type> ParseFromParameter for RawParam<T> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self::new(value.to_string()))
    }
}

impl<T: Type> ParseFromParameter for RequiredParam<T> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self::new(Some(value.to_string())))
    }

    fn parse_from_parameters<I: IntoIterator<Item = A>, A: AsRef<str>>(
        iter: I,
    ) -> ParseResult<Self> {
        let first = iter.into_iter().next();
        Ok(Self::new(first.map(|value| value.as_ref().to_string())))
    }
}

/// The raw text of an optional parameter.
pub fn raw<T>(param: &Option<RawParam<T>>) -> Option<&str> {
    param.as_ref().map(|p| p.raw.as_str())
}
