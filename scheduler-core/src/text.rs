//! Rules every stored text obeys, whichever value it belongs to.

use std::collections::BTreeMap;

use crate::error::Invalid;

/// Refuses a text holding a NUL character (`\u0000`): PostgreSQL cannot store one in `text`
/// or `jsonb`, so no backend may be given one.
///
/// # Errors
/// [`Invalid::NulCharacter`].
pub fn reject_nul(raw: &str) -> Result<(), Invalid> {
    if raw.contains('\0') {
        Err(Invalid::NulCharacter)
    } else {
        Ok(())
    }
}

/// The rule of every name the scheduler keeps (a job's, a key's): trimmed, not blank, at most
/// `max` characters, no NUL character.
///
/// # Errors
/// `NulCharacter`, `Blank`, or `TooLong`.
pub fn name(raw: &str, max: usize) -> Result<String, Invalid> {
    reject_nul(raw)?;
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Invalid::Blank);
    }
    if trimmed.chars().count() > max {
        return Err(Invalid::TooLong { max });
    }
    Ok(trimmed.to_string())
}

/// Whether `name` may be a URL path segment naming a calendar or a channel: ASCII letters,
/// digits, `-`, `_` and `.`, starting with a letter or digit.
pub fn is_path_segment_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Defines a name newtype unique in its tenant that is also a URL path segment (a calendar's,
/// a channel's): 1 to 64 characters by [`name`] and [`is_path_segment_name`], with `parse`
/// (refusing other characters as `$invalid`), `as_str` and `Display`. One definition, so the
/// names of every such resource obey one rule.
macro_rules! path_segment_name {
    ($(#[$attr:meta])* $type:ident, $invalid:path) => {
        $(#[$attr])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $type(String);

        impl $type {
            /// The longest name accepted.
            pub const MAX_CHARS: usize = 64;

            /// Checks a name (surrounding whitespace trimmed).
            ///
            /// # Errors
            #[doc = concat!("`NulCharacter`, `Blank`, `TooLong`, or [`", stringify!($invalid), "`].")]
            pub fn parse(raw: &str) -> Result<Self, $crate::error::Invalid> {
                let name = $crate::text::name(raw, Self::MAX_CHARS)?;
                if $crate::text::is_path_segment_name(&name) {
                    Ok(Self(name))
                } else {
                    Err($invalid)
                }
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
pub(crate) use path_segment_name;

/// Reads an operator's list of limits (`SCHEDULER_HOST_LIMITS`, `SCHEDULER_TENANT_LIMITS`):
/// entries separated by `;` or new lines (blank ones ignored), each read by `entry` into its
/// key and value. Errors name the entry: `<what> limit "<entry>": <why>`, and a key given
/// twice is refused (`<what> <key> is given twice`).
///
/// # Errors
/// The first entry `entry` refuses, or the first key given twice.
pub fn limit_entries<T>(
    text: &str,
    what: &str,
    entry: impl Fn(&str) -> Result<(String, T), String>,
) -> Result<BTreeMap<String, T>, String> {
    let mut entries = BTreeMap::new();
    for raw in text
        .split([';', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let (key, value) = entry(raw).map_err(|why| format!("{what} limit \"{raw}\": {why}"))?;
        if entries.contains_key(&key) {
            return Err(format!(
                "{what} limit \"{raw}\": {what} {key} is given twice"
            ));
        }
        entries.insert(key, value);
    }
    Ok(entries)
}

/// One `name=value` word of a limit entry.
///
/// # Errors
/// `"<word>" is not name=value`.
pub fn setting(word: &str) -> Result<(&str, &str), String> {
    word.split_once('=')
        .ok_or_else(|| format!("\"{word}\" is not name=value"))
}

/// A limit setting's whole number from 1 to `max`.
///
/// # Errors
/// `<name> must be a whole number from 1 to <max>, not "<value>"`.
pub fn whole_number(name: &str, value: &str, max: u32) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{name} must be a whole number from 1 to {max}, not \"{value}\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded_and_never_blank_or_nul() {
        assert_eq!(name("  ops ", 255), Ok("ops".to_string()));
        assert_eq!(name(" \t ", 255), Err(Invalid::Blank));
        assert_eq!(name("a\0b", 255), Err(Invalid::NulCharacter));
        assert_eq!(
            name(&"é".repeat(256), 255),
            Err(Invalid::TooLong { max: 255 })
        );
        assert_eq!(
            name(&"é".repeat(255), 255).map(|n| n.chars().count()),
            Ok(255)
        );
    }
}
