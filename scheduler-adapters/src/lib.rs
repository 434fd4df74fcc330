//! # scheduler-adapters
//!
//! The core's ports over the world: a sea-orm job store for PostgreSQL and SQLite
//! ([`store`]), a Redis cache shared by replicas ([`redis_cache`]), in-process caches
//! ([`memory_cache`]), the HTTP run executor ([`http_executor`]), the system clock
//! ([`clock`]), the replica's worker name from its host ([`worker`]) and the per-key request
//! rate limiter, in-process or shared through Redis ([`rate_limit`]).

pub mod breaker;
pub mod clock;
pub mod counters;
pub mod entropy;
pub mod http_executor;
pub mod memory_cache;
pub mod notify_sender;
pub mod rate_limit;
pub mod redis_cache;
pub mod redis_guard;
pub mod retry_after;
pub mod schedules;
pub mod store;
pub mod telemetry;
pub mod tiered_cache;
pub mod worker;

pub use clock::SystemClock;
pub use counters::CacheCounters;
pub use entropy::OsEntropy;
pub use http_executor::{DnsResolver, GuardedResolver, HttpExecutor};
pub use memory_cache::{InMemoryJobCache, NoJobCache};
pub use notify_sender::{ChannelSenders, SmtpConfig};
pub use rate_limit::{RateDecision, RateLimitConfig, RateLimiter};
pub use redis_cache::{RedisCacheConfig, RedisJobCache};
pub use store::{
    CachedKeyStore, DatabaseConfig, PgWorkerPresence, PoolConnections, SeaOrmAuditLog,
    SeaOrmCalendarStore, SeaOrmChannelStore, SeaOrmJobRepository, SeaOrmKeyStore, SeaOrmOutbox,
    SeaOrmRunStats, SeaOrmRunStore, SeaOrmSigningStore, TRANSACTION_POOLING, connect,
    connection_failure, cursor_key, mask_password, pool_connections, refuse_transaction_pooling,
};
pub use telemetry::MetricsTelemetry;
pub use tiered_cache::{LocalTierConfig, TieredJobCache};
pub use worker::{MAX_WORKER_CHARS, default_worker_name, worker_name};
