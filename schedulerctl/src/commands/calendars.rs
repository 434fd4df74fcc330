//! `schedulerctl calendars list|show|import|apply|delete` over `/scheduler/calendars/`: a
//! tenant's named sets of days its jobs do not fire on. `import` turns an iCalendar file's
//! events into the calendar's dates (`ics.rs`); `apply` sends a JSON body as written, to the
//! name inside it. A delete refused because jobs still list the calendar names those jobs.

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::print::{done_named, show};
use crate::body::{read_object, read_text, source};
use crate::cli::{CalendarsCommand, ImportArgs, PageArgs};
use crate::client::{Answer, Client};
use crate::failure::Failure;
use crate::ics::{self, IcsEntry};
use crate::listing::{self, Listing};
use crate::output::{self, Format};
use crate::paths::calendar_path;
use crate::tables;
use crate::text::{LINE_LIMIT, printable};

/// The calendars collection.
const CALENDARS: &str = "/scheduler/calendars/";

/// Runs `command`.
pub(crate) async fn run(
    client: &Client,
    format: Format,
    command: CalendarsCommand,
) -> Result<(), Failure> {
    match command {
        CalendarsCommand::List => {
            let answer = client.get(CALENDARS, &[]).await?;
            let (items, _) = listing::page_parts(&answer.json()?)?;
            match format {
                Format::Json => output::emit_raw(&answer.body),
                Format::Table => output::emit(&tables::calendars(&items)),
            }
        }
        CalendarsCommand::Show { name } => {
            let answer = client.get(&calendar_path(&name)?, &[]).await?;
            show(format, &answer, tables::calendar)
        }
        CalendarsCommand::Import(args) => import(client, format, &args).await,
        CalendarsCommand::Apply { file } => {
            let body = read_object(&file, "a calendar: name, timezone, description, dates")?;
            let Some(name) = body.get("name").and_then(Value::as_str) else {
                return Err(Failure::Usage(format!(
                    "{} must name the calendar: \"name\": \"...\"",
                    source(&file)
                )));
            };
            let path = calendar_path(name.trim())?;
            let answer = client
                .send(Method::PUT, &path, &[], Some(&Value::Object(body)))
                .await?;
            saved(format, &answer, "")
        }
        CalendarsCommand::Delete { name } => {
            match client
                .send(Method::DELETE, &calendar_path(&name)?, &[], None)
                .await
            {
                Ok(_) => {
                    let shown = printable(&name, LINE_LIMIT);
                    done_named(
                        format,
                        &name,
                        "deleted",
                        format!("Deleted calendar {shown}."),
                    )
                }
                Err(Failure::Refused(refusal)) if refusal.status == 409 => {
                    Err(in_use(client, &name, Failure::Refused(refusal)).await)
                }
                Err(failure) => Err(failure),
            }
        }
    }
}

/// `calendars import`: the file's events as the calendar's dates, created (POST) or, with
/// `--replace`, created or replaced (PUT).
async fn import(client: &Client, format: Format, args: &ImportArgs) -> Result<(), Failure> {
    // Checked before the file is read, so a wrong name is said first.
    let path = calendar_path(&args.name)?;
    let text = read_text(&args.file)?;
    let entries = ics::parse_ics(&text)
        .map_err(|error| Failure::Usage(format!("{}: {error}", source(&args.file))))?;
    if entries.is_empty() {
        return Err(Failure::Usage(format!(
            "{}: no events, so no dates to import",
            source(&args.file)
        )));
    }
    let mut body = Map::new();
    body.insert("name".into(), json!(args.name));
    if let Some(timezone) = &args.timezone {
        body.insert("timezone".into(), json!(timezone));
    }
    if let Some(description) = &args.description {
        body.insert("description".into(), json!(description));
    }
    body.insert(
        "dates".into(),
        Value::Array(entries.iter().map(IcsEntry::to_value).collect()),
    );
    let (method, path) = if args.replace {
        (Method::PUT, path)
    } else {
        (Method::POST, CALENDARS.to_string())
    };
    let answer = client
        .send(method, &path, &[], Some(&Value::Object(body)))
        .await?;
    saved(format, &answer, " imported")
}

/// Prints a written calendar (`{"calendar", "job_ids"}`): as received, or one sentence with
/// its name, whether it was created or replaced, its number of dates (followed by `what`,
/// e.g. ` imported`) and the jobs whose next run was recomputed.
fn saved(format: Format, answer: &Answer, what: &str) -> Result<(), Failure> {
    let saved = answer.json()?;
    if format == Format::Json {
        return output::emit_raw(&answer.body);
    }
    let calendar = &saved["calendar"];
    let name = calendar
        .get("name")
        .and_then(Value::as_str)
        .map_or_else(|| "-".into(), |name| printable(name, LINE_LIMIT));
    let dates = calendar.get("dates").and_then(Value::as_array).map_or_else(
        || "- dates".into(),
        |dates| format!("{} date{}", dates.len(), plural(dates.len())),
    );
    let done = if answer.status == 201 {
        "created"
    } else {
        "replaced"
    };
    let jobs: Vec<String> = saved
        .get("job_ids")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().map(Value::to_string).collect())
        .unwrap_or_default();
    let jobs = if jobs.is_empty() {
        "no job uses it".to_string()
    } else {
        format!(
            "next run recomputed for job{} {}",
            plural(jobs.len()),
            printable(&jobs.join(", "), LINE_LIMIT)
        )
    };
    output::emit(&format!("Calendar {name} {done}: {dates}{what}; {jobs}."))
}

/// `failure` (a 409 to a delete) with a line naming the jobs that still list calendar `name`,
/// found by reading every job; when they cannot be listed the line says so without ids.
async fn in_use(client: &Client, name: &str, failure: Failure) -> Failure {
    let every = PageArgs {
        page: None,
        page_size: Some(500),
        all: true,
        cursor: None,
    };
    let users: Vec<String> =
        match listing::fetch(client, "/scheduler/jobs/", Vec::new(), &every).await {
            Ok(Listing::All(jobs)) => jobs
                .iter()
                .filter(|job| {
                    job.get("calendars")
                        .and_then(Value::as_array)
                        .is_some_and(|names| names.iter().any(|n| n.as_str() == Some(name)))
                })
                .filter_map(|job| job.get("id").map(Value::to_string))
                .collect(),
            _ => Vec::new(),
        };
    let name = printable(name, LINE_LIMIT);
    let hint = match users.as_slice() {
        [] => format!("calendar {name} is used by a job (jobs get ID shows its calendars)"),
        [one] => format!(
            "calendar {name} is used by job {one} (e.g. jobs update {one} --no-calendars, or \
             --calendar with its others)"
        ),
        many => format!(
            "calendar {name} is used by jobs {}",
            printable(&many.join(", "), LINE_LIMIT)
        ),
    };
    Failure::Hinted {
        failure: Box::new(failure),
        hint,
    }
}

/// `s` unless `count` is 1.
fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}
