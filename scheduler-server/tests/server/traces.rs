//! Traces for real: the server binary with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at an
//! OTLP/HTTP receiver in this test, which decodes the protobuf exports. A run asked for by a
//! request carrying a `traceparent` is one trace: the caller's span → `request` → `run` →
//! `delivery`, and the receiver of the delivery gets a `traceparent` continuing it; a fire the
//! dispatcher claims is a trace of its own: `claim` → `run` → `delivery`. Without the variable
//! no span leaves and no `traceparent` is sent.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use poem::{EndpointExt, Request, handler, web::Data};
use prost::Message as _;
use scheduler_test_support::TestSqlite;
use serde_json::{Value, json};

use crate::support::serve_hook;

const BIN: &str = env!("CARGO_BIN_EXE_scheduler-server");

/// What the test's receivers saw: exported spans (with their service's name) and the
/// `traceparent` of each delivery.
#[derive(Default)]
struct Seen {
    spans: Mutex<Vec<(String, Span)>>,
    traceparents: Mutex<Vec<Option<String>>>,
}

#[handler]
async fn export(seen: Data<&Arc<Seen>>, body: Vec<u8>) -> poem::http::StatusCode {
    let Ok(request) = ExportTraceServiceRequest::decode(body.as_slice()) else {
        return poem::http::StatusCode::BAD_REQUEST;
    };
    let mut spans = seen.spans.lock().unwrap();
    for resource in request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| r.attributes.iter())
            .find(|a| a.key == "service.name")
            .and_then(|a| a.value.as_ref())
            .map(|v| format!("{:?}", v.value))
            .unwrap_or_default();
        for scope in resource.scope_spans {
            for span in scope.spans {
                spans.push((service.clone(), span));
            }
        }
    }
    poem::http::StatusCode::OK
}

#[handler]
fn delivered(seen: Data<&Arc<Seen>>, request: &Request) -> &'static str {
    let traceparent = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    seen.traceparents.lock().unwrap().push(traceparent);
    "ok"
}

/// The server binary on a fresh SQLite file, traces to `otlp` when given; killed on drop.
struct Server {
    child: Child,
    base: String,
    /// An HTTP client with a bound on every answer.
    client: reqwest::Client,
    _file: TestSqlite,
}

impl Server {
    fn start(otlp: Option<&str>) -> Server {
        let file = TestSqlite::new();
        let mut command = Command::new(BIN);
        command
            .env_remove("REDIS_URL")
            .env("DATABASE_URL", &file.url)
            .env("SCHEDULER_BIND", "127.0.0.1:0")
            .env("SCHEDULER_LOG_FORMAT", "json")
            .env("SCHEDULER_TARGET_ALLOW", "127.0.0.1")
            .env("RUST_LOG", "info")
            .env("OTEL_SERVICE_NAME", "scheduler-under-test")
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        // The signal's own variable: the URL as it is (the general one gets `/v1/traces`).
        match otlp {
            Some(endpoint) => command.env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint),
            None => command.env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        };
        let mut child = command.spawn().expect("the binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                panic!("the server ended before listening");
            };
            if let Ok(entry) = serde_json::from_str::<Value>(&line)
                && entry["message"] == "listening"
            {
                break entry["addr"].as_str().expect("the address").to_string();
            }
        };
        // Keep reading, so a full pipe never blocks the server.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Server {
            child,
            base: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("a client"),
            _file: file,
        }
    }

    /// Creates the job `body` describes (asserting 201) and returns it.
    async fn create_job(&self, body: Value) -> Value {
        let response = self
            .client
            .post(format!("{}/scheduler/jobs/", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref())
        .map(|v| match &v.value {
            Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => {
                s.clone()
            }
            Some(opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(i)) => {
                i.to_string()
            }
            other => format!("{other:?}"),
        })
}

/// Waits (at most 15 s) until `found` finds what it looks for in the spans seen.
async fn wait_for<T>(seen: &Seen, found: impl Fn(&[(String, Span)]) -> Option<T>) -> T {
    for _ in 0..150 {
        if let Some(value) = found(&seen.spans.lock().unwrap()) {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let names: Vec<String> = seen
        .spans
        .lock()
        .unwrap()
        .iter()
        .map(|(_, s)| s.name.clone())
        .collect();
    panic!("not exported; spans seen: {names:?}");
}

/// The span named `name` whose parent is `parent` (a span id), in `trace`.
fn child<'a>(
    spans: &'a [(String, Span)],
    trace: &[u8],
    parent: &[u8],
    name: &str,
) -> Option<&'a Span> {
    spans
        .iter()
        .map(|(_, span)| span)
        .find(|s| s.name == name && s.trace_id == trace && s.parent_span_id == parent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_one_trace_from_the_request_to_the_receiver() {
    let seen = Arc::new(Seen::default());
    let otlp = serve_hook(export.data(seen.clone())).await;
    let hook = serve_hook(delivered.data(seen.clone())).await;
    let server = Server::start(Some(&otlp));
    let client = &server.client;

    // A job that never fires by itself, run by a request that continues the caller's trace.
    let job = server
        .create_job(json!({"name": "traced", "cron_expression": "0 0 1 1 *",
            "target": {"type": "http", "url": hook}}))
        .await;
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let ran = client
        .post(format!("{}/scheduler/jobs/{}/run/", server.base, job["id"]))
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .send()
        .await
        .unwrap();
    assert!(ran.status().is_success(), "{}", ran.status());
    let run: Value = ran.json().await.unwrap();

    let trace = (0..16)
        .map(|i| u8::from_str_radix(&caller_trace[2 * i..2 * i + 2], 16).unwrap())
        .collect::<Vec<u8>>();
    let parent = (0..8)
        .map(|i| u8::from_str_radix(&caller_span[2 * i..2 * i + 2], 16).unwrap())
        .collect::<Vec<u8>>();
    let (request, run_span, delivery) = wait_for(&seen, |spans| {
        let request = child(spans, &trace, &parent, "request")?;
        let run_span = child(spans, &trace, &request.span_id, "run")?;
        let delivery = child(spans, &trace, &run_span.span_id, "delivery")?;
        Some((request.clone(), run_span.clone(), delivery.clone()))
    })
    .await;
    assert_eq!(attribute(&request, "method").as_deref(), Some("POST"));
    assert_eq!(
        attribute(&run_span, "run_id"),
        Some(run["id"].to_string()),
        "{run_span:?}"
    );
    assert_eq!(attribute(&run_span, "trigger").as_deref(), Some("manual"));
    assert_eq!(attribute(&delivery, "http.status").as_deref(), Some("200"));
    assert_eq!(
        attribute(&delivery, "trace_id").as_deref(),
        Some(caller_trace)
    );
    let service = seen.spans.lock().unwrap()[0].0.clone();
    assert!(service.contains("scheduler-under-test"), "{service}");
    // The receiver continues the same trace, under the delivery's span.
    let traceparent = seen.traceparents.lock().unwrap()[0]
        .clone()
        .expect("a traceparent");
    assert_eq!(
        traceparent,
        format!("00-{caller_trace}-{}-01", hex(&delivery.span_id))
    );

    // A fire the dispatcher claims: claim → run → delivery, a trace of its own.
    server
        .create_job(json!({"name": "every-second", "interval_seconds": 1,
            "target": {"type": "http", "url": hook}}))
        .await;
    let (claim, delivery) = wait_for(&seen, |spans| {
        spans.iter().map(|(_, s)| s).find_map(|claim| {
            if claim.name != "claim" || !claim.parent_span_id.is_empty() {
                return None;
            }
            let run = child(spans, &claim.trace_id, &claim.span_id, "run")?;
            let delivery = child(spans, &claim.trace_id, &run.span_id, "delivery")?;
            Some((claim.clone(), delivery.clone()))
        })
    })
    .await;
    assert_ne!(hex(&claim.trace_id), caller_trace);
    let continued = format!("00-{}-{}-01", hex(&claim.trace_id), hex(&delivery.span_id));
    assert!(
        seen.traceparents
            .lock()
            .unwrap()
            .iter()
            .any(|t| t.as_deref() == Some(continued.as_str())),
        "{continued}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_endpoint_no_trace_context_is_sent() {
    let seen = Arc::new(Seen::default());
    let hook = serve_hook(delivered.data(seen.clone())).await;
    let server = Server::start(None);
    let client = &server.client;
    let job = server
        .create_job(json!({"name": "untraced", "cron_expression": "0 0 1 1 *",
            "target": {"type": "http", "url": hook}}))
        .await;
    client
        .post(format!("{}/scheduler/jobs/{}/run/", server.base, job["id"]))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .unwrap();
    for _ in 0..100 {
        if !seen.traceparents.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(*seen.traceparents.lock().unwrap(), vec![None]);
}
