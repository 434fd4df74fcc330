//! `/scheduler/keys/`: an admin key creates, lists and revokes its tenant's keys. A new key's
//! secret is in the creation answer only; the store keeps its hash.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use scheduler_core::{ApiKey, KeyService, Scope, ValidationErrors, WireEnum};

use super::docs::RawParam;
use super::output::FastJson;
use super::tags::ApiTags;
use super::wire_time::UtcInstant;
use crate::auth::{Admin, Caller};
use crate::error::{ApiError, OpError, errors};

/// A key as listed (never its secret).
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "ApiKey")]
pub struct KeyOut {
    /// Identity (for `DELETE /scheduler/keys/{id}/`).
    pub id: i64,
    /// The tenant whose jobs it reaches.
    pub tenant: String,
    /// Its name, recorded as `created_by`/`updated_by` of the jobs it writes.
    pub name: String,
    /// `read`, `write` or `admin`.
    pub scope: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    /// When it was created.
    pub created_at: UtcInstant,
    /// When it was revoked; null while it is valid.
    #[oai(nullable)]
    pub revoked_at: Option<UtcInstant>,
}

impl From<ApiKey> for KeyOut {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id,
            tenant: key.tenant.as_str().to_string(),
            name: key.name,
            scope: key.scope.as_str().to_string(),
            prefix: key.prefix,
            created_at: UtcInstant(key.created_at),
            revoked_at: key.revoked_at.map(UtcInstant),
        }
    }
}

/// A new key with its secret, shown this once.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "NewApiKey")]
pub struct KeyCreatedOut {
    /// The stored key.
    #[oai(flatten)]
    #[serde(flatten)]
    pub stored: KeyOut,
    /// The key: send it as `Authorization: Bearer <key>`. It is not stored and cannot be
    /// shown again.
    pub key: String,
}

/// What to create.
#[derive(Debug, Clone, Object)]
#[oai(rename = "ApiKeyInput")]
pub struct KeyInput {
    /// A name for the key (1-255 characters).
    pub name: String,
    /// `read`, `write` or `admin` (default `read`).
    pub scope: Option<String>,
}

/// 201 with the new key.
#[derive(Debug, ApiResponse)]
pub enum KeyCreated {
    /// The key, with its secret (shown once).
    #[oai(status = 201)]
    Key(FastJson<KeyCreatedOut>),
}

/// 200 with the tenant's keys.
#[derive(Debug, ApiResponse)]
pub enum KeysListed {
    /// Every key of the caller's tenant, revoked ones too, oldest first.
    #[oai(status = 200)]
    Keys(FastJson<Vec<KeyOut>>),
}

/// 204 after a revocation.
#[derive(Debug, ApiResponse)]
pub enum KeyRevoked {
    /// Revoked: every replica refuses it within a second.
    #[oai(status = 204)]
    Gone,
}

/// The key endpoints (admin scope).
pub struct KeysApi {
    /// The key use cases.
    pub keys: KeyService,
}

#[OpenApi]
impl KeysApi {
    /// Create a key for your tenant. The answer holds the key itself, once.
    #[oai(
        path = "/scheduler/keys",
        method = "post",
        tag = "ApiTags::Keys",
        operation_id = "createKey"
    )]
    async fn create(
        &self,
        caller: Caller<Admin>,
        body: Json<KeyInput>,
    ) -> Result<KeyCreated, OpError<errors::Keys>> {
        let scope = match body.0.scope.as_deref() {
            None => Scope::Read,
            Some(raw) => {
                Scope::parse(raw).map_err(|invalid| ValidationErrors::single("scope", invalid))?
            }
        };
        let (key, secret) = self
            .keys
            .create_as(caller.principal(), &body.0.name, scope)
            .await?;
        Ok(KeyCreated::Key(FastJson(KeyCreatedOut {
            stored: key.into(),
            key: secret,
        })))
    }

    /// List your tenant's keys (never their secrets).
    #[oai(
        path = "/scheduler/keys",
        method = "get",
        tag = "ApiTags::Keys",
        operation_id = "listKeys"
    )]
    async fn list(&self, caller: Caller<Admin>) -> Result<KeysListed, OpError<errors::Keys>> {
        let caller = caller.into_principal();
        let keys = self.keys.list(Some(&caller.tenant)).await?;
        Ok(KeysListed::Keys(FastJson(
            keys.into_iter().map(KeyOut::from).collect(),
        )))
    }

    /// Revoke one of your tenant's keys; every replica refuses it within a second.
    #[oai(
        path = "/scheduler/keys/:id",
        method = "delete",
        tag = "ApiTags::Keys",
        operation_id = "revokeKey"
    )]
    async fn revoke(
        &self,
        caller: Caller<Admin>,
        id: Path<RawParam<i64>>,
    ) -> Result<KeyRevoked, OpError<errors::OneKey>> {
        let id = id.0.raw.parse::<i64>().map_err(|_| ApiError::KeyNotFound)?;
        self.keys.revoke_as(caller.principal(), id).await?;
        Ok(KeyRevoked::Gone)
    }
}
