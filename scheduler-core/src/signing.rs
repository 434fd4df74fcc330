//! Signed deliveries: every HTTP delivery carries
//! `Scheduler-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, one
//! `v1` per valid signing secret of the job's tenant (two while a rotation overlaps), so a
//! receiver holding the secret can reject forged calls (the MAC does not match) and replays
//! (`t` too old).
//!
//! Each tenant has its own secrets ([`SigningStore`]); the first delivery of a tenant without
//! one creates it, once: the store keeps at most one current secret per tenant, so first
//! deliveries racing in several tasks or replicas all sign with the same secret. [`SigningService::rotate`] adds a new secret and keeps the old ones valid
//! for an overlap, so receivers can switch without a failed delivery.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::entropy::random_token;
use crate::error::{RepositoryError, ServiceError};
use crate::ports::{Clock, Entropy};
use crate::tenant::Tenant;

/// The header a delivery's signature travels in.
pub const SIGNATURE_HEADER: &str = "Scheduler-Signature";

/// The prefix of every signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// One signing secret of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningSecret {
    /// Identity.
    pub id: i64,
    /// The tenant whose deliveries it signs.
    pub tenant: Tenant,
    /// The secret (`whsec_` and 64 hex digits); the HMAC key is this whole text.
    pub secret: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops being valid (set by a rotation); `None` while it is current.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Where signing secrets are kept.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait SigningStore: Send + Sync {
    /// `tenant`'s secrets valid at `now`, newest first.
    async fn valid(
        &self,
        tenant: &Tenant,
        now: DateTime<Utc>,
    ) -> Result<Vec<SigningSecret>, RepositoryError>;
    /// Adds `secret` as `tenant`'s current secret unless the tenant already has a current one
    /// (a secret without `expires_at`). The database decides — at most one current secret
    /// per tenant — so first uses racing in several tasks or replicas store exactly one, and
    /// none of them expires another. MUST NOT change an existing secret.
    async fn create_first(
        &self,
        tenant: &Tenant,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<(), RepositoryError>;
    /// Makes every valid secret of `tenant` expire at `expire_at` (when later than that) and
    /// adds `secret` as its current one. Concurrent rotations of one tenant each end with one
    /// current secret (the last to commit).
    async fn rotate(
        &self,
        tenant: &Tenant,
        secret: &str,
        now: DateTime<Utc>,
        expire_at: DateTime<Utc>,
    ) -> Result<SigningSecret, RepositoryError>;
}

/// HMAC-SHA256 of `"<t>.<body>"` under `secret`, lowercase hex.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    // HMAC accepts a key of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The header value for `body` sent at `t`: `t=<t>,v1=<sig>[,v1=<sig>...]`.
pub fn signature_header<'a>(
    secrets: impl IntoIterator<Item = &'a str>,
    t: i64,
    body: &[u8],
) -> String {
    let mut header = format!("t={t}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&sign(secret, t, body));
    }
    header
}

/// What a receiver does: true when `header` has a `t` within `tolerance_seconds` of `now`
/// and a `v1` that is the HMAC of `"<t>.<body>"` under `secret` (compared in constant time).
pub fn verify(header: &str, secret: &str, body: &[u8], now: i64, tolerance_seconds: i64) -> bool {
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let Some(t) = t else {
        return false;
    };
    if (now - t).abs() > tolerance_seconds {
        return false;
    }
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    signatures.iter().any(|candidate| {
        hex::decode(candidate).is_ok_and(|bytes| mac.clone().verify_slice(&bytes).is_ok())
    })
}

/// A new random signing secret: `whsec_` and 64 hex digits (256 bits) from `entropy`.
///
/// # Errors
/// `Unavailable` when the entropy source fails.
pub fn generate_secret(entropy: &dyn Entropy) -> Result<String, ServiceError> {
    random_token(entropy, SECRET_PREFIX, 32)
}

/// The signing use cases.
#[derive(Clone)]
pub struct SigningService {
    /// Where secrets are kept.
    store: Arc<dyn SigningStore>,
    /// "Now".
    clock: Arc<dyn Clock>,
    /// Where new secrets come from.
    entropy: Arc<dyn Entropy>,
}

impl SigningService {
    /// Wires the service.
    pub fn new(
        store: Arc<dyn SigningStore>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
    ) -> Self {
        Self {
            store,
            clock,
            entropy,
        }
    }

    /// `tenant`'s valid secrets, newest first; the first call for a tenant creates one.
    ///
    /// # Errors
    /// `Unavailable` when the store is.
    pub async fn secrets(&self, tenant: &Tenant) -> Result<Vec<SigningSecret>, ServiceError> {
        let now = self.clock.now();
        let valid = self.store.valid(tenant, now).await?;
        if !valid.is_empty() {
            return Ok(valid);
        }
        // First use: racing callers (tasks, replicas) each try; the store keeps one.
        self.store
            .create_first(tenant, &generate_secret(self.entropy.as_ref())?, now)
            .await?;
        let valid = self.store.valid(tenant, now).await?;
        if valid.is_empty() {
            return Err(ServiceError::Unavailable(format!(
                "tenant {tenant} has no signing secret after creating one"
            )));
        }
        Ok(valid)
    }

    /// Adds a new current secret for `tenant`; the previous ones stay valid for `overlap`.
    ///
    /// # Errors
    /// `Unavailable` when the store is.
    pub async fn rotate(
        &self,
        tenant: &Tenant,
        overlap: Duration,
    ) -> Result<SigningSecret, ServiceError> {
        let now = self.clock.now();
        Ok(self
            .store
            .rotate(
                tenant,
                &generate_secret(self.entropy.as_ref())?,
                now,
                now + overlap,
            )
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let secret = "whsec_test";
        let body = br#"{"job_id":1}"#;
        let header = signature_header([secret], 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify(&header, secret, body, 1_700_000_010, 300));
        assert!(!verify(
            &header,
            secret,
            br#"{"job_id":2}"#,
            1_700_000_010,
            300
        ));
        assert!(!verify(&header, "whsec_other", body, 1_700_000_010, 300));
        // Replayed too late.
        assert!(!verify(&header, secret, body, 1_700_000_400, 300));
        // A forged t with the old signature.
        let forged = header.replace("t=1700000000", "t=1700000300");
        assert!(!verify(&forged, secret, body, 1_700_000_300, 300));
        // During a rotation either secret verifies.
        let both = signature_header(["whsec_new", secret], 1_700_000_000, body);
        assert!(verify(&both, secret, body, 1_700_000_000, 300));
        assert!(verify(&both, "whsec_new", body, 1_700_000_000, 300));
        // The same value Python's hmac module gives (the README's receiver snippet).
        assert_eq!(
            sign(secret, 1_700_000_000, body),
            "a266d7a378c1695c3461edf93427641b6d55dbd78980e17505c330b191875c85"
        );
    }

    #[test]
    fn secrets_are_random_and_prefixed() {
        let entropy = crate::entropy::SeededEntropy::new(1);
        let a = generate_secret(&entropy).unwrap();
        assert!(a.starts_with("whsec_") && a.len() == 6 + 64);
        assert_ne!(a, generate_secret(&entropy).unwrap());
    }
}
