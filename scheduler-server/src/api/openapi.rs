//! The served OpenAPI document: poem-openapi's, with what its derives cannot express added —
//! the original's two request examples, examples of partial updates, of the preview's
//! parameters and of error answers — and the table of its paths (route templates for metrics,
//! and the methods each allows, for `Allow` on 405).

use std::sync::Arc;

use serde_json::{Map, Value, json};

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
        },
        "every_90_minutes": {
            "summary": "Every 90 minutes from a start instant, 10 times, then completed",
            "value": {
                "name": "Sync inventory",
                "interval_seconds": 5400,
                "start_time": "2025-06-23T09:00:00Z",
                "max_runs": 10
            }
        },
        "once": {
            "summary": "Once, on Tuesday 2 July 2030 at 14:00 UTC (run_at must be in the future)",
            "value": {
                "name": "Send launch mail",
                "run_at": "2030-07-02T14:00:00Z",
                "parameters": {"campaign": "launch"}
            }
        }
    })
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
        "clear_end": {"summary": "Remove the end time", "value": {"end_time": null}},
        "to_interval": {
            "summary": "Fire every 15 minutes instead of by cron",
            "value": {"interval_seconds": 900}
        },
        "lift_limit": {"summary": "Remove the run limit", "value": {"max_runs": null}}
    })
}

/// An example body for an error answer, chosen by status and by the answer's description.
fn error_example(status: &str, description: &str) -> Option<Value> {
    Some(match status {
        "400" if description.starts_with("Invalid parameters") => {
            json!({"page_size": ["Ensure this value is between 1 and 500."]})
        }
        "400" => {
            json!({"cron_expression": ["Invalid CRON expression: value 61 is out of range for the minute field (0-59)"]})
        }
        "404" if description.contains("Job not found") => json!({"error": "Job not found"}),
        "404" if description.contains("Run not found") => json!({"error": "Run not found"}),
        "404" => json!({"detail": "Invalid page."}),
        "409" => json!({"detail": "A run of this job was started at the same instant; try again."}),
        "413" => json!({"detail": "Request body is too large: the limit is 1 MiB."}),
        "415" => {
            json!({"detail": "Unsupported media type: the content type is text/plain. Send application/json."})
        }
        "503" => json!({"detail": "The job store is unavailable; try again shortly."}),
        _ => return None,
    })
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

/// Puts an example on every error answer of every operation.
fn set_error_examples(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
    {
        let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for (status, response) in responses.iter_mut() {
            let description = response
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let Some(example) = error_example(status, &description) else {
                continue;
            };
            if let Some(contents) = response.get_mut("content").and_then(Value::as_object_mut) {
                for content in contents.values_mut().filter_map(Value::as_object_mut) {
                    content.insert("example".into(), example.clone());
                }
            }
        }
    }
}

/// Puts examples on the cron preview's parameters.
fn set_preview_parameter_examples(doc: &mut Value) {
    let pointer = "/paths/~1scheduler~1cron~1preview/get/parameters";
    let Some(parameters) = doc.pointer_mut(pointer).and_then(Value::as_array_mut) else {
        return;
    };
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

/// Declares the API keys (`Authorization: Bearer <key>` or `X-API-Key: <key>`) as the
/// document's security schemes, so Swagger UI's "Authorize" button sends them, and gives each
/// operation its own requirement: an operation that takes a [`crate::auth::Caller`] carries
/// the caller's marker (`scope:write`) in the raw document, which becomes the two key schemes
/// and `x-required-scope: write` (with a sentence in its description); every other operation
/// is open (`security: []`). So the served document states every operation's scope, as the
/// code that checks it declares it.
fn set_security(doc: &mut Value) {
    if let Some(root) = doc.as_object_mut() {
        let components = root
            .entry("components")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(components) = components {
            components.insert(
                "securitySchemes".into(),
                json!({
                    "bearerKey": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "An API key (`sk_...`): `scheduler-server keys create` \
                            or `POST /scheduler/keys/` with an admin key."
                    },
                    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
                }),
            );
        }
        root.remove("security");
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for operation in item.values_mut().filter_map(Value::as_object_mut) {
            let scope = required_scope(operation);
            match scope {
                Some(scope) => {
                    operation.insert(
                        "security".into(),
                        json!([{"bearerKey": []}, {"apiKeyHeader": []}]),
                    );
                    let sentence = format!("Needs a key with the `{scope}` scope (or higher).");
                    let description = match operation.get("description").and_then(Value::as_str) {
                        Some(text) => format!("{text}\n\n{sentence}"),
                        None => sentence,
                    };
                    operation.insert("description".into(), Value::String(description));
                    operation.insert(REQUIRED_SCOPE.into(), Value::String(scope));
                }
                None => {
                    operation.insert("security".into(), json!([]));
                }
            }
        }
    }
}

/// The extension naming the scope an operation needs (`read`, `write`, `admin`); absent on
/// open operations.
pub const REQUIRED_SCOPE: &str = "x-required-scope";

/// The scope named by an operation's marker requirement (see [`crate::auth::NeededScope`]).
fn required_scope(operation: &Map<String, Value>) -> Option<String> {
    operation
        .get("security")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|requirement| requirement.keys())
        .find_map(|name| name.strip_prefix("scope:"))
        .map(str::to_string)
}

/// The OpenAPI document as JSON text, completed as the module doc says.
pub fn document(spec: &str) -> String {
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
    set_preview_parameter_examples(&mut doc);
    set_error_examples(&mut doc);
    set_security(&mut doc);
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| spec.to_string())
}

/// The documented paths: each template (`/scheduler/jobs/{id}`) with the methods it allows.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// Templates split into segments (`{id}` matches any one segment), with the template
    /// itself (a metrics label, shared, never the raw path) and its comma-separated methods.
    routes: Vec<Route>,
}

/// One documented path.
#[derive(Debug, Clone)]
struct Route {
    /// Its segments.
    segments: Vec<String>,
    /// The template as written in the document.
    template: Arc<str>,
    /// The methods it allows, e.g. `GET, HEAD, POST`.
    methods: String,
}

impl RouteTable {
    /// Reads the paths and methods of an OpenAPI document (JSON text).
    pub fn from_document(document: &str) -> Self {
        let doc: Value = serde_json::from_str(document).unwrap_or_default();
        let empty = Map::new();
        let routes = doc
            .get("paths")
            .and_then(Value::as_object)
            .unwrap_or(&empty)
            .iter()
            .map(|(path, item)| {
                let mut methods: Vec<String> = item
                    .as_object()
                    .map(|item| item.keys().map(|m| m.to_ascii_uppercase()).collect())
                    .unwrap_or_default();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".into());
                }
                methods.sort();
                Route {
                    segments: segments(path),
                    template: Arc::from(path.as_str()),
                    methods: methods.join(", "),
                }
            })
            .collect();
        Self { routes }
    }

    /// The position of the route `path` is an instance of.
    pub fn index(&self, path: &str) -> Option<usize> {
        let wanted: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.routes.iter().position(|route| {
            route.segments.len() == wanted.len()
                && route
                    .segments
                    .iter()
                    .zip(&wanted)
                    .all(|(t, w)| t == w || (t.starts_with('{') && t.ends_with('}')))
        })
    }

    /// Every template, in index order.
    pub fn templates(&self) -> impl Iterator<Item = Arc<str>> + '_ {
        self.routes.iter().map(|route| route.template.clone())
    }

    /// The methods `path` allows, when it is a documented path.
    pub fn allow(&self, path: &str) -> Option<&str> {
        self.index(path)
            .and_then(|i| self.routes.get(i))
            .map(|route| route.methods.as_str())
    }

    /// The template `path` is an instance of, when it is a documented path.
    pub fn template(&self, path: &str) -> Option<Arc<str>> {
        self.index(path)
            .and_then(|i| self.routes.get(i))
            .map(|route| route.template.clone())
    }
}

/// The non-empty segments of a path.
fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_methods_match_templates_segment_by_segment() {
        let doc = json!({"paths": {
            "/scheduler/jobs": {"get": {}, "post": {}},
            "/scheduler/jobs/{id}": {"get": {}, "put": {}, "patch": {}, "delete": {}},
            "/scheduler/jobs/{id}/pause": {"post": {}}
        }})
        .to_string();
        let allowed = RouteTable::from_document(&doc);
        assert_eq!(allowed.allow("/scheduler/jobs/"), Some("GET, HEAD, POST"));
        assert_eq!(
            allowed.template("/scheduler/jobs/42/").as_deref(),
            Some("/scheduler/jobs/{id}")
        );
        assert_eq!(
            allowed.allow("/scheduler/jobs/7"),
            Some("DELETE, GET, HEAD, PATCH, PUT")
        );
        assert_eq!(allowed.allow("/scheduler/jobs/7/pause/"), Some("POST"));
        assert_eq!(allowed.allow("/scheduler/nothing"), None);
    }
}
