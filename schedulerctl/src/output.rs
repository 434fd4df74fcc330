//! Where results go: standard output, as human tables or as the server's JSON. A closed
//! pipe (`schedulerctl runs tail | head -3`) ends the command quietly instead of panicking
//! as `println!` would.

use std::io::Write as _;

use clap::ValueEnum;
use serde_json::Value;

use crate::failure::Failure;

/// How results are printed (`--output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Tables and lines for people.
    Table,
    /// The server's JSON as received (see `--help` for lists and `runs tail`).
    Json,
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
    written.map_err(|error| match error.kind() {
        std::io::ErrorKind::BrokenPipe => Failure::OutputClosed,
        _ => Failure::Output(error),
    })
}

/// Writes an answer's body as received: the server's JSON, byte for byte.
pub(crate) fn emit_raw(body: &[u8]) -> Result<(), Failure> {
    emit(String::from_utf8_lossy(body).trim_end())
}

/// Writes `value` as one line of JSON (a shape of ours, e.g. every page's items at once).
pub(crate) fn emit_json(value: &Value) -> Result<(), Failure> {
    emit(&value.to_string())
}

/// Writes a line to standard error (notes beside the results: "showing 50 of 120"); an
/// unwritable standard error is ignored, there is nowhere left to say so.
pub(crate) fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}
