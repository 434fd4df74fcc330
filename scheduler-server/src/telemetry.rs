//! Prometheus metrics with the `metrics` crate and its Prometheus exporter: the recorder
//! (installed once per process), the HTTP metrics recorded per request, and the gauges read
//! when `/metrics` is scraped (dispatcher up, pool connections, cache). The dispatcher's own
//! metrics are named and recorded in `scheduler_core::telemetry`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use metrics::{Counter, Histogram, SharedString};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::http::Method;
use scheduler_adapters::PoolConnections;
use scheduler_core::{CacheReport, CacheStatus};

use crate::api::openapi::RouteTable;

/// HTTP requests answered, by route template, method and status.
pub const HTTP_REQUESTS_TOTAL: &str = "scheduler_http_requests_total";
/// How long HTTP requests took, by route template.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "scheduler_http_request_duration_seconds";
/// Requests whose handler panicked (answered 500).
pub const HTTP_PANICS_TOTAL: &str = "scheduler_http_panics_total";
/// Requests abandoned at their deadline (answered 503).
pub const HTTP_DEADLINE_EXCEEDED_TOTAL: &str = "scheduler_http_deadline_exceeded_total";
/// 1 while this replica's dispatcher ticks (0 when it is stalled or off).
pub const DISPATCHER_UP: &str = "scheduler_dispatcher_up";
/// Database pool connections, by state (`idle`, `in_use`).
pub const DB_POOL_CONNECTIONS: &str = "scheduler_db_pool_connections";
/// Job reads answered from the cache (only when a cache is configured).
pub const CACHE_HITS_TOTAL: &str = "scheduler_cache_hits_total";
/// Job reads that went to the database (only when a cache is configured).
pub const CACHE_MISSES_TOTAL: &str = "scheduler_cache_misses_total";
/// 1 while the configured cache answers (only when a cache is configured).
pub const CACHE_UP: &str = "scheduler_cache_up";

/// Histogram buckets, in seconds, for request durations (sub-millisecond to seconds).
const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Histogram buckets, in seconds, for run durations (handlers and HTTP targets).
const RUN_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];
/// Histogram buckets, in seconds, for fire lateness (on time is well under a second).
const LATENESS_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];

/// The process's Prometheus recorder, installed on first use. `None` when another recorder
/// was installed first (an embedding program with its own): metrics then go there.
pub fn exporter() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.into()),
                    HTTP_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(scheduler_adapters::telemetry::RUN_DURATION_SECONDS.into()),
                        RUN_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(scheduler_adapters::telemetry::FIRE_LATENESS_SECONDS.into()),
                        LATENESS_BUCKETS,
                    )
                });
            let handle = builder.ok()?.install_recorder().ok()?;
            describe();
            register();
            Some(handle)
        })
        .as_ref()
}

/// Registers every family of the server's and the core's that exists before its first event
/// (see [`scheduler_adapters::telemetry::register`]): dashboards show zeros, not "no data".
fn register() {
    scheduler_adapters::telemetry::register();
    metrics::counter!(HTTP_PANICS_TOTAL).increment(0);
    metrics::counter!(HTTP_DEADLINE_EXCEEDED_TOTAL).increment(0);
}

/// Help texts of the server's metrics and the core's.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    scheduler_adapters::telemetry::describe();
    describe_counter!(
        HTTP_REQUESTS_TOTAL,
        "HTTP requests answered, by route template, method and status."
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "How long HTTP requests took, by route template."
    );
    describe_counter!(
        HTTP_PANICS_TOTAL,
        "Requests whose handler panicked (answered 500, logged once with the request id)."
    );
    describe_counter!(
        HTTP_DEADLINE_EXCEEDED_TOTAL,
        "Requests abandoned at SCHEDULER_REQUEST_TIMEOUT_MS (answered 503)."
    );
    describe_gauge!(
        DISPATCHER_UP,
        "1 while this replica's dispatcher completes ticks; 0 when stalled or off."
    );
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Database pool connections, by state (idle, in_use)."
    );
    describe_counter!(CACHE_HITS_TOTAL, "Job reads answered from the cache.");
    describe_counter!(CACHE_MISSES_TOTAL, "Job reads that went to the database.");
    describe_gauge!(CACHE_UP, "1 while the configured cache answers.");
}

/// The HTTP metrics of one server, with their handles registered once and reused: a request
/// costs a read-locked map lookup and two atomic updates. (Building the label strings and
/// looking the series up in the registry on every request, the `counter!` macro way, cost
/// about a fifth of GET throughput here.)
pub struct HttpMetrics {
    /// The documented paths; a route's index in it keys its series.
    routes: Arc<RouteTable>,
    /// Latency histogram per route index; the last one is for `other` paths.
    durations: Vec<Histogram>,
    /// Answer counters by (route index, method, status), registered on first use.
    counters: RwLock<HashMap<(usize, Method, u16), Counter>>,
}

impl HttpMetrics {
    /// Registers the latency histogram of every route. Call after [`exporter`]: handles made
    /// before a recorder is installed record nothing.
    pub fn new(routes: Arc<RouteTable>) -> Self {
        let durations = routes
            .templates()
            .chain(std::iter::once(Arc::from(OTHER_ROUTE)))
            .map(|route| {
                metrics::histogram!(HTTP_REQUEST_DURATION_SECONDS, "route" => SharedString::from(route))
            })
            .collect();
        Self {
            routes,
            durations,
            counters: RwLock::new(HashMap::new()),
        }
    }

    /// One request to `path` was answered with `status` after `seconds`.
    pub fn record(&self, path: &str, method: &Method, status: u16, seconds: f64) {
        let route = self.routes.index(path).unwrap_or(self.durations.len() - 1);
        if let Some(duration) = self.durations.get(route) {
            duration.record(seconds);
        }
        let key = (route, method.clone(), status);
        let known = self
            .counters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        let counter = known.unwrap_or_else(|| {
            let template = self
                .routes
                .templates()
                .nth(route)
                .unwrap_or_else(|| Arc::from(OTHER_ROUTE));
            let counter = metrics::counter!(
                HTTP_REQUESTS_TOTAL,
                "route" => SharedString::from(template),
                "method" => method.as_str().to_string(),
                "status" => status.to_string()
            );
            self.counters
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(key)
                .or_insert(counter)
                .clone()
        });
        counter.increment(1);
    }
}

/// A request's handler panicked.
pub fn http_panic() {
    metrics::counter!(HTTP_PANICS_TOTAL).increment(1);
}

/// A request was abandoned at its deadline.
pub fn http_deadline_exceeded() {
    metrics::counter!(HTTP_DEADLINE_EXCEEDED_TOTAL).increment(1);
}

/// The route label of paths the document does not describe.
const OTHER_ROUTE: &str = "other";

/// Keeps the exporter's memory bounded: histograms buffer samples until upkeep folds them in.
pub fn spawn_upkeep() {
    if let Some(handle) = exporter() {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                handle.run_upkeep();
            }
        });
    }
}

/// What the scrape-time gauges are read from.
pub struct Scrape {
    /// Whether the dispatcher ticks (`None` when it is off in this replica).
    pub dispatcher_up: Option<bool>,
    /// The database pool.
    pub pool: PoolConnections,
    /// The cache.
    pub cache: CacheReport,
}

/// Sets the gauges read at scrape time, then renders every metric in the Prometheus text
/// format.
pub fn render(handle: &PrometheusHandle, scrape: &Scrape) -> String {
    metrics::gauge!(DISPATCHER_UP).set(if scrape.dispatcher_up == Some(true) {
        1.0
    } else {
        0.0
    });
    let in_use = scrape.pool.open.saturating_sub(scrape.pool.idle);
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(f64::from(scrape.pool.idle));
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(f64::from(in_use));
    if scrape.cache.status != CacheStatus::Disabled {
        metrics::counter!(CACHE_HITS_TOTAL).absolute(scrape.cache.hits);
        metrics::counter!(CACHE_MISSES_TOTAL).absolute(scrape.cache.misses);
        metrics::gauge!(CACHE_UP).set(if scrape.cache.status == CacheStatus::Ok {
            1.0
        } else {
            0.0
        });
    }
    handle.run_upkeep();
    handle.render()
}
