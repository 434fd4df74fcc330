//! Log output: text for people or JSON for log pipelines (`SCHEDULER_LOG_FORMAT`), written by
//! a background thread so a request never waits on its output. Every line of a request carries
//! its `request_id` (the `request` span of the request-id middleware). The server logs to
//! stdout; the one-shot commands (`keys`, `signing`, `migrate`) to stderr, so their stdout
//! carries only their result ([`LogOutput`]).

use std::io::IsTerminal;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    /// The server's stream.
    Stdout,
    /// For commands whose stdout is their result (`KEY=$(scheduler-server keys create)`).
    Stderr,
}

/// Installs the global log subscriber writing to `output`; keep the guard alive until exit
/// (it flushes the background writer). The filter comes from `RUST_LOG` (default `info`).
pub fn init(json: bool, output: LogOutput) -> WorkerGuard {
    // The writer flushes after draining what is queued: one line per write when idle, many
    // lines per write under load (instead of a write system call per request).
    let sink: Box<dyn std::io::Write + Send> = match output {
        LogOutput::Stdout => Box::new(std::io::stdout()),
        LogOutput::Stderr => Box::new(std::io::stderr()),
    };
    let terminal = match output {
        LogOutput::Stdout => std::io::stdout().is_terminal(),
        LogOutput::Stderr => std::io::stderr().is_terminal(),
    };
    let (writer, guard) =
        tracing_appender::non_blocking(std::io::BufWriter::with_capacity(64 * 1024, sink));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    log_panics();
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.with_ansi(terminal).init();
    }
    guard
}

/// Logs every panic as one error line through the log pipeline (with the request id when it
/// happens while serving a request), instead of the default multi-line text on stderr. The
/// backtrace is included only when `RUST_BACKTRACE` asks for one.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_string());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        // Worded as the standard hook words it, so what greps logs for panics still finds them.
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            tracing::error!(%backtrace, "panicked at {location}: {message}");
        } else {
            tracing::error!("panicked at {location}: {message}");
        }
    }));
}
