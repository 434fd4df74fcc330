//! `scheduler-server`: parse the configuration, then serve (default) or migrate.

use std::io::IsTerminal;

use clap::Parser;
use scheduler_server::{Application, Cli, Command, open_database, shutdown_signal};
use tracing_subscriber::EnvFilter;

/// mimalloc: measurably cheaper than glibc malloc for the server's many small, short-lived
/// allocations (request parsing, JSON, query building).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Log lines are written by a background thread, so a request never waits on stdout. The
    // thread flushes after draining what is queued: one line per write when idle, many lines
    // per write under load (instead of a write system call per request).
    let (writer, _flush_on_exit) = tracing_appender::non_blocking(
        std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout()),
    );
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(writer)
        .init();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => open_database(&cli.config).await.map(|_| {
            tracing::info!("migrations applied");
        }),
        Command::Healthcheck => {
            return if scheduler_server::app::probe_health(cli.config.bind.port()).await {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            };
        }
        Command::Serve => match Application::build(&cli.config).await {
            Ok(app) => app
                .run_until_stopped(shutdown_signal())
                .await
                .map_err(|source| scheduler_server::StartupError::Bind {
                    addr: cli.config.bind,
                    source,
                }),
            Err(error) => Err(error),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "scheduler-server stopped");
            std::process::ExitCode::FAILURE
        }
    }
}
