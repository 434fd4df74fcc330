//! [`Server::builder`]: the full REST service with a program's own typed Rust handlers, so a
//! team can add its code to the server instead of running a receiver for HTTP targets.
//!
//! ```no_run
//! use scheduler::Ctx;
//! use scheduler_server::{Server, shutdown_signal};
//!
//! #[derive(serde::Deserialize)]
//! struct Cleanup { older_than_days: u32 }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::builder()
//!     .handler("cleanup", |ctx: Ctx, params: Cleanup| async move {
//!         println!("job {}: deleting rows older than {} days", ctx.job_id, params.older_than_days);
//!         Ok::<(), std::io::Error>(())
//!     })
//!     .build()
//!     .await?;
//! server.run_until_stopped(shutdown_signal()).await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::net::SocketAddr;

use scheduler::{BoxError, Ctx, Handlers};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::app::Application;
use crate::config::Config;
use crate::parts::add_logging_fallback;
use crate::startup::StartupError;

/// Builds a [`Server`]: configuration (default: from the environment, as the binary reads
/// it), and typed handlers for jobs whose `parameters.action` names them. Jobs naming no
/// registered action are logged and succeed, as in the plain server.
#[derive(Default)]
pub struct ServerBuilder {
    config: Option<Config>,
    handlers: Handlers,
}

impl ServerBuilder {
    /// The configuration (see `scheduler-server --help`); default [`Config::from_env`].
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Runs `handler` for jobs whose `parameters.action` is `action` (see
    /// [`scheduler::Handlers::add`]).
    pub fn handler<P, E, F, Fut>(mut self, action: &str, handler: F) -> Self
    where
        P: DeserializeOwned + Send + 'static,
        E: Into<BoxError> + 'static,
        F: Fn(Ctx, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.handlers.add(action, handler);
        self
    }

    /// Connects, migrates and binds, as the binary does.
    ///
    /// # Errors
    /// [`StartupError`] naming the setting at fault.
    pub async fn build(self) -> Result<Server, StartupError> {
        let config = match self.config {
            Some(config) => config,
            None => Config::from_env().map_err(|e| StartupError::Setting {
                setting: "environment",
                value: String::new(),
                cause: e.to_string(),
            })?,
        };
        let shutdown = self.handlers.shutdown_token();
        let mut actions = self.handlers.into_action_handlers();
        add_logging_fallback(&mut actions);
        let app = Application::build_with_handlers(&config, actions).await?;
        Ok(Server { app, shutdown })
    }
}

/// The REST server with a program's handlers, bound and ready to run.
pub struct Server {
    app: Application,
    shutdown: CancellationToken,
}

impl Server {
    /// A builder.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.app.local_addr()
    }

    /// Serves until `shutdown` completes; then the handlers' [`Ctx::cancelled`] tokens fire
    /// and in-flight requests and runs get the grace period.
    ///
    /// # Errors
    /// I/O errors of the listener.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let token = self.shutdown;
        self.app
            .run_until_stopped(async move {
                shutdown.await;
                token.cancel();
            })
            .await
    }
}
