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
