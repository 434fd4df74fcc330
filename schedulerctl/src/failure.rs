//! What can go wrong, worded for the person at the terminal: the server's field errors one
//! per line (`cron_expression: Invalid CRON expression: ...`), its `detail`/`error` sentence,
//! or the cause of a connection failure; never a key, never a panic on an odd answer.

use std::fmt;

use serde_json::Value;

use crate::exit::Exit;
use crate::text::{LINE_LIMIT, printable};

/// Why a command did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The command line is wrong; nothing was sent.
    Usage(String),
    /// The server could not be reached, or the answer could not be read.
    Transport {
        /// What was being done, e.g. `GET http://127.0.0.1:8000/scheduler/jobs/`.
        action: String,
        /// Why it failed.
        cause: String,
    },
    /// The server answered with a status outside 2xx.
    Refused(Refusal),
    /// A 2xx answer that is not what the API documents (not JSON, a missing field).
    BadAnswer(String),
    /// Standard output was closed (e.g. `| head`): stop quietly.
    OutputClosed,
    /// Standard output could not be written for another reason.
    Output(std::io::Error),
    /// `runs tail --for` ran out before `--count` runs finished.
    TimedOut {
        /// Runs seen finishing.
        finished: u64,
        /// Runs asked for with `--count`.
        wanted: u64,
    },
    /// `diff`: the server differs from the files by this many jobs to create, update or
    /// delete.
    Drifted(u64),
    /// Another failure, with a line of ours on its cause or what to do about it.
    Hinted {
        /// The failure (its exit code is the one used).
        failure: Box<Failure>,
        /// The line printed after it.
        hint: String,
    },
}

/// A non-2xx answer, as received.
#[derive(Debug)]
pub(crate) struct Refusal {
    /// Its status code.
    pub(crate) status: u16,
    /// The status's reason phrase, e.g. `Bad Request`.
    pub(crate) reason: &'static str,
    /// Its body, which the API makes JSON but a proxy in front may not.
    pub(crate) body: Vec<u8>,
    /// Its `Retry-After` header (429), when present and readable.
    pub(crate) retry_after: Option<String>,
    /// Whether the request carried a key (to say how to send one on a 401).
    pub(crate) sent_key: bool,
}

impl Failure {
    /// The exit code this failure ends the process with.
    pub(crate) fn exit(&self) -> Exit {
        match self {
            Failure::Usage(_) => Exit::Usage,
            Failure::Transport { .. } | Failure::BadAnswer(_) | Failure::Output(_) => Exit::Failure,
            Failure::Refused(refusal) => Exit::for_status(refusal.status),
            Failure::OutputClosed => Exit::Success,
            Failure::TimedOut { .. } => Exit::TimedOut,
            Failure::Drifted(_) => Exit::Failure,
            Failure::Hinted { failure, .. } => failure.exit(),
        }
    }

    /// Whether the same request may succeed if sent again later (a server restarting, a
    /// database failing over): `runs tail` keeps following through these.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Failure::Transport { .. } => true,
            Failure::Refused(refusal) => matches!(refusal.status, 429 | 502 | 503 | 504),
            Failure::Hinted { failure, .. } => failure.is_transient(),
            _ => false,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(message) => write!(f, "{message}"),
            Failure::Transport { action, cause } => write!(f, "{action}: {cause}"),
            Failure::Refused(refusal) => refusal.fmt(f),
            Failure::BadAnswer(message) => {
                write!(f, "unexpected answer from the server: {message}")
            }
            Failure::OutputClosed => Ok(()),
            Failure::Output(error) => write!(f, "cannot write the output: {error}"),
            Failure::TimedOut { finished, wanted } => write!(
                f,
                "--for ended after {finished} of the {wanted} runs asked for by --count finished"
            ),
            Failure::Drifted(jobs) => write!(
                f,
                "the server differs from the files: {jobs} job(s) to change (`schedulerctl \
                 apply` makes them match)"
            ),
            Failure::Hinted { failure, hint } => write!(f, "{failure}\n  {hint}"),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let heading = match self.status {
            400 | 413 | 415 => "the server refused the input",
            401 => "authentication failed",
            403 => "permission denied",
            404 => "not found",
            409 => "conflict",
            429 => "throttled",
            500..=599 => "the server failed",
            _ => "unexpected answer from the server",
        };
        write!(f, "{heading} ({} {})", self.status, self.reason)?;
        let (sentences, fields) = messages(&self.body);
        match sentences.as_slice() {
            [] => {}
            [one] => write!(f, ": {one}")?,
            many => {
                for sentence in many {
                    write!(f, "\n  {sentence}")?;
                }
            }
        }
        for field in fields {
            write!(f, "\n  {field}")?;
        }
        if self.status == 401 && !self.sent_key {
            write!(f, "\n  no key was sent: set SCHEDULER_KEY or pass --key")?;
        }
        if let Some(seconds) = &self.retry_after {
            write!(f, "\n  retry after {seconds} s")?;
        }
        Ok(())
    }
}

/// The sentences (`detail`, `error`, `non_field_errors`, or a body that is not JSON) and the
/// field errors (`field: message`) of an error body.
fn messages(body: &[u8]) -> (Vec<String>, Vec<String>) {
    let (mut sentences, mut fields) = (Vec::new(), Vec::new());
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => {
            for (key, value) in &map {
                if matches!(key.as_str(), "detail" | "error" | "non_field_errors") {
                    flatten(value, "", &mut sentences);
                } else {
                    flatten(value, key, &mut fields);
                }
            }
        }
        Ok(other) => flatten(&other, "", &mut sentences),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if !text.is_empty() {
                sentences.push(printable(text, LINE_LIMIT));
            }
        }
    }
    (sentences, fields)
}

/// Every message in `value` as `path: message` (or the message alone at the top): arrays
/// list messages, objects nest fields (`target.url: ...`).
fn flatten(value: &Value, path: &str, out: &mut Vec<String>) {
    let line = |text: &str| {
        let text = printable(text, LINE_LIMIT);
        if path.is_empty() {
            text
        } else {
            format!("{}: {text}", printable(path, LINE_LIMIT))
        }
    };
    match value {
        Value::String(text) => out.push(line(text)),
        Value::Array(items) => items.iter().for_each(|item| flatten(item, path, out)),
        Value::Object(map) => {
            for (key, item) in map {
                let nested = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten(item, &nested, out);
            }
        }
        Value::Null => {}
        other => out.push(line(&other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, reason: &'static str, body: &str) -> Failure {
        Failure::Refused(Refusal {
            status,
            reason,
            body: body.as_bytes().to_vec(),
            retry_after: None,
            sent_key: true,
        })
    }

    #[test]
    fn field_errors_are_printed_one_per_line() {
        let failure = refusal(
            400,
            "Bad Request",
            r#"{"cron_expression": ["Invalid CRON expression: bad"], "name": ["This field is required.", "x"]}"#,
        );
        assert_eq!(
            failure.to_string(),
            "the server refused the input (400 Bad Request)\n  \
             cron_expression: Invalid CRON expression: bad\n  \
             name: This field is required.\n  name: x"
        );
        assert_eq!(failure.exit(), Exit::Invalid);
    }

    #[test]
    fn a_sentence_follows_the_heading() {
        let failure = refusal(404, "Not Found", r#"{"error": "Job not found"}"#);
        assert_eq!(
            failure.to_string(),
            "not found (404 Not Found): Job not found"
        );
        assert_eq!(failure.exit(), Exit::NotFound);
    }

    #[test]
    fn nested_field_errors_name_their_path() {
        let failure = refusal(400, "Bad Request", r#"{"target": {"url": ["bad"]}}"#);
        assert!(failure.to_string().ends_with("\n  target.url: bad"));
    }

    #[test]
    fn a_body_that_is_not_json_is_shown_cut_and_without_control_characters() {
        let body = format!("<html>\u{1b}[31m{}</html>", "x".repeat(2_000));
        let failure = refusal(502, "Bad Gateway", &body);
        let text = failure.to_string();
        assert!(text.starts_with("the server failed (502 Bad Gateway): <html> [31mxxx"));
        assert!(text.ends_with('…') && !text.contains('\u{1b}'));
        assert!(failure.is_transient());
    }

    #[test]
    fn a_401_without_a_key_says_how_to_send_one() {
        let failure = Failure::Refused(Refusal {
            status: 401,
            reason: "Unauthorized",
            body: br#"{"detail": "Authentication credentials were not provided."}"#.to_vec(),
            retry_after: None,
            sent_key: false,
        });
        let text = failure.to_string();
        assert!(text.contains("Authentication credentials were not provided."));
        assert!(text.contains("set SCHEDULER_KEY or pass --key"));
        assert_eq!(failure.exit(), Exit::Auth);
    }

    #[test]
    fn a_hint_follows_the_failure_and_keeps_its_exit_code() {
        let failure = Failure::Hinted {
            failure: Box::new(refusal(409, "Conflict", r#"{"detail": "In use."}"#)),
            hint: "used by job 3".into(),
        };
        assert_eq!(
            failure.to_string(),
            "conflict (409 Conflict): In use.\n  used by job 3"
        );
        assert_eq!(failure.exit(), Exit::Conflict);
    }

    #[test]
    fn an_empty_body_leaves_the_heading_alone() {
        assert_eq!(
            refusal(500, "Internal Server Error", "").to_string(),
            "the server failed (500 Internal Server Error)"
        );
    }
}
