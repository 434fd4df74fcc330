//! `schedulerctl apply|diff -f FILE|DIR` and `get jobs`: schedules kept in files. `apply`
//! sends every job of the files in one request to `/scheduler/apply` (one transaction on the
//! server), `diff` sends the same as a dry run and exits 1 when the server differs, and `get
//! jobs` prints jobs in the files' format (header values masked, as the API shows them).

use std::io::IsTerminal as _;
use std::io::Write as _;
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use indicatif::ProgressBar;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::cli::{ApplyArgs, FileSetArgs, GetCommand};
use crate::client::Client;
use crate::failure::{Failure, Refusal};
use crate::files::{FileJob, FileSet};
use crate::listing;
use crate::output::{self, Format, yaml_text};
use crate::text::{LINE_LIMIT, printable};

/// The fields of a job a file sets, in the order `get jobs` writes them (the server's
/// `FILE_FIELDS`, with the name first).
const FILE_FIELDS: [&str; 24] = [
    "name",
    "description",
    "cron_expression",
    "interval_seconds",
    "run_at",
    "timezone",
    "start_time",
    "end_time",
    "max_runs",
    "jitter_seconds",
    "parameters",
    "is_active",
    "calendars",
    "on_excluded",
    "misfire_policy",
    "misfire_grace_seconds",
    "catch_up_window_seconds",
    "concurrency_policy",
    "max_retries",
    "retry_backoff_seconds",
    "timeout_seconds",
    "pause_after_failures",
    "dst_overlap",
    "target",
];

/// A spinner on standard error while the server works, shown only on a terminal and never
/// with `-o json` or `-o yaml` (whose output is for programs; both are `Format::Json`).
fn spinner(format: Format, message: String) -> ProgressBar {
    if format != Format::Table || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_message(message);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// `apply`: makes the server match the files (or, with `--dry-run`, shows what it would do).
pub(crate) async fn apply(
    client: &Client,
    format: Format,
    args: &ApplyArgs,
) -> Result<(), Failure> {
    let set = FileSet::read(&args.set.files, args.set.owner.as_deref())?;
    let result = send(client, format, &set, &args.set, args.dry_run).await?;
    print_result(format, &result)
}

/// `diff`: the plan of an apply; `Failure::Drifted` (exit 1) when it changes anything.
pub(crate) async fn diff(
    client: &Client,
    format: Format,
    args: &FileSetArgs,
) -> Result<(), Failure> {
    let set = FileSet::read(&args.files, args.owner.as_deref())?;
    let result = send(client, format, &set, args, true).await?;
    print_result(format, &result)?;
    let changes = ["created", "updated", "deleted"]
        .iter()
        .filter_map(|key| result.get(*key).and_then(Value::as_u64))
        .sum::<u64>();
    if changes > 0 {
        return Err(Failure::Drifted(changes));
    }
    Ok(())
}

/// Sends the set to `/scheduler/apply`; a 400's `jobs[i]` fields are renamed to the file and
/// the job they are about.
async fn send(
    client: &Client,
    format: Format,
    set: &FileSet,
    args: &FileSetArgs,
    dry_run: bool,
) -> Result<Value, Failure> {
    let body = json!({
        "owner": set.owner,
        "prune": args.prune,
        "adopt": args.adopt,
        "dry_run": dry_run,
        "jobs": set.jobs.iter().map(|job| job.body.clone()).collect::<Vec<_>>(),
    });
    let verb = if dry_run { "comparing" } else { "applying" };
    let bar = spinner(
        format,
        format!("{verb} {} jobs of {}", set.jobs.len(), set.owner),
    );
    let answer = client
        .send(Method::POST, "/scheduler/apply", &[], Some(&body))
        .await;
    bar.finish_and_clear();
    match answer {
        Ok(answer) => answer.json(),
        Err(Failure::Refused(refusal)) if refusal.status == 400 => {
            Err(Failure::Refused(located(refusal, &set.jobs)))
        }
        Err(failure) => Err(failure),
    }
}

/// `refusal` with each `jobs[i].<field>` key renamed `<file>: job "<name>": <field>`.
fn located(refusal: Refusal, jobs: &[FileJob]) -> Refusal {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&refusal.body) else {
        return refusal;
    };
    let renamed: Map<String, Value> = fields
        .into_iter()
        .map(|(key, value)| (locate(&key, jobs).unwrap_or(key), value))
        .collect();
    Refusal {
        body: Value::Object(renamed).to_string().into_bytes(),
        ..refusal
    }
}

/// `jobs[i]` or `jobs[i].<field>` as `<file>: job "<name>"[: <field>]`.
fn locate(key: &str, jobs: &[FileJob]) -> Option<String> {
    let rest = key.strip_prefix("jobs[")?;
    let (index, field) = rest.split_once(']')?;
    let job = jobs.get(index.parse::<usize>().ok()?)?;
    let named = if job.name.is_empty() {
        format!("job #{}", index.parse::<usize>().ok()? + 1)
    } else {
        format!("job \"{}\"", printable(&job.name, LINE_LIMIT))
    };
    Some(match field.strip_prefix('.') {
        Some(field) => format!("{}: {named}: {field}", job.file),
        None => format!("{}: {named}", job.file),
    })
}

/// A JSON value shown in a diff line: compact, text without its quotes.
fn shown(value: &Value) -> String {
    let text = match value {
        Value::Null => "-".to_string(),
        Value::String(text) => format!("\"{text}\""),
        other => other.to_string(),
    };
    printable(&text, LINE_LIMIT)
}

/// The plan as lines (`+ create`, `~ update` with each field, `- delete`), coloured when
/// standard output is a terminal (and `NO_COLOR` is unset), then a summary; or the JSON.
fn print_result(format: Format, result: &Value) -> Result<(), Failure> {
    if format != Format::Table {
        return output::emit_json(result);
    }
    let applied = result["applied"].as_bool().unwrap_or(false);
    let (green, yellow, red) = (
        Style::new().fg_color(Some(AnsiColor::Green.into())),
        Style::new().fg_color(Some(AnsiColor::Yellow.into())),
        Style::new().fg_color(Some(AnsiColor::Red.into())),
    );
    let mut text = String::new();
    for job in result["jobs"].as_array().map_or(&[][..], Vec::as_slice) {
        let name = printable(job["name"].as_str().unwrap_or_default(), LINE_LIMIT);
        let (style, mark, did, would) = match job["action"].as_str().unwrap_or_default() {
            "create" => (green, '+', "created", "create"),
            "update" => (yellow, '~', "updated", "update"),
            "delete" => (red, '-', "deleted", "delete"),
            _ => continue,
        };
        let verb = if applied { did } else { would };
        text.push_str(&format!("{style}{mark} {verb} {name}{style:#}\n"));
        for change in job["changes"].as_array().map_or(&[][..], Vec::as_slice) {
            text.push_str(&format!(
                "    {}: {red}{}{red:#} → {green}{}{green:#}\n",
                change["field"].as_str().unwrap_or_default(),
                shown(&change["before"]),
                shown(&change["after"]),
            ));
        }
    }
    let count = |key: &str| result[key].as_u64().unwrap_or(0);
    let owner = printable(result["owner"].as_str().unwrap_or_default(), LINE_LIMIT);
    text.push_str(&if applied {
        format!(
            "Applied {owner}: {} created, {} updated, {} deleted, {} unchanged.",
            count("created"),
            count("updated"),
            count("deleted"),
            count("unchanged")
        )
    } else {
        format!(
            "Plan for {owner}: {} to create, {} to update, {} to delete, {} unchanged (dry run: \
             nothing changed).",
            count("created"),
            count("updated"),
            count("deleted"),
            count("unchanged")
        )
    });
    let mut out = anstream::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(output::unwritten)
}

/// A job as the API shows it, as a file lists it: its file fields, without the unset ones
/// (null, an empty list or object).
fn as_file_job(job: &Value) -> Value {
    let mut kept = Map::new();
    for field in FILE_FIELDS {
        match job.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) if items.is_empty() => {}
            Some(Value::Object(map)) if map.is_empty() => {}
            Some(value) => {
                kept.insert(field.to_string(), value.clone());
            }
        }
    }
    Value::Object(kept)
}

/// `get ...`.
pub(crate) async fn get(
    client: &Client,
    format: Format,
    command: GetCommand,
) -> Result<(), Failure> {
    let GetCommand::Jobs { owner } = command;
    let bar = spinner(format, "reading jobs".into());
    let read = listing::fetch_up_to(client, "/scheduler/jobs/", Vec::new(), usize::MAX).await;
    bar.finish_and_clear();
    let (jobs, _) = read?;
    let jobs: Vec<Value> = jobs
        .iter()
        .filter(|job| match &owner {
            Some(owner) => job.get("managed_by").and_then(Value::as_str) == Some(owner),
            None => true,
        })
        .map(as_file_job)
        .collect();
    let mut file = Map::new();
    if let Some(owner) = owner {
        file.insert("owner".into(), Value::String(owner));
    }
    file.insert("jobs".into(), Value::Array(jobs));
    let file = Value::Object(file);
    if format == Format::Json && !output::wants_yaml() {
        output::emit_json(&file)
    } else {
        // A file's own keys, then a job's in FILE_FIELDS order, then a target's `type` first.
        let order: Vec<&str> = ["owner", "jobs"]
            .into_iter()
            .chain(FILE_FIELDS)
            .chain(["type"])
            .collect();
        output::emit(&yaml_text(&file, &order)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(file: &str, name: &str) -> FileJob {
        FileJob {
            file: file.into(),
            name: name.into(),
            body: json!({"name": name}),
        }
    }

    #[test]
    fn field_errors_name_the_file_and_the_job() {
        let jobs = [
            job("a.yaml", "first"),
            job("b.yaml", ""),
            job("b.yaml", "third"),
        ];
        assert_eq!(
            locate("jobs[2].cron_expression", &jobs).as_deref(),
            Some("b.yaml: job \"third\": cron_expression")
        );
        assert_eq!(locate("jobs[1]", &jobs).as_deref(), Some("b.yaml: job #2"));
        assert_eq!(locate("jobs[7].name", &jobs), None);
        assert_eq!(locate("owner", &jobs), None);
    }

    #[test]
    fn an_exported_job_keeps_only_set_file_fields() {
        let shown = json!({"id": 4, "name": "n", "cron_expression": "0 9 * * 1",
            "interval_seconds": null, "calendars": [], "parameters": {}, "next_run": "x",
            "max_retries": 0, "target": {"type": "http", "url": "http://h/", "headers": {"A": "***"}}});
        assert_eq!(
            as_file_job(&shown),
            json!({"name": "n", "cron_expression": "0 9 * * 1", "max_retries": 0,
                "target": {"type": "http", "url": "http://h/", "headers": {"A": "***"}}})
        );
    }
}
