//! The API paths the commands call that more than one command builds.

use crate::failure::Failure;

/// The runs collection: one job's (`/scheduler/jobs/{id}/runs/`, which answers 404 for an
/// unknown job) or every job's.
pub(crate) fn runs_path(job: Option<i64>) -> String {
    match job {
        Some(id) => format!("/scheduler/jobs/{id}/runs/"),
        None => "/scheduler/runs/".into(),
    }
}

/// `/scheduler/calendars/{name}/`, the name as one path segment whatever it holds (`/`, `?`,
/// `%` are escaped), so a name can never reach another endpoint.
///
/// # Errors
/// [`Failure::Usage`] for an empty name, `.` or `..` (URLs resolve those as paths, and no
/// calendar can be named so).
pub(crate) fn calendar_path(name: &str) -> Result<String, Failure> {
    if matches!(name, "" | "." | "..") {
        return Err(Failure::Usage(format!(
            "{name:?} is not a calendar name: letters, digits, -, _ and ., starting with a \
             letter or digit"
        )));
    }
    let mut segment = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            segment.push(char::from(byte));
        } else {
            segment.push_str(&format!("%{byte:02X}"));
        }
    }
    Ok(format!("/scheduler/calendars/{segment}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calendar_name_stays_one_path_segment() {
        assert_eq!(
            calendar_path("uk-bank_holidays.2030").unwrap(),
            "/scheduler/calendars/uk-bank_holidays.2030/"
        );
        assert_eq!(
            calendar_path("../jobs/1?x=%").unwrap(),
            "/scheduler/calendars/..%2Fjobs%2F1%3Fx%3D%25/"
        );
        for name in ["", ".", ".."] {
            assert!(
                matches!(calendar_path(name), Err(Failure::Usage(_))),
                "{name}"
            );
        }
    }
}
