//! # scheduler-server
//!
//! The REST server: configuration ([`config`]), the poem-openapi endpoints ([`api`]), the
//! mapping of core errors to HTTP ([`error`]), middleware, the dashboard at `/ui/` ([`ui`]),
//! and the wiring ([`app`]) that `main` and the tests share.

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod connections;
pub mod embed;
pub mod error;
pub mod logging;
pub mod middleware;
pub mod parts;
pub mod startup;
pub mod telemetry;
pub mod ui;

pub use app::{Application, shutdown_signal};
pub use config::{AuthMode, Cli, Command, Config, KeysCommand, SigningCommand};
pub use embed::{Server, ServerBuilder};
pub use startup::{StartupError, open_database, open_existing_database};
