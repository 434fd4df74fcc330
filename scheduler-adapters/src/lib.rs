//! # scheduler-adapters
//!
//! The core's ports over the world: a sea-orm job store for PostgreSQL and SQLite
//! ([`store`]), in-process caches ([`memory_cache`]) and the system clock ([`clock`]).

pub mod clock;
pub mod memory_cache;
pub mod store;

pub use clock::SystemClock;
pub use memory_cache::{CacheCounters, InMemoryJobCache, NoJobCache};
pub use store::{DatabaseConfig, SeaOrmJobRepository, connect};
