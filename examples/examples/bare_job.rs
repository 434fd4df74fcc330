//! The reference of the read benchmarks (`bench/reads.sh`): a bare poem server answering
//! `GET /scheduler/jobs/{id}/` with one job's JSON held in memory — the bytes the real server
//! answered for that job — with no middleware, no cache, no store. What the real GET by id
//! is measured against.
//!
//! ```sh
//! BARE_BODY_FILE=job.json BARE_BIND=127.0.0.1:18090 \
//!   cargo run --release -p scheduler-examples --example bare_job
//! ```

// A benchmark tool: failing fast on a broken setup is the point.
#![allow(clippy::expect_used)]

use poem::http::header;
use poem::web::Path;
use poem::{EndpointExt, IntoResponse, Response, Route, Server, get, handler};

/// The same allocator as the server binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The body every request gets (served without a copy).
static BODY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

#[handler]
fn job(Path(_id): Path<String>) -> Response {
    let body: &'static [u8] = BODY.get().map_or(&[], Vec::as_slice);
    poem::Body::from(body)
        .with_header(header::CONTENT_TYPE, "application/json")
        .into_response()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let file = std::env::var("BARE_BODY_FILE").expect("BARE_BODY_FILE names the JSON to serve");
    let bind = std::env::var("BARE_BIND").unwrap_or_else(|_| "127.0.0.1:18090".into());
    BODY.set(std::fs::read(file)?)
        .expect("the body is set once");
    let app = Route::new().at("/scheduler/jobs/:id/", get(job)).boxed();
    Server::new(poem::listener::TcpListener::bind(bind))
        .run(app)
        .await
}
