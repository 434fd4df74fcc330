//! Wire types: the JSON the API reads and writes, and their conversion to and from the core.
//!
//! Request bodies are read loosely (any JSON object) and checked field by field here, so a
//! client hears about every failing field at once, by name, in the original service's words.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::marker::PhantomData;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use poem_openapi::{Object, types::Example};
use scheduler_core::{HttpTarget, Job, JobDraft, JobPatch, PolicyInput, ValidationErrors};
use serde_json::{Map, Value};

/// Formats an instant as RFC 3339 in UTC with `Z` (microseconds only when present).
pub fn format_instant(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// An instant on the wire: a `date-time` string in UTC ending in `Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcInstant(pub DateTime<Utc>);

impl Type for UtcInstant {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date-time".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        <DateTime<Utc> as Type>::schema_ref()
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for UtcInstant {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        value
            .as_ref()
            .and_then(Value::as_str)
            .and_then(parse_instant)
            .map(Self)
            .ok_or_else(|| ParseError::custom("expected an RFC 3339 date-time"))
    }
}

impl serde::Serialize for UtcInstant {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_instant(self.0))
    }
}

impl ToJSON for UtcInstant {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(format_instant(self.0)))
    }
}

/// A job as the API returns it (the original service's fields and names).
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "Job")]
pub struct JobOut {
    /// Database id.
    pub id: i64,
    /// Unique name (1-255 characters).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Standard 5-field cron expression (minute hour day-of-month month day-of-week).
    pub cron_expression: String,
    /// IANA time zone the expression is read in.
    pub timezone: String,
    /// No run before this instant.
    pub start_time: UtcInstant,
    /// No run after this instant.
    pub end_time: Option<UtcInstant>,
    /// When the job last ran.
    pub last_run: Option<UtcInstant>,
    /// When the job runs next: the first fire at or after `start_time` and after now; null
    /// when paused or past `end_time`.
    pub next_run: Option<UtcInstant>,
    /// JSON object handed to the job's handler.
    pub parameters: Value,
    /// False while paused.
    pub is_active: bool,
    /// `fire_once`: fires missed while every replica was down run once; `skip`: recorded as
    /// skipped.
    pub misfire_policy: String,
    /// How late a fire may be and still count as on time, in seconds.
    pub misfire_grace_seconds: u32,
    /// `allow` overlapping runs, or `forbid` (skip a fire while the previous run runs).
    pub concurrency_policy: String,
    /// Retries of a failed or timed-out run.
    pub max_retries: u32,
    /// First retry delay in seconds, doubled per retry.
    pub retry_backoff_seconds: u32,
    /// A run taking longer is stopped and marked `timed_out`.
    pub timeout_seconds: u32,
    /// `{"type": "http", "url", "method", "headers"}`, or null to run the handler registered
    /// for `parameters.action`.
    pub target: Option<Value>,
    /// Creation instant.
    pub created_at: UtcInstant,
    /// Last change instant.
    pub updated_at: UtcInstant,
}

impl From<Job> for JobOut {
    fn from(job: Job) -> Self {
        Self {
            id: job.id.0,
            name: job.spec.name.into(),
            description: job.spec.description.into(),
            cron_expression: job.spec.schedule.expression().to_string(),
            timezone: job.spec.timezone.name().to_string(),
            start_time: UtcInstant(job.spec.start_time),
            end_time: job.spec.end_time.map(UtcInstant),
            last_run: job.last_run.map(UtcInstant),
            next_run: job.next_run.map(UtcInstant),
            parameters: job.spec.parameters.into(),
            is_active: job.spec.is_active,
            misfire_policy: job.spec.policy.misfire.as_str().to_string(),
            misfire_grace_seconds: job.spec.policy.misfire_grace_seconds,
            concurrency_policy: job.spec.policy.concurrency.as_str().to_string(),
            max_retries: job.spec.policy.max_retries,
            retry_backoff_seconds: job.spec.policy.retry_backoff_seconds,
            timeout_seconds: job.spec.policy.timeout_seconds,
            target: job.spec.target.as_ref().map(HttpTarget::to_value),
            created_at: UtcInstant(job.created_at),
            updated_at: UtcInstant(job.updated_at),
        }
    }
}

/// One page of jobs, in the original's paginated shape.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "JobList")]
pub struct JobListOut {
    /// Jobs matching the filter across all pages.
    pub count: u64,
    /// URL of the next page, or null on the last.
    pub next: Option<String>,
    /// URL of the previous page, or null on the first.
    pub previous: Option<String>,
    /// This page's jobs.
    pub results: Vec<JobOut>,
}

/// The body of POST (and PUT): the documented shape. The server reads any JSON object and
/// ignores unknown fields.
#[derive(Debug, Clone, Object)]
#[oai(rename = "JobInput", example)]
pub struct JobInputDoc {
    /// Unique name, 1-255 characters after trimming.
    pub name: String,
    /// Standard 5-field cron expression; macros `@hourly`, `@daily`, `@midnight`, `@weekly`,
    /// `@monthly`, `@yearly`, `@annually`. Seconds are not supported.
    pub cron_expression: String,
    /// Free text, at most 10,000 characters. Default empty.
    pub description: Option<String>,
    /// RFC 3339 instant (a time without offset is read as UTC). Default now.
    pub start_time: Option<DateTime<Utc>>,
    /// RFC 3339 instant after `start_time`. Default none.
    pub end_time: Option<DateTime<Utc>>,
    /// IANA time zone name. Default `UTC`.
    pub timezone: Option<String>,
    /// JSON object, at most 64 KiB. Default `{}`.
    pub parameters: Option<Value>,
    /// Default true.
    pub is_active: Option<bool>,
    /// `fire_once` (default) or `skip`.
    pub misfire_policy: Option<String>,
    /// 0-86400, default 60.
    pub misfire_grace_seconds: Option<u32>,
    /// `allow` (default) or `forbid`.
    pub concurrency_policy: Option<String>,
    /// 0-100, default 0.
    pub max_retries: Option<u32>,
    /// 1-86400, default 10.
    pub retry_backoff_seconds: Option<u32>,
    /// 1-86400, default 300.
    pub timeout_seconds: Option<u32>,
    /// `{"type": "http", "url": "https://...", "method": "POST", "headers": {}}`; only http
    /// and https URLs. Default none.
    pub target: Option<Value>,
}

impl Example for JobInputDoc {
    fn example() -> Self {
        Self {
            name: "Weekly Report".into(),
            cron_expression: "0 9 * * 1".into(),
            description: Some("Generate weekly sales report".into()),
            start_time: "2025-06-23T09:00:00Z".parse().ok(),
            end_time: None,
            timezone: Some("UTC".into()),
            parameters: Some(
                serde_json::json!({"report_type": "weekly", "recipients": ["sales@example.com"]}),
            ),
            is_active: Some(true),
            misfire_policy: None,
            misfire_grace_seconds: None,
            concurrency_policy: None,
            max_retries: None,
            retry_backoff_seconds: None,
            timeout_seconds: None,
            target: None,
        }
    }
}

/// The body of PATCH: any subset of the writable fields.
#[derive(Debug, Clone, Object)]
#[oai(rename = "JobPatch")]
pub struct JobPatchDoc {
    /// New unique name.
    pub name: Option<String>,
    /// New expression; `next_run` is recomputed.
    pub cron_expression: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New start; `next_run` is recomputed.
    pub start_time: Option<DateTime<Utc>>,
    /// New end, or null to remove it; `next_run` is recomputed.
    pub end_time: Option<DateTime<Utc>>,
    /// New zone; `next_run` is recomputed.
    pub timezone: Option<String>,
    /// New parameters (replaces the whole object).
    pub parameters: Option<Value>,
    /// Pause (false) or resume (true).
    pub is_active: Option<bool>,
    /// `fire_once` or `skip`.
    pub misfire_policy: Option<String>,
    /// 0-86400.
    pub misfire_grace_seconds: Option<u32>,
    /// `allow` or `forbid`.
    pub concurrency_policy: Option<String>,
    /// 0-100.
    pub max_retries: Option<u32>,
    /// 1-86400.
    pub retry_backoff_seconds: Option<u32>,
    /// 1-86400.
    pub timeout_seconds: Option<u32>,
    /// New target, or null to remove it.
    pub target: Option<Value>,
}

/// A JSON response body written straight from `T`'s `Serialize` (one pass, no intermediate
/// `serde_json::Value` as poem-openapi's `Json` builds), documented with `T`'s schema.
#[derive(Debug)]
pub struct FastJson<T>(pub T);

/// The content type of every JSON response body.
const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

impl<T: Type + Send> poem_openapi::payload::Payload for FastJson<T> {
    const CONTENT_TYPE: &'static str = JSON_CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: serde::Serialize + Send> poem::IntoResponse for FastJson<T> {
    fn into_response(self) -> poem::Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => poem::Response::builder()
                .content_type(JSON_CONTENT_TYPE)
                .body(body),
            Err(_) => poem::Response::builder()
                .status(poem::http::StatusCode::INTERNAL_SERVER_ERROR)
                .finish(),
        }
    }
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

/// Field errors in the original's shape: `{"<field>": ["<message>", ...]}`.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// Converts collected validation errors into the wire shape.
pub fn field_errors(errors: &ValidationErrors) -> FieldErrors {
    let mut out = FieldErrors::new();
    for error in errors.iter() {
        out.entry(error.field.clone())
            .or_default()
            .push(error.message.clone());
    }
    out
}

const NOT_NULL: &str = "This field may not be null.";

/// The message for an instant that cannot be read (the original's wording).
pub const DATETIME_FORMAT: &str = "Datetime has wrong format. Use one of these formats instead: \
     YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

/// Parses an instant the way the original did: RFC 3339 / ISO 8601 with `T` or a space, an
/// optional fraction, and `Z`, an offset, or no offset (read as UTC).
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let normalized = text.replacen(' ', "T", 1);
    if let Ok(t) = DateTime::parse_from_rfc3339(&normalized) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z"] {
        if let Ok(t) = DateTime::parse_from_str(&normalized, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    let naive = normalized.trim_end_matches('Z');
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, format) {
            return Some(t.and_utc());
        }
    }
    None
}

/// Reads the fields of a job body, recording a type error per field that has the wrong JSON
/// type. `Ok(None)` for an absent field, `Ok(Some(None))` for an explicit null.
struct FieldReader<'a> {
    body: &'a Map<String, Value>,
    errors: ValidationErrors,
}

impl FieldReader<'_> {
    fn string(&mut self, field: &str) -> Option<Option<String>> {
        match self.body.get(field)? {
            Value::String(s) => Some(Some(s.clone())),
            Value::Null => Some(None),
            _ => {
                self.errors.add(field, "Not a valid string.");
                None
            }
        }
    }

    fn non_null_string(&mut self, field: &str) -> Option<String> {
        match self.string(field)? {
            Some(s) => Some(s),
            None => {
                self.errors.add(field, NOT_NULL);
                None
            }
        }
    }

    fn instant(&mut self, field: &str) -> Option<Option<DateTime<Utc>>> {
        let value = self.body.get(field)?;
        if value.is_null() {
            return Some(None);
        }
        match value.as_str().and_then(parse_instant) {
            Some(t) => Some(Some(t)),
            None => {
                self.errors.add(field, DATETIME_FORMAT);
                None
            }
        }
    }

    fn boolean(&mut self, field: &str) -> Option<bool> {
        let value = self.body.get(field)?;
        let parsed = match value {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => match n.as_i64() {
                Some(1) => Some(true),
                Some(0) => Some(false),
                _ => None,
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Some(true),
                "false" | "0" | "no" | "off" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            let message = if value.is_null() {
                NOT_NULL
            } else {
                "Must be a valid boolean."
            };
            self.errors.add(field, message);
        }
        parsed
    }

    fn integer(&mut self, field: &str) -> Option<i64> {
        match self.body.get(field)? {
            Value::Number(n) if n.as_i64().is_some() => n.as_i64(),
            Value::String(s) if s.trim().parse::<i64>().is_ok() => s.trim().parse().ok(),
            Value::Null => {
                self.errors.add(field, NOT_NULL);
                None
            }
            _ => {
                self.errors.add(field, "A valid integer is required.");
                None
            }
        }
    }

    fn policy(&mut self) -> PolicyInput {
        PolicyInput {
            misfire_policy: self.non_null_string("misfire_policy"),
            misfire_grace_seconds: self.integer("misfire_grace_seconds"),
            concurrency_policy: self.non_null_string("concurrency_policy"),
            max_retries: self.integer("max_retries"),
            retry_backoff_seconds: self.integer("retry_backoff_seconds"),
            timeout_seconds: self.integer("timeout_seconds"),
        }
    }

    fn json(&mut self, field: &str) -> Option<Value> {
        match self.body.get(field)? {
            Value::Null => {
                self.errors.add(field, NOT_NULL);
                None
            }
            other => Some(other.clone()),
        }
    }
}

/// The body was not a JSON object.
pub fn not_an_object(value: &Value) -> ValidationErrors {
    let kind = match value {
        Value::Array(_) => "list",
        Value::String(_) => "str",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Null => "null",
        Value::Object(_) => "dict",
    };
    ValidationErrors::single(
        "non_field_errors",
        format!("Invalid data. Expected a dictionary, but got {kind}."),
    )
}

/// Reads a POST/PUT body into a draft; type errors come back beside it, to be merged with the
/// core's validation (which skips fields that already failed here).
pub fn read_draft(body: &Map<String, Value>) -> (JobDraft, ValidationErrors) {
    let mut r = FieldReader {
        body,
        errors: ValidationErrors::new(),
    };
    let name = r.non_null_string("name");
    let cron_expression = r.non_null_string("cron_expression");
    let description = r.non_null_string("description");
    let start_time = r.instant("start_time").flatten();
    let end_time = r.instant("end_time").flatten();
    let timezone = r.non_null_string("timezone");
    let parameters = r.json("parameters");
    let is_active = r.boolean("is_active");
    let policy = r.policy();
    let target = body.get("target").cloned();
    let draft = JobDraft {
        name,
        cron_expression,
        description,
        timezone,
        start_time,
        end_time,
        parameters,
        is_active,
        policy,
        target,
    };
    (draft, r.errors)
}

/// Reads a PATCH body: only present fields; `end_time: null` clears the end.
///
/// # Errors
/// Every field with the wrong type.
pub fn read_patch(body: &Map<String, Value>) -> Result<JobPatch, ValidationErrors> {
    let mut r = FieldReader {
        body,
        errors: ValidationErrors::new(),
    };
    let patch = JobPatch {
        name: r.non_null_string("name"),
        cron_expression: r.non_null_string("cron_expression"),
        description: r.non_null_string("description"),
        timezone: r.non_null_string("timezone"),
        start_time: match r.instant("start_time") {
            Some(None) => {
                r.errors.add("start_time", NOT_NULL);
                None
            }
            other => other.flatten(),
        },
        end_time: r.instant("end_time"),
        parameters: r.json("parameters"),
        is_active: r.boolean("is_active"),
        policy: r.policy(),
        target: body
            .get("target")
            .cloned()
            .map(|v| (!v.is_null()).then_some(v)),
    };
    r.errors.into_result(patch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn instants_are_read_in_the_usual_iso_forms() {
        let expected: DateTime<Utc> = "2025-06-23T09:00:00Z".parse().unwrap();
        for text in [
            "2025-06-23T09:00:00Z",
            "2025-06-23T09:00:00+00:00",
            "2025-06-23T11:00:00+02:00",
            "2025-06-23T11:00:00+0200",
            "2025-06-23 09:00:00Z",
            "2025-06-23T09:00:00",
            "2025-06-23T09:00",
            "2025-06-23T09:00:00.000",
        ] {
            assert_eq!(parse_instant(text), Some(expected), "{text}");
        }
        assert_eq!(parse_instant("next tuesday"), None);
        assert_eq!(parse_instant("2025-13-01T00:00:00Z"), None);
    }

    #[test]
    fn instants_are_written_in_utc_with_z() {
        let t: DateTime<Utc> = "2025-06-23T11:00:00.123456+02:00".parse().unwrap();
        assert_eq!(format_instant(t), "2025-06-23T09:00:00.123456Z");
        let t: DateTime<Utc> = "2025-06-23T09:00:00Z".parse().unwrap();
        assert_eq!(format_instant(t), "2025-06-23T09:00:00Z");
    }

    #[test]
    fn wrong_json_types_are_named_per_field() {
        let body = json!({"name": 5, "cron_expression": null, "is_active": "maybe", "start_time": 3, "extra": 1});
        let (draft, errors) = read_draft(body.as_object().unwrap());
        let wire = field_errors(&errors);
        assert_eq!(wire["name"], ["Not a valid string."]);
        assert_eq!(wire["cron_expression"], [NOT_NULL]);
        assert_eq!(wire["is_active"], ["Must be a valid boolean."]);
        assert!(wire["start_time"][0].starts_with("Datetime has wrong format"));
        assert_eq!(draft.name, None);
    }

    #[test]
    fn patch_distinguishes_absent_and_null_end_time() {
        let patch = read_patch(json!({"end_time": null}).as_object().unwrap()).unwrap();
        assert_eq!(patch.end_time, Some(None));
        let patch = read_patch(json!({}).as_object().unwrap()).unwrap();
        assert_eq!(patch.end_time, None);
    }
}
