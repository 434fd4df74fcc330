//! The REST server (Swagger UI at `/swagger/`) with the program's own Rust handler: a job created
//! through the API with `"parameters": {"action": "cleanup", "older_than_days": 30}` runs
//! `cleanup` with its parameters typed.
//!
//! ```sh
//! cargo run -p scheduler-examples --example custom_handlers
//! curl -X POST localhost:8000/scheduler/jobs/ -H 'Content-Type: application/json' \
//!   -d '{"name": "cleanup", "cron_expression": "* * * * *",
//!        "parameters": {"action": "cleanup", "older_than_days": 30}}'
//! ```
//! Configuration comes from the environment, as for the binary (`DATABASE_URL`, ...).

use scheduler::Ctx;
use scheduler_server::{Server, shutdown_signal};
use serde::Deserialize;

#[derive(Deserialize)]
struct Cleanup {
    older_than_days: u32,
}

async fn cleanup(ctx: Ctx, params: Cleanup) -> Result<(), std::io::Error> {
    println!(
        "job {} run {}: deleting rows older than {} days",
        ctx.job_id, ctx.run_id, params.older_than_days
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder()
        .handler("cleanup", cleanup)
        .build()
        .await?;
    println!("listening on http://{}", server.local_addr());
    server.run_until_stopped(shutdown_signal()).await?;
    Ok(())
}
