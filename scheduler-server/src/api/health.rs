//! Liveness and readiness probes.

use poem_openapi::payload::Json;
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

/// `/health` and `/ready`.
pub struct HealthApi {
    /// Used to ping the store.
    pub service: JobService,
}

#[OpenApi]
impl HealthApi {
    /// Liveness: the process is up and serving HTTP.
    #[oai(path = "/health", method = "get", tag = "ApiTags::Health")]
    async fn health(&self) -> Json<HealthStatus> {
        Json(HealthStatus {
            status: "ok".into(),
            database: None,
        })
    }

    /// Readiness: 200 while the database answers, 503 otherwise.
    #[oai(path = "/ready", method = "get", tag = "ApiTags::Health")]
    async fn ready(&self) -> ReadyResponse {
        match self.service.check_store().await {
            Ok(()) => ReadyResponse::Ready(Json(HealthStatus {
                status: "ok".into(),
                database: Some("ok".into()),
            })),
            Err(error) => {
                tracing::warn!(%error, "readiness check failed");
                ReadyResponse::NotReady(Json(HealthStatus {
                    status: "unavailable".into(),
                    database: Some("unavailable".into()),
                }))
            }
        }
    }
}
