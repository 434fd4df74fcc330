//! `schedulerctl`: the scheduler's command-line client. It talks to a server over HTTP only
//! (`--url`, `SCHEDULER_URL`), with a key (`--key`, `SCHEDULER_KEY`) sent as a Bearer token,
//! and exits with a code per kind of outcome (`exit.rs`, listed by `--help`).
//!
//! Map: `cli.rs` what the commands take; `commands/` what they do; `client.rs` HTTP;
//! `body.rs` job and channel bodies from flags, and files; `files.rs` job files (YAML, JSON) for `apply`; `ics.rs` calendar dates from iCalendar files;
//! `listing.rs` pages; `tail.rs` following runs; `tables.rs` and `output.rs` what is printed;
//! `failure.rs` and `exit.rs` what went wrong.

mod body;
mod cli;
mod client;
mod commands;
mod duration;
mod exit;
mod failure;
mod files;
mod ics;
mod listing;
mod output;
mod paths;
mod tables;
mod tail;
mod text;

use std::process::ExitCode;

use clap::Parser as _;

use crate::exit::Exit;
use crate::failure::Failure;

fn main() -> ExitCode {
    // Usage errors exit 2 and --help/--version 0, from clap itself.
    let cli = cli::Cli::parse();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(message) = cli::misplaced_server_url(&args) {
        output::note(&format!("error: {message}"));
        return Exit::Usage.into();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            output::note(&format!("error: cannot start the async runtime: {error}"));
            return Exit::Failure.into();
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => Exit::Success.into(),
        Err(Failure::OutputClosed) => Exit::Success.into(),
        Err(failure) => {
            output::note(&format!("error: {failure}"));
            failure.exit().into()
        }
    }
}
