//! Log output and traces. Logs: text for people or JSON for log pipelines
//! (`SCHEDULER_LOG_FORMAT`), written by a background thread so a request never waits on its
//! output. Every line of a request carries its `request_id` (the `request` span of the
//! request-id middleware). The server logs to stdout; the one-shot commands (`keys`,
//! `signing`, `migrate`) to stderr, so their stdout carries only their result
//! ([`LogOutput`]).
//!
//! Traces: off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
//! is set; then the spans (`request`, `claim`, `run`, `delivery`) go to that OTLP/HTTP
//! receiver as protobuf, named by `OTEL_SERVICE_NAME` (default `scheduler-server`), with the
//! W3C trace context propagated in and out (`traceparent`). The SDK's own variables apply
//! (`OTEL_BSP_SCHEDULE_DELAY`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SDK_DISABLED=true`, ...).

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    /// The server's stream.
    Stdout,
    /// For commands whose stdout is their result (`KEY=$(scheduler-server keys create)`).
    Stderr,
}

/// What must outlive the program's work: the log writer's thread and the trace exporter.
/// [`FlushOnExit::flush`] (or dropping it) writes what is queued of both.
pub struct FlushOnExit {
    /// The background log writer.
    logs: Option<WorkerGuard>,
    /// The trace pipeline, when traces are on.
    traces: Option<SdkTracerProvider>,
}

impl FlushOnExit {
    /// Sends the queued spans and writes the queued log lines. The exporter's HTTP client
    /// blocks, so this runs on a thread of its own (it may be called from async code).
    pub fn flush(mut self) {
        self.flush_now();
    }

    fn flush_now(&mut self) {
        if let Some(traces) = self.traces.take() {
            let _ = std::thread::spawn(move || traces.shutdown()).join();
        }
        drop(self.logs.take());
    }
}

impl Drop for FlushOnExit {
    fn drop(&mut self) {
        self.flush_now();
    }
}

/// Whether the environment asks for traces: an OTLP endpoint is set and the SDK is not
/// disabled.
fn traces_wanted() -> bool {
    let set = |var: &str| std::env::var(var).is_ok_and(|value| !value.trim().is_empty());
    (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        && !std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The trace pipeline the environment asks for: OTLP over HTTP with protobuf, batched, the
/// W3C trace context as the global propagator. `None` when traces are off; a pipeline that
/// cannot be built is reported on stderr and left off (logs still work).
fn trace_pipeline() -> Option<SdkTracerProvider> {
    if !traces_wanted() {
        return None;
    }
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
    {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("scheduler-server: traces are off: cannot build the OTLP exporter: {error}");
            return None;
        }
    };
    let name = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "scheduler-server".to_string());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(name)
                .build(),
        )
        .build();
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    opentelemetry::global::set_tracer_provider(provider.clone());
    Some(provider)
}

/// Installs the global subscriber: logs to `output` (filter from `RUST_LOG`, default `info`)
/// and, when the environment asks for them, traces. Call it outside any async runtime (the
/// exporter's client is a blocking one) and keep the guard until exit.
pub fn init(json: bool, output: LogOutput) -> FlushOnExit {
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
    let logs: Box<dyn Layer<Registry> + Send + Sync> = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_ansi(terminal)
            .with_writer(writer)
            .boxed()
    };
    let traces = trace_pipeline();
    let spans = traces.as_ref().map(|provider| {
        tracing_opentelemetry::layer().with_tracer(provider.tracer("scheduler-server"))
    });
    log_panics();
    tracing_subscriber::registry()
        .with(logs)
        .with(spans)
        .with(filter)
        .init();
    FlushOnExit {
        logs: Some(guard),
        traces,
    }
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
