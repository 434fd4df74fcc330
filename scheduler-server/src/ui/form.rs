//! The create/edit form of a job: the posted fields, their translation into the API's JSON
//! body (read by the API's own readers, `read_draft`/`read_patch`, so the form validates
//! exactly as `POST`/`PATCH /scheduler/jobs/` do), and the form itself with each field's
//! errors, worded by the server's `error::wording`, beside the field. The calendars a job
//! excludes are typed as comma-separated names ([`calendar_names`]).

use std::collections::BTreeMap;

use maud::{Markup, html};
use serde_json::{Map, Value};

use scheduler_core::{HttpTarget, Job, OnExcluded, Parameters, RunPolicy, Timezone, WireEnum};

use super::cookies::CSRF_FIELD;
use super::viewer::Viewer;
use crate::api::wire_time::format_instant;
use crate::error::FieldErrors;

/// The fields of a posted form, as sent (`application/x-www-form-urlencoded`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    /// Reads an urlencoded body; an unreadable body has no fields.
    pub fn parse(body: &str) -> Self {
        Self(serde_urlencoded::from_str(body).unwrap_or_default())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The text fields of the job form, in the order shown.
const TEXT_FIELDS: [&str; 24] = [
    "name",
    "cron_expression",
    "interval_seconds",
    "run_at",
    "max_runs",
    "jitter_seconds",
    "timezone",
    "description",
    "parameters",
    "start_time",
    "end_time",
    "target_url",
    "target_method",
    "misfire_policy",
    "misfire_grace_seconds",
    "catch_up_window_seconds",
    "concurrency_policy",
    "max_retries",
    "retry_backoff_seconds",
    "timeout_seconds",
    "pause_after_failures",
    "dst_overlap",
    "calendars",
    "on_excluded",
];

/// The integer fields (sent as JSON numbers when they read as one, else as text, which the
/// API's reader refuses with its own message).
const INTEGER_FIELDS: [&str; 7] = [
    "pause_after_failures",
    "catch_up_window_seconds",
    "jitter_seconds",
    "misfire_grace_seconds",
    "max_retries",
    "retry_backoff_seconds",
    "timeout_seconds",
];

/// The calendar names of the form's comma-separated `calendars` text, in order (blanks
/// between commas left out; empty text: none).
pub fn calendar_names(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// The values a job form shows: a new job's defaults, a stored job, or what was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobForm {
    /// Text values by field name.
    values: BTreeMap<&'static str, String>,
    /// The "active" checkbox.
    is_active: bool,
    /// The stored target's header names (kept, values hidden, when the job is edited).
    target_headers: Vec<String>,
}

impl JobForm {
    /// The form of a new job: the core's defaults (numbers left empty, so the same
    /// defaults apply when the form is posted).
    pub fn new_job() -> Self {
        let mut values: BTreeMap<&'static str, String> =
            TEXT_FIELDS.iter().map(|f| (*f, String::new())).collect();
        let policy = RunPolicy::default();
        for (field, value) in [
            ("timezone", Timezone::default().name().to_string()),
            ("parameters", Parameters::default().to_json_text()),
            ("target_method", HttpTarget::DEFAULT_METHOD.to_string()),
            ("misfire_policy", policy.misfire.as_str().to_string()),
            (
                "concurrency_policy",
                policy.concurrency.as_str().to_string(),
            ),
            ("on_excluded", OnExcluded::default().as_str().to_string()),
        ] {
            values.insert(field, value);
        }
        Self {
            values,
            is_active: true,
            target_headers: Vec::new(),
        }
    }

    /// The form of a stored job.
    pub fn of_job(job: &Job) -> Self {
        let mut form = Self::new_job();
        let spec = &job.spec;
        let policy = &spec.policy;
        let parameters = Value::Object(spec.parameters.as_map().clone());
        for (field, value) in [
            ("name", spec.name.as_str().to_string()),
            (
                "cron_expression",
                spec.schedule
                    .cron()
                    .map(|cron| cron.expression().to_string())
                    .unwrap_or_default(),
            ),
            (
                "interval_seconds",
                spec.schedule
                    .interval()
                    .map(|i| i.seconds().to_string())
                    .unwrap_or_default(),
            ),
            (
                "run_at",
                spec.schedule
                    .run_at()
                    .map(format_instant)
                    .unwrap_or_default(),
            ),
            (
                "max_runs",
                spec.max_runs.map(|n| n.to_string()).unwrap_or_default(),
            ),
            ("timezone", spec.timezone.name().to_string()),
            ("description", spec.description.as_str().to_string()),
            (
                "parameters",
                serde_json::to_string_pretty(&parameters).unwrap_or_default(),
            ),
            ("start_time", format_instant(spec.start_time)),
            (
                "end_time",
                spec.end_time.map(format_instant).unwrap_or_default(),
            ),
            ("misfire_policy", policy.misfire.as_str().to_string()),
            (
                "misfire_grace_seconds",
                policy.misfire_grace_seconds.to_string(),
            ),
            (
                "catch_up_window_seconds",
                policy.catch_up_window_seconds.to_string(),
            ),
            (
                "concurrency_policy",
                policy.concurrency.as_str().to_string(),
            ),
            ("max_retries", policy.max_retries.to_string()),
            (
                "pause_after_failures",
                policy.pause_after_failures.to_string(),
            ),
            ("dst_overlap", policy.dst_overlap.as_str().to_string()),
            ("jitter_seconds", spec.jitter_seconds.to_string()),
            (
                "retry_backoff_seconds",
                policy.retry_backoff_seconds.to_string(),
            ),
            ("timeout_seconds", policy.timeout_seconds.to_string()),
            (
                "calendars",
                spec.calendars
                    .names
                    .iter()
                    .map(|name| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            (
                "on_excluded",
                spec.calendars.on_excluded.as_str().to_string(),
            ),
        ] {
            form.values.insert(field, value);
        }
        if let Some(target) = &spec.target {
            form.values.insert("target_url", target.url.clone());
            form.values.insert("target_method", target.method.clone());
            form.target_headers = target.headers.keys().cloned().collect();
        }
        form.is_active = spec.is_active;
        form
    }

    /// The form as posted (the stored job's header names kept when editing).
    pub fn posted(fields: &FormFields, editing: Option<&Job>) -> Self {
        let mut form = Self::new_job();
        for field in TEXT_FIELDS {
            form.values
                .insert(field, fields.get(field).unwrap_or_default().to_string());
        }
        form.is_active = fields.get("is_active").is_some();
        form.target_headers = editing
            .and_then(|job| job.spec.target.as_ref())
            .map(|target| target.headers.keys().cloned().collect())
            .unwrap_or_default();
        form
    }

    /// The text of `field` (empty for a field the form does not have).
    pub fn value(&self, field: &str) -> &str {
        self.values.get(field).map_or("", String::as_str)
    }

    /// The JSON body the API would have been sent: for a new job (`editing` false) empty
    /// optional fields are left out (the API's defaults apply); for an edit, an empty end
    /// time, run limit or target URL clears it and an empty start time or number keeps the
    /// stored one. Of the three schedule fields only the filled ones are sent (all three
    /// empty: an empty `cron_expression`, which the API refuses as blank). The calendars go
    /// as a list of names (an edit sends an empty list to remove them all).
    pub fn to_body(&self, editing: bool) -> Value {
        let mut body = Map::new();
        for field in ["name", "description"] {
            body.insert(field.into(), Value::String(self.value(field).to_string()));
        }
        let present = |field: &str| {
            let value = self.value(field).trim();
            (!value.is_empty()).then(|| value.to_string())
        };
        let number = |raw: String| {
            raw.parse::<i64>()
                .map_or(Value::String(raw), |n| Value::Number(n.into()))
        };
        let kinds: Vec<(&str, Value)> = [
            (
                "cron_expression",
                present("cron_expression").map(Value::String),
            ),
            ("interval_seconds", present("interval_seconds").map(number)),
            ("run_at", present("run_at").map(Value::String)),
        ]
        .into_iter()
        .filter_map(|(field, value)| Some((field, value?)))
        .collect();
        if kinds.is_empty() {
            let cron = self.value("cron_expression").to_string();
            body.insert("cron_expression".into(), Value::String(cron));
        }
        for (field, value) in kinds {
            body.insert(field.into(), value);
        }
        match present("max_runs") {
            Some(raw) => {
                body.insert("max_runs".into(), number(raw));
            }
            None if editing => {
                body.insert("max_runs".into(), Value::Null);
            }
            None => {}
        }
        for field in [
            "timezone",
            "start_time",
            "misfire_policy",
            "concurrency_policy",
            "dst_overlap",
        ] {
            if let Some(value) = present(field) {
                body.insert(field.into(), Value::String(value));
            }
        }
        match present("end_time") {
            Some(value) => {
                body.insert("end_time".into(), Value::String(value));
            }
            None if editing => {
                body.insert("end_time".into(), Value::Null);
            }
            None => {}
        }
        if let Some(raw) = present("parameters") {
            // Text that is not JSON goes as a string, which the API refuses as "Must be a
            // JSON object." — its own wording for any parameters that are not an object.
            let value = serde_json::from_str(&raw).unwrap_or(Value::String(raw));
            body.insert("parameters".into(), value);
        }
        for field in INTEGER_FIELDS {
            if let Some(raw) = present(field) {
                body.insert(field.into(), number(raw));
            }
        }
        let calendars = calendar_names(self.value("calendars"));
        if editing || !calendars.is_empty() {
            let names = calendars.into_iter().map(Value::String).collect();
            body.insert("calendars".into(), Value::Array(names));
        }
        if let Some(choice) = present("on_excluded") {
            body.insert("on_excluded".into(), Value::String(choice));
        }
        body.insert("is_active".into(), Value::Bool(self.is_active));
        match present("target_url") {
            Some(url) => {
                let headers: Map<String, Value> = self
                    .target_headers
                    .iter()
                    .map(|name| {
                        let masked = scheduler_core::HttpTarget::MASK.to_string();
                        (name.clone(), Value::String(masked))
                    })
                    .collect();
                let method = present("target_method").unwrap_or_else(|| "POST".into());
                body.insert(
                    "target".into(),
                    serde_json::json!({
                        "type": "http", "url": url, "method": method, "headers": headers,
                    }),
                );
            }
            None if editing => {
                body.insert("target".into(), Value::Null);
            }
            None => {}
        }
        Value::Object(body)
    }
}

/// The errors shown beside `field` (the API's `target` errors beside the target URL).
fn errors_for<'e>(errors: &'e FieldErrors, field: &str) -> &'e [String] {
    let key = if field == "target_url" {
        "target"
    } else {
        field
    };
    errors.get(key).map_or(&[], Vec::as_slice)
}

/// One labelled text input with its help and errors.
fn text_field(
    form: &JobForm,
    errors: &FieldErrors,
    field: &'static str,
    label: &str,
    help: Option<&str>,
) -> Markup {
    let problems = errors_for(errors, field);
    let described = describedby(field, help.is_some(), !problems.is_empty());
    html! {
        div.field.invalid[!problems.is_empty()] {
            label for=(field) { (label) }
            input id=(field) name=(field) type="text" value=(form.value(field))
                aria-invalid=[(!problems.is_empty()).then_some("true")]
                aria-describedby=[described.as_deref()]
                autocomplete="off";
            (field_notes(field, help, problems))
        }
    }
}

/// The ids a field is described by: its help and its errors.
fn describedby(field: &str, help: bool, invalid: bool) -> Option<String> {
    let ids: Vec<String> = [
        help.then(|| format!("{field}-help")),
        invalid.then(|| format!("{field}-error")),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// A field's help line and error list.
fn field_notes(field: &str, help: Option<&str>, problems: &[String]) -> Markup {
    html! {
        @if let Some(help) = help {
            p.help id={(field) "-help"} { (help) }
        }
        @if !problems.is_empty() {
            ul.field-error id={(field) "-error"} role="alert" {
                @for problem in problems { li { (problem) } }
            }
        }
    }
}

/// A labelled `<select>`.
fn select_field(
    form: &JobForm,
    errors: &FieldErrors,
    field: &'static str,
    label: &str,
    choices: &[(&str, &str)],
) -> Markup {
    let problems = errors_for(errors, field);
    let current = form.value(field);
    html! {
        div.field.invalid[!problems.is_empty()] {
            label for=(field) { (label) }
            select id=(field) name=(field)
                aria-invalid=[(!problems.is_empty()).then_some("true")]
                aria-describedby=[describedby(field, false, !problems.is_empty())] {
                @for (value, text) in choices {
                    option value=(value) selected[*value == current] { (text) }
                }
            }
            (field_notes(field, None, problems))
        }
    }
}

/// The job form: `action` is where it posts, `editing` the job being edited, `preview` the
/// cron preview of what the form holds ([`super::preview::fragment`]).
pub fn render(
    viewer: &Viewer,
    form: &JobForm,
    errors: &FieldErrors,
    action: &str,
    editing: bool,
    preview: Markup,
) -> Markup {
    let general = errors
        .get("non_field_errors")
        .map_or(&[][..], Vec::as_slice);
    html! {
        form.job-form method="post" action=(action) novalidate {
            input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf);
            @if !errors.is_empty() {
                p.error role="alert" id="form-errors" {
                    "The job was not saved: correct the fields marked below."
                }
            }
            @for problem in general { p.error { (problem) } }
            (text_field(form, errors, "name", "Name", Some("Unique among your jobs; 1-255 characters.")))
            p.help #schedule-kinds { "Fill exactly one of: a cron expression, an interval, or a single instant." }
            div.schedule-row {
                div.field.invalid[!errors_for(errors, "cron_expression").is_empty()] {
                    label for="cron_expression" { "Schedule (cron expression)" }
                    input #cron_expression name="cron_expression" type="text"
                        value=(form.value("cron_expression")) autocomplete="off" spellcheck="false"
                        aria-invalid=[(!errors_for(errors, "cron_expression").is_empty()).then_some("true")]
                        aria-describedby=(describedby("cron_expression", true, !errors_for(errors, "cron_expression").is_empty()).unwrap_or_default())
                        hx-get="/ui/preview" hx-trigger="input changed delay:250ms, change"
                        hx-target="#cron-preview" hx-include="#timezone, #calendars, #on_excluded" hx-sync="this:replace";
                    (field_notes("cron_expression",
                        Some("5 fields: minute hour day-of-month month day-of-week, e.g. 0 9 * * 1 (Mondays 09:00), or @daily."),
                        errors_for(errors, "cron_expression")))
                }
                div.field.invalid[!errors_for(errors, "timezone").is_empty()] {
                    label for="timezone" { "Time zone" }
                    input #timezone name="timezone" type="text" list="timezones"
                        value=(form.value("timezone")) autocomplete="off"
                        aria-invalid=[(!errors_for(errors, "timezone").is_empty()).then_some("true")]
                        aria-describedby=(describedby("timezone", true, !errors_for(errors, "timezone").is_empty()).unwrap_or_default())
                        hx-get="/ui/preview" hx-trigger="change" hx-target="#cron-preview"
                        hx-include="#cron_expression, #calendars, #on_excluded";
                    (field_notes("timezone", Some("An IANA name such as Europe/London."), errors_for(errors, "timezone")))
                    datalist #timezones {
                        @for zone in scheduler_core::Timezone::names() { option value=(zone) {} }
                    }
                }
            }
            div.schedule-row {
                (text_field(form, errors, "interval_seconds", "Or every N seconds", Some("Instead of cron: e.g. 5400 fires every 90 minutes from the start time, never drifting.")))
                (text_field(form, errors, "run_at", "Or once at (UTC)", Some("Instead of cron: one instant in the future, e.g. 2025-07-01T14:00:00Z.")))
            }
            // A change of either calendar field refreshes the preview (the event bubbles here).
            div.schedule-row #calendar-fields hx-get="/ui/preview" hx-trigger="change"
                hx-target="#cron-preview"
                hx-include="#cron_expression, #timezone, #calendars, #on_excluded" {
                div.field.invalid[!errors_for(errors, "calendars").is_empty()] {
                    label for="calendars" { "Calendars (optional)" }
                    input #calendars name="calendars" type="text"
                        value=(form.value("calendars")) autocomplete="off" spellcheck="false"
                        aria-invalid=[(!errors_for(errors, "calendars").is_empty()).then_some("true")]
                        aria-describedby=(describedby("calendars", true, !errors_for(errors, "calendars").is_empty()).unwrap_or_default());
                    p.help #calendars-help {
                        "Names of your " a href="/ui/calendars" { "calendars" }
                        ", comma-separated: no fire on the days they list; empty: none."
                    }
                    (field_notes("calendars", None, errors_for(errors, "calendars")))
                }
                (select_field(form, errors, "on_excluded", "A fire on an excluded day",
                    &[("skip", "Is skipped (skip)"), ("move", "Moves to the next allowed day (move)")]))
            }
            section.preview aria-labelledby="preview-title" {
                h2 #preview-title { "Next 5 fire times" }
                div #cron-preview aria-live="polite" { (preview) }
            }
            div.field.invalid[!errors_for(errors, "description").is_empty()] {
                label for="description" { "Description" }
                textarea #description name="description" rows="2" { (form.value("description")) }
                (field_notes("description", None, errors_for(errors, "description")))
            }
            div.field.invalid[!errors_for(errors, "parameters").is_empty()] {
                label for="parameters" { "Parameters (JSON object)" }
                textarea #parameters name="parameters" rows="4" spellcheck="false"
                    aria-invalid=[(!errors_for(errors, "parameters").is_empty()).then_some("true")]
                    aria-describedby=(describedby("parameters", true, !errors_for(errors, "parameters").is_empty()).unwrap_or_default()) {
                    (form.value("parameters"))
                }
                (field_notes("parameters", Some("Handed to the job's handler on every run; \"action\" picks a registered handler."), errors_for(errors, "parameters")))
            }
            div.field.check {
                input #is_active name="is_active" type="checkbox" value="true" checked[form.is_active];
                label for="is_active" { "Active (unchecked: paused, never fires)" }
            }
            details open[has_any(errors, &["start_time", "end_time", "max_runs", "target", "target_method"])] {
                summary { "Window and delivery target" }
                (text_field(form, errors, "start_time", "Start time (UTC, optional)", Some("No fire before this instant, e.g. 2025-06-23T09:00:00Z; empty: now.")))
                (text_field(form, errors, "end_time", "End time (UTC, optional)", Some("No fire after this instant; empty: never ends.")))
                (text_field(form, errors, "max_runs", "Max runs (optional)", Some("The job completes after this many scheduled fires have run; empty: no limit.")))
                (text_field(form, errors, "target_url", "HTTP target URL (optional)", Some("Each run is POSTed here as JSON; empty: the handler named by parameters.action runs.")))
                (select_field(form, errors, "target_method", "Target method",
                    &[("POST", "POST"), ("PUT", "PUT"), ("PATCH", "PATCH"), ("GET", "GET"), ("DELETE", "DELETE")]))
                @if editing && !form.target_headers.is_empty() {
                    p.help { "Stored target headers are kept (values hidden): "
                        @for (i, name) in form.target_headers.iter().enumerate() {
                            @if i > 0 { ", " } code { (name) }
                        }
                        ". Change them through the API." }
                }
            }
            details open[has_any(errors, &["misfire_policy", "misfire_grace_seconds", "catch_up_window_seconds", "concurrency_policy", "max_retries", "retry_backoff_seconds", "timeout_seconds", "jitter_seconds", "pause_after_failures", "dst_overlap"])] {
                summary { "Run policies" }
                div.grid {
                    (select_field(form, errors, "misfire_policy", "Missed fires",
                        &[("fire_once", "Run once when late (fire_once)"), ("skip", "Skip when late (skip)"), ("catch_up", "Run each missed fire (catch_up)")]))
                    (text_field(form, errors, "misfire_grace_seconds", "Grace (seconds)", None))
                    (text_field(form, errors, "catch_up_window_seconds", "Catch-up window (seconds)", Some("With catch_up: missed fires this far back run, oldest first (the last 100 at most).")))
                    (select_field(form, errors, "concurrency_policy", "Overlapping runs",
                        &[("allow", "Allow (allow)"), ("forbid", "Forbid (forbid)"), ("replace", "Stop the running one (replace)"), ("buffer_one", "Queue one (buffer_one)")]))
                    (text_field(form, errors, "max_retries", "Retries", None))
                    (select_field(form, errors, "dst_overlap", "When clocks go back",
                        &[("once", "A doubled local time fires once (once)"), ("twice", "It fires at both occurrences (twice)")]))
                    (text_field(form, errors, "pause_after_failures", "Pause after failures", Some("Pause the job after this many consecutive failed runs (retries exhausted), keeping the last error; 0: never.")))
                    (text_field(form, errors, "retry_backoff_seconds", "Retry backoff (seconds)", None))
                    (text_field(form, errors, "timeout_seconds", "Timeout (seconds)", None))
                    (text_field(form, errors, "jitter_seconds", "Jitter (seconds)", Some("Delay each fire by up to this much, the same delay on every replica; 0: none.")))
                }
            }
            div.actions {
                button.primary type="submit" { @if editing { "Save changes" } @else { "Create job" } }
            }
        }
    }
}

/// Whether any of `fields` has an error.
fn has_any(errors: &FieldErrors, fields: &[&str]) -> bool {
    fields.iter().any(|f| errors.contains_key(*f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_job_leaves_empty_optional_fields_to_the_api() {
        let fields = FormFields::parse(
            "name=Nightly&cron_expression=0+2+*+*+*&timezone=&parameters=&is_active=true\
             &max_retries=&timeout_seconds=abc&end_time=",
        );
        let body = JobForm::posted(&fields, None).to_body(false);
        assert_eq!(body["name"], "Nightly");
        assert_eq!(body["cron_expression"], "0 2 * * *");
        assert_eq!(body["is_active"], true);
        assert!(body.get("timezone").is_none());
        assert!(body.get("end_time").is_none());
        assert!(body.get("max_retries").is_none());
        assert_eq!(body["timeout_seconds"], "abc");
        assert!(body.get("target").is_none());
    }

    #[test]
    fn an_edit_clears_an_emptied_end_time_and_target_and_keeps_header_names() {
        let fields =
            FormFields::parse("name=a&cron_expression=@daily&parameters=%7B%22x%22%3A1%7D");
        let mut form = JobForm::posted(&fields, None);
        assert_eq!(form.to_body(true)["end_time"], Value::Null);
        assert_eq!(form.to_body(true)["target"], Value::Null);
        assert_eq!(form.to_body(true)["is_active"], false);
        assert_eq!(form.to_body(true)["parameters"]["x"], 1);
        form.values
            .insert("target_url", "https://hooks.example/run".into());
        form.target_headers = vec!["Authorization".into()];
        let body = form.to_body(true);
        assert_eq!(body["target"]["headers"]["Authorization"], "***");
        assert_eq!(body["target"]["method"], "POST");
    }

    #[test]
    fn only_the_filled_schedule_kinds_are_sent_and_an_emptied_limit_is_cleared() {
        let fields =
            FormFields::parse("name=a&cron_expression=&interval_seconds=5400&run_at=&max_runs=");
        let form = JobForm::posted(&fields, None);
        let body = form.to_body(true);
        assert_eq!(body["interval_seconds"], 5400);
        assert!(body.get("cron_expression").is_none());
        assert!(body.get("run_at").is_none());
        assert_eq!(body["max_runs"], Value::Null);
        assert!(form.to_body(false).get("max_runs").is_none());
        let none = JobForm::posted(&FormFields::parse("name=a"), None).to_body(false);
        assert_eq!(none["cron_expression"], "");
        let two =
            FormFields::parse("cron_expression=@daily&run_at=2030-01-01T00:00:00Z&max_runs=3");
        let body = JobForm::posted(&two, None).to_body(false);
        assert_eq!(body["cron_expression"], "@daily");
        assert_eq!(body["run_at"], "2030-01-01T00:00:00Z");
        assert_eq!(body["max_runs"], 3);
    }

    #[test]
    fn parameters_that_are_not_json_go_as_text_for_the_api_to_refuse() {
        let fields = FormFields::parse("parameters=not+json");
        let body = JobForm::posted(&fields, None).to_body(false);
        assert_eq!(body["parameters"], "not json");
    }

    #[test]
    fn calendars_go_as_a_list_of_names_and_an_edit_may_empty_it() {
        let fields = FormFields::parse("calendars=uk-holidays%2C+%2C+shutdown+&on_excluded=move");
        let body = JobForm::posted(&fields, None).to_body(false);
        assert_eq!(
            body["calendars"],
            serde_json::json!(["uk-holidays", "shutdown"])
        );
        assert_eq!(body["on_excluded"], "move");
        let none = JobForm::posted(&FormFields::parse("calendars=+"), None);
        assert!(none.to_body(false).get("calendars").is_none());
        assert_eq!(none.to_body(true)["calendars"], serde_json::json!([]));
        assert_eq!(JobForm::new_job().value("on_excluded"), "skip");
    }
}
