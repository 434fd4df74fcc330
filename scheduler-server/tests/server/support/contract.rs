//! The served OpenAPI document as a contract every test response is checked against: the
//! status must be documented for its operation, and the body must validate against the
//! documented schema (OpenAPI 3.0 turned into JSON Schema: `nullable` becomes a `null`
//! alternative, and objects with declared properties allow no others, so an undocumented field
//! fails too). A test that receives an answer the document does not describe fails, so the
//! document cannot drift from the server again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

/// The document, ready to validate responses.
pub(crate) struct Contract {
    /// The document with its schemas turned into JSON Schema.
    document: Value,
    /// Compiled validators by `(path template, method, status)`.
    validators: Mutex<HashMap<(String, String, String), Arc<jsonschema::Validator>>>,
}

/// OpenAPI 3.0 schema → JSON Schema, recursively.
fn to_json_schema(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(to_json_schema).collect()),
        Value::Object(map) => {
            let mut out: Map<String, Value> = map
                .iter()
                .filter(|(key, _)| key.as_str() != "nullable" && key.as_str() != "example")
                .map(|(key, value)| (key.clone(), to_json_schema(value)))
                .collect();
            if out.contains_key("properties") && !out.contains_key("additionalProperties") {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                json!({"anyOf": [Value::Object(out), {"type": "null"}]})
            } else {
                Value::Object(out)
            }
        }
        other => other.clone(),
    }
}

/// The non-empty segments of a path.
fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

impl Contract {
    /// Reads a served document.
    pub(crate) fn new(document: &Value) -> Self {
        let mut document = document.clone();
        if let Some(schemas) = document.pointer_mut("/components/schemas") {
            *schemas = to_json_schema(schemas);
        }
        Self {
            document,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// The path template of the document that `path` is an instance of.
    fn template(&self, path: &str) -> Option<String> {
        let wanted = segments(path);
        let paths = self.document.get("paths")?.as_object()?;
        paths
            .keys()
            .find(|template| {
                let parts = segments(template);
                parts.len() == wanted.len()
                    && parts
                        .iter()
                        .zip(&wanted)
                        .all(|(t, w)| t == w || (t.starts_with('{') && t.ends_with('}')))
            })
            .cloned()
    }

    /// Panics, saying why, unless the answer `status` with `body` to `method path` is what the
    /// document describes. Paths outside the document (Swagger UI, `/openapi.json`) and HEAD
    /// are not checked; a method the document does not declare must be answered 405.
    pub(crate) fn check(&self, method: &str, path: &str, status: u16, body: &[u8]) {
        let Some(template) = self.template(path) else {
            return;
        };
        let method = method.to_ascii_lowercase();
        if method == "head" {
            return;
        }
        let pointer = format!("/paths/{}/{method}", template.replace('/', "~1"));
        let Some(operation) = self.document.pointer(&pointer) else {
            assert_eq!(
                status, 405,
                "{method} {path}: an undeclared method must be answered 405"
            );
            return;
        };
        let status_key = status.to_string();
        let Some(response) = operation.get("responses").and_then(|r| r.get(&status_key)) else {
            panic!(
                "{method} {path}: status {status} is not documented for {template} (body: {})",
                String::from_utf8_lossy(body)
            );
        };
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            assert!(
                body.is_empty(),
                "{method} {path} {status}: documented without a body, got {}",
                String::from_utf8_lossy(body)
            );
            return;
        };
        let json_schema = content
            .iter()
            .find(|(media, _)| media.starts_with("application/json"))
            .and_then(|(_, media)| media.get("schema"));
        let Some(schema) = json_schema else {
            // A text answer (`/metrics`): nothing to validate.
            return;
        };
        let instance: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
            panic!(
                "{method} {path} {status}: the body is not JSON ({e}): {}",
                String::from_utf8_lossy(body)
            )
        });
        let validator = self.validator(&template, &method, &status_key, schema);
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status}: the body does not match the documented schema: {errors:?}\nbody: {instance}"
        );
    }

    fn validator(
        &self,
        template: &str,
        method: &str,
        status: &str,
        schema: &Value,
    ) -> Arc<jsonschema::Validator> {
        let key = (template.to_string(), method.to_string(), status.to_string());
        let mut validators = self.validators.lock().expect("validators");
        validators
            .entry(key)
            .or_insert_with(|| {
                let root = json!({
                    "allOf": [to_json_schema(schema)],
                    "components": self.document.get("components").cloned().unwrap_or_default(),
                });
                Arc::new(
                    jsonschema::validator_for(&root)
                        .unwrap_or_else(|e| panic!("the documented schema compiles: {e}")),
                )
            })
            .clone()
    }
}
