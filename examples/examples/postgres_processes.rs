//! Several processes of one program on one PostgreSQL database: each declares the same
//! schedules (one job each, however many start at once) and each fire runs in exactly one of
//! them. Start it in three terminals and watch every fire print once:
//!
//! ```sh
//! createdb scheduler_example
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/scheduler_example \
//!     cargo run -p scheduler-examples --example postgres_processes -- a   # and b, and c
//! ```

use scheduler::{Ctx, Schedule, Scheduler};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Sweep {
    table: String,
    older_than_days: u32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("set DATABASE_URL=postgres://... (a database of its own)");
        std::process::exit(2);
    };
    let process = std::env::args().nth(1).unwrap_or_else(|| "p".to_string());
    let me = process.clone();
    let scheduler = Scheduler::builder()
        .database(url)
        .dispatcher(|config| config.worker = process)
        .handler("sweep", move |ctx: Ctx, sweep: Sweep| {
            let me = me.clone();
            async move {
                println!(
                    "[{me}] {}: sweeping {} (> {} days) for the fire at {}",
                    ctx.job_name, sweep.table, sweep.older_than_days, ctx.scheduled_for
                );
                Ok::<(), std::io::Error>(())
            }
        })
        .declare(Schedule::new("sweep-sessions", "* * * * *").params(Sweep {
            table: "sessions".into(),
            older_than_days: 1,
        }))
        .declare(
            Schedule::new("sweep-audit", "*/2 * * * *")
                .params(Sweep {
                    table: "audit".into(),
                    older_than_days: 90,
                })
                .timezone("Europe/Berlin")
                .retries(3, 10),
        )
        .prune_undeclared()
        .start()
        .await?;
    println!("started; Ctrl-C stops");
    tokio::signal::ctrl_c().await?;
    scheduler.shutdown().await?;
    Ok(())
}
