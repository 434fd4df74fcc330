//! The HTTP API: poem-openapi endpoints, the OpenAPI document and Swagger UI.

pub mod cron;
pub mod dto;
pub mod health;
pub mod jobs;
pub mod pagination;
pub mod runs;

use poem::endpoint::make_sync;
use poem::web::Html;
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;
use std::sync::Arc;

use scheduler_core::{Dispatcher, JobService, RunStore};
use serde_json::{Value, json};

use health::HealthApi;
use jobs::JobsApi;

/// Swagger tags.
#[derive(poem_openapi::Tags)]
pub enum ApiTags {
    /// Jobs: create, read, list, update, delete, pause, resume.
    Jobs,
    /// Run history and manual runs.
    Runs,
    /// Cron expression tools.
    Cron,
    /// Liveness and readiness.
    Health,
}

/// The original service's two documented request bodies, shown as examples in the spec.
fn original_examples() -> Value {
    json!({
        "weekly_report": {
            "summary": "Weekly report every Monday at 09:00 UTC",
            "value": {
                "name": "Weekly Report",
                "description": "Generate weekly sales report",
                "cron_expression": "0 9 * * 1",
                "start_time": "2025-06-23T09:00:00Z",
                "parameters": {"report_type": "weekly", "recipients": ["sales@example.com"]}
            }
        },
        "monthly_cleanup": {
            "summary": "Monthly cleanup on the 1st at 09:00 UTC",
            "value": {
                "name": "Monthly Cleanup",
                "description": "Clean up old records",
                "cron_expression": "0 9 1 * *",
                "parameters": {"older_than_days": 90}
            }
        }
    })
}

/// The OpenAPI document as JSON text, with the original's examples added to the create and
/// replace operations (poem-openapi has one example per type; the original has two), examples
/// of partial updates, and examples of the cron preview's parameters.
fn document(spec: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(spec) else {
        return spec.to_string();
    };
    set_body_examples(&mut doc, "/scheduler/jobs", "post", &original_examples());
    set_body_examples(
        &mut doc,
        "/scheduler/jobs/{id}",
        "put",
        &original_examples(),
    );
    set_body_examples(&mut doc, "/scheduler/jobs/{id}", "patch", &patch_examples());
    let preview_pointer = "/paths/~1scheduler~1cron~1preview/get/parameters";
    if let Some(parameters) = doc
        .pointer_mut(preview_pointer)
        .and_then(Value::as_array_mut)
    {
        for parameter in parameters.iter_mut().filter_map(Value::as_object_mut) {
            let example = match parameter.get("name").and_then(Value::as_str) {
                Some("expression") => json!("0 9 * * 1"),
                Some("timezone") => json!("Europe/London"),
                Some("after") => json!("2025-06-23T00:00:00Z"),
                Some("count") => json!(5),
                _ => continue,
            };
            parameter.insert("example".into(), example);
        }
    }
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| spec.to_string())
}

/// Puts `examples` on every content type of the request body of `method` on `path`.
fn set_body_examples(doc: &mut Value, path: &str, method: &str, examples: &Value) {
    let pointer = format!(
        "/paths/{}/{method}/requestBody/content",
        path.replace('/', "~1")
    );
    if let Some(contents) = doc.pointer_mut(&pointer).and_then(Value::as_object_mut) {
        for content in contents.values_mut().filter_map(Value::as_object_mut) {
            content.insert("examples".into(), examples.clone());
        }
    }
}

/// Examples of partial updates.
fn patch_examples() -> Value {
    json!({
        "reschedule": {
            "summary": "Move the weekly report to Tuesdays at 10:00 London time",
            "value": {"cron_expression": "0 10 * * 2", "timezone": "Europe/London"}
        },
        "retry_over_http": {
            "summary": "Deliver runs to a webhook, retrying failures twice",
            "value": {
                "target": {"type": "http", "url": "https://example.com/hooks/report", "method": "POST"},
                "max_retries": 2,
                "retry_backoff_seconds": 30
            }
        },
        "clear_end": {"summary": "Remove the end time", "value": {"end_time": null}}
    })
}

/// All routes: the API, `/openapi.json` and Swagger UI at `/swagger/`.
pub fn routes(
    service: JobService,
    store: Arc<dyn RunStore>,
    dispatcher: Dispatcher,
) -> impl Endpoint {
    let api = OpenApiService::new(
        (
            JobsApi {
                service: service.clone(),
            },
            runs::RunsApi {
                jobs: service.clone(),
                store,
                dispatcher,
            },
            cron::CronApi,
            HealthApi { service },
        ),
        "scheduler",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "A cron job scheduler. Standard 5-field CRON expressions evaluated in IANA time zones; \
         paths and JSON compatible with the original Django service.",
    );
    let raw_spec = api.spec();
    let spec = document(&raw_spec);
    let swagger_html = api.swagger_ui_html().replace(&raw_spec, &spec);
    let spec_for_route = spec.clone();
    Route::new()
        .at(
            "/openapi.json",
            make_sync(move |_| {
                poem::Response::builder()
                    .content_type("application/json")
                    .body(spec_for_route.clone())
            }),
        )
        .at("/swagger", make_sync(move |_| Html(swagger_html.clone())))
        .nest("/", api)
        .boxed()
}
