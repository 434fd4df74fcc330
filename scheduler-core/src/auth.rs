//! API keys: who may call the API, for which tenant, with which scope.
//!
//! A key is `sk_` followed by 64 hexadecimal digits (256 random bits). It is shown once, when
//! created; the store keeps only its SHA-256 hash (a fast hash is enough for a secret of 256
//! random bits: there is nothing to guess from it), its first characters (to recognise it in
//! a list), its tenant, name and scope. [`KeyService`] creates, lists, revokes and checks
//! keys over the [`KeyStore`] port.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::entropy::random_token;
use crate::error::{Invalid, RepositoryError, ServiceError, ValidationErrors};
use crate::ports::{Clock, Entropy};
use crate::tenant::Tenant;
use crate::wire::WireEnum;

/// What a key may do. Each scope includes the ones before it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum Scope {
    /// Read jobs, runs and previews.
    Read,
    /// Also create, change, delete, pause, resume and run jobs.
    Write,
    /// Also create, list and revoke the tenant's keys.
    Admin,
}

impl WireEnum for Scope {}

/// A stored key (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Identity.
    pub id: i64,
    /// Whose jobs it reaches.
    pub tenant: Tenant,
    /// Its name (recorded as `created_by`/`updated_by` of the jobs it writes).
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// The first characters of the key, to recognise it (`sk_1a2b3c4d`).
    pub prefix: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; a revoked key is refused.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// Whose jobs it reaches.
    pub tenant: Tenant,
    /// Its name.
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// Its first characters.
    pub prefix: String,
    /// SHA-256 of the key, lowercase hex.
    pub hash: String,
    /// Now.
    pub created_at: DateTime<Utc>,
}

/// The `api_keys` store.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a new key.
    async fn insert(&self, key: NewApiKey) -> Result<ApiKey, RepositoryError>;
    /// The unrevoked key with this hash.
    async fn find_active(&self, hash: &str) -> Result<Option<ApiKey>, RepositoryError>;
    /// Every key (revoked ones too), of one tenant or of all, oldest first.
    async fn list(&self, tenant: Option<Tenant>) -> Result<Vec<ApiKey>, RepositoryError>;
    /// Marks key `id` revoked at `at` (within `tenant` when given); false when there is no
    /// such unrevoked key.
    async fn revoke(
        &self,
        id: i64,
        tenant: Option<Tenant>,
        at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;
    /// Whether any unrevoked key exists.
    async fn any_active(&self) -> Result<bool, RepositoryError>;
}

/// Who is calling: the key's tenant, name and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's id; `None` for a request served without a key.
    pub key_id: Option<i64>,
    /// Whose jobs the request reaches.
    pub tenant: Tenant,
    /// The key's name; `None` for a request served without a key.
    pub key_name: Option<String>,
    /// What the request may do.
    pub scope: Scope,
    /// The request's id (`X-Request-Id`), recorded with its changes.
    pub request_id: Option<String>,
    /// True for a dashboard session (its changes are recorded as `dashboard: <key name>`).
    pub dashboard: bool,
}

impl Principal {
    /// A request served without a key (loopback before the first key, or auth `off`): the
    /// default tenant, every scope.
    pub fn unauthenticated() -> Self {
        Self {
            key_id: None,
            tenant: Tenant::default_tenant(),
            key_name: None,
            scope: Scope::Admin,
            request_id: None,
            dashboard: false,
        }
    }

    /// This caller as the audit trail records it: its tenant, [`Principal::actor`] and the
    /// request id.
    pub fn audit_actor(&self) -> crate::audit::Actor {
        crate::audit::Actor {
            tenant: self.tenant.clone(),
            name: self.actor(),
            request_id: self.request_id.clone(),
        }
    }

    /// Who the audit trail says acted: the key's name, `dashboard: <key name>` in a
    /// dashboard session, `local` without a key.
    pub fn actor(&self) -> String {
        match (&self.key_name, self.dashboard) {
            (Some(name), false) => name.clone(),
            (Some(name), true) => format!("dashboard: {name}"),
            (None, false) => "local".to_string(),
            (None, true) => "dashboard: local".to_string(),
        }
    }

    /// Whether the caller may act with `needed`.
    pub fn allows(&self, needed: Scope) -> bool {
        self.scope >= needed
    }
}

/// The prefix every key starts with.
pub const KEY_PREFIX: &str = "sk_";

/// SHA-256 of a presented key, lowercase hex.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new random key: `sk_` and 64 hex digits (256 bits) from `entropy`.
///
/// # Errors
/// `Unavailable` when the entropy source fails.
pub fn generate_key(entropy: &dyn Entropy) -> Result<String, ServiceError> {
    random_token(entropy, KEY_PREFIX, 32)
}

/// The key use cases.
#[derive(Clone)]
pub struct KeyService {
    /// Where keys are kept.
    store: Arc<dyn KeyStore>,
    /// "Now" for created/revoked instants.
    clock: Arc<dyn Clock>,
    /// Where new keys come from.
    entropy: Arc<dyn Entropy>,
    /// Where keys made and revoked through the API are recorded; without a log, nothing is.
    audit: Option<Arc<dyn crate::ports::AuditLog>>,
}

impl KeyService {
    /// Wires the service to its ports.
    pub fn new(store: Arc<dyn KeyStore>, clock: Arc<dyn Clock>, entropy: Arc<dyn Entropy>) -> Self {
        Self {
            audit: None,
            store,
            clock,
            entropy,
        }
    }

    /// The longest key name, in characters.
    pub const MAX_NAME_CHARS: usize = 255;

    /// Creates a key for `tenant`, as the operator (on the server's host: any tenant, any
    /// scope), and returns it with its secret, which is not stored and cannot be shown again.
    ///
    /// # Errors
    /// `Validation` for a blank, over-long or NUL-holding name, `Unavailable` when the store
    /// is.
    pub async fn create(
        &self,
        tenant: Tenant,
        name: &str,
        scope: Scope,
    ) -> Result<(ApiKey, String), ServiceError> {
        let name = crate::text::name(name, Self::MAX_NAME_CHARS)
            .map_err(|invalid| ValidationErrors::single("name", invalid))?;
        let secret = generate_key(self.entropy.as_ref())?;
        let key = self
            .store
            .insert(NewApiKey {
                tenant,
                name,
                scope,
                prefix: secret.chars().take(KEY_PREFIX.len() + 8).collect(),
                hash: hash_key(&secret),
                created_at: self.clock.now(),
            })
            .await?;
        Ok((key, secret))
    }

    /// The same service recording the keys made and revoked through the API in `log`.
    #[must_use]
    pub fn with_audit(mut self, log: Arc<dyn crate::ports::AuditLog>) -> Self {
        self.audit = Some(log);
        self
    }

    /// Records `caller`'s creation (`before`: `None`) or revocation (`after`: `None`) of a
    /// key (a failing log is logged, not the change's failure).
    async fn audit(&self, caller: &Principal, before: Option<&ApiKey>, after: Option<&ApiKey>) {
        let (Some(log), Some(key)) = (&self.audit, after.or(before)) else {
            return;
        };
        let fields = |key: &ApiKey| {
            let mut map = serde_json::Map::new();
            map.insert("name".into(), serde_json::Value::from(key.name.as_str()));
            map.insert("scope".into(), serde_json::Value::from(key.scope.as_str()));
            map.insert(
                "prefix".into(),
                serde_json::Value::from(key.prefix.as_str()),
            );
            map
        };
        let Some(record) = crate::audit::change_record(
            &caller.audit_actor(),
            self.clock.now(),
            (
                crate::audit::AuditKind::Key,
                key.id.to_string(),
                key.name.clone(),
            ),
            before.map(fields).as_ref(),
            after.map(fields).as_ref(),
            crate::audit::AuditAction::Update,
        ) else {
            return;
        };
        if let Err(error) = log.record(record).await {
            tracing::error!(%error, "the audit entry of a key change could not be recorded");
        }
    }

    /// Revokes `caller`'s tenant's key `id`, recording it.
    ///
    /// # Errors
    /// `KeyNotFound` when there is no such unrevoked key, `Unavailable` when the store is.
    pub async fn revoke_as(&self, caller: &Principal, id: i64) -> Result<(), ServiceError> {
        let key = self
            .store
            .list(Some(caller.tenant.clone()))
            .await?
            .into_iter()
            .find(|key| key.id == id);
        self.revoke(id, Some(&caller.tenant)).await?;
        if let Some(key) = key {
            self.audit(caller, Some(&key), None).await;
        }
        Ok(())
    }

    /// Creates a key as `caller` does through the API: in the caller's tenant, with a scope no
    /// higher than the caller's own (a key cannot mint a stronger one).
    ///
    /// # Errors
    /// `Validation` naming `scope` (the scopes the caller may give) or `name`, `Unavailable`
    /// when the store is.
    pub async fn create_as(
        &self,
        caller: &Principal,
        name: &str,
        scope: Scope,
    ) -> Result<(ApiKey, String), ServiceError> {
        if scope > caller.scope {
            let allowed: &'static [&'static str] = match caller.scope {
                Scope::Read => &["read"],
                Scope::Write => &["read", "write"],
                Scope::Admin => Scope::choices(),
            };
            return Err(ValidationErrors::single(
                "scope",
                Invalid::NotAChoice {
                    value: scope.as_str().to_string(),
                    choices: allowed,
                },
            )
            .into());
        }
        let (key, secret) = self.create(caller.tenant.clone(), name, scope).await?;
        self.audit(caller, None, Some(&key)).await;
        Ok((key, secret))
    }

    /// The keys of `tenant` (all tenants' when `None`).
    ///
    /// # Errors
    /// `Unavailable` when the store is.
    pub async fn list(&self, tenant: Option<&Tenant>) -> Result<Vec<ApiKey>, ServiceError> {
        Ok(self.store.list(tenant.cloned()).await?)
    }

    /// Revokes key `id` (of `tenant` when given).
    ///
    /// # Errors
    /// `KeyNotFound` when there is no such unrevoked key, `Unavailable` when the store is.
    pub async fn revoke(&self, id: i64, tenant: Option<&Tenant>) -> Result<(), ServiceError> {
        if self
            .store
            .revoke(id, tenant.cloned(), self.clock.now())
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::KeyNotFound)
        }
    }

    /// The unrevoked key `presented` is, or `None`.
    ///
    /// # Errors
    /// `Unavailable` when the store is.
    pub async fn authenticate(&self, presented: &str) -> Result<Option<ApiKey>, ServiceError> {
        if !presented.starts_with(KEY_PREFIX) || presented.len() > 128 {
            return Ok(None);
        }
        Ok(self.store.find_active(&hash_key(presented)).await?)
    }

    /// Whether any unrevoked key exists (in `auto` mode, until one does, loopback clients
    /// are served without a key).
    ///
    /// # Errors
    /// `Unavailable` when the store is.
    pub async fn any_active(&self) -> Result<bool, ServiceError> {
        Ok(self.store.any_active().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MockClock;

    #[test]
    fn keys_are_random_prefixed_and_hashed() {
        let entropy = crate::entropy::SeededEntropy::new(1);
        let a = generate_key(&entropy).unwrap();
        let b = generate_key(&entropy).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("sk_") && a.len() == 3 + 64);
        assert_eq!(hash_key(&a).len(), 64);
        assert_ne!(hash_key(&a), hash_key(&b));
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn scopes_include_the_ones_before() {
        let reader = Principal {
            scope: Scope::Read,
            ..Principal::unauthenticated()
        };
        assert!(reader.allows(Scope::Read) && !reader.allows(Scope::Write));
        assert!(Principal::unauthenticated().allows(Scope::Admin));
        assert_eq!(Scope::parse("write"), Ok(Scope::Write));
        assert!(Scope::parse("root").is_err());
    }

    #[tokio::test]
    async fn a_key_cannot_create_a_stronger_one() {
        let mut store = MockKeyStore::new();
        store.expect_insert().returning(|new| {
            Ok(ApiKey {
                id: 1,
                tenant: new.tenant,
                name: new.name,
                scope: new.scope,
                prefix: new.prefix,
                created_at: new.created_at,
                revoked_at: None,
            })
        });
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .returning(|| "2025-06-23T09:00:00Z".parse().unwrap());
        let keys = KeyService::new(
            Arc::new(store),
            Arc::new(clock),
            Arc::new(crate::entropy::SeededEntropy::new(2)),
        );
        let writer = Principal {
            key_id: Some(5),
            tenant: Tenant::parse("team-a").unwrap(),
            key_name: Some("ci".into()),
            scope: Scope::Write,
            ..Principal::unauthenticated()
        };
        let refused = keys
            .create_as(&writer, "x", Scope::Admin)
            .await
            .unwrap_err();
        assert_eq!(
            refused,
            ServiceError::Validation(ValidationErrors::single(
                "scope",
                Invalid::NotAChoice {
                    value: "admin".into(),
                    choices: &["read", "write"],
                }
            ))
        );
        let (made, _) = keys
            .create_as(&writer, " reader ", Scope::Read)
            .await
            .unwrap();
        assert_eq!(
            (made.tenant.as_str(), made.name.as_str()),
            ("team-a", "reader")
        );
        let blank = keys
            .create_as(&writer, "  ", Scope::Read)
            .await
            .unwrap_err();
        assert_eq!(
            blank,
            ServiceError::Validation(ValidationErrors::single("name", Invalid::Blank))
        );
    }

    #[tokio::test]
    async fn only_the_hash_is_stored_and_the_secret_authenticates() {
        let mut store = MockKeyStore::new();
        let stored = Arc::new(std::sync::Mutex::new(None::<NewApiKey>));
        let seen = stored.clone();
        store.expect_insert().returning(move |new| {
            *seen.lock().unwrap() = Some(new.clone());
            Ok(ApiKey {
                id: 1,
                tenant: new.tenant,
                name: new.name,
                scope: new.scope,
                prefix: new.prefix,
                created_at: new.created_at,
                revoked_at: None,
            })
        });
        let lookup = stored.clone();
        store.expect_find_active().returning(move |hash| {
            let new = lookup.lock().unwrap().clone().unwrap();
            Ok((new.hash == hash).then_some(ApiKey {
                id: 1,
                tenant: new.tenant,
                name: new.name,
                scope: new.scope,
                prefix: new.prefix,
                created_at: new.created_at,
                revoked_at: None,
            }))
        });
        let mut clock = MockClock::new();
        clock.expect_now().returning(Utc::now);
        let keys = KeyService::new(
            Arc::new(store),
            Arc::new(clock),
            Arc::new(crate::entropy::SeededEntropy::new(9)),
        );
        let (key, secret) = keys
            .create(Tenant::parse("team-a").unwrap(), "ci", Scope::Write)
            .await
            .unwrap();
        let new = stored.lock().unwrap().clone().unwrap();
        assert_ne!(new.hash, secret);
        assert!(!format!("{new:?}").contains(&secret[3..]));
        assert!(secret.starts_with(&key.prefix));
        assert_eq!(
            keys.authenticate(&secret).await.unwrap().map(|k| k.name),
            Some("ci".into())
        );
        assert_eq!(keys.authenticate("sk_wrong").await.unwrap(), None);
        assert_eq!(keys.authenticate("not-a-key").await.unwrap(), None);
        assert!(
            keys.create(Tenant::default_tenant(), "  ", Scope::Read)
                .await
                .is_err()
        );
    }

    #[test]
    fn the_audit_trail_names_the_key_the_dashboard_or_local() {
        let key = Principal {
            key_name: Some("ops".into()),
            request_id: Some("r-1".into()),
            ..Principal::unauthenticated()
        };
        assert_eq!(key.actor(), "ops");
        assert_eq!(
            Principal {
                dashboard: true,
                ..key.clone()
            }
            .actor(),
            "dashboard: ops"
        );
        assert_eq!(Principal::unauthenticated().actor(), "local");
        let actor = key.audit_actor();
        assert_eq!(
            (actor.name.as_str(), actor.request_id.as_deref()),
            ("ops", Some("r-1"))
        );
    }
}
