//! The smallest embedding: a typed handler and a schedule declared in code, on SQLite.
//! Start it twice: the second start finds the schedule as declared and changes nothing.
//!
//! `cargo run -p scheduler-examples --example minimal` (the greeter fires at the start of each minute)

use scheduler::{Ctx, Scheduler};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Greeting {
    who: String,
}

async fn greet(ctx: Ctx, greeting: Greeting) -> Result<(), std::io::Error> {
    println!(
        "hello, {} (fire {}, attempt {})",
        greeting.who, ctx.scheduled_for, ctx.attempt
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scheduler = Scheduler::builder()
        .database("sqlite://scheduler-minimal-example.db?mode=rwc")
        .handler("greet", greet)
        .schedule(
            "greeter",
            "* * * * *",
            Greeting {
                who: "world".into(),
            },
        )
        .start()
        .await?;
    println!("started: the greeter fires at the start of every minute; Ctrl-C stops");
    tokio::signal::ctrl_c().await?;
    scheduler.shutdown().await?;
    Ok(())
}
