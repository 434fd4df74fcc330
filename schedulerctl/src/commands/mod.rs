//! What each command does: one file per resource (`apply.rs` for files of jobs, `jobs.rs`, `runs.rs`, `cron.rs`,
//! `calendars.rs`, `channels.rs`, `notifications.rs`, `keys.rs`, `audit.rs`), each a few
//! requests and a print; the shared printing of a list or one item is in `print.rs`.

mod apply;
mod audit;
mod calendars;
mod channels;
mod cron;
mod jobs;
mod keys;
mod notifications;
mod print;
mod runs;

use clap::CommandFactory as _;

use crate::cli::{Cli, Command};
use crate::client::Client;
use crate::failure::Failure;
use crate::output;

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
    let asked = global.output;
    if asked == output::Output::Yaml {
        // Commands print the server's JSON; YAML is that JSON converted as it is written.
        output::print_json_as_yaml();
    }
    let format = match asked {
        output::Output::Table => output::Format::Table,
        output::Output::Json | output::Output::Yaml => output::Format::Json,
    };
    match cli.command {
        Command::Apply(args) => return apply::apply(&client, format, &args).await,
        Command::Diff(args) => return apply::diff(&client, format, &args).await,
        Command::Get(command) => return apply::get(&client, format, command).await,
        _ => {}
    }
    match cli.command {
        Command::Jobs(command) => jobs::run(&client, format, command).await,
        Command::Runs(command) => runs::run(&client, format, command).await,
        Command::Cron(command) => cron::run(&client, format, command).await,
        Command::Calendars(command) => calendars::run(&client, format, command).await,
        Command::Channels(command) => channels::run(&client, format, command).await,
        Command::Notifications(command) => notifications::run(&client, format, command).await,
        Command::Keys(command) => keys::run(&client, format, command).await,
        Command::Audit(command) => audit::run(&client, format, command).await,
        Command::Completions { .. } | Command::Apply(_) | Command::Diff(_) | Command::Get(_) => {
            Ok(())
        }
    }
}
