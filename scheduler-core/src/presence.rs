//! Worker presence: telling a dead replica from a slow one in about a second instead of a
//! lease. A worker (one dispatcher) *joins* when it starts: the store ties its presence to
//! something that ends when the process does (on PostgreSQL a session advisory lock on a
//! connection of its own, which the server releases when the connection drops — kill -9,
//! power loss, a cut network). The other replicas ask every [`PRESENCE_EVERY`] which joined
//! workers are *lost*, and once one stayed lost for 750 ms recover its `running` runs
//! (attempt + 1, the abandoned attempt saying `worker lost`), without waiting for the
//! heartbeat lease. The lease stays
//! the fallback: for stores without presence (SQLite, one process), for workers of an older
//! version, and should presence itself fail.
//!
//! A worker is lost only once it joined and its presence ended, never because it is
//! unknown: a replica that never joined (an older version in a rolling upgrade) keeps the
//! lease's rules.

use async_trait::async_trait;

use crate::error::RepositoryError;

/// How often a dispatcher checks its own presence and asks for lost workers (one small query
/// each). A worker is recovered once seen lost for 750 ms (so a database restart, which
/// ends every session at once, recovers nobody's runs: each joins again within one check).
pub const PRESENCE_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// The port: which workers are alive, as the database sees their sessions.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait WorkerPresence: Send + Sync {
    /// Makes `worker` present for as long as this process (its session) lives, and records
    /// that it joined. Fails with `Rejected` when a live worker holds the name already (two
    /// processes configured with one worker id), or `Unavailable`.
    async fn join(&self, worker: &str) -> Result<(), RepositoryError>;

    /// Checks that `worker`'s presence still holds; when its session was lost (and so
    /// others may have recovered its runs) joins again and answers `true`.
    async fn keep(&self, worker: &str) -> Result<bool, RepositoryError>;

    /// The workers that joined and whose presence ended (never `worker`'s own name).
    async fn lost(&self, worker: &str) -> Result<Vec<String>, RepositoryError>;

    /// Forgets the lost workers among `workers` that have no `running` run left (their runs
    /// were recovered); a worker that joined again meanwhile is kept.
    async fn forget(&self, workers: &[String]) -> Result<(), RepositoryError>;

    /// Ends `worker`'s presence at a clean shutdown (after its runs were stored or
    /// released).
    async fn leave(&self, worker: &str) -> Result<(), RepositoryError>;
}
