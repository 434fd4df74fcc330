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
    named_path("/scheduler/calendars/", "calendar", name)
}

/// `/scheduler/channels/{name}/`, the name as one path segment, as [`calendar_path`].
///
/// # Errors
/// [`Failure::Usage`] for an empty name, `.` or `..`.
pub(crate) fn channel_path(name: &str) -> Result<String, Failure> {
    named_path("/scheduler/channels/", "channel", name)
}

/// `{collection}{name}/` with `name` escaped as one path segment; `what` names the kind of
/// item in the error ("calendar").
fn named_path(collection: &str, what: &str, name: &str) -> Result<String, Failure> {
    if matches!(name, "" | "." | "..") {
        return Err(Failure::Usage(format!(
            "{name:?} is not a {what} name: letters, digits, -, _ and ., starting with a \
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
    Ok(format!("{collection}{segment}/"))
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

    #[test]
    fn a_channel_name_stays_one_path_segment() {
        assert_eq!(
            channel_path("ops-alerts.v2").unwrap(),
            "/scheduler/channels/ops-alerts.v2/"
        );
        assert_eq!(
            channel_path("a/../keys").unwrap(),
            "/scheduler/channels/a%2F..%2Fkeys/"
        );
        let error = channel_path("..").unwrap_err();
        assert!(
            error.to_string().contains("is not a channel name"),
            "{error}"
        );
    }
}
