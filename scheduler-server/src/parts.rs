//! The pieces the server builds from its [`Config`] before it serves: the cache it may use,
//! the request rate limiter, the failed-authentication throttle, the key and signing use
//! cases, and the handlers of jobs without a target.

use std::sync::Arc;
use std::time::Duration;

use scheduler::wiring::default_cache;
use scheduler_adapters::{
    CachedKeyStore, LocalTierConfig, OsEntropy, RateLimitConfig, RateLimiter, RedisCacheConfig,
    RedisJobCache, SeaOrmKeyStore, SeaOrmSigningStore, TieredJobCache, mask_password,
};
use scheduler_core::{ActionHandlers, Clock, Job, JobCache, KeyService, Run, SigningService};
use sea_orm::DatabaseConnection;

use crate::config::Config;

use crate::startup::{AUTH_FAILURES, RATE_LIMIT, REDIS_URL, StartupError};

/// The per-key limiter `config` asks for: shared through Redis when `REDIS_URL` is set (an
/// unreachable Redis degrades it to per-replica, never fails a request), in-process
/// otherwise; `None` when `SCHEDULER_RATE_LIMIT` is 0.
pub(crate) async fn rate_limiter(
    config: &Config,
) -> Result<Option<Arc<RateLimiter>>, StartupError> {
    if config.rate_limit <= 0.0 {
        return Ok(None);
    }
    let limit = RateLimitConfig {
        per_second: config.rate_limit,
        burst: config.rate_burst,
    };
    let invalid = |cause: String| StartupError::Setting {
        setting: RATE_LIMIT,
        value: format!("{} (burst {})", config.rate_limit, config.rate_burst),
        cause,
    };
    limit.validate().map_err(invalid)?;
    let limiter = match &config.redis_url {
        Some(url) => RateLimiter::redis(
            limit,
            url,
            &config.redis_prefix,
            Duration::from_millis(config.redis_timeout_ms.max(1)),
        )
        .await
        .map_err(invalid)?,
        None => RateLimiter::local(limit),
    };
    Ok(Some(Arc::new(limiter)))
}

/// The throttle on failed authentications `config` asks for (`None` when it is 0): a budget
/// of `SCHEDULER_AUTH_FAILURES_PER_MINUTE` failures per client address, all at once or spread
/// over the minute, shared through Redis when `REDIS_URL` is set.
pub(crate) async fn failed_auth_throttle(
    config: &Config,
) -> Result<Option<crate::auth::FailedAuth>, StartupError> {
    if config.auth_failures_per_minute == 0 {
        return Ok(None);
    }
    let limit = RateLimitConfig {
        per_second: f64::from(config.auth_failures_per_minute) / 60.0,
        burst: config.auth_failures_per_minute,
    };
    let limiter = match &config.redis_url {
        Some(url) => RateLimiter::redis(
            limit,
            url,
            &format!("{}auth-failures:", config.redis_prefix),
            Duration::from_millis(config.redis_timeout_ms.max(1)),
        )
        .await
        .map_err(|cause| StartupError::Setting {
            setting: AUTH_FAILURES,
            value: config.auth_failures_per_minute.to_string(),
            cause,
        })?,
        None => RateLimiter::local(limit),
    };
    Ok(Some(crate::auth::FailedAuth::new(limiter)))
}

/// The signing use cases over `db`.
pub fn signing_service(db: &DatabaseConnection, clock: Arc<dyn Clock>) -> SigningService {
    SigningService::new(
        Arc::new(SeaOrmSigningStore::new(db.clone())),
        clock,
        Arc::new(OsEntropy),
    )
}

/// How long a key lookup is remembered: a revoked key is refused by every replica within it.
pub const KEY_CACHE_TTL: Duration = Duration::from_millis(500);

/// The key use cases over `db`, lookups cached for [`KEY_CACHE_TTL`].
pub fn key_service(db: &DatabaseConnection, clock: Arc<dyn Clock>) -> KeyService {
    let store = Arc::new(SeaOrmKeyStore::new(db.clone()));
    KeyService::new(
        Arc::new(CachedKeyStore::new(store, KEY_CACHE_TTL)),
        clock,
        Arc::new(OsEntropy),
    )
    .with_audit(Arc::new(scheduler_adapters::SeaOrmAuditLog::new(
        db.clone(),
    )))
}

/// Chooses the cache: Redis when configured; in-process only for a single process (SQLite);
/// none for a shared database without a shared cache, so replicas never serve each other
/// stale data.
pub(crate) async fn choose_cache(
    config: &Config,
    db: &DatabaseConnection,
) -> Result<Arc<dyn JobCache>, StartupError> {
    if let Some(url) = &config.redis_url {
        let mut redis = RedisCacheConfig::new(url);
        redis.prefix = config.redis_prefix.clone();
        redis.ttl = config.cache_ttl();
        redis.timeout = Duration::from_millis(config.redis_timeout_ms);
        redis.breaker_failures = config.redis_breaker_failures;
        let invalid = |cause: String| StartupError::Setting {
            setting: REDIS_URL,
            value: mask_password(url),
            cause,
        };
        if config.local_cache {
            let local = LocalTierConfig {
                capacity: config.cache_capacity,
                ttl: config.cache_ttl(),
                ..LocalTierConfig::new()
            };
            let cache = TieredJobCache::new(redis, local)
                .await
                .map_err(|e| invalid(e.to_string()))?;
            return Ok(Arc::new(cache));
        }
        let cache = RedisJobCache::new(redis)
            .await
            .map_err(|e| invalid(e.to_string()))?;
        return Ok(Arc::new(cache));
    }
    Ok(default_cache(db, config.cache_capacity, config.cache_ttl()))
}

/// The handler every server registers: jobs without a target and without a registered
/// action are logged with their parameters and succeed (what the original service did).
pub fn default_handlers() -> ActionHandlers {
    let mut handlers = ActionHandlers::new();
    add_logging_fallback(&mut handlers);
    handlers
}

/// Makes jobs whose action has no handler log their parameters and succeed (the server's
/// built-in behaviour for jobs without a target).
pub fn add_logging_fallback(handlers: &mut ActionHandlers) {
    handlers.fallback(|job: Job, run: Run| async move {
        tracing::info!(
            target: "scheduler_server::job",
            job_id = %job.id,
            job_name = job.spec.name.as_str(),
            run_id = %run.id,
            parameters = %serde_json::Value::Object(job.spec.parameters.as_map().clone()),
            "executing job"
        );
        Ok(())
    });
}
