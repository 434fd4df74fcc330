//! How enums are spelled on the wire and in the database.

use crate::error::Invalid;
use crate::text::reject_nul;

/// The wire spelling of an enum and its parsing into a choice error, for every enum whose
/// variants are written in snake case on the wire and in the database.
pub trait WireEnum:
    Sized + std::str::FromStr + Into<&'static str> + strum::VariantNames + Copy
{
    /// The wire and database spelling.
    fn as_str(&self) -> &'static str {
        (*self).into()
    }

    /// Every wire spelling, in declaration order.
    fn choices() -> &'static [&'static str] {
        Self::VARIANTS
    }

    /// Parses the wire spelling.
    ///
    /// # Errors
    /// [`Invalid::NotAChoice`] listing the accepted values (a NUL character is named as such).
    fn parse(raw: &str) -> Result<Self, Invalid> {
        reject_nul(raw)?;
        raw.parse().map_err(|_| Invalid::NotAChoice {
            value: raw.to_string(),
            choices: Self::VARIANTS,
        })
    }
}
