//! Embed the scheduler in a Rust program: jobs with standard cron expressions, stored in
//! SQLite or PostgreSQL, each fire run **exactly once** even when many processes share the
//! database, in any time zone with DST handled, with retries, timeouts and a run history.
//!
//! ```no_run
//! use scheduler::{Ctx, Scheduler};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Report { team: String }
//!
//! async fn send_report(ctx: Ctx, report: Report) -> Result<(), std::io::Error> {
//!     println!("report for {} (fire {})", report.team, ctx.scheduled_for);
//!     Ok(())
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let scheduler = Scheduler::builder()
//!     .database("sqlite://jobs.db?mode=rwc")
//!     .handler("send_report", send_report)
//!     .schedule("weekly-report", "0 9 * * MON", Report { team: "sales".into() })
//!     .start()
//!     .await?;
//! tokio::signal::ctrl_c().await?;
//! scheduler.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! - **Handlers** are `async fn(Ctx, P) -> Result<(), E>`: `P` is your `serde` type, read
//!   from the job's parameters (a mismatch fails the run with a message naming the field);
//!   `E` is any `std::error::Error`, `anyhow::Error` or `String`. [`Ctx`] carries the job,
//!   the run, the fire instant, the attempt and a cancellation token.
//! - **Schedules declared in code** are reconciled at every start: created when missing,
//!   updated when changed (`next_run` recomputed), left alone when equal — a second start
//!   does not fail, and several processes starting at once create each job once.
//!   [`SchedulerBuilder::prune_undeclared`] removes code-declared jobs no longer declared.
//! - **Exactly once**: each fire is claimed by one database transaction; on PostgreSQL, any
//!   number of processes may run the same program. A process that dies mid-run has its run
//!   recovered after the lease (at-least-once for that run; key on `(job_id, scheduled_for)`).
//! - **History** of every run is stored and kept 30 days, at most 1,000 runs per job (the
//!   dispatcher's `retention` and `runs_per_job`, set with [`SchedulerBuilder::dispatcher`]).
//! - The REST server with your own handlers: `scheduler-server`'s `Server::builder()`.

mod builder;
mod calendar;
mod error;
mod handler;
mod schedule;
pub mod wiring;

pub use builder::{Scheduler, SchedulerBuilder};
pub use calendar::Calendar;
pub use error::Error;
pub use handler::{ACTION_KEY, BoxError, Ctx, Handlers, read_params};
pub use schedule::Schedule;
pub use scheduler_adapters::DatabaseConfig;
pub use scheduler_core::{
    Clock, Declared, Dispatcher, DispatcherConfig, Job, JobDraft, JobId, JobRun, JobService,
    JobSource, PolicyInput, Run, RunId, RunService, RunStatus, RunTrigger,
};
pub use tokio_util::sync::CancellationToken;

/// The core crate, for what this facade does not re-export.
pub use scheduler_core as core;
