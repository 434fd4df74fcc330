//! Liveness and readiness probes.

use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};
use scheduler_core::JobService;

use super::ApiTags;

/// The probes' body.
#[derive(Debug, Clone, Object)]
pub struct HealthStatus {
    /// `ok`, or `unavailable` when the process cannot serve.
    pub status: String,
    /// Readiness only: `ok` or `unavailable`.
    #[oai(skip_serializing_if_is_none)]
    pub database: Option<String>,
    /// Readiness only: `ok`, `degraded` (Redis down: reads go to the database) or `disabled`.
    #[oai(skip_serializing_if_is_none)]
    pub cache: Option<String>,
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
    /// Counters in the Prometheus text format.
    #[oai(status = 200)]
    Text(PlainText<String>),
}

/// `/health`, `/ready` and `/metrics`.
pub struct HealthApi {
    /// Used to ping the store.
    pub service: JobService,
}

#[OpenApi]
impl HealthApi {
    /// Liveness: the process is up and serving HTTP.
    #[oai(
        path = "/health",
        method = "get",
        tag = "ApiTags::Health",
        operation_id = "health"
    )]
    async fn health(&self) -> Json<HealthStatus> {
        Json(HealthStatus {
            status: "ok".into(),
            database: None,
            cache: None,
        })
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
                database: Some("ok".into()),
                cache,
            })),
            Err(error) => {
                tracing::warn!(%error, "readiness check failed");
                ReadyResponse::NotReady(Json(HealthStatus {
                    status: "unavailable".into(),
                    database: Some("unavailable".into()),
                    cache,
                }))
            }
        }
    }

    /// Metrics: cache hits and misses, and whether the cache answers.
    #[oai(
        path = "/metrics",
        method = "get",
        tag = "ApiTags::Health",
        operation_id = "metrics"
    )]
    async fn metrics(&self) -> MetricsResponse {
        let report = self.service.cache_report();
        let up = u8::from(report.status == scheduler_core::CacheStatus::Ok);
        MetricsResponse::Text(PlainText(format!(
            "# HELP scheduler_cache_hits_total Job reads answered from the cache.\n\
             # TYPE scheduler_cache_hits_total counter\n\
             scheduler_cache_hits_total {}\n\
             # HELP scheduler_cache_misses_total Job reads that went to the database.\n\
             # TYPE scheduler_cache_misses_total counter\n\
             scheduler_cache_misses_total {}\n\
             # HELP scheduler_cache_up 1 while the cache answers.\n\
             # TYPE scheduler_cache_up gauge\n\
             scheduler_cache_up {up}\n",
            report.hits, report.misses
        )))
    }
}
