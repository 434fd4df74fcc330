//! The wire time format: instants are written as RFC 3339 in UTC with `Z`, and read the way
//! the original service read them.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDateTime, SecondsFormat, Utc};
use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use scheduler_core::{Invalid, ServiceError, ValidationErrors};
use serde_json::Value;

/// Formats an instant as RFC 3339 in UTC with `Z` (microseconds only when present).
pub fn format_instant(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// An instant on the wire: a `date-time` string in UTC ending in `Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcInstant(pub DateTime<Utc>);

impl Type for UtcInstant {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date-time".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        <DateTime<Utc> as Type>::schema_ref()
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for UtcInstant {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        value
            .as_ref()
            .and_then(Value::as_str)
            .and_then(parse_instant)
            .map(Self)
            .ok_or_else(|| ParseError::custom("expected an RFC 3339 date-time"))
    }
}

impl serde::Serialize for UtcInstant {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_instant(self.0))
    }
}

impl ToJSON for UtcInstant {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(format_instant(self.0)))
    }
}

/// Parses an instant the way the original did: RFC 3339 / ISO 8601 with `T` or a space, an
/// optional fraction, and `Z`, an offset, or no offset (read as UTC). Years outside 1–9999
/// (the range every store and client keeps) are refused.
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    parse_any_instant(text).filter(|t| (1..=9999).contains(&t.year()))
}

/// A pause's `until` as written (absent or blank: none), or the 400 naming `until`.
///
/// # Errors
/// `Validation` naming `until` when it is not an instant.
pub fn parse_until(raw: Option<&str>) -> Result<Option<DateTime<Utc>>, ServiceError> {
    parse_optional_instant("until", raw)
}

/// The instant of parameter or form field `field` as written (absent or blank: none), or
/// the 400 naming it.
///
/// # Errors
/// `Validation` naming `field` when it is not an instant.
pub fn parse_optional_instant(
    field: &str,
    raw: Option<&str>,
) -> Result<Option<DateTime<Utc>>, ServiceError> {
    // `str::is_empty` by name: poem-openapi's `Type` (imported here) has an `is_empty` for
    // `&T` that always answers false, and method lookup finds it first on a `&&str`.
    match raw.map(str::trim).filter(|text| !str::is_empty(text)) {
        None => Ok(None),
        Some(text) => parse_instant(text)
            .map(Some)
            .ok_or_else(|| ValidationErrors::single(field, Invalid::NotAnInstant).into()),
    }
}

/// [`parse_instant`] without the year range.
fn parse_any_instant(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let normalized = text.replacen(' ', "T", 1);
    if let Ok(t) = DateTime::parse_from_rfc3339(&normalized) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z"] {
        if let Ok(t) = DateTime::parse_from_str(&normalized, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    let naive = normalized.trim_end_matches('Z');
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, format) {
            return Some(t.and_utc());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_optional_instant_is_absent() {
        // A browser sends an empty input as `until=`.
        for blank in [Some(""), Some("  "), None] {
            assert_eq!(
                parse_optional_instant("until", blank),
                Ok(None),
                "{blank:?}"
            );
        }
        assert!(parse_optional_instant("until", Some("soon")).is_err());
        assert!(matches!(
            parse_optional_instant("until", Some("2030-01-01T00:00:00Z")),
            Ok(Some(_))
        ));
    }

    #[test]
    fn instants_are_read_in_the_usual_iso_forms() {
        let expected: DateTime<Utc> = "2025-06-23T09:00:00Z".parse().unwrap();
        for text in [
            "2025-06-23T09:00:00Z",
            "2025-06-23T09:00:00+00:00",
            "2025-06-23T11:00:00+02:00",
            "2025-06-23T11:00:00+0200",
            "2025-06-23 09:00:00Z",
            "2025-06-23T09:00:00",
            "2025-06-23T09:00",
            "2025-06-23T09:00:00.000",
        ] {
            assert_eq!(parse_instant(text), Some(expected), "{text}");
        }
        assert_eq!(parse_instant("next tuesday"), None);
        for out_of_range in [
            "0000-01-01T00:00:00Z",
            "+10000-01-01T00:00:00Z",
            "10000-01-01T00:00:00",
            "-0001-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_instant(out_of_range), None, "{out_of_range}");
        }
        assert!(parse_instant("0001-01-01T00:00:00Z").is_some());
        assert!(parse_instant("9999-12-31T23:59:59Z").is_some());
        assert_eq!(parse_instant("2025-13-01T00:00:00Z"), None);
    }

    #[test]
    fn instants_are_written_in_utc_with_z() {
        let t: DateTime<Utc> = "2025-06-23T11:00:00.123456+02:00".parse().unwrap();
        assert_eq!(format_instant(t), "2025-06-23T09:00:00.123456Z");
        let t: DateTime<Utc> = "2025-06-23T09:00:00Z".parse().unwrap();
        assert_eq!(format_instant(t), "2025-06-23T09:00:00Z");
    }
}
