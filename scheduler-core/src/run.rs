//! Runs: one execution attempt of a job for one fire, and the texts stored on them. What the
//! dispatcher decides about runs is in [`crate::plan`]; run lists are in
//! [`crate::run_query`], the claim protocol's types in [`crate::claim`].

use std::fmt;

use chrono::{DateTime, Utc};

use crate::job::JobId;
use crate::run_status::{RunStatus, RunTrigger};

/// The database identity of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A failure text made safe to store: texts from outside (a receiver's response body, a
/// handler's message) may hold NUL or other control characters, which PostgreSQL refuses or
/// which garble logs, and may be of any length.
///
/// The only constructors sanitize: control characters other than tab and newline are
/// removed, and the text is cut to [`ErrorText::MAX_CHARS`] (with `…` marking the cut).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorText(String);

impl ErrorText {
    /// Longest error text kept on a run, in characters.
    pub const MAX_CHARS: usize = 2_000;

    /// The safe form of `raw`.
    pub fn sanitize(raw: &str) -> Self {
        let mut kept = String::with_capacity(raw.len().min(Self::MAX_CHARS * 4));
        let safe = raw
            .chars()
            .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'));
        for (count, c) in safe.enumerate() {
            if count == Self::MAX_CHARS {
                kept.push('…');
                break;
            }
            kept.push(c);
        }
        Self(kept)
    }

    /// The safe form of raw bytes: invalid UTF-8 is replaced by `�`, then sanitized.
    pub fn from_bytes(raw: &[u8]) -> Self {
        Self::sanitize(&String::from_utf8_lossy(raw))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ErrorText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One execution attempt of a job for one fire.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Identity.
    pub id: RunId,
    /// The job.
    pub job_id: JobId,
    /// The fire instant this run serves; with `job_id` the receiver's idempotency key.
    pub scheduled_for: DateTime<Utc>,
    /// When the fire was due, for a job with jitter (`scheduled_for` plus its delay; only on
    /// the first attempt at a scheduled fire); `None` otherwise.
    pub due_at: Option<DateTime<Utc>>,
    /// Why it exists.
    pub trigger: RunTrigger,
    /// 1 for the first attempt at this fire, then 2, 3, ... (retries and recoveries).
    pub attempt: i32,
    /// Failure retries used so far for this fire (recoveries of dead workers do not count).
    pub retries: i32,
    /// Attempts at this fire so far that ran again because the receiver asked to slow down
    /// (`throttled`): they use no retry.
    pub throttles: i32,
    /// Where it stands.
    pub status: RunStatus,
    /// When execution started (or the skip was recorded).
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Last sign of life of its worker while running.
    pub heartbeat_at: DateTime<Utc>,
    /// For a failed or timed-out run that will be retried: when.
    pub retry_at: Option<DateTime<Utc>>,
    /// Why it failed or was skipped (bounded).
    pub error: Option<String>,
    /// The replica that executed it.
    pub worker: String,
    /// For a replay: the run it replays.
    pub replay_of: Option<RunId>,
}

impl Run {
    /// When the fire was due: `due_at`, else `scheduled_for` — what lateness is measured from.
    pub fn due(&self) -> DateTime<Utc> {
        self.due_at.unwrap_or(self.scheduled_for)
    }

    /// How long it ran (or, for a skip, zero): `None` while it runs.
    pub fn duration(&self) -> Option<chrono::Duration> {
        self.finished_at.map(|end| end - self.started_at)
    }

    /// How many earlier attempts at this fire were abandoned by a dead worker (every attempt
    /// after the first is a failure retry, a throttled one's next attempt, or a recovery).
    pub fn recoveries(&self) -> i32 {
        (self.attempt - 1 - self.retries - self.throttles).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_lose_control_characters_and_are_bounded() {
        assert_eq!(ErrorText::sanitize("short").as_str(), "short");
        assert_eq!(
            ErrorText::sanitize("a\u{0}b\r\nc\td\u{7}").as_str(),
            "ab\nc\td"
        );
        let long = ErrorText::sanitize(&"x".repeat(5_000));
        assert_eq!(long.as_str().chars().count(), ErrorText::MAX_CHARS + 1);
        assert!(long.as_str().ends_with('…'));
        let exact = ErrorText::sanitize(&"x".repeat(ErrorText::MAX_CHARS));
        assert!(!exact.as_str().ends_with('…'));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        let text = ErrorText::from_bytes(b"HTTP 500: bad \xff\xfe body \x00 end");
        assert_eq!(text.as_str(), "HTTP 500: bad \u{fffd}\u{fffd} body  end");
    }
}
