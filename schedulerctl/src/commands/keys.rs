//! `schedulerctl keys list|create|revoke` over `/scheduler/keys/` (an admin key's tenant).
//! `create` is the only place a key is ever printed: alone on standard output, so
//! `KEY=$(schedulerctl keys create --name ci)` captures exactly the key.

use reqwest::Method;
use serde_json::{Value, json};

use super::print::done;
use crate::cli::KeysCommand;
use crate::client::Client;
use crate::failure::Failure;
use crate::output::{self, Format};
use crate::tables;
use crate::text::{LINE_LIMIT, printable};

/// Runs `command`.
pub(crate) async fn run(
    client: &Client,
    format: Format,
    command: KeysCommand,
) -> Result<(), Failure> {
    match command {
        KeysCommand::List => {
            let answer = client.get("/scheduler/keys/", &[]).await?;
            let keys = answer.json()?;
            let Some(items) = keys.as_array() else {
                return Err(Failure::BadAnswer("a key list that is not an array".into()));
            };
            match format {
                Format::Json => output::emit_raw(&answer.body),
                Format::Table => output::emit(&tables::keys(items)),
            }
        }
        KeysCommand::Create { name, scope } => {
            let mut body = json!({ "name": name });
            if let Some(scope) = scope {
                body["scope"] = json!(scope.as_str());
            }
            let answer = client
                .send(Method::POST, "/scheduler/keys/", &[], Some(&body))
                .await?;
            let created = answer.json()?;
            let Some(key) = created.get("key").and_then(Value::as_str) else {
                return Err(Failure::BadAnswer("a created key without \"key\"".into()));
            };
            match format {
                Format::Json => output::emit_raw(&answer.body),
                Format::Table => {
                    output::emit(&printable(key, LINE_LIMIT))?;
                    let field = |name: &str| {
                        created
                            .get(name)
                            .map_or_else(|| "-".to_string(), |v| printable(&plain(v), 100))
                    };
                    output::note(&format!(
                        "created key {} \"{}\" (scope {}, tenant {}): it is shown only this once",
                        field("id"),
                        field("name"),
                        field("scope"),
                        field("tenant"),
                    ));
                    Ok(())
                }
            }
        }
        KeysCommand::Revoke { id } => {
            client
                .send(Method::DELETE, &format!("/scheduler/keys/{id}/"), &[], None)
                .await?;
            done(format, id, "revoked", format!("Revoked key {id}."))
        }
    }
}

/// A JSON value as text without the quotes of a string.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
