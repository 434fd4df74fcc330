//! `schedulerctl jobs list|get|create|update|delete|pause|resume|run|history`.

use reqwest::Method;
use serde_json::Value;

use super::print::{done, show, show_list};
use crate::body::job_body;
use crate::cli::{JobListArgs, JobsCommand};
use crate::client::Client;
use crate::failure::Failure;
use crate::listing;
use crate::output::Format;
use crate::tables;

/// Runs `command`.
pub(crate) async fn run(
    client: &Client,
    format: Format,
    command: JobsCommand,
) -> Result<(), Failure> {
    match command {
        JobsCommand::List(args) => list(client, format, &args).await,
        JobsCommand::Get { id } => {
            let answer = client.get(&job_path(id, ""), &[]).await?;
            show(format, &answer, tables::job)
        }
        JobsCommand::Create(args) => {
            let mut body = job_body(&args.fields)?;
            if args.paused {
                body.insert("is_active".into(), Value::Bool(false));
            }
            let body = Value::Object(body);
            let answer = client
                .send(Method::POST, "/scheduler/jobs/", &[], Some(&body))
                .await?;
            show(format, &answer, tables::job)
        }
        JobsCommand::Update(args) => {
            let mut body = job_body(&args.fields)?;
            if args.no_end_time {
                body.insert("end_time".into(), Value::Null);
            }
            if args.no_target {
                body.insert("target".into(), Value::Null);
            }
            if args.no_calendars {
                body.insert("calendars".into(), Value::Array(Vec::new()));
            }
            if body.is_empty() {
                return Err(Failure::Usage(
                    "nothing to change: give a field (e.g. --cron) or --file".into(),
                ));
            }
            let body = Value::Object(body);
            let answer = client
                .send(Method::PATCH, &job_path(args.id, ""), &[], Some(&body))
                .await?;
            show(format, &answer, tables::job)
        }
        JobsCommand::Delete { id } => {
            client
                .send(Method::DELETE, &job_path(id, ""), &[], None)
                .await?;
            done(format, id, "deleted", format!("Deleted job {id}."))
        }
        JobsCommand::Pause { id, note, until } => {
            let query = present(&[("note", note), ("until", until)]);
            action(client, format, id, "pause/", &query, tables::job).await
        }
        JobsCommand::PauseMany {
            name_prefix,
            note,
            until,
        } => {
            let query = present(&[
                ("name_prefix", name_prefix),
                ("note", note),
                ("until", until),
            ]);
            switch(client, format, "pause/", &query).await
        }
        JobsCommand::Backfill { id, from, to } => {
            let body = serde_json::json!({"from": from, "to": to});
            let answer = client
                .send(Method::POST, &job_path(id, "backfill/"), &[], Some(&body))
                .await?;
            show(format, &answer, |done| {
                format!(
                    "{} runs created, {} instants already run",
                    done["created"], done["already_run"]
                )
            })
        }
        JobsCommand::ResumeMany { name_prefix } => {
            let query = present(&[("name_prefix", name_prefix)]);
            switch(client, format, "resume/", &query).await
        }
        JobsCommand::Resume { id } => action(client, format, id, "resume/", &[], tables::job).await,
        JobsCommand::Run { id } => action(client, format, id, "run/", &[], tables::run).await,
        JobsCommand::History { id, pages } => {
            let listing = listing::fetch(
                client,
                &job_path(id, "history/"),
                Vec::new(),
                &pages.pages(),
            )
            .await?;
            show_list(format, &listing, tables::history, "entries", None)
        }
    }
}

/// The query parameters that were given.
fn present(params: &[(&str, Option<String>)]) -> Vec<(String, String)> {
    params
        .iter()
        .filter_map(|(name, value)| value.clone().map(|v| ((*name).to_string(), v)))
        .collect()
}

/// A POST to the maintenance switch (`rest`: `pause/` or `resume/`), printing what changed.
async fn switch(
    client: &Client,
    format: Format,
    rest: &str,
    query: &[(String, String)],
) -> Result<(), Failure> {
    let answer = client
        .send(
            Method::POST,
            &format!("/scheduler/maintenance/{rest}"),
            query,
            None,
        )
        .await?;
    show(format, &answer, |changed| {
        format!(
            "{} jobs: {}",
            changed["count"],
            changed["job_ids"]
                .as_array()
                .map(|ids| ids
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        )
    })
}

/// `/scheduler/jobs/{id}/` followed by `rest`.
fn job_path(id: i64, rest: &str) -> String {
    format!("/scheduler/jobs/{id}/{rest}")
}

/// A POST to one of a job's actions (with `query`), printing what it answers with.
async fn action(
    client: &Client,
    format: Format,
    id: i64,
    rest: &str,
    query: &[(String, String)],
    render: fn(&Value) -> String,
) -> Result<(), Failure> {
    let answer = client
        .send(Method::POST, &job_path(id, rest), query, None)
        .await?;
    show(format, &answer, render)
}

/// `jobs list`.
async fn list(client: &Client, format: Format, args: &JobListArgs) -> Result<(), Failure> {
    let mut filters = Vec::new();
    if args.active || args.paused {
        filters.push(("is_active".into(), args.active.to_string()));
    }
    if let Some(ordering) = &args.ordering {
        filters.push(("ordering".into(), ordering.clone()));
    }
    if let Some(search) = &args.search {
        filters.push(("search".into(), search.clone()));
    }
    let listing = listing::fetch(client, "/scheduler/jobs/", filters, &args.pages).await?;
    show_list(format, &listing, tables::jobs, "jobs", args.pages.page)
}
