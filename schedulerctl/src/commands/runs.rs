//! `schedulerctl runs list|get|tail|cancel`.

use super::print::{show, show_list};
use crate::cli::{RunListArgs, RunsCommand};
use crate::client::Client;
use crate::failure::Failure;
use crate::listing;
use crate::output::Format;
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
        RunsCommand::Get { id } => {
            let answer = client.get(&format!("/scheduler/runs/{id}/"), &[]).await?;
            show(format, &answer, tables::run)
        }
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
