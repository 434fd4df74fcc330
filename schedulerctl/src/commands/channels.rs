//! `schedulerctl channels list|show|create|apply|delete|test` over `/scheduler/channels/` (an
//! admin key's tenant): where the tenant is told of failed runs, missed fires and recoveries.
//! `create` builds the body from flags (`body.rs`); `apply` sends each channel of a JSON file
//! as written, to the name inside it; `test` prints the queued notification's id alone, so
//! `ID=$(schedulerctl channels test ops)` captures it. Header values are never printed: the
//! server masks them (`***`).

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::Method;
use serde_json::{Map, Value};

use super::print::{done_named, show};
use crate::body::{channel_body, read_text, source};
use crate::cli::{ChannelApplyArgs, ChannelsCommand};
use crate::client::{Answer, Client};
use crate::failure::Failure;
use crate::listing;
use crate::output::{self, Format};
use crate::paths::channel_path;
use crate::tables;
use crate::text::{LINE_LIMIT, printable};

/// The channels collection.
const CHANNELS: &str = "/scheduler/channels/";

/// Runs `command`.
pub(crate) async fn run(
    client: &Client,
    format: Format,
    command: ChannelsCommand,
) -> Result<(), Failure> {
    match command {
        ChannelsCommand::List => {
            let answer = client.get(CHANNELS, &[]).await?;
            let (items, _) = listing::page_parts(&answer.json()?)?;
            match format {
                Format::Json => output::emit_raw(&answer.body),
                Format::Table => output::emit(&tables::channels(&items)),
            }
        }
        ChannelsCommand::Show { name } => {
            let answer = client.get(&channel_path(&name)?, &[]).await?;
            show(format, &answer, tables::channel)
        }
        ChannelsCommand::Create(args) => {
            let body = Value::Object(channel_body(&args)?);
            let answer = client
                .send(Method::POST, CHANNELS, &[], Some(&body))
                .await?;
            show(format, &answer, tables::channel)
        }
        ChannelsCommand::Apply(args) => apply(client, format, &args).await,
        ChannelsCommand::Delete { name } => {
            client
                .send(Method::DELETE, &channel_path(&name)?, &[], None)
                .await?;
            let shown = printable(&name, LINE_LIMIT);
            done_named(
                format,
                &name,
                "deleted",
                format!("Deleted channel {shown}."),
            )
        }
        ChannelsCommand::Test { name } => {
            let path = format!("{}test/", channel_path(&name)?);
            let answer = client.send(Method::POST, &path, &[], None).await?;
            let queued = answer.json()?;
            let Some(id) = queued.get("notification_id").and_then(Value::as_i64) else {
                return Err(Failure::BadAnswer(
                    "a test answer without \"notification_id\"".into(),
                ));
            };
            match format {
                Format::Json => output::emit_raw(&answer.body),
                Format::Table => {
                    output::emit(&id.to_string())?;
                    output::note(&format!(
                        "queued a test message to channel {}: notification {id} \
                         (schedulerctl notifications list shows whether it was sent)",
                        printable(&name, LINE_LIMIT)
                    ));
                    Ok(())
                }
            }
        }
    }
}

/// `channels apply`: every channel of the file, checked first (each an object naming its
/// channel, no name twice) so a wrong file sends nothing, then PUT to its name in order. In a
/// table each channel's line is printed once it is written; the first one refused stops the
/// rest, with a line saying which were written.
async fn apply(client: &Client, format: Format, args: &ChannelApplyArgs) -> Result<(), Failure> {
    let Some(file) = args.file.as_deref().or(args.path.as_deref()) else {
        return Err(Failure::Usage("give the JSON file to apply".into()));
    };
    let ChannelFile { channels, listed } = read_channels(file)?;
    let total = channels.len();
    let mut answers = Vec::with_capacity(total);
    for (done, (name, body)) in channels.into_iter().enumerate() {
        let path = channel_path(&name)?;
        let answer = match client
            .send(Method::PUT, &path, &[], Some(&Value::Object(body)))
            .await
        {
            Ok(answer) => answer,
            Err(failure) if total == 1 => return Err(failure),
            Err(failure) => {
                let shown = printable(&name, LINE_LIMIT);
                let rest = total - done - 1;
                return Err(Failure::Hinted {
                    failure: Box::new(failure),
                    hint: format!(
                        "channel {shown} ({} of {total}) was not applied; {done} before it \
                         were, the {rest} after it were not sent",
                        done + 1
                    ),
                });
            }
        };
        if format == Format::Table {
            output::emit(&saved_line(&answer, &name))?;
        }
        answers.push(answer);
    }
    if format == Format::Json {
        if listed {
            let mut every = Vec::with_capacity(answers.len());
            for answer in &answers {
                every.push(answer.json()?);
            }
            output::emit_json(&Value::from(every))?;
        } else if let Some(answer) = answers.first() {
            output::emit_raw(&answer.body)?;
        }
    }
    Ok(())
}

/// "Channel NAME created." or "... replaced." for a PUT's answer (201 or 200).
fn saved_line(answer: &Answer, name: &str) -> String {
    let done = if answer.status == 201 {
        "created"
    } else {
        "replaced"
    };
    format!("Channel {} {done}.", printable(name, LINE_LIMIT))
}

/// The channels of an `apply` file.
#[derive(Debug)]
struct ChannelFile {
    /// Each channel as `(name, body)`, in the file's order.
    channels: Vec<(String, Map<String, Value>)>,
    /// Whether the file held a list (else one object).
    listed: bool,
}

/// The channels of a JSON file (one object, or a list of them).
///
/// # Errors
/// [`Failure::Usage`] when the file cannot be read, is not JSON, holds something else, a
/// channel has no `name`, or two name the same channel; nothing is sent then.
fn read_channels(file: &Path) -> Result<ChannelFile, Failure> {
    let from = source(file);
    let text = read_text(file)?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|error| Failure::Usage(format!("{from} is not JSON: {error}")))?;
    let (items, listed) = match value {
        Value::Array(items) => (items, true),
        object @ Value::Object(_) => (vec![object], false),
        _ => {
            return Err(Failure::Usage(format!(
                "{from} must hold a channel (a JSON object) or a list of them"
            )));
        }
    };
    if items.is_empty() {
        return Err(Failure::Usage(format!(
            "{from} holds an empty list: no channel to apply"
        )));
    }
    let mut seen = BTreeSet::new();
    let mut channels = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let which = if listed {
            format!("{from}: channel {}", index + 1)
        } else {
            from.clone()
        };
        let Value::Object(body) = item else {
            return Err(Failure::Usage(format!(
                "{which} is not a JSON object (a channel: name, kind, url, headers, to, events, \
                 jobs, enabled)"
            )));
        };
        let Some(name) = body.get("name").and_then(Value::as_str) else {
            return Err(Failure::Usage(format!(
                "{which} must name the channel: \"name\": \"...\""
            )));
        };
        let name = name.trim().to_string();
        if !seen.insert(name.clone()) {
            return Err(Failure::Usage(format!(
                "{from} names channel {} twice",
                printable(&name, LINE_LIMIT)
            )));
        }
        channels.push((name, body));
    }
    Ok(ChannelFile { channels, listed })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str, text: &str) -> Result<ChannelFile, Failure> {
        let file = std::env::temp_dir().join(format!(
            "schedulerctl-channels-{name}-{}.json",
            std::process::id()
        ));
        std::fs::write(&file, text).unwrap();
        let read = read_channels(&file);
        std::fs::remove_file(&file).ok();
        read
    }

    #[test]
    fn a_file_holds_one_channel_or_a_list() {
        let ChannelFile {
            channels: one,
            listed,
        } = read("one", r#"{"name": " ops ", "kind": "slack"}"#).unwrap();
        assert!(!listed);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].0, "ops");
        let two = read("two", r#"[{"name": "a", "kind": "slack"}, {"name": "b"}]"#).unwrap();
        assert!(two.listed);
        let names: Vec<&str> = two.channels.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn a_file_that_cannot_be_applied_is_a_usage_error() {
        for (name, text, says) in [
            ("empty", "[]", "empty list"),
            ("scalar", "3", "must hold a channel"),
            (
                "unnamed",
                r#"[{"name": "a"}, {"kind": "slack"}]"#,
                "channel 2 must name",
            ),
            (
                "item",
                r#"[{"name": "a"}, 3]"#,
                "channel 2 is not a JSON object",
            ),
            (
                "twice",
                r#"[{"name": "a"}, {"name": " a"}]"#,
                "names channel a twice",
            ),
            ("broken", "{", "is not JSON"),
        ] {
            match read(name, text) {
                Err(Failure::Usage(message)) => assert!(message.contains(says), "{message}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}
