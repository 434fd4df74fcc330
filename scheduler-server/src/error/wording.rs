//! The sentences a client reads for what is wrong with a field: the original service's
//! Django REST framework wording, and the wire shape of field errors.

use std::collections::BTreeMap;

use scheduler_core::{Invalid, TargetError, ValidationErrors};

/// Field errors in the original's shape: `{"<field>": ["<message>", ...]}`.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// The message for an instant that cannot be read (the original's wording).
pub const DATETIME_FORMAT: &str = "Datetime has wrong format. Use one of these formats instead: \
     YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

/// `a`, `a or b`, `a, b or c`.
fn either(choices: &[&str]) -> String {
    match choices.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// What a target problem is called in the original's style.
fn target_wording(problem: &TargetError) -> String {
    match problem {
        TargetError::NotAnObject => {
            "Must be a JSON object like {\"type\": \"http\", \"url\": \"https://...\"}.".into()
        }
        TargetError::TypeNotHttp => "\"type\" must be \"http\".".into(),
        TargetError::UrlMissing => "\"url\" is required.".into(),
        TargetError::UrlScheme => "\"url\" must be an http:// or https:// URL.".into(),
        TargetError::UrlNoHost => "\"url\" must name a host.".into(),
        TargetError::UrlTooLong => format!(
            "\"url\" must be at most {} characters.",
            scheduler_core::HttpTarget::MAX_URL_CHARS
        ),
        TargetError::MethodNotAllowed => format!(
            "\"method\" must be {}.",
            either(&scheduler_core::HttpTarget::METHODS)
        ),
        TargetError::MethodNotAString => "\"method\" must be a string.".into(),
        TargetError::HeadersNotAnObject => "\"headers\" must be an object of strings.".into(),
        TargetError::TooManyHeaders => format!(
            "At most {} headers are allowed.",
            scheduler_core::HttpTarget::MAX_HEADERS
        ),
        TargetError::HeaderNotAString { name } => format!("header \"{name}\" must be a string."),
        TargetError::HeaderInvalid { name } => {
            format!("header \"{name}\" is not a valid HTTP header.")
        }
        TargetError::HeaderReserved { name } => format!(
            "header \"{name}\" may not be set: the scheduler sets it, or it belongs to the \
             HTTP connection (Host, Content-Length, Transfer-Encoding, Content-Type, \
             Connection and other hop-by-hop headers, Expect, Scheduler-*, Idempotency-Key, \
             trace context)."
        ),
        TargetError::NulCharacter => "Null characters are not allowed.".into(),
        TargetError::UrlInvalid(why) => format!("\"url\" is not a valid URL: {why}."),
        TargetError::UrlCredentials => "\"url\" must not contain credentials: send them in \
            \"headers\" (e.g. Authorization), whose values are never returned."
            .into(),
        TargetError::Forbidden(why) => format!(
            "\"url\" may not be reached: {why}. An operator can open internal targets with \
             SCHEDULER_TARGET_ALLOW."
        ),
        TargetError::MaskedWithoutValue { name } => format!(
            "header \"{name}\" is \"***\" (a hidden stored value) but the job has no such \
             header to keep: send its value."
        ),
    }
}

/// The sentence a client reads for `problem` in `field`.
pub fn wording(field: &str, problem: &Invalid) -> String {
    match problem {
        Invalid::Required => "This field is required.".into(),
        Invalid::RequiredParameter => "This parameter is required.".into(),
        Invalid::Null => "This field may not be null.".into(),
        Invalid::Blank => "This field may not be blank.".into(),
        Invalid::TooLong { max } => format!("Ensure this field has no more than {max} characters."),
        Invalid::NulCharacter => "Null characters are not allowed.".into(),
        Invalid::CursorWithPage => "Send either page or cursor, not both.".into(),
        Invalid::NotAString => "Not a valid string.".into(),
        Invalid::NotAnInteger => "A valid integer is required.".into(),
        Invalid::NotABoolean => "Must be a valid boolean.".into(),
        Invalid::NotAnInstant => DATETIME_FORMAT.into(),
        Invalid::NotAnObjectBody { found } => {
            format!("Invalid data. Expected a dictionary, but got {found}.")
        }
        Invalid::BelowMinimum { min } => {
            format!("Ensure this value is greater than or equal to {min}.")
        }
        Invalid::OutOfRange { min, max } => {
            format!("Ensure this value is between {min} and {max}.")
        }
        Invalid::NotAChoice { value, choices } if field == "ordering" => format!(
            "Select a valid choice. '{value}' is not one of: {}.",
            choices.join(", ")
        ),
        Invalid::NotAChoice { value, choices } => {
            format!(
                "\"{value}\" is not a valid choice: use {}.",
                either(choices)
            )
        }
        Invalid::UnknownTimezone { name } => {
            format!("Unknown time zone '{name}': use an IANA name such as 'Europe/London'.")
        }
        Invalid::Cron(error) => format!("Invalid CRON expression: {error}"),
        Invalid::EndNotAfterStart => "end_time must be after start_time.".into(),
        Invalid::OneScheduleKind => "Give exactly one of cron_expression, interval_seconds \
             or run_at."
            .into(),
        Invalid::RunAtNotAhead => "run_at must be in the future.".into(),
        Invalid::UntilNotAhead => "until must be in the future.".into(),
        Invalid::ToNotAfterFrom => "to must be after from.".into(),
        Invalid::ToInFuture => "to must not be in the future: a backfill runs past fires.".into(),
        Invalid::TooManyFires { max } => format!(
            "The range holds more than {max} fires of the schedule; backfill a shorter range."
        ),
        Invalid::JitterNotBelowGap { gap_seconds } => format!(
            "jitter_seconds must be less than the shortest gap between two fires of the \
             schedule ({gap_seconds} s)."
        ),
        Invalid::RunAtOutsideWindow => {
            "run_at must lie between start_time and end_time, or the job never runs.".into()
        }
        Invalid::BeforeNotAfterAfter => "scheduled_before must be after scheduled_after.".into(),
        Invalid::ParametersNotAnObject => "Must be a JSON object.".into(),
        Invalid::ParametersTooLarge { max, size } => {
            format!("Must be at most {max} bytes when serialized (got {size}).")
        }
        Invalid::Target(problem) => target_wording(problem),
        Invalid::TenantName => "Enter 1-64 characters: lowercase letters, digits, - and _, \
             starting with a letter or digit."
            .into(),
        Invalid::ChannelName | Invalid::OwnerName => {
            "Enter 1-64 characters: letters, digits, -, _ and ., starting \
             with a letter or digit."
                .into()
        }
        Invalid::EmailAddress => "Enter a valid e-mail address (name@example.com).".into(),
        Invalid::NotForKind { kind } => format!("A {kind} channel does not take this field."),
        Invalid::CalendarName => "Enter 1-64 characters: letters, digits, -, _ and ., starting \
             with a letter or digit."
            .into(),
        Invalid::CalendarEntry => "Each entry is an object with \"date\", or \"from\" and \"to\" \
             (YYYY-MM-DD), and optionally \"yearly\" (true/false) and \"label\"."
            .into(),
        Invalid::NotADate => "Enter a real date as YYYY-MM-DD.".into(),
        Invalid::DateRangeReversed => "\"to\" must not be before \"from\".".into(),
        Invalid::YearlyRangeTooLong => "A yearly range must be shorter than a year.".into(),
        Invalid::TooMany { max } => format!("Ensure this list has no more than {max} items."),
        Invalid::NotAList => "Expected a list of items.".into(),
        Invalid::DuplicateName { name } => format!("\"{name}\" is listed twice."),
        Invalid::ManagedElsewhere { name, owner } => match owner {
            Some(owner) => format!(
                "A job named \"{name}\" exists and is managed by \"{owner}\", not by this \
                 file's owner; rename one of them."
            ),
            None => format!(
                "A job named \"{name}\" exists and no file manages it (created through the \
                 API or declared in code); rename or delete it first."
            ),
        },
        Invalid::UnknownCalendar { name } => {
            format!("No calendar named \"{name}\": create it under /scheduler/calendars/ first.")
        }
    }
}

/// Converts collected validation errors into the wire shape, worded.
pub fn field_errors(errors: &ValidationErrors) -> FieldErrors {
    let mut out = FieldErrors::new();
    for error in errors.iter() {
        out.entry(error.field.clone())
            .or_default()
            .push(wording(&error.field, &error.problem));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_are_listed_in_plain_english() {
        assert_eq!(either(&["a"]), "a");
        assert_eq!(either(&["a", "b"]), "a or b");
        assert_eq!(either(&["a", "b", "c"]), "a, b or c");
        assert_eq!(
            wording(
                "misfire_policy",
                &Invalid::NotAChoice {
                    value: "x".into(),
                    choices: &["fire_once", "skip"]
                }
            ),
            "\"x\" is not a valid choice: use fire_once or skip."
        );
    }

    #[test]
    fn the_original_sentences_are_kept() {
        assert_eq!(
            wording("name", &Invalid::NulCharacter),
            "Null characters are not allowed."
        );
        assert_eq!(
            wording("name", &Invalid::TooLong { max: 255 }),
            "Ensure this field has no more than 255 characters."
        );
        assert_eq!(
            wording("page", &Invalid::BelowMinimum { min: 1 }),
            "Ensure this value is greater than or equal to 1."
        );
    }
}
