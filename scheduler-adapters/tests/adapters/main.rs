//! The adapters' integration tests, one module per adapter, in one test binary so the
//! adapters and their drivers are linked once for all of them. The store suites run each
//! contract on SQLite and on PostgreSQL (`support`, `scheduler_test_support::backend_tests`).
// Tests: a broken expectation is a failure, and their numbers are small.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

mod delivery;
mod dispatch;
mod fairness;
mod host_limits;
mod http_guard;
mod job_cache;
mod job_list;
mod job_repository;
mod outbox;
mod presence;
mod rate_limit;
mod run_stats;
mod run_store;
mod signing_store;
mod support;
mod tenant_limits;
mod throttle;
