//! Rules every stored text obeys, whichever value it belongs to.

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
