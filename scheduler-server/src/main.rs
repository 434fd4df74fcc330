//! `scheduler-server`: parse the configuration, then serve (default), migrate or probe health.

use clap::Parser;
use scheduler_server::logging::LogOutput;
use scheduler_server::{
    Application, Cli, Command, StartupError, open_database, open_existing_database, shutdown_signal,
};

/// mimalloc: measurably cheaper than glibc malloc for the server's many small, short-lived
/// allocations (request parsing, JSON, query building).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    // Only the server's stdout is a log stream; a command's stdout is its result.
    let output = match command {
        Command::Serve => LogOutput::Stdout,
        _ => LogOutput::Stderr,
    };
    // Outside the runtime: the trace exporter's HTTP client blocks, which async code may not,
    // when it is made and when it is flushed at exit (`flush_on_exit` dropped after `run`).
    let flush_on_exit = scheduler_server::logging::init(cli.config.json_logs(), output);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("scheduler-server: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(cli.config, command, flush_on_exit));
    drop(runtime);
    code
}

/// What `main` does inside the runtime.
async fn run(
    config: scheduler_server::Config,
    command: Command,
    flush_on_exit: scheduler_server::logging::FlushOnExit,
) -> std::process::ExitCode {
    let cli = Cli {
        config,
        command: None,
    };
    let result = match command {
        Command::Keys(command) => match open_existing_database(&cli.config, "keys").await {
            Ok(db) => {
                let clock: std::sync::Arc<dyn scheduler_core::Clock> =
                    std::sync::Arc::new(scheduler_adapters::SystemClock);
                let keys = scheduler_server::parts::key_service(&db, clock);
                return scheduler_server::cli::keys(&keys, command).await;
            }
            Err(error) => Err(error),
        },
        Command::Signing(command) => match open_existing_database(&cli.config, "signing").await {
            Ok(db) => {
                let clock: std::sync::Arc<dyn scheduler_core::Clock> =
                    std::sync::Arc::new(scheduler_adapters::SystemClock);
                let signing = scheduler_server::parts::signing_service(&db, clock);
                return scheduler_server::cli::signing(&signing, command).await;
            }
            Err(error) => Err(error),
        },
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
            Ok(app) => {
                let addr = app.local_addr();
                app.run_until_stopped(shutdown_signal())
                    .await
                    .map_err(|source| StartupError::Serve { addr, source })
            }
            Err(error) => Err(error),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "scheduler-server stopped");
            flush_on_exit.flush();
            // Also on stderr, where a person starting the server looks first.
            eprintln!("scheduler-server: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
