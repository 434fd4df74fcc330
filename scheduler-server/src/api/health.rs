//! Liveness, readiness and metrics.

use std::time::Duration;

use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};
use scheduler_core::{Dispatcher, DispatcherHealth, JobService};
use sea_orm::DatabaseConnection;

use super::tags::ApiTags;
use crate::telemetry::{self, Scrape};

/// The probes' body.
#[derive(Debug, Clone, Object)]
pub struct HealthStatus {
    /// `ok`, or `unavailable` when the process cannot do its work.
    pub status: String,
    /// Liveness only: `ok`, `stalled` (no tick completed within the bound) or `off`.
    #[oai(skip_serializing_if_is_none)]
    pub dispatcher: Option<String>,
    /// Readiness only: `ok` or `unavailable`.
    #[oai(skip_serializing_if_is_none)]
    pub database: Option<String>,
    /// Readiness only: `ok`, `degraded` (Redis down: reads go to the database) or `disabled`.
    #[oai(skip_serializing_if_is_none)]
    pub cache: Option<String>,
}

/// Liveness answer.
#[derive(Debug, ApiResponse)]
pub enum HealthResponse {
    /// The process serves HTTP and, when on, its dispatcher ticks.
    #[oai(status = 200)]
    Healthy(Json<HealthStatus>),
    /// The dispatcher has completed no tick within the configured bound (stuck, or its store
    /// keeps failing): restart the process.
    #[oai(status = 503)]
    Stalled(Json<HealthStatus>),
}

/// Readiness answer.
#[derive(Debug, ApiResponse)]
pub enum ReadyResponse {
    /// The database answers.
    #[oai(status = 200)]
    Ready(Json<HealthStatus>),
    /// The database does not answer.
    #[oai(status = 503)]
    NotReady(Json<HealthStatus>),
}

/// Prometheus text metrics.
#[derive(Debug, ApiResponse)]
pub enum MetricsResponse {
    /// Every metric in the Prometheus text format.
    #[oai(status = 200)]
    Text(PlainText<String>),
}

/// `/health`, `/ready` and `/metrics`.
pub struct HealthApi {
    /// Used to ping the store and report the cache.
    pub service: JobService,
    /// This replica's dispatcher, when its loop runs here.
    pub dispatcher: Option<Dispatcher>,
    /// Longest time without a completed tick before liveness fails.
    pub tick_bound: Duration,
    /// The pool, for its connection gauges.
    pub db: DatabaseConnection,
}

impl HealthApi {
    /// Whether the dispatcher ticks; `None` when it is off here.
    fn dispatcher_health(&self) -> DispatcherHealth {
        DispatcherHealth::of(self.dispatcher.as_ref(), self.tick_bound)
    }
}

#[OpenApi]
impl HealthApi {
    /// Liveness: 200 while the process serves HTTP and, when it runs the dispatcher, the
    /// dispatcher has completed a tick within the bound (`SCHEDULER_HEALTH_TICK_BOUND_SECONDS`).
    #[oai(
        path = "/health",
        method = "get",
        tag = "ApiTags::Health",
        operation_id = "health"
    )]
    async fn health(&self) -> HealthResponse {
        let health = self.dispatcher_health();
        let healthy = health.is_alive();
        let dispatcher = match health {
            DispatcherHealth::Off => "off",
            DispatcherHealth::Up => "ok",
            DispatcherHealth::Stalled => "stalled",
        };
        let body = Json(HealthStatus {
            status: if healthy { "ok" } else { "unavailable" }.into(),
            dispatcher: Some(dispatcher.into()),
            database: None,
            cache: None,
        });
        if healthy {
            HealthResponse::Healthy(body)
        } else {
            HealthResponse::Stalled(body)
        }
    }

    /// Readiness: 200 while the database answers (even when the cache is degraded), 503
    /// otherwise.
    #[oai(
        path = "/ready",
        method = "get",
        tag = "ApiTags::Health",
        operation_id = "ready"
    )]
    async fn ready(&self) -> ReadyResponse {
        let cache = Some(self.service.cache_report().status.as_str().to_string());
        match self.service.check_store().await {
            Ok(()) => ReadyResponse::Ready(Json(HealthStatus {
                status: "ok".into(),
                dispatcher: None,
                database: Some("ok".into()),
                cache,
            })),
            Err(error) => {
                tracing::warn!(%error, "readiness check failed");
                ReadyResponse::NotReady(Json(HealthStatus {
                    status: "unavailable".into(),
                    dispatcher: None,
                    database: Some("unavailable".into()),
                    cache,
                }))
            }
        }
    }

    /// Metrics in the Prometheus text format: runs, lateness, skips, backlog, dispatcher,
    /// HTTP requests, database pool, and the cache when one is configured.
    #[oai(
        path = "/metrics",
        method = "get",
        tag = "ApiTags::Health",
        operation_id = "metrics"
    )]
    async fn metrics(&self) -> MetricsResponse {
        let Some(handle) = telemetry::exporter() else {
            return MetricsResponse::Text(PlainText(
                "# another metrics recorder is installed in this process\n".into(),
            ));
        };
        let scrape = Scrape {
            dispatcher_up: match self.dispatcher_health() {
                DispatcherHealth::Off => None,
                health => Some(health == DispatcherHealth::Up),
            },
            pool: scheduler_adapters::pool_connections(&self.db),
            cache: self.service.cache_report(),
        };
        MetricsResponse::Text(PlainText(telemetry::render(handle, &scrape)))
    }
}
