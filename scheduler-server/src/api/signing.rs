//! `/scheduler/signing-secrets/`: an admin key reads its tenant's delivery signing secrets
//! and rotates them (the old ones stay valid for an overlap).

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use scheduler_core::{SigningSecret, SigningService};

use super::output::FastJson;
use super::tags::ApiTags;
use super::wire_time::UtcInstant;
use crate::auth::{Admin, Caller};
use crate::error::{OpError, errors};

/// The longest overlap a rotation may ask for: 30 days.
const MAX_OVERLAP_SECONDS: u32 = 30 * 24 * 3600;

/// A signing secret.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "SigningSecret")]
pub struct SecretOut {
    /// Identity.
    pub id: i64,
    /// The secret: the HMAC-SHA256 key of `Scheduler-Signature` (the whole text).
    pub secret: String,
    /// When it was created.
    pub created_at: UtcInstant,
    /// When it stops being valid; null for the current one.
    #[oai(nullable)]
    pub expires_at: Option<UtcInstant>,
}

impl From<SigningSecret> for SecretOut {
    fn from(secret: SigningSecret) -> Self {
        Self {
            id: secret.id,
            secret: secret.secret,
            created_at: UtcInstant(secret.created_at),
            expires_at: secret.expires_at.map(UtcInstant),
        }
    }
}

/// A rotation.
#[derive(Debug, Clone, Object)]
#[oai(rename = "RotateSigningSecret")]
pub struct RotateInput {
    /// How long the current secrets stay valid beside the new one, in seconds (default
    /// 86,400: a day; at most 30 days; 0 ends them now).
    #[oai(validator(maximum(value = "2592000")))]
    pub overlap_seconds: Option<u32>,
}

/// 200 with the valid secrets.
#[derive(Debug, ApiResponse)]
pub enum SecretsListed {
    /// The tenant's valid secrets, newest (current) first.
    #[oai(status = 200)]
    Secrets(FastJson<Vec<SecretOut>>),
}

/// 201 with the new secret.
#[derive(Debug, ApiResponse)]
pub enum Rotated {
    /// The new current secret.
    #[oai(status = 201)]
    Secret(FastJson<SecretOut>),
}

/// The signing endpoints (admin scope).
pub struct SigningApi {
    /// The use cases.
    pub signing: SigningService,
}

#[OpenApi]
impl SigningApi {
    /// Your tenant's valid delivery signing secrets (created on first use).
    #[oai(
        path = "/scheduler/signing-secrets",
        method = "get",
        tag = "ApiTags::Keys",
        operation_id = "listSigningSecrets"
    )]
    async fn list(&self, caller: Caller<Admin>) -> Result<SecretsListed, OpError<errors::Keys>> {
        let tenant = caller.into_principal().tenant;
        let secrets = self.signing.secrets(&tenant).await?;
        Ok(SecretsListed::Secrets(FastJson(
            secrets.into_iter().map(SecretOut::from).collect(),
        )))
    }

    /// Rotate: a new current secret; the previous ones stay valid for `overlap_seconds`.
    #[oai(
        path = "/scheduler/signing-secrets/rotate",
        method = "post",
        tag = "ApiTags::Keys",
        operation_id = "rotateSigningSecret"
    )]
    async fn rotate(
        &self,
        caller: Caller<Admin>,
        body: Json<RotateInput>,
    ) -> Result<Rotated, OpError<errors::Keys>> {
        let overlap = body
            .0
            .overlap_seconds
            .unwrap_or(86_400)
            .min(MAX_OVERLAP_SECONDS);
        let tenant = caller.into_principal().tenant;
        let secret = self
            .signing
            .rotate(&tenant, chrono::Duration::seconds(i64::from(overlap)))
            .await?;
        Ok(Rotated::Secret(FastJson(secret.into())))
    }
}
