//! The server's integration tests, one module per area, in one test binary so the server
//! is linked once for all of them (it was 17 binaries, each linking the whole server).
//! Every test starts its own server (`support::TestApp`) on its own database; the one test
//! that needs the process to itself (exact metrics, whose recorder is per process) re-runs
//! itself in a child process (see `metrics`).
// Tests: a broken expectation is a failure, and their numbers are small.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

mod api;
mod apply;
mod audit;
mod auth;
mod auto_pause;
mod backfill;
mod calendars;
mod cancel;
mod cursors;
mod hardening;
mod input_limits;
mod lifecycle;
mod metrics;
mod notifications;
mod observability;
mod overlap;
mod pgbouncer;
mod process;
mod redis_cache;
mod replay;
mod replicas;
mod run_output;
mod runs;
mod schedule_kinds;
mod startup;
mod support;
mod targets;
mod tenants;
mod traces;
mod ui;
mod ui_browser;
mod ui_charts;
