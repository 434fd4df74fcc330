//! `schedulerctl runs list|get|tail|cancel|replay`.

use reqwest::Method;
use serde_json::{Value, json};

use super::print::{show, show_list};
use crate::cli::{ReplayArgs, RunListArgs, RunsCommand};
use crate::client::{Answer, Client};
use crate::failure::Failure;
use crate::listing;
use crate::output::{self, Format};
use crate::paths::runs_path;
use crate::tables;
use crate::tail;

/// Runs `command`.
pub(crate) async fn run(
    client: &Client,
    format: Format,
    command: RunsCommand,
) -> Result<(), Failure> {
    match command {
        RunsCommand::List(args) => list(client, format, &args).await,
        RunsCommand::Get { id } => get(client, format, id).await,
        RunsCommand::Tail(args) => tail::follow(client, format, &args).await,
        RunsCommand::Cancel { id } => {
            let answer = client
                .send(
                    reqwest::Method::POST,
                    &format!("/scheduler/runs/{id}/cancel/"),
                    &[],
                    None,
                )
                .await?;
            show(format, &answer, tables::run)
        }
        RunsCommand::Replay(args) => match args.id {
            Some(id) => replay_one(client, format, id).await,
            None => replay_many(client, format, &args).await,
        },
    }
}

/// `runs get`: the run and what its target answered (`/scheduler/runs/{id}/output/`, 204
/// when nothing was kept): as JSON, the run with an `output` field (null when none); as a
/// table, the run's table and the output's text under it.
async fn get(client: &Client, format: Format, id: i64) -> Result<(), Failure> {
    let answer = client.get(&format!("/scheduler/runs/{id}/"), &[]).await?;
    let mut run = answer.json()?;
    let kept = client
        .get(&format!("/scheduler/runs/{id}/output/"), &[])
        .await?;
    let output = if kept.status == 204 {
        Value::Null
    } else {
        kept.json()?
    };
    match format {
        Format::Json => {
            if let Some(object) = run.as_object_mut() {
                object.insert("output".into(), output);
            }
            output::emit_json(&run)
        }
        Format::Table => {
            let mut text = tables::run(&run);
            if !output.is_null() {
                text.push_str(&output_text(&output));
            }
            output::emit(&text)
        }
    }
}

/// The output under a run's table: a line saying what it is, then its text.
fn output_text(output: &Value) -> String {
    let kind = output["content_type"].as_str().unwrap_or("no content type");
    let size = output["size"].as_u64().unwrap_or(0);
    let cut = if output["truncated"].as_bool().unwrap_or(false) {
        ", only the first 64 KiB of text kept"
    } else {
        ""
    };
    let body = output["body"].as_str().unwrap_or_default();
    let mut text = format!("\nOutput ({kind}, {size} bytes{cut}):\n");
    if !body.is_empty() {
        text.push_str(body);
        if !body.ends_with('\n') {
            text.push('\n');
        }
    }
    text
}

/// `POST /scheduler/runs/{id}/replay/`: the replay, and whether it was made now (202) or
/// before (200).
async fn replay(client: &Client, id: i64) -> Result<(Answer, bool), Failure> {
    let answer = client
        .send(
            Method::POST,
            &format!("/scheduler/runs/{id}/replay/"),
            &[],
            None,
        )
        .await?;
    let started = answer.status == 202;
    Ok((answer, started))
}

/// The `id` of a run as the server sent it, or `-`.
fn run_id(run: &Value) -> String {
    run.get("id")
        .and_then(Value::as_i64)
        .map_or_else(|| "-".into(), |id| id.to_string())
}

/// `runs replay ID`: prints the replay as `runs get` does, and on standard error whether it
/// started now or was made before.
async fn replay_one(client: &Client, format: Format, id: i64) -> Result<(), Failure> {
    let (answer, started) = replay(client, id).await?;
    show(format, &answer, tables::run)?;
    let replay = run_id(&answer.json()?);
    if started {
        output::note(&format!("replay started: run {replay} replays run {id}"));
    } else {
        output::note(&format!(
            "run {id} was replayed before, by run {replay} (a run is replayed once)"
        ));
    }
    Ok(())
}

/// Whether every request after this failure would fail the same way (no connection, a key
/// refused, the rate limit), so a bulk replay stops sending.
fn stops_the_rest(failure: &Failure) -> bool {
    match failure {
        Failure::Transport { .. } => true,
        Failure::Refused(refusal) => matches!(refusal.status, 401 | 403 | 429),
        Failure::Hinted { failure, .. } => stops_the_rest(failure),
        _ => false,
    }
}

/// `runs replay --status S [--job ID] [--after T] [--before T] [--limit N] [--dry-run]`:
/// lists the matching runs (up to `--limit`), then shows them (`--dry-run`) or replays each
/// in turn and shows what became of it.
async fn replay_many(client: &Client, format: Format, args: &ReplayArgs) -> Result<(), Failure> {
    let Some(status) = &args.status else {
        return Err(Failure::Usage(
            "give a run's ID, or --status (e.g. failed) to replay in bulk".into(),
        ));
    };
    let mut filters = vec![("status".to_string(), status.clone())];
    let given = [
        ("scheduled_after", &args.after),
        ("scheduled_before", &args.before),
    ];
    for (name, value) in given {
        if let Some(value) = value {
            filters.push((name.to_string(), value.clone()));
        }
    }
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let (runs, more) = listing::fetch_up_to(client, &runs_path(args.job), filters, limit).await?;
    let beyond = if more {
        format!("; more runs match beyond --limit {limit}")
    } else {
        String::new()
    };
    if args.dry_run {
        match format {
            Format::Json => output::emit_json(&Value::from(runs.clone()))?,
            Format::Table => output::emit(&tables::runs(&runs))?,
        }
        output::note(&format!(
            "dry run: {} runs would be replayed, nothing was sent{beyond}",
            runs.len()
        ));
        return Ok(());
    }
    let mut outcomes = Vec::with_capacity(runs.len());
    let (mut started, mut before, mut failed, mut unsent) = (0usize, 0usize, 0usize, 0usize);
    let mut first_failure: Option<Failure> = None;
    for run in &runs {
        let Some(id) = run.get("id").and_then(Value::as_i64) else {
            return Err(Failure::BadAnswer(format!(
                "a run without an \"id\" in the list: {}",
                crate::text::printable(&run.to_string(), crate::text::LINE_LIMIT)
            )));
        };
        if first_failure.as_ref().is_some_and(stops_the_rest) {
            unsent += 1;
            outcomes.push(
                json!({"original": id, "outcome": "not_sent", "replay": null,
                "error": null}),
            );
            continue;
        }
        match replay(client, id)
            .await
            .and_then(|(answer, new)| Ok((answer.json()?, new)))
        {
            Ok((replay, new)) => {
                let outcome = if new {
                    started += 1;
                    "started"
                } else {
                    before += 1;
                    "already_replayed"
                };
                outcomes.push(json!({"original": id, "outcome": outcome, "replay": replay,
                    "error": null}));
            }
            Err(failure) => {
                failed += 1;
                outcomes.push(json!({"original": id, "outcome": "failed", "replay": null,
                    "error": failure.to_string()}));
                first_failure.get_or_insert(failure);
            }
        }
    }
    match format {
        Format::Json => output::emit_json(&Value::from(outcomes))?,
        Format::Table => output::emit(&tables::replays(&outcomes))?,
    }
    let unsent_note = if unsent > 0 {
        format!(", {unsent} not sent")
    } else {
        String::new()
    };
    output::note(&format!(
        "{} runs: {started} replays started, {before} already replayed, {failed} failed\
         {unsent_note}{beyond}",
        runs.len()
    ));
    match first_failure {
        None => Ok(()),
        Some(failure) => Err(Failure::Hinted {
            failure: Box::new(failure),
            hint: format!(
                "the first of {failed} failed replays; the table lists each run's outcome"
            ),
        }),
    }
}

/// `runs list`.
async fn list(client: &Client, format: Format, args: &RunListArgs) -> Result<(), Failure> {
    let mut filters = Vec::new();
    let given = [
        ("status", &args.status),
        ("trigger", &args.trigger),
        ("scheduled_after", &args.after),
        ("scheduled_before", &args.before),
    ];
    for (name, value) in given {
        if let Some(value) = value {
            filters.push((name.to_string(), value.clone()));
        }
    }
    let listing = listing::fetch(client, &runs_path(args.job), filters, &args.pages).await?;
    show_list(format, &listing, tables::runs, "runs", args.pages.page)
}
