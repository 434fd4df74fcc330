//! `schedulerctl` as a user runs it: the real binary against a real server started in this
//! process (SQLite, and PostgreSQL where the backend could matter), checking what it prints
//! and the exit code of every command's success and of its typical failure.
//!
//! One test binary (modules below) so the server is linked once.

// Tests: a broken expectation is a failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod apply;
mod audit;
mod calendars;
mod channels;
mod cron;
mod general;
mod jobs;
mod keys;
mod replay;
mod runs;
mod support;
