//! The lenient readers of request input: a job body is read from any JSON value field by
//! field, and query parameters from their raw text, so a client hears about every wrong field
//! at once, by name. A field of the wrong JSON type becomes a reading error carried into the
//! core's draft, which validates the rest and reports both together.

use chrono::{DateTime, Utc};
use scheduler_core::{
    ApplyRequest, Invalid, JobDraft, JobListRequest, JobPatch, JobQuery, PolicyInput,
    RunListRequest, RunQuery, ValidationErrors,
};
use serde_json::{Map, Value};

use super::wire_time::parse_instant;

/// Reads the fields of a job body, recording a reading error per field that has the wrong
/// JSON type. `None` for an absent field (or one that failed), `Some(None)` for an explicit
/// null where null means something.
struct FieldReader<'a> {
    /// The body.
    body: &'a Map<String, Value>,
    /// The reading errors found so far.
    errors: ValidationErrors,
}

impl<'a> FieldReader<'a> {
    fn new(body: &'a Map<String, Value>) -> Self {
        Self {
            body,
            errors: ValidationErrors::new(),
        }
    }

    fn string(&mut self, field: &str) -> Option<Option<String>> {
        match self.body.get(field)? {
            Value::String(s) => Some(Some(s.clone())),
            Value::Null => Some(None),
            _ => {
                self.errors.add(field, Invalid::NotAString);
                None
            }
        }
    }

    fn non_null_string(&mut self, field: &str) -> Option<String> {
        match self.string(field)? {
            Some(s) => Some(s),
            None => {
                self.errors.add(field, Invalid::Null);
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
                self.errors.add(field, Invalid::NotAnInstant);
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
            Value::String(s) => parse_bool(s),
            _ => None,
        };
        if parsed.is_none() {
            let problem = if value.is_null() {
                Invalid::Null
            } else {
                Invalid::NotABoolean
            };
            self.errors.add(field, problem);
        }
        parsed
    }

    fn integer(&mut self, field: &str) -> Option<i64> {
        match self.body.get(field)? {
            Value::Number(n) if n.as_i64().is_some() => n.as_i64(),
            Value::String(s) if s.trim().parse::<i64>().is_ok() => s.trim().parse().ok(),
            Value::Null => {
                self.errors.add(field, Invalid::Null);
                None
            }
            _ => {
                self.errors.add(field, Invalid::NotAnInteger);
                None
            }
        }
    }

    /// A nullable integer: `Some(None)` for an explicit null.
    fn nullable_integer(&mut self, field: &str) -> Option<Option<i64>> {
        if self.body.get(field)?.is_null() {
            return Some(None);
        }
        self.integer(field).map(Some)
    }

    /// The three schedule fields. A null one counts as absent, so a client may write back
    /// the `null`s it read for the kinds a job does not use; `cron_expression: null` with no
    /// other kind is the seed's "may not be null".
    fn schedule(&mut self) -> (Option<String>, Option<i64>, Option<DateTime<Utc>>) {
        let cron = self.string("cron_expression");
        let interval = self.nullable_integer("interval_seconds").flatten();
        let run_at = self.instant("run_at").flatten();
        if cron == Some(None) && interval.is_none() && run_at.is_none() {
            self.errors.add("cron_expression", Invalid::Null);
        }
        (cron.flatten(), interval, run_at)
    }

    fn policy(&mut self) -> PolicyInput {
        PolicyInput {
            misfire_policy: self.non_null_string("misfire_policy"),
            misfire_grace_seconds: self.integer("misfire_grace_seconds"),
            catch_up_window_seconds: self.integer("catch_up_window_seconds"),
            concurrency_policy: self.non_null_string("concurrency_policy"),
            max_retries: self.integer("max_retries"),
            retry_backoff_seconds: self.integer("retry_backoff_seconds"),
            timeout_seconds: self.integer("timeout_seconds"),
            pause_after_failures: self.integer("pause_after_failures"),
            dst_overlap: self.non_null_string("dst_overlap"),
        }
    }

    /// A list of strings (`null` is an empty list).
    fn string_list(&mut self, field: &str) -> Option<Vec<String>> {
        match self.body.get(field)? {
            Value::Null => Some(Vec::new()),
            Value::Array(items) => {
                let strings: Option<Vec<String>> = items
                    .iter()
                    .map(|item| item.as_str().map(str::to_string))
                    .collect();
                if strings.is_none() {
                    self.errors.add(field, Invalid::NotAString);
                }
                strings
            }
            _ => {
                self.errors.add(field, Invalid::NotAList);
                None
            }
        }
    }

    fn json(&mut self, field: &str) -> Option<Value> {
        match self.body.get(field)? {
            Value::Null => {
                self.errors.add(field, Invalid::Null);
                None
            }
            other => Some(other.clone()),
        }
    }
}

/// The body as an object, or the original's error for any other JSON value.
///
/// # Errors
/// `non_field_errors` naming the JSON kind received.
pub fn as_object(body: &Value) -> Result<&Map<String, Value>, ValidationErrors> {
    let found = match body {
        Value::Object(map) => return Ok(map),
        Value::Array(_) => "list",
        Value::String(_) => "str",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Null => "null",
    };
    Err(ValidationErrors::single(
        "non_field_errors",
        Invalid::NotAnObjectBody { found },
    ))
}

/// A backfill's `from` and `to` as given (absent: `None`).
pub type BackfillRange = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Reads a backfill's body: `from` and `to` (absent ones are the core's to name).
///
/// # Errors
/// `non_field_errors` when the body is not an object; `from`/`to` when not instants.
pub fn read_backfill(body: &Value) -> Result<BackfillRange, ValidationErrors> {
    let body = as_object(body)?;
    let mut r = FieldReader::new(body);
    let range = (r.instant("from").flatten(), r.instant("to").flatten());
    if r.errors.is_empty() {
        Ok(range)
    } else {
        Err(r.errors)
    }
}

/// Reads an apply's body: `owner`, `prune`, `dry_run` and `jobs` (each job read as a POST
/// body is, its reading errors named `jobs[i].<field>`).
///
/// # Errors
/// `non_field_errors` when the body is not an object. A missing `owner` or `jobs`, or a
/// field of the wrong JSON type (`jobs[i]` for a job that is no object), travels in the
/// request's `input_errors`, reported with the core's.
pub fn read_apply(body: &Value) -> Result<ApplyRequest, ValidationErrors> {
    let body = as_object(body)?;
    let mut r = FieldReader::new(body);
    let owner = r.non_null_string("owner");
    if !body.contains_key("owner") {
        r.errors.add("owner", Invalid::Required);
    }
    let prune = r.boolean("prune").unwrap_or(false);
    let dry_run = r.boolean("dry_run").unwrap_or(false);
    let adopt = r.boolean("adopt").unwrap_or(false);
    let mut jobs = Vec::new();
    match body.get("jobs") {
        None => r.errors.add("jobs", Invalid::Required),
        Some(Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                match read_draft(item) {
                    Ok(draft) => jobs.push(draft),
                    Err(errors) => {
                        for error in errors.iter() {
                            r.errors
                                .add(format!("jobs[{index}]"), error.problem.clone());
                        }
                        // Keeps the later jobs at their index; the core skips it.
                        jobs.push(JobDraft::default());
                    }
                }
            }
        }
        Some(_) => r.errors.add("jobs", Invalid::NotAList),
    }
    Ok(ApplyRequest {
        owner: owner.unwrap_or_default(),
        jobs,
        prune,
        adopt,
        dry_run,
        input_errors: r.errors,
    })
}

/// Reads a POST/PUT body into a draft; its reading errors travel inside it.
///
/// # Errors
/// `non_field_errors` when the body is not an object.
pub fn read_draft(body: &Value) -> Result<JobDraft, ValidationErrors> {
    let body = as_object(body)?;
    let mut r = FieldReader::new(body);
    let name = r.non_null_string("name");
    let (cron_expression, interval_seconds, run_at) = r.schedule();
    Ok(JobDraft {
        name,
        cron_expression,
        interval_seconds,
        run_at,
        max_runs: r.nullable_integer("max_runs").flatten(),
        jitter_seconds: r.integer("jitter_seconds"),
        description: r.non_null_string("description"),
        start_time: r.instant("start_time").flatten(),
        end_time: r.instant("end_time").flatten(),
        timezone: r.non_null_string("timezone"),
        parameters: r.json("parameters"),
        is_active: r.boolean("is_active"),
        policy: r.policy(),
        target: body.get("target").cloned(),
        // Not writable through the API: a replace keeps the job's owner.
        source: None,
        managed_by: None,
        calendars: r.string_list("calendars"),
        on_excluded: r.non_null_string("on_excluded"),
        input_errors: r.errors,
    })
}

/// Reads a PATCH body: only present fields; `end_time: null` clears the end, `target: null`
/// removes the target. Its reading errors travel inside it.
///
/// # Errors
/// `non_field_errors` when the body is not an object.
pub fn read_patch(body: &Value) -> Result<JobPatch, ValidationErrors> {
    let body = as_object(body)?;
    let mut r = FieldReader::new(body);
    let start_time = match r.instant("start_time") {
        Some(None) => {
            r.errors.add("start_time", Invalid::Null);
            None
        }
        other => other.flatten(),
    };
    let name = r.non_null_string("name");
    let (cron_expression, interval_seconds, run_at) = r.schedule();
    Ok(JobPatch {
        name,
        cron_expression,
        interval_seconds,
        run_at,
        max_runs: r.nullable_integer("max_runs"),
        jitter_seconds: r.integer("jitter_seconds"),
        description: r.non_null_string("description"),
        timezone: r.non_null_string("timezone"),
        start_time,
        end_time: r.instant("end_time"),
        parameters: r.json("parameters"),
        is_active: r.boolean("is_active"),
        policy: r.policy(),
        target: body
            .get("target")
            .cloned()
            .map(|v| (!v.is_null()).then_some(v)),
        calendars: r.string_list("calendars"),
        on_excluded: r.non_null_string("on_excluded"),
        input_errors: r.errors,
    })
}

/// `true`/`false` as the original accepted them in bodies and query strings.
fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Reads raw query parameters, recording a reading error per bad one.
#[derive(Debug, Default)]
pub struct ParamReader {
    /// The reading errors found so far.
    pub errors: ValidationErrors,
}

impl ParamReader {
    /// The core's verdict on what was read, with the reading errors reported beside its own
    /// (a parameter that could not be read was passed on as absent, so it is named once).
    ///
    /// # Errors
    /// Every bad parameter.
    pub fn finish<T>(self, built: Result<T, ValidationErrors>) -> Result<T, ValidationErrors> {
        let mut errors = self.errors;
        match built {
            Ok(value) => errors.into_result(value),
            Err(more) => {
                errors.merge(more);
                Err(errors)
            }
        }
    }

    /// An integer parameter.
    pub fn integer(&mut self, field: &str, raw: Option<&str>) -> Option<i64> {
        let raw = raw?;
        let parsed = raw.trim().parse::<i64>().ok();
        if parsed.is_none() {
            self.errors.add(field, Invalid::NotAnInteger);
        }
        parsed
    }

    /// A boolean parameter.
    pub fn boolean(&mut self, field: &str, raw: Option<&str>) -> Option<bool> {
        let raw = raw?;
        let parsed = parse_bool(raw);
        if parsed.is_none() {
            self.errors.add(field, Invalid::NotABoolean);
        }
        parsed
    }

    /// An instant parameter.
    pub fn instant(&mut self, field: &str, raw: Option<&str>) -> Option<DateTime<Utc>> {
        let raw = raw?;
        let parsed = parse_instant(raw);
        if parsed.is_none() {
            self.errors.add(field, Invalid::NotAnInstant);
        }
        parsed
    }
}

/// The job list's query, read from its raw parameters (`page`, `page_size`, `is_active`,
/// `ordering`) as the handler receives them; what the `query` fuzz target exercises.
///
/// # Errors
/// Every bad parameter, each named.
pub fn read_job_query(
    page: Option<&str>,
    page_size: Option<&str>,
    is_active: Option<&str>,
    ordering: Option<&str>,
    search: Option<&str>,
    cursor: Option<&str>,
) -> Result<JobQuery, ValidationErrors> {
    let mut params = ParamReader::default();
    let request = JobListRequest {
        page: params.integer("page", page),
        page_size: params.integer("page_size", page_size),
        is_active: params.boolean("is_active", is_active),
        ordering: ordering.map(str::to_string),
        search: search.map(str::to_string),
        cursor: cursor.map(str::to_string),
    };
    params.finish(request.validate())
}

/// The raw query parameters of the run lists, as sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawRunQuery<'a> {
    /// `page`.
    pub page: Option<&'a str>,
    /// `page_size`.
    pub page_size: Option<&'a str>,
    /// `status`.
    pub status: Option<&'a str>,
    /// `trigger`.
    pub trigger: Option<&'a str>,
    /// `job_id` (the list across jobs only).
    pub job_id: Option<&'a str>,
    /// `scheduled_after`.
    pub scheduled_after: Option<&'a str>,
    /// `scheduled_before`.
    pub scheduled_before: Option<&'a str>,
    /// `cursor`.
    pub cursor: Option<&'a str>,
}

impl RawRunQuery<'_> {
    /// The run list's query; what both run list handlers and the `query` fuzz target use.
    ///
    /// # Errors
    /// Every bad parameter, each named.
    pub fn read(self) -> Result<RunQuery, ValidationErrors> {
        let mut params = ParamReader::default();
        let list = RunListRequest {
            page: params.integer("page", self.page),
            page_size: params.integer("page_size", self.page_size),
            status: self.status.map(str::to_string),
            trigger: self.trigger.map(str::to_string),
            job_id: params.integer("job_id", self.job_id),
            scheduled_after: params.instant("scheduled_after", self.scheduled_after),
            scheduled_before: params.instant("scheduled_before", self.scheduled_before),
            cursor: self.cursor.map(str::to_string),
        };
        params.finish(list.validate())
    }
}

/// The name of a resource written by `PUT` to its path (a calendar's, a channel's):
/// `path_name` when the body names none; a body naming another is refused, naming `name`.
pub(crate) fn name_from_path(
    name: &mut Option<String>,
    path_name: Option<&str>,
    errors: &mut ValidationErrors,
) {
    let Some(path_name) = path_name else {
        return;
    };
    match name {
        Some(given) if given.trim() != path_name => errors.add(
            "name",
            scheduler_core::Invalid::NotAChoice {
                value: given.clone(),
                choices: &["the name in the path"],
            },
        ),
        Some(_) => {}
        None => *name = Some(path_name.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrong_json_types_are_named_per_field() {
        let body = json!({"name": 5, "cron_expression": null, "is_active": "maybe", "start_time": 3, "extra": 1});
        let draft = read_draft(&body).unwrap();
        let found: Vec<(&str, &Invalid)> = draft
            .input_errors
            .iter()
            .map(|e| (e.field.as_str(), &e.problem))
            .collect();
        assert_eq!(
            found,
            [
                ("name", &Invalid::NotAString),
                ("cron_expression", &Invalid::Null),
                ("start_time", &Invalid::NotAnInstant),
                ("is_active", &Invalid::NotABoolean),
            ]
        );
        assert_eq!(draft.name, None);
    }

    #[test]
    fn a_body_that_is_not_an_object_is_named_by_its_kind() {
        let errors = read_draft(&json!([1])).unwrap_err();
        assert_eq!(
            errors,
            ValidationErrors::single(
                "non_field_errors",
                Invalid::NotAnObjectBody { found: "list" }
            )
        );
    }

    #[test]
    fn patch_distinguishes_absent_and_null_end_time() {
        let patch = read_patch(&json!({"end_time": null})).unwrap();
        assert_eq!(patch.end_time, Some(None));
        let patch = read_patch(&json!({})).unwrap();
        assert_eq!(patch.end_time, None);
        let patch = read_patch(&json!({"start_time": null})).unwrap();
        assert!(patch.input_errors.has("start_time"));
    }

    #[test]
    fn query_parameters_are_read_from_text() {
        let mut params = ParamReader::default();
        assert_eq!(params.integer("page", Some(" 3 ")), Some(3));
        assert_eq!(params.boolean("is_active", Some("FALSE")), Some(false));
        assert_eq!(params.integer("page_size", Some("x")), None);
        assert_eq!(params.boolean("is_active", None), None);
        assert!(params.errors.has("page_size") && !params.errors.has("is_active"));
    }
}
