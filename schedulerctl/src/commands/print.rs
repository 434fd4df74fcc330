//! How commands print: one item, a list (or every page of it), and what a `204` did.

use serde_json::Value;

use crate::client::Answer;
use crate::failure::Failure;
use crate::listing::Listing;
use crate::output::{self, Format};

/// Prints one item: its JSON as received, or `render`'s table.
pub(super) fn show(
    format: Format,
    answer: &Answer,
    render: fn(&Value) -> String,
) -> Result<(), Failure> {
    let item = answer.json()?;
    match format {
        Format::Json => output::emit_raw(&answer.body),
        Format::Table => output::emit(&render(&item)),
    }
}

/// Prints a list: the page as received (`--all`: one array of every item), or `render`'s
/// table with a note on standard error when more pages exist. `what` names the items
/// ("jobs"); `page` is the page shown.
pub(super) fn show_list(
    format: Format,
    listing: &Listing,
    render: fn(&[Value]) -> String,
    what: &str,
    page: Option<u64>,
) -> Result<(), Failure> {
    match (format, listing) {
        (Format::Json, Listing::Page { answer, .. }) => output::emit_raw(&answer.body),
        (Format::Json, Listing::All(items)) => output::emit_json(&Value::from(items.clone())),
        (Format::Table, Listing::All(items)) => output::emit(&render(items)),
        (
            Format::Table,
            Listing::Page {
                items,
                count,
                has_next,
                next_cursor,
                ..
            },
        ) => {
            output::emit(&render(items))?;
            if *has_next {
                let total = count.map_or(String::new(), |count| format!(" of {count}"));
                let more = match next_cursor {
                    Some(cursor) => format!("--cursor {cursor}"),
                    None => format!("--page {}", page.unwrap_or(1).saturating_add(1)),
                };
                output::note(&format!(
                    "showing {}{total} {what}; more with {more}, or --all",
                    items.len()
                ));
            }
            Ok(())
        }
    }
}

/// Prints what a `204 No Content` did: a sentence, or `{"id": <id>, "<done>": true}`.
pub(super) fn done(format: Format, id: i64, done: &str, sentence: String) -> Result<(), Failure> {
    match format {
        Format::Json => output::emit_json(&serde_json::json!({ "id": id, done: true })),
        Format::Table => output::emit(&sentence),
    }
}

/// Prints what a `204 No Content` to a named item (a calendar) did: a sentence, or
/// `{"name": <name>, "<done>": true}`.
pub(super) fn done_named(
    format: Format,
    name: &str,
    done: &str,
    sentence: String,
) -> Result<(), Failure> {
    match format {
        Format::Json => output::emit_json(&serde_json::json!({ "name": name, done: true })),
        Format::Table => output::emit(&sentence),
    }
}
