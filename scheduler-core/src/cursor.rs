//! Cursor pagination: where a page starts, as an opaque signed token.
//!
//! A numbered page (`page=N`) makes the store skip `(N-1) × size` rows, so deep pages cost
//! O(offset). A cursor names the row a page continues from — its sort key and id — and the
//! store reads the next rows from an index range, so every page costs O(page size) however
//! far it is (Django REST framework's `CursorPagination`, whose answer shape we keep).
//!
//! # Token
//! `base64url(payload ‖ mac)`, where `payload` is a short JSON array — the list it belongs to
//! (its *scope*: `jobs:<ordering>`, `runs`, `runs:job:<id>`), the direction to read and the
//! position — and `mac` is the first [`MAC_BYTES`] bytes of HMAC-SHA256 over the caller's
//! tenant and the payload, under a key every replica shares ([`CursorKey`]). A token that was
//! changed or cut, or that was made for another tenant or another list (another ordering,
//! another job's runs), does not verify: [`InvalidCursor`], which the API answers as DRF does,
//! `404 {"detail": "Invalid cursor"}`. Filters are not part of the scope: a cursor keeps its
//! position when a client changes a filter, as in DRF.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::tenant::Tenant;

/// Bytes of the MAC kept in a token: 96 bits, far beyond guessing by requests.
pub const MAC_BYTES: usize = 12;

/// Longest token read; anything longer is refused before decoding.
///
/// Above the longest token the server makes: a job list sorted by name holds the name, and a
/// 255-character name of control characters is 1,530 bytes of escaped JSON, about 2,130
/// characters of token with the rest of the payload and the MAC (2,048 refused that page's own
/// `next` link). The job-list test `the_longest_position_makes_a_token_that_is_read_back`
/// keeps the two in step.
pub const MAX_TOKEN_CHARS: usize = 4_096;

/// The secret that signs cursors. Every replica of one deployment must hold the same key (the
/// server keeps it in the database); a process-local [`CursorKey::random`] suits one process.
#[derive(Clone, PartialEq, Eq)]
pub struct CursorKey([u8; 32]);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(***)")
    }
}

impl CursorKey {
    /// A key from 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A new key from `entropy`.
    ///
    /// # Errors
    /// Why `entropy` gave no bytes.
    pub fn random(entropy: &dyn crate::entropy::Entropy) -> Result<Self, String> {
        let mut bytes = [0u8; 32];
        entropy.fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// The key written as 64 hex digits (how the server stores it).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads 64 hex digits; `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        bytes.try_into().ok().map(Self)
    }
}

/// Which way a cursor page reads from its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The rows after the position, in list order (a `next` link).
    Forward,
    /// The rows before the position, in list order (a `previous` link).
    Backward,
}

impl Direction {
    fn tag(self) -> &'static str {
        match self {
            Self::Forward => "f",
            Self::Backward => "b",
        }
    }
}

/// Where a cursor page starts and which way it reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Keyset<P> {
    /// The row the page continues from (not included); `None`: the first page.
    pub from: Option<P>,
    /// Which way from it.
    pub direction: Direction,
}

impl<P> Keyset<P> {
    /// The first page.
    pub fn first() -> Self {
        Self {
            from: None,
            direction: Direction::Forward,
        }
    }
}

/// A token that is not a cursor this caller may use: unreadable, changed, or made for another
/// tenant or list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor")]
pub struct InvalidCursor;

/// Signs and verifies cursor tokens with one [`CursorKey`].
#[derive(Debug, Clone)]
pub struct CursorCodec {
    /// The shared secret.
    key: CursorKey,
}

impl CursorCodec {
    /// A codec signing with `key`.
    pub fn new(key: CursorKey) -> Self {
        Self { key }
    }

    fn mac(&self, tenant: &Tenant, payload: &[u8]) -> [u8; MAC_BYTES] {
        // HMAC takes keys of any length, so this cannot fail; the fallback is never used.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key.0) else {
            return [0; MAC_BYTES];
        };
        mac.update(tenant.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut short = [0u8; MAC_BYTES];
        short.copy_from_slice(&full[..MAC_BYTES]);
        short
    }

    /// The token for reading `direction` from `position` in the list `scope` of `tenant`.
    pub fn encode(
        &self,
        tenant: &Tenant,
        scope: &str,
        direction: Direction,
        position: Value,
    ) -> String {
        let payload = Value::Array(vec![
            Value::from(scope),
            Value::from(direction.tag()),
            position,
        ])
        .to_string()
        .into_bytes();
        let mut bytes = payload.clone();
        bytes.extend_from_slice(&self.mac(tenant, &payload));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The direction and position a token holds, when it verifies for `tenant` and `scope`.
    ///
    /// # Errors
    /// [`InvalidCursor`] for a token that is too long, not base64url, too short, changed
    /// (its MAC does not verify), or made for another tenant or scope.
    pub fn decode(
        &self,
        tenant: &Tenant,
        scope: &str,
        token: &str,
    ) -> Result<(Direction, Value), InvalidCursor> {
        if token.len() > MAX_TOKEN_CHARS {
            return Err(InvalidCursor);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| InvalidCursor)?;
        let split = bytes.len().checked_sub(MAC_BYTES).ok_or(InvalidCursor)?;
        let (payload, mac) = bytes.split_at(split);
        let expected = self.mac(tenant, payload);
        // Constant-time comparison, so timing does not reveal how much of a forged MAC matched.
        let differs = expected
            .iter()
            .zip(mac)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if differs != 0 {
            return Err(InvalidCursor);
        }
        let Ok(Value::Array(mut parts)) = serde_json::from_slice::<Value>(payload) else {
            return Err(InvalidCursor);
        };
        if parts.len() != 3 || parts[0].as_str() != Some(scope) {
            return Err(InvalidCursor);
        }
        let direction = match parts[1].as_str() {
            Some("f") => Direction::Forward,
            Some("b") => Direction::Backward,
            _ => return Err(InvalidCursor),
        };
        Ok((direction, parts.swap_remove(2)))
    }
}

impl From<InvalidCursor> for crate::error::ServiceError {
    fn from(_: InvalidCursor) -> Self {
        Self::InvalidCursor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn codec() -> CursorCodec {
        CursorCodec::new(CursorKey::from_bytes([7; 32]))
    }

    fn tenant(name: &str) -> Tenant {
        Tenant::parse(name).unwrap()
    }

    #[test]
    fn a_token_decodes_to_what_was_encoded() {
        let token = codec().encode(&tenant("a"), "jobs:id", Direction::Backward, json!([42]));
        assert_eq!(
            codec().decode(&tenant("a"), "jobs:id", &token),
            Ok((Direction::Backward, json!([42])))
        );
    }

    #[test]
    fn a_token_of_another_tenant_or_scope_is_refused() {
        let token = codec().encode(&tenant("a"), "jobs:id", Direction::Forward, json!([1]));
        assert_eq!(
            codec().decode(&tenant("b"), "jobs:id", &token),
            Err(InvalidCursor)
        );
        assert_eq!(
            codec().decode(&tenant("a"), "jobs:-id", &token),
            Err(InvalidCursor)
        );
        let other_key = CursorCodec::new(CursorKey::from_bytes([8; 32]));
        assert_eq!(
            other_key.decode(&tenant("a"), "jobs:id", &token),
            Err(InvalidCursor)
        );
    }

    #[test]
    fn every_changed_character_is_refused() {
        let token = codec().encode(
            &tenant("a"),
            "jobs:name",
            Direction::Forward,
            json!(["x", 3]),
        );
        for index in 0..token.len() {
            let mut changed: Vec<char> = token.chars().collect();
            changed[index] = if changed[index] == 'A' { 'B' } else { 'A' };
            let changed: String = changed.into_iter().collect();
            assert_eq!(
                codec().decode(&tenant("a"), "jobs:name", &changed),
                Err(InvalidCursor),
                "{changed}"
            );
        }
    }

    #[test]
    fn unreadable_tokens_are_refused() {
        for token in ["", "!!!", "abc", &"A".repeat(MAX_TOKEN_CHARS + 1)] {
            assert_eq!(
                codec().decode(&tenant("a"), "jobs:id", token),
                Err(InvalidCursor),
                "{token}"
            );
        }
    }

    #[test]
    fn keys_round_trip_their_hex_form_and_hide_in_debug() {
        let key = CursorKey::random(&crate::entropy::SeededEntropy::new(3)).unwrap();
        assert_eq!(CursorKey::from_hex(&key.to_hex()), Some(key.clone()));
        assert_eq!(CursorKey::from_hex("beef"), None);
        assert_eq!(format!("{key:?}"), "CursorKey(***)");
    }
}
