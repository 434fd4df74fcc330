//! The exit codes scripts can rely on, and the HTTP statuses that lead to them.
//!
//! The table in [`EXIT_CODES_HELP`] is printed by `--help` and repeated in the README; a test
//! checks that the two agree with `Exit::ALL`.

use std::process::ExitCode;

/// How `schedulerctl` ended, as one exit code per kind of outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 0: the command did what it was asked.
    Success,
    /// 1: the server failed (5xx, or another status not listed), could not be reached in
    /// time, or answered something that is not what the API documents.
    Failure,
    /// 2: the command line is wrong (clap's own errors, a `--file` that cannot be read,
    /// `--params` that is not JSON, an `.ics` file that cannot be imported, ...); nothing was
    /// sent.
    Usage,
    /// 3: 404, no such job, run, key, calendar or channel (another tenant's answers the same).
    NotFound,
    /// 4: 401 or 403, no key, a wrong or revoked key, or a scope too small.
    Auth,
    /// 5: 400, 413 or 415, the server refused the input; its field errors are printed.
    Invalid,
    /// 6: 409, a conflict (a manual run started at the same instant as another, a calendar
    /// deleted while a job lists it).
    Conflict,
    /// 7: 429, the key's rate limit; retry after the time printed.
    Throttled,
    /// 8: `runs tail --for` ended before `--count` runs had finished.
    TimedOut,
}

impl Exit {
    /// Every outcome, in code order.
    #[cfg(test)]
    pub(crate) const ALL: [Exit; 9] = [
        Exit::Success,
        Exit::Failure,
        Exit::Usage,
        Exit::NotFound,
        Exit::Auth,
        Exit::Invalid,
        Exit::Conflict,
        Exit::Throttled,
        Exit::TimedOut,
    ];

    /// The number the process exits with.
    pub(crate) fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::NotFound => 3,
            Exit::Auth => 4,
            Exit::Invalid => 5,
            Exit::Conflict => 6,
            Exit::Throttled => 7,
            Exit::TimedOut => 8,
        }
    }

    /// The outcome of a non-2xx HTTP answer.
    pub(crate) fn for_status(status: u16) -> Exit {
        match status {
            400 | 413 | 415 => Exit::Invalid,
            401 | 403 => Exit::Auth,
            404 => Exit::NotFound,
            409 => Exit::Conflict,
            429 => Exit::Throttled,
            _ => Exit::Failure,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// The exit-code table shown by `--help`.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  server error or unreachable server (5xx, connection, timeout, an answer not as documented);
     diff: the server differs from the files
  2  usage error: bad arguments, unreadable --file, --params not JSON, a bad .ics (nothing was sent)
  3  not found (404): no such job, run, key, calendar or channel
  4  authentication or permission (401, 403): missing, wrong or revoked key, scope too small
  5  invalid input (400, 413, 415): the server's field errors are printed
  6  conflict (409)
  7  throttled (429): retry after the time printed
  8  runs tail: --for ended before --count runs finished";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_table_lists_every_code_once_in_order() {
        let listed: Vec<u8> = EXIT_CODES_HELP
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next()?.parse().ok())
            .collect();
        let codes: Vec<u8> = Exit::ALL.iter().map(|exit| exit.code()).collect();
        assert_eq!(listed, codes);
    }

    #[test]
    fn statuses_map_to_the_documented_codes() {
        assert_eq!(Exit::for_status(400), Exit::Invalid);
        assert_eq!(Exit::for_status(415), Exit::Invalid);
        assert_eq!(Exit::for_status(401), Exit::Auth);
        assert_eq!(Exit::for_status(403), Exit::Auth);
        assert_eq!(Exit::for_status(404), Exit::NotFound);
        assert_eq!(Exit::for_status(409), Exit::Conflict);
        assert_eq!(Exit::for_status(429), Exit::Throttled);
        assert_eq!(Exit::for_status(500), Exit::Failure);
        assert_eq!(Exit::for_status(503), Exit::Failure);
        assert_eq!(Exit::for_status(405), Exit::Failure);
    }
}
