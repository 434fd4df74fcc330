//! The HTTP API: poem-openapi endpoints (one file per resource), the readers and output types
//! they translate with, the OpenAPI document and Swagger UI.

pub mod apply;
pub mod audit;
pub mod body;
pub mod calendars;
pub mod channels;
pub mod choices;
pub mod cron;
pub mod docs;
pub mod duplicate_keys;
pub mod health;
pub mod jobs;
pub mod keys;
pub mod maintenance;
pub mod openapi;
pub mod output;
pub mod pagination;
pub mod runs;
pub mod signing;
pub mod tags;
pub mod wire_time;

use std::sync::Arc;

use poem::endpoint::make_sync;
use poem::web::Html;
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;
use scheduler_core::{Clock, JobService, RunService};

use health::HealthApi;
use jobs::JobsApi;
use openapi::RouteTable;

/// What the endpoints work with.
pub struct ApiParts {
    /// The job use cases.
    pub jobs: JobService,
    /// The run use cases.
    pub runs: RunService,
    /// "Now" for handlers.
    pub clock: Arc<dyn Clock>,
    /// The probes and metrics.
    pub health: HealthApi,
    /// The key use cases.
    pub keys: scheduler_core::KeyService,
    /// The delivery signing use cases.
    pub signing: scheduler_core::SigningService,
}

/// All routes: the API, `/openapi.json` and Swagger UI at `/swagger/`; and the table of the
/// documented paths (route templates for metrics, methods for `Allow` on a 405).
pub fn routes(parts: ApiParts) -> (impl Endpoint<Output = poem::Response>, RouteTable) {
    let api = OpenApiService::new(
        (
            maintenance::MaintenanceApi {
                service: parts.jobs.clone(),
            },
            apply::ApplyApi {
                service: parts.jobs.clone(),
            },
            JobsApi {
                service: parts.jobs.clone(),
            },
            runs::RunsApi { runs: parts.runs },
            calendars::CalendarsApi {
                service: parts.jobs.clone(),
            },
            audit::AuditApi {
                service: parts.jobs.clone(),
            },
            channels::ChannelsApi {
                service: parts.jobs.clone(),
            },
            cron::CronApi {
                clock: parts.clock,
                service: parts.jobs.clone(),
            },
            parts.health,
            keys::KeysApi { keys: parts.keys },
            signing::SigningApi {
                signing: parts.signing,
            },
        ),
        "scheduler",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "A cron job scheduler. Standard 5-field CRON expressions evaluated in IANA time zones; \
         paths and JSON compatible with the original Django service.",
    );
    let raw_spec = api.spec();
    let spec = openapi::document(&raw_spec);
    let allowed = RouteTable::from_document(&spec);
    let swagger_html = api.swagger_ui_html().replace(&raw_spec, &spec);
    let routes = Route::new()
        .at(
            "/openapi.json",
            make_sync(move |_| {
                poem::Response::builder()
                    .content_type("application/json")
                    .body(spec.clone())
            }),
        )
        .at("/swagger", make_sync(move |_| Html(swagger_html.clone())))
        .nest("/", api)
        .boxed();
    (routes, allowed)
}
