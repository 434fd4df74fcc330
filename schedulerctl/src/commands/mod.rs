//! What each command does: one file per resource (`jobs.rs`, `runs.rs`, `cron.rs`,
//! `keys.rs`), each a few requests and a print; the shared printing of a list or one item is
//! here.

mod cron;
mod jobs;
mod keys;
mod runs;

pub(crate) use runs::runs_path;

use clap::CommandFactory as _;
use serde_json::Value;

use crate::cli::{Cli, Command};
use crate::client::{Answer, Client};
use crate::failure::Failure;
use crate::listing::Listing;
use crate::output::{self, Format};

/// Runs the command `cli` names.
pub(crate) async fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Completions { shell } = cli.command {
        // Needs no server, so a wrong SCHEDULER_URL does not stop it.
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "schedulerctl", &mut script);
        return output::emit(&String::from_utf8_lossy(&script));
    }
    let global = &cli.global;
    let client = Client::new(&global.url, global.key.as_deref(), global.timeout)?;
    let format = global.output;
    match cli.command {
        Command::Jobs(command) => jobs::run(&client, format, command).await,
        Command::Runs(command) => runs::run(&client, format, command).await,
        Command::Cron(command) => cron::run(&client, format, command).await,
        Command::Keys(command) => keys::run(&client, format, command).await,
        Command::Completions { .. } => Ok(()),
    }
}

/// Prints one item: its JSON as received, or `render`'s table.
fn show(format: Format, answer: &Answer, render: fn(&Value) -> String) -> Result<(), Failure> {
    let item = answer.json()?;
    match format {
        Format::Json => output::emit_raw(&answer.body),
        Format::Table => output::emit(&render(&item)),
    }
}

/// Prints a list: the page as received (`--all`: one array of every item), or `render`'s
/// table with a note on standard error when more pages exist. `what` names the items
/// ("jobs"); `page` is the page shown.
fn show_list(
    format: Format,
    listing: &Listing,
    render: fn(&[Value]) -> String,
    what: &str,
    page: Option<u64>,
) -> Result<(), Failure> {
    match (format, listing) {
        (Format::Json, Listing::Page { answer, .. }) => output::emit_raw(&answer.body),
        (Format::Json, Listing::All(items)) => output::emit_json(&Value::from(items.clone())),
        (Format::Table, Listing::All(items)) => output::emit(&render(items)),
        (
            Format::Table,
            Listing::Page {
                items,
                count,
                has_next,
                next_cursor,
                ..
            },
        ) => {
            output::emit(&render(items))?;
            if *has_next {
                let total = count.map_or(String::new(), |count| format!(" of {count}"));
                let more = match next_cursor {
                    Some(cursor) => format!("--cursor {cursor}"),
                    None => format!("--page {}", page.unwrap_or(1).saturating_add(1)),
                };
                output::note(&format!(
                    "showing {}{total} {what}; more with {more}, or --all",
                    items.len()
                ));
            }
            Ok(())
        }
    }
}

/// Prints what a `204 No Content` did: a sentence, or `{"id": <id>, "<done>": true}`.
fn done(format: Format, id: i64, done: &str, sentence: String) -> Result<(), Failure> {
    match format {
        Format::Json => output::emit_json(&serde_json::json!({ "id": id, done: true })),
        Format::Table => output::emit(&sentence),
    }
}
