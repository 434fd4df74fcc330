//! The validated values a job is made of. Every stored text has a maximum enforced here, in
//! its value type, equal to what every backend keeps (`name` 255 characters, `description`
//! 10,000, `parameters` 64 KiB; `cron_expression` 255 and the target's URL 2,048 bytes in
//! their own modules), and no text may contain a NUL character (PostgreSQL refuses it in text
//! and `jsonb`): a value that exists can be stored on every backend.

use chrono_tz::Tz;
use serde_json::{Map, Value};

use crate::error::Invalid;
use crate::text::reject_nul;

/// A job's unique name: trimmed, 1 to 255 characters, no NUL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobName(String);

impl JobName {
    /// The longest name accepted, in characters.
    pub const MAX_CHARS: usize = 255;

    /// Trims and checks a name.
    ///
    /// # Errors
    /// `NulCharacter`, `Blank`, or `TooLong`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        crate::text::name(raw, Self::MAX_CHARS).map(Self)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<JobName> for String {
    fn from(name: JobName) -> Self {
        name.0
    }
}

crate::text::path_segment_name! {
    /// Who manages a set of jobs applied from files (`schedulerctl apply`): a team, a
    /// repository, a service. Unique per set in its tenant: 1 to 64 characters of ASCII
    /// letters, digits, `-`, `_` and `.`, starting with a letter or digit.
    Owner,
    Invalid::OwnerName
}

/// Free text describing a job: at most 10,000 characters, no NUL, empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    /// The longest description accepted, in characters.
    pub const MAX_CHARS: usize = 10_000;

    /// Checks a description.
    ///
    /// # Errors
    /// `NulCharacter` or `TooLong`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        reject_nul(raw)?;
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        Ok(Self(raw.to_string()))
    }

    /// The description as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Description> for String {
    fn from(description: Description) -> Self {
        description.0
    }
}

/// An IANA time zone in which a job's expression is read; `UTC` by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timezone(Tz);

impl Timezone {
    /// The longest zone name stored (`VARCHAR(64)`); every IANA name is shorter.
    pub const MAX_CHARS: usize = 64;

    /// Looks up an IANA zone name such as `Europe/London` (case-sensitive, as IANA names are).
    ///
    /// # Errors
    /// `NulCharacter`, or `UnknownTimezone`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        reject_nul(raw)?;
        raw.trim()
            .parse::<Tz>()
            .map(Self)
            .map_err(|_| Invalid::UnknownTimezone {
                name: raw.to_string(),
            })
    }

    /// The chrono-tz zone.
    pub fn tz(&self) -> Tz {
        self.0
    }

    /// The IANA name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// Every zone name [`Timezone::parse`] accepts.
    pub fn names() -> impl Iterator<Item = &'static str> {
        chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
    }
}

/// The JSON object handed to a job's handler: an object, at most 64 KiB serialized, with no
/// NUL character in any key or string. Numbers are kept as written (serde_json's
/// `arbitrary_precision`): `-0.0`, `1e-400`, `12345678901234567890123` and `1.10` come back
/// with their sign, digits and magnitude; only an exponent's spelling is normalised (`1E5` →
/// `1e+5`). Stores keep [`Parameters::to_json_text`], never a form that rewrites numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parameters(Map<String, Value>);

/// True when a NUL character appears in a string or a key anywhere inside `value`.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

impl Parameters {
    /// The largest serialized size accepted, in bytes.
    pub const MAX_BYTES: usize = 64 * 1024;

    /// Checks that `value` is an object of acceptable size without NUL characters.
    ///
    /// # Errors
    /// `ParametersNotAnObject`, `NulCharacter` or `ParametersTooLarge`.
    pub fn parse(value: Value) -> Result<Self, Invalid> {
        let Value::Object(map) = value else {
            return Err(Invalid::ParametersNotAnObject);
        };
        let size = serde_json::to_vec(&map)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > Self::MAX_BYTES {
            return Err(Invalid::ParametersTooLarge {
                max: Self::MAX_BYTES,
                size,
            });
        }
        if map
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value))
        {
            return Err(Invalid::NulCharacter);
        }
        Ok(Self(map))
    }

    /// The object's members.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The object as JSON text, every number as it was written: what stores keep.
    pub fn to_json_text(&self) -> String {
        // Serializing a map of values cannot fail (string keys, no foreign types).
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".to_string())
    }
}

impl From<Parameters> for Value {
    fn from(parameters: Parameters) -> Self {
        Value::Object(parameters.0)
    }
}
