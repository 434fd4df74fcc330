//! The human tables: borderless columns like `kubectl get`, a field/value listing for one
//! item, and the fixed-width lines of `runs tail`. Every cell goes through
//! [`printable`], so nothing the server sends can reach the terminal as a control sequence,
//! and a missing or odd field shows as `-` instead of failing.

use comfy_table::{Table, presets};
use serde_json::Value;

use crate::text::{LINE_LIMIT, printable};

/// The order in which a job's fields are listed; fields the server adds later follow.
const JOB_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "cron_expression",
    "interval_seconds",
    "run_at",
    "timezone",
    "is_active",
    "paused_by",
    "pause_note",
    "paused_at",
    "paused_until",
    "schedule_status",
    "schedule_status_reason",
    "max_runs",
    "fire_count",
    "jitter_seconds",
    "next_run",
    "last_run",
    "last_status",
    "last_error",
    "start_time",
    "end_time",
    "parameters",
    "target",
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
    "failure_streak",
    "auto_paused",
    "source",
    "created_by",
    "updated_by",
    "created_at",
    "updated_at",
];

/// The order in which a run's fields are listed.
const RUN_FIELDS: &[&str] = &[
    "id",
    "job_id",
    "job_name",
    "status",
    "trigger",
    "attempt",
    "replay_of",
    "scheduled_for",
    "started_at",
    "finished_at",
    "duration_ms",
    "retry_at",
    "error",
    "worker",
];

/// The order in which a calendar's fields are listed above its dates.
const CALENDAR_FIELDS: &[&str] = &[
    "name",
    "timezone",
    "description",
    "created_by",
    "updated_by",
    "created_at",
    "updated_at",
];

/// The order in which a channel's fields are listed.
const CHANNEL_FIELDS: &[&str] = &[
    "name",
    "kind",
    "url",
    "headers",
    "to",
    "events",
    "jobs",
    "enabled",
    "created_by",
    "updated_by",
    "created_at",
    "updated_at",
];

/// The longest description shown in a row of the calendar list; `calendars show` shows it
/// whole.
const DESCRIPTION_CELL: usize = 60;

/// The longest job name shown in a run's row or line (the run's `job_name`).
const NAME_CELL: usize = 20;

/// The longest error shown in a table row; `runs get` shows it whole.
const ERROR_CELL: usize = 60;

/// The longest before or after value shown in an audit entry's CHANGES cell.
const CHANGE_VALUE: usize = 60;

/// A borderless table with `header`, columns two spaces apart.
fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_header(header.to_vec());
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table
}

/// `item[field]` as a cell: text as is, null or missing as `-`, other JSON compact.
fn cell(item: &Value, field: &str) -> String {
    shown(item.get(field).unwrap_or(&Value::Null), LINE_LIMIT)
}

/// A JSON value as a cell of at most `limit` characters.
fn shown(value: &Value, limit: usize) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(text) if text.is_empty() => "-".into(),
        Value::String(text) => printable(text, limit),
        other => printable(&other.to_string(), limit),
    }
}

/// `item[field]`, an RFC 3339 instant, without its fraction of a second, for a table column.
fn instant(item: &Value, field: &str) -> String {
    match item.get(field) {
        Some(value @ Value::String(_)) => instant_value(value),
        _ => cell(item, field),
    }
}

/// An RFC 3339 instant without its fraction of a second (any other value as a cell).
fn instant_value(value: &Value) -> String {
    match value.as_str() {
        Some(text) => match (text.find('.'), text.rfind(['Z', '+'])) {
            (Some(dot), Some(zone)) if dot < zone => {
                printable(&format!("{}{}", &text[..dot], &text[zone..]), LINE_LIMIT)
            }
            _ => printable(text, LINE_LIMIT),
        },
        None => shown(value, LINE_LIMIT),
    }
}

/// `duration_ms` for people: `340ms`, `1.2s`, `2m03s`, `1h02m`.
fn duration(item: &Value) -> String {
    let Some(ms) = item.get("duration_ms").and_then(Value::as_u64) else {
        return cell(item, "duration_ms");
    };
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{}.{}s", ms / 1_000, ms % 1_000 / 100),
        60_000..=3_599_999 => format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1_000),
        _ => format!("{}h{:02}m", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

/// `yes` for an active job, `paused` otherwise.
fn active(item: &Value) -> String {
    if item.get("schedule_status").and_then(Value::as_str) == Some("completed") {
        return "completed".into();
    }
    match item.get("is_active").and_then(Value::as_bool) {
        Some(true) => "yes".into(),
        Some(false) => "paused".into(),
        None => "-".into(),
    }
}

/// A job's schedule, whatever its kind: the expression, `every 5400s`, or `once at <instant>`.
fn schedule(job: &Value) -> String {
    if let Some(seconds) = job.get("interval_seconds").and_then(Value::as_u64) {
        return format!("every {seconds}s");
    }
    if let Some(at) = job.get("run_at").filter(|v| !v.is_null()) {
        return format!("once at {}", shown(at, LINE_LIMIT));
    }
    cell(job, "cron_expression")
}

/// A list of jobs.
pub(crate) fn jobs(items: &[Value]) -> String {
    let mut table = table(&[
        "ID",
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "ACTIVE",
        "NEXT RUN",
        "LAST RUN",
        "LAST STATUS",
    ]);
    for job in items {
        table.add_row(vec![
            cell(job, "id"),
            cell(job, "name"),
            schedule(job),
            cell(job, "timezone"),
            active(job),
            instant(job, "next_run"),
            instant(job, "last_run"),
            cell(job, "last_status"),
        ]);
    }
    table.trim_fmt()
}

/// A list of runs.
pub(crate) fn runs(items: &[Value]) -> String {
    let mut table = table(&[
        "ID",
        "JOB",
        "NAME",
        "STATUS",
        "TRIGGER",
        "ATTEMPT",
        "SCHEDULED FOR",
        "DURATION",
        "ERROR",
    ]);
    for run in items {
        table.add_row(vec![
            cell(run, "id"),
            cell(run, "job_id"),
            shown(run.get("job_name").unwrap_or(&Value::Null), NAME_CELL),
            cell(run, "status"),
            cell(run, "trigger"),
            cell(run, "attempt"),
            instant(run, "scheduled_for"),
            duration(run),
            shown(run.get("error").unwrap_or(&Value::Null), ERROR_CELL),
        ]);
    }
    table.trim_fmt()
}

/// A list of keys (the API never sends their secrets).
pub(crate) fn keys(items: &[Value]) -> String {
    let mut table = table(&[
        "ID", "TENANT", "NAME", "SCOPE", "PREFIX", "CREATED", "REVOKED",
    ]);
    for key in items {
        table.add_row(vec![
            cell(key, "id"),
            cell(key, "tenant"),
            cell(key, "name"),
            cell(key, "scope"),
            cell(key, "prefix"),
            instant(key, "created_at"),
            instant(key, "revoked_at"),
        ]);
    }
    table.trim_fmt()
}

/// A before or after value of an audit change: text without quotes, an empty text as `""`
/// (so it differs from null, `-`), other JSON compact; cut to [`CHANGE_VALUE`] characters.
fn change_value(value: &Value) -> String {
    match value {
        Value::String(text) if text.is_empty() => "\"\"".into(),
        other => shown(other, CHANGE_VALUE),
    }
}

/// An audit entry's `changes` as `field: before → after; ...` (`-` for none), at most
/// [`LINE_LIMIT`] characters; `-o json` has them whole.
fn changes(entry: &Value) -> String {
    let Some(list) = entry.get("changes").and_then(Value::as_array) else {
        return cell(entry, "changes");
    };
    if list.is_empty() {
        return "-".into();
    }
    let text = list
        .iter()
        .map(|change| {
            let side = |name: &str| change_value(change.get(name).unwrap_or(&Value::Null));
            format!(
                "{}: {} → {}",
                printable(
                    change.get("field").and_then(Value::as_str).unwrap_or("-"),
                    LINE_LIMIT
                ),
                side("before"),
                side("after")
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    printable(&text, LINE_LIMIT)
}

/// What an audit entry is about: `name (id)` for a job or key, the name alone when the two
/// are the same (a calendar).
fn subject(entry: &Value) -> String {
    let id = cell(entry, "subject");
    let name = cell(entry, "subject_name");
    if name == "-" || name == id {
        id
    } else {
        format!("{name} ({id})")
    }
}

/// A job's history: its audit entries.
pub(crate) fn history(items: &[Value]) -> String {
    let mut table = table(&["AT", "ACTOR", "ACTION", "CHANGES"]);
    for entry in items {
        table.add_row(vec![
            instant(entry, "at"),
            cell(entry, "actor"),
            cell(entry, "action"),
            changes(entry),
        ]);
    }
    table.trim_fmt()
}

/// A list of audit entries of any kind.
pub(crate) fn audit(items: &[Value]) -> String {
    let mut table = table(&["ID", "AT", "ACTOR", "KIND", "SUBJECT", "ACTION", "CHANGES"]);
    for entry in items {
        table.add_row(vec![
            cell(entry, "id"),
            instant(entry, "at"),
            cell(entry, "actor"),
            cell(entry, "kind"),
            subject(entry),
            cell(entry, "action"),
            changes(entry),
        ]);
    }
    table.trim_fmt()
}

/// One item as `field  value` lines: the fields of `order` first, then any others.
fn detail(item: &Value, order: &[&str]) -> String {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    let Some(object) = item.as_object() else {
        return shown(item, LINE_LIMIT);
    };
    let known = order
        .iter()
        .copied()
        .filter(|field| object.contains_key(*field));
    let others = object
        .keys()
        .map(String::as_str)
        .filter(|field| !order.contains(field));
    for field in known.chain(others) {
        let value = object.get(field).unwrap_or(&Value::Null);
        table.add_row(vec![
            printable(field, LINE_LIMIT),
            shown(value, 4 * LINE_LIMIT),
        ]);
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table.trim_fmt()
}

/// A JSON list of names as `a, b` (an empty list as `-`); anything else as a cell.
fn names(value: &Value) -> String {
    let Some(items) = value.as_array() else {
        return shown(value, LINE_LIMIT);
    };
    let joined = items
        .iter()
        .map(|item| {
            item.as_str()
                .map_or_else(|| item.to_string(), str::to_string)
        })
        .collect::<Vec<_>>()
        .join(", ");
    shown(&Value::String(joined), LINE_LIMIT)
}

/// One job, field by field (its calendars as `a, b`).
pub(crate) fn job(item: &Value) -> String {
    let mut item = item.clone();
    if let Some(object) = item.as_object_mut()
        && let Some(calendars) = object.get_mut("calendars")
    {
        *calendars = Value::String(names(calendars));
    }
    detail(&item, JOB_FIELDS)
}

/// How many dates a calendar has, or `-`.
fn date_count(calendar: &Value) -> String {
    calendar
        .get("dates")
        .and_then(Value::as_array)
        .map_or_else(|| "-".into(), |dates| dates.len().to_string())
}

/// A list of calendars.
pub(crate) fn calendars(items: &[Value]) -> String {
    let mut table = table(&["NAME", "TIMEZONE", "DATES", "DESCRIPTION"]);
    for calendar in items {
        table.add_row(vec![
            cell(calendar, "name"),
            cell(calendar, "timezone"),
            date_count(calendar),
            shown(
                calendar.get("description").unwrap_or(&Value::Null),
                DESCRIPTION_CELL,
            ),
        ]);
    }
    table.trim_fmt()
}

/// One calendar: its fields, a blank line, then its dates as a table (one row per entry).
pub(crate) fn calendar(item: &Value) -> String {
    let mut fields = item.clone();
    let dates = fields
        .as_object_mut()
        .and_then(|object| object.remove("dates"))
        .unwrap_or(Value::Null);
    let head = detail(&fields, CALENDAR_FIELDS);
    let Some(dates) = dates.as_array().filter(|dates| !dates.is_empty()) else {
        return format!("{head}\n\nno dates");
    };
    let mut table = table(&["FROM", "TO", "YEARLY", "LABEL"]);
    for date in dates {
        let yearly = match date.get("yearly").and_then(Value::as_bool) {
            Some(true) => "yes".to_string(),
            Some(false) => "no".to_string(),
            None => cell(date, "yearly"),
        };
        table.add_row(vec![
            cell(date, "from"),
            cell(date, "to"),
            yearly,
            cell(date, "label"),
        ]);
    }
    format!("{head}\n\n{}", table.trim_fmt())
}

/// A channel's jobs: `all` for an empty list (every job of the tenant), else their ids.
fn channel_jobs(channel: &Value) -> String {
    match channel.get("jobs").and_then(Value::as_array) {
        Some(jobs) if jobs.is_empty() => "all".into(),
        Some(_) => names(channel.get("jobs").unwrap_or(&Value::Null)),
        None => cell(channel, "jobs"),
    }
}

/// `yes` or `no` for `item[field]`, a boolean (anything else as a cell).
fn yes_no(item: &Value, field: &str) -> String {
    match item.get(field).and_then(Value::as_bool) {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => cell(item, field),
    }
}

/// Where a channel sends: its URL, or its addresses (`a, b`), or `-`.
fn channel_target(channel: &Value) -> String {
    match channel.get("url") {
        Some(Value::String(url)) if !url.is_empty() => printable(url, LINE_LIMIT),
        _ => names(channel.get("to").unwrap_or(&Value::Null)),
    }
}

/// A list of channels.
pub(crate) fn channels(items: &[Value]) -> String {
    let mut table = table(&["NAME", "KIND", "TARGET", "EVENTS", "JOBS", "ENABLED"]);
    for channel in items {
        table.add_row(vec![
            cell(channel, "name"),
            cell(channel, "kind"),
            channel_target(channel),
            names(channel.get("events").unwrap_or(&Value::Null)),
            channel_jobs(channel),
            yes_no(channel, "enabled"),
        ]);
    }
    table.trim_fmt()
}

/// One channel, field by field: lists as `a, b`, headers as `Name: ***, ...` (the server
/// masks their values), jobs as `all` when it has none.
pub(crate) fn channel(item: &Value) -> String {
    let mut shown_item = item.clone();
    if let Some(object) = shown_item.as_object_mut() {
        if let Some(headers) = object.get_mut("headers")
            && let Some(map) = headers.as_object()
        {
            let text = map
                .iter()
                .map(|(name, value)| format!("{name}: {}", shown(value, LINE_LIMIT)))
                .collect::<Vec<_>>()
                .join(", ");
            *headers = Value::String(text);
        }
        for field in ["to", "events"] {
            if let Some(list) = object.get_mut(field) {
                *list = Value::String(names(list));
            }
        }
        if object.contains_key("jobs") {
            let jobs = channel_jobs(item);
            object.insert("jobs".into(), Value::String(jobs));
        }
        if object.contains_key("enabled") {
            let enabled = yes_no(item, "enabled");
            object.insert("enabled".into(), Value::String(enabled));
        }
    }
    detail(&shown_item, CHANNEL_FIELDS)
}

/// What a notification is about: `name (id)`, or the name alone for a test message (job 0).
fn notification_job(notification: &Value) -> String {
    let name = shown(
        notification.get("job_name").unwrap_or(&Value::Null),
        NAME_CELL,
    );
    match notification.get("job_id").and_then(Value::as_i64) {
        Some(0) => name,
        Some(id) if name != "-" => format!("{name} ({id})"),
        _ => cell(notification, "job_id"),
    }
}

/// A list of notifications.
pub(crate) fn notifications(items: &[Value]) -> String {
    let mut table = table(&[
        "ID",
        "CREATED",
        "CHANNEL",
        "EVENT",
        "JOB",
        "STATUS",
        "ATTEMPTS",
        "LAST ERROR",
    ]);
    for notification in items {
        table.add_row(vec![
            cell(notification, "id"),
            instant(notification, "created_at"),
            cell(notification, "channel"),
            cell(notification, "event"),
            notification_job(notification),
            cell(notification, "status"),
            cell(notification, "attempts"),
            shown(
                notification.get("last_error").unwrap_or(&Value::Null),
                ERROR_CELL,
            ),
        ]);
    }
    table.trim_fmt()
}

/// One run, field by field; `replay_of` only when it is set (the run is a replay).
pub(crate) fn run(item: &Value) -> String {
    let mut item = item.clone();
    if let Some(object) = item.as_object_mut()
        && object.get("replay_of").is_some_and(Value::is_null)
    {
        object.remove("replay_of");
    }
    detail(&item, RUN_FIELDS)
}

/// What `runs replay` did to each run, from its outcomes (`{"original", "outcome",
/// "replay", "error"}`): ORIGINAL, REPLAY (the replay's id, `-` when none) and STATUS
/// (`started`, `already replayed`, `not sent`, or the error).
pub(crate) fn replays(items: &[Value]) -> String {
    let mut table = table(&["ORIGINAL", "REPLAY", "STATUS"]);
    for item in items {
        let replay = item
            .get("replay")
            .map_or_else(|| "-".into(), |replay| cell(replay, "id"));
        let status = match item.get("outcome").and_then(Value::as_str) {
            Some("started") => "started".to_string(),
            Some("already_replayed") => "already replayed".to_string(),
            Some("not_sent") => "not sent".to_string(),
            _ => cell(item, "error"),
        };
        table.add_row(vec![cell(item, "original"), replay, status]);
    }
    table.trim_fmt()
}

/// What a preview's calendars do to `fire`, from its `excluded` list (`{"at", "calendar",
/// "moved_to"}` per excluded fire): nothing (empty), `skipped (excluded by NAME)`, or `moved
/// to INSTANT (excluded by NAME)`.
fn fire_mark(item: &Value, fire: &Value) -> String {
    let fire = instant_value(fire);
    let Some(excluded) = item
        .get("excluded")
        .and_then(Value::as_array)
        .and_then(|excluded| {
            excluded
                .iter()
                .find(|mark| mark.get("at").is_some_and(|at| instant_value(at) == fire))
        })
    else {
        return String::new();
    };
    let calendar = cell(excluded, "calendar");
    match excluded.get("moved_to").filter(|moved| !moved.is_null()) {
        Some(moved) => format!("moved to {} (excluded by {calendar})", instant_value(moved)),
        None => format!("skipped (excluded by {calendar})"),
    }
}

/// A cron preview: the expression, its zone, its reading, then the fire instants, each with
/// what the calendars asked for do to it.
pub(crate) fn preview(item: &Value) -> String {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    for field in ["expression", "timezone", "description"] {
        table.add_row(vec![field.to_string(), cell(item, field)]);
    }
    let fires = item
        .get("next_runs")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (index, fire) in fires.iter().enumerate() {
        let label = if index == 0 { "next_runs" } else { "" };
        let mut row = vec![label.to_string(), shown(fire, LINE_LIMIT)];
        let mark = fire_mark(item, fire);
        if !mark.is_empty() {
            row.push(mark);
        }
        table.add_row(row);
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table.trim_fmt()
}

/// The column header of [`run_line`].
pub(crate) fn run_line_header() -> String {
    format!(
        "{:<8}  {:<6}  {:<20}  {:<9}  {:<8}  {:<7}  {:<20}  {:<8}  ERROR",
        "ID", "JOB", "NAME", "STATUS", "TRIGGER", "ATTEMPT", "SCHEDULED FOR", "DURATION"
    )
}

/// One run as one fixed-width line, for `runs tail`.
pub(crate) fn run_line(run: &Value) -> String {
    let line = format!(
        "{:<8}  {:<6}  {:<20}  {:<9}  {:<8}  {:<7}  {:<20}  {:<8}  {}",
        cell(run, "id"),
        cell(run, "job_id"),
        shown(run.get("job_name").unwrap_or(&Value::Null), NAME_CELL),
        cell(run, "status"),
        cell(run, "trigger"),
        cell(run, "attempt"),
        instant(run, "scheduled_for"),
        duration(run),
        match run.get("error") {
            None | Some(Value::Null) => String::new(),
            Some(error) => shown(error, 4 * ERROR_CELL),
        },
    );
    line.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job_json() -> Value {
        json!({
            "id": 7, "name": "Weekly Report", "cron_expression": "0 9 * * 1",
            "timezone": "UTC", "is_active": false, "next_run": null,
            "last_run": "2025-06-23T09:00:00.012345Z", "last_status": "succeeded",
            "description": "", "parameters": {"a": 1}, "new_field": true,
        })
    }

    #[test]
    fn a_job_list_has_one_aligned_row_per_job() {
        let text = jobs(&[job_json()]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("ID  NAME"), "{text}");
        let row = lines[1];
        assert!(row.starts_with("7   Weekly Report  0 9 * * 1"), "{text}");
        assert!(
            row.contains("paused") && row.contains("2025-06-23T09:00:00Z"),
            "{text}"
        );
        assert!(row.ends_with("succeeded"), "{text}");
    }

    #[test]
    fn a_job_detail_lists_known_fields_first_then_new_ones() {
        let text = job(&job_json());
        let fields: Vec<&str> = text
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        assert_eq!(fields.first(), Some(&"id"));
        assert_eq!(fields.last(), Some(&"new_field"));
        assert!(text.contains(r#"parameters  {"a":1}"#) || text.contains(r#"{"a":1}"#));
    }

    #[test]
    fn odd_answers_become_dashes_not_panics() {
        let text = runs(&[json!({"id": "x", "duration_ms": -3}), json!(5), json!(null)]);
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(detail(&json!([1, 2]), RUN_FIELDS).contains("[1,2]"));
        assert_eq!(preview(&json!({})).lines().count(), 3);
    }

    #[test]
    fn control_characters_in_a_run_error_never_reach_the_terminal() {
        let line = run_line(&json!({"id": 1, "error": "boom\u{1b}]0;owned\u{7}\nnext"}));
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(line.ends_with("boom ]0;owned  next"), "{line:?}");
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        let of = |ms: u64| duration(&json!({ "duration_ms": ms }));
        assert_eq!(of(340), "340ms");
        assert_eq!(of(1_234), "1.2s");
        assert_eq!(of(123_000), "2m03s");
        assert_eq!(of(3_720_000), "1h02m");
        assert_eq!(duration(&json!({"duration_ms": null})), "-");
    }

    #[test]
    fn a_preview_lists_each_fire_under_one_label() {
        let text = preview(&json!({
            "expression": "0 9 * * 1", "timezone": "UTC", "description": "At 09:00 on Monday",
            "next_runs": ["2025-06-23T09:00:00Z", "2025-06-30T09:00:00Z"],
        }));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[3].starts_with("next_runs") && lines[3].ends_with("2025-06-23T09:00:00Z"));
        assert!(lines[4].trim() == "2025-06-30T09:00:00Z", "{text}");
    }

    #[test]
    fn a_preview_marks_the_fires_its_calendars_exclude() {
        let text = preview(&json!({
            "expression": "0 9 * * *", "timezone": "UTC", "description": "At 09:00",
            "next_runs": ["2030-01-01T09:00:00Z", "2030-01-02T09:00:00Z", "2030-01-03T09:00:00Z"],
            "excluded": [
                {"at": "2030-01-01T09:00:00Z", "calendar": "uk",
                 "moved_to": "2030-01-03T09:00:00.000Z"},
                {"at": "2030-01-02T09:00:00Z", "calendar": "uk", "moved_to": null},
            ],
        }));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(
            lines[3]
                .ends_with("2030-01-01T09:00:00Z  moved to 2030-01-03T09:00:00Z (excluded by uk)"),
            "{text}"
        );
        assert!(
            lines[4].ends_with("2030-01-02T09:00:00Z  skipped (excluded by uk)"),
            "{text}"
        );
        assert!(
            lines[5].trim_end().ends_with("2030-01-03T09:00:00Z"),
            "{text}"
        );
    }

    fn entry_json() -> Value {
        json!({
            "id": 12, "at": "2030-01-02T03:04:05.678Z", "actor": "ops", "request_id": null,
            "kind": "job", "subject": "7", "subject_name": "report", "action": "update",
            "changes": [
                {"field": "description", "before": "", "after": "weekly"},
                {"field": "pause_note", "before": null, "after": "db upgrade"},
                {"field": "max_retries", "before": 0, "after": 3},
                {"field": "parameters", "before": {"a": 1}, "after": {"a": [1, 2]}},
                {"field": "name", "before": "x".repeat(70), "after": "line\u{1b}[2Jbreak"},
            ],
        })
    }

    #[test]
    fn an_audit_entrys_changes_read_field_before_after() {
        let text = changes(&entry_json());
        let parts: Vec<&str> = text.split("; ").collect();
        assert_eq!(parts[0], r#"description: "" → weekly"#);
        assert_eq!(parts[1], "pause_note: - → db upgrade");
        assert_eq!(parts[2], "max_retries: 0 → 3");
        assert_eq!(parts[3], r#"parameters: {"a":1} → {"a":[1,2]}"#);
        assert_eq!(
            parts[4],
            format!("name: {}… → line [2Jbreak", "x".repeat(CHANGE_VALUE))
        );
        assert_eq!(changes(&json!({"changes": []})), "-");
        assert_eq!(changes(&json!({})), "-");
        let many: Vec<Value> = (0..100)
            .map(|n| json!({"field": format!("f{n}"), "before": null, "after": "y".repeat(50)}))
            .collect();
        let cut = changes(&json!({ "changes": many }));
        assert_eq!(cut.chars().count(), LINE_LIMIT + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn audit_tables_have_one_row_per_entry() {
        let text = history(&[entry_json()]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("AT") && lines[0].ends_with("CHANGES"));
        assert!(
            lines[1].starts_with("2030-01-02T03:04:05Z  ops    update  description: "),
            "{text}"
        );
        let calendar = json!({"id": 3, "kind": "calendar", "subject": "uk", "subject_name": "uk",
            "action": "delete", "changes": []});
        let text = audit(&[entry_json(), calendar, json!(null)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("ID  AT"), "{text}");
        let row: Vec<&str> = lines[1].split_whitespace().take(7).collect();
        assert_eq!(
            row,
            [
                "12",
                "2030-01-02T03:04:05Z",
                "ops",
                "job",
                "report",
                "(7)",
                "update"
            ],
            "{text}"
        );
        let row: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            row,
            ["3", "-", "-", "calendar", "uk", "delete", "-"],
            "{text}"
        );
    }

    #[test]
    fn a_run_shows_replay_of_only_when_it_is_a_replay() {
        let replay = run(&json!({"id": 9, "trigger": "replay", "attempt": 2, "replay_of": 4}));
        let fields: Vec<&str> = replay
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(
            fields,
            ["id", "trigger", "attempt", "replay_of"],
            "{replay}"
        );
        assert!(
            replay
                .lines()
                .any(|l| l.starts_with("replay_of") && l.ends_with('4'))
        );
        let plain = run(&json!({"id": 4, "trigger": "manual", "replay_of": null}));
        assert!(!plain.contains("replay_of"), "{plain}");
    }

    #[test]
    fn a_replay_table_has_a_row_per_run_and_its_outcome() {
        let text = replays(&[
            json!({"original": 4, "outcome": "started", "replay": {"id": 9}, "error": null}),
            json!({"original": 5, "outcome": "already_replayed", "replay": {"id": 7},
                "error": null}),
            json!({"original": 6, "outcome": "failed", "replay": null,
                "error": "conflict (409 Conflict): still\nrunning"}),
            json!({"original": 8, "outcome": "not_sent", "replay": null, "error": null}),
        ]);
        let rows: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(rows[0], ["ORIGINAL", "REPLAY", "STATUS"], "{text}");
        assert_eq!(rows[1], ["4", "9", "started"], "{text}");
        assert_eq!(rows[2], ["5", "7", "already", "replayed"], "{text}");
        assert_eq!(
            rows[3],
            [
                "6",
                "-",
                "conflict",
                "(409",
                "Conflict):",
                "still",
                "running"
            ],
            "{text}"
        );
        assert_eq!(rows[4], ["8", "-", "not", "sent"], "{text}");
    }

    #[test]
    fn a_job_shows_its_calendars_as_names() {
        let text = job(&json!({"id": 1, "calendars": ["uk", "freeze"], "on_excluded": "move"}));
        assert!(
            text.lines()
                .any(|l| l.starts_with("calendars") && l.ends_with("uk, freeze")),
            "{text}"
        );
        let none = job(&json!({"id": 1, "calendars": []}));
        assert!(
            none.lines()
                .any(|l| l.starts_with("calendars") && l.ends_with('-')),
            "{none}"
        );
    }

    #[test]
    fn a_calendar_lists_its_fields_then_its_dates() {
        let item = json!({
            "name": "uk", "timezone": "Europe/London", "description": "",
            "dates": [
                {"from": "2030-12-25", "to": "2030-12-26", "yearly": true, "label": "Christmas"},
                {"from": "2030-08-05", "to": "2030-08-16", "yearly": false, "label": null},
            ],
        });
        let text = calendar(&item);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("name") && lines[0].ends_with("uk"),
            "{text}"
        );
        let header = lines.iter().position(|l| l.starts_with("FROM")).unwrap();
        assert_eq!(lines[header - 1], "", "{text}");
        let row: Vec<&str> = lines[header + 1].split_whitespace().collect();
        assert_eq!(
            row,
            ["2030-12-25", "2030-12-26", "yes", "Christmas"],
            "{text}"
        );
        let row: Vec<&str> = lines[header + 2].split_whitespace().collect();
        assert_eq!(row, ["2030-08-05", "2030-08-16", "no", "-"], "{text}");
        let list = calendars(&[item]);
        assert_eq!(list.lines().count(), 2, "{list}");
        let row: Vec<&str> = list.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(row, ["uk", "Europe/London", "2", "-"], "{list}");
        assert!(calendar(&json!({"name": "empty", "dates": []})).ends_with("\n\nno dates"));
    }

    fn webhook_json() -> Value {
        json!({
            "name": "ops", "kind": "webhook", "url": "https://hooks.example.com/x",
            "headers": {"X-Token": "***"}, "to": [], "events": ["failed", "missed"],
            "jobs": [], "enabled": true, "created_at": "2030-01-01T00:00:00Z",
            "updated_at": "2030-01-01T00:00:00Z", "created_by": null, "updated_by": null,
        })
    }

    #[test]
    fn a_channel_list_shows_its_target_events_and_jobs() {
        let mail = json!({"name": "mail", "kind": "email", "url": null,
            "to": ["a@example.com", "b@example.com"], "events": ["failed"], "jobs": [3, 4],
            "enabled": false});
        let text = channels(&[webhook_json(), mail, json!(null)]);
        let rows: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows[0],
            ["NAME", "KIND", "TARGET", "EVENTS", "JOBS", "ENABLED"],
            "{text}"
        );
        assert_eq!(
            rows[1],
            [
                "ops",
                "webhook",
                "https://hooks.example.com/x",
                "failed,",
                "missed",
                "all",
                "yes"
            ],
            "{text}"
        );
        assert_eq!(
            rows[2],
            [
                "mail",
                "email",
                "a@example.com,",
                "b@example.com",
                "failed",
                "3,",
                "4",
                "no"
            ],
            "{text}"
        );
        assert_eq!(rows[3], ["-", "-", "-", "-", "-", "-"], "{text}");
    }

    #[test]
    fn a_channel_shows_masked_headers_and_all_jobs() {
        let text = channel(&webhook_json());
        let line = |field: &str| {
            text.lines()
                .find(|l| l.split_whitespace().next() == Some(field))
                .unwrap_or_else(|| panic!("no {field}: {text}"))
                .to_string()
        };
        assert!(line("headers").ends_with("X-Token: ***"), "{text}");
        assert!(line("events").ends_with("failed, missed"), "{text}");
        assert!(line("jobs").ends_with("all"), "{text}");
        assert!(line("enabled").ends_with("yes"), "{text}");
        assert!(line("to").ends_with('-'), "{text}");
        assert_eq!(
            text.lines().next().map(|l| l.starts_with("name")),
            Some(true)
        );
    }

    #[test]
    fn a_notification_row_names_its_job_or_says_test() {
        let text = notifications(&[
            json!({"id": 9, "channel": "ops", "event": "test", "job_id": 0,
                "job_name": "(test)", "status": "pending", "attempts": 0, "last_error": null,
                "created_at": "2030-01-01T00:00:00.123Z"}),
            json!({"id": 8, "channel": "ops", "event": "failed", "job_id": 4,
                "job_name": "report", "status": "failed", "attempts": 3,
                "last_error": "HTTP 500\nboom", "created_at": "2030-01-01T00:00:00Z"}),
        ]);
        let rows: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows[0],
            [
                "ID", "CREATED", "CHANNEL", "EVENT", "JOB", "STATUS", "ATTEMPTS", "LAST", "ERROR"
            ],
            "{text}"
        );
        assert_eq!(
            rows[1],
            [
                "9",
                "2030-01-01T00:00:00Z",
                "ops",
                "test",
                "(test)",
                "pending",
                "0",
                "-"
            ],
            "{text}"
        );
        assert_eq!(
            rows[2],
            [
                "8",
                "2030-01-01T00:00:00Z",
                "ops",
                "failed",
                "report",
                "(4)",
                "failed",
                "3",
                "HTTP",
                "500",
                "boom"
            ],
            "{text}"
        );
    }
}
