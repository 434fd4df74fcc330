//! Where results go: standard output, as human tables, as the server's JSON, or as that JSON
//! in YAML (`--output yaml`, and `get jobs`). A closed pipe (`schedulerctl runs tail | head
//! -3`) ends the command quietly instead of panicking as `println!` would.

use std::io::Write as _;

use clap::ValueEnum;
use serde_json::Value;
use yaml_serde::Value as Yaml;

use crate::failure::Failure;

/// How a command prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Tables and lines for people.
    Table,
    /// The server's JSON as received (see `--help` for lists and `runs tail`).
    Json,
}

/// What `--output` asks for: a [`Format`], or YAML — the JSON converted (for `get jobs`,
/// the file `apply` reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// Tables and lines for people.
    Table,
    /// The server's JSON as received (see `--help` for lists and `runs tail`).
    Json,
    /// The same as YAML (`get jobs`: the file `apply` reads).
    Yaml,
}

/// Set once, before any output, when `--output yaml` was asked: [`emit_raw`] and
/// [`emit_json`] then write YAML. One switch here rather than a third arm in every
/// command's printing, which all print the server's JSON the same way.
static AS_YAML: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether `--output yaml` was asked.
pub(crate) fn wants_yaml() -> bool {
    AS_YAML.load(std::sync::atomic::Ordering::Relaxed)
}

/// Makes JSON output YAML from now on (`--output yaml`).
pub(crate) fn print_json_as_yaml() {
    AS_YAML.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Writes `text` and a newline to standard output.
pub(crate) fn emit(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                out.write_all(b"\n")
            }
        })
        .and_then(|()| out.flush());
    written.map_err(unwritten)
}

/// The failure of a write to standard output: a closed pipe ends the command quietly.
pub(crate) fn unwritten(error: std::io::Error) -> Failure {
    match error.kind() {
        std::io::ErrorKind::BrokenPipe => Failure::OutputClosed,
        _ => Failure::Output(error),
    }
}

/// Writes an answer's body as received: the server's JSON, byte for byte.
pub(crate) fn emit_raw(body: &[u8]) -> Result<(), Failure> {
    if AS_YAML.load(std::sync::atomic::Ordering::Relaxed)
        && let Ok(value) = serde_json::from_slice::<Value>(body)
    {
        return emit(&yaml_text(&value, &[])?);
    }
    emit(String::from_utf8_lossy(body).trim_end())
}

/// Writes `value` as one line of JSON (a shape of ours, e.g. every page's items at once).
pub(crate) fn emit_json(value: &Value) -> Result<(), Failure> {
    if AS_YAML.load(std::sync::atomic::Ordering::Relaxed) {
        return emit(&yaml_text(value, &[])?);
    }
    emit(&value.to_string())
}

/// Writes a line to standard error (notes beside the results: "showing 50 of 120"); an
/// unwritable standard error is ignored, there is nowhere left to say so.
pub(crate) fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// A JSON value as YAML; object keys in the order `order` gives (unlisted keys after, in
/// their own order).
fn to_yaml(value: &Value, order: &[&str]) -> Yaml {
    match value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Yaml::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Yaml::Number(u.into())
            } else {
                n.as_f64()
                    .map_or_else(|| Yaml::String(n.to_string()), |f| Yaml::Number(f.into()))
            }
        }
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(items) => {
            Yaml::Sequence(items.iter().map(|item| to_yaml(item, order)).collect())
        }
        Value::Object(object) => {
            let mut mapping = yaml_serde::Mapping::new();
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort_by_key(|key| order.iter().position(|o| o == key).unwrap_or(order.len()));
            for key in keys {
                mapping.insert(Yaml::String(key.clone()), to_yaml(&object[key], order));
            }
            Yaml::Mapping(mapping)
        }
    }
}

/// `value` as a YAML document.
///
/// # Errors
/// `BadAnswer` when it cannot be written (it always can: every JSON value has a YAML form).
pub(crate) fn yaml_text(value: &Value, order: &[&str]) -> Result<String, Failure> {
    yaml_serde::to_string(&to_yaml(value, order))
        .map_err(|error| Failure::BadAnswer(format!("cannot write YAML: {error}")))
}
