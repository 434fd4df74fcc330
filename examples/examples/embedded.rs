//! The core's ports wired by hand, without the server: SQLite storage, an action handler
//! written in Rust, the dispatcher loop, and a manual run. To embed the scheduler, use the
//! `scheduler` crate (`Scheduler::builder()`, `cargo run -p scheduler-examples --example minimal`);
//! this shows what it does underneath.
//!
//! `cargo run -p scheduler-examples --example embedded`

// An example: failing fast on a broken setup is the point.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use std::sync::Arc;
use std::time::Duration;

use scheduler_adapters::{
    DatabaseConfig, InMemoryJobCache, SeaOrmJobRepository, SeaOrmRunStore, SystemClock, connect,
};
use scheduler_core::{
    ActionHandlers, Dispatcher, DispatcherConfig, Job, JobDraft, JobService, Run, RunStore,
    WireEnum,
};
use scheduler_migration::{Migrator, MigratorTrait};
use tokio::sync::mpsc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join("scheduler-embedded-example.db");
    let _ = std::fs::remove_file(&path);
    let db = connect(&DatabaseConfig::new(format!(
        "sqlite://{}?mode=rwc",
        path.display()
    )))
    .await?;
    Migrator::up(&db, None).await?;

    let clock = Arc::new(SystemClock);
    let cache = Arc::new(InMemoryJobCache::new(1_000, Duration::from_secs(60)));
    let jobs = JobService::new(
        Arc::new(SeaOrmJobRepository::new(db.clone())),
        cache.clone(),
        clock.clone(),
    );
    let runs = Arc::new(SeaOrmRunStore::new(db));

    // The program's own code, run for jobs whose parameters.action is "greet".
    let (done, mut finished) = mpsc::unbounded_channel::<String>();
    let mut handlers = ActionHandlers::new();
    handlers.register("greet", move |job: Job, run: Run| {
        let done = done.clone();
        async move {
            let who = job
                .spec
                .parameters
                .as_map()
                .get("who")
                .and_then(|v| v.as_str())
                .unwrap_or("world");
            let line = format!(
                "hello, {who} (job {}, run {}, attempt {})",
                job.id, run.id, run.attempt
            );
            let _ = done.send(line);
            Ok(())
        }
    });

    let dispatcher = Dispatcher::new(
        runs.clone(),
        Arc::new(handlers),
        cache,
        clock,
        Arc::new(scheduler_core::NoTelemetry),
        DispatcherConfig::new("embedded"),
    );
    let job = jobs
        .create(JobDraft {
            name: Some("greeter".into()),
            cron_expression: Some("* * * * *".into()),
            parameters: Some(serde_json::json!({"action": "greet", "who": "embedder"})),
            ..JobDraft::default()
        })
        .await?;
    println!(
        "created job {} '{}', next run {:?}",
        job.id,
        job.spec.name.as_str(),
        job.next_run
    );

    // The loop fires the schedule (every minute); a manual run fires now.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let looping = dispatcher.clone();
    let worker = tokio::spawn(async move {
        looping
            .run(async {
                let _ = stopped.await;
            })
            .await;
    });
    let run = dispatcher.run_now(job.id).await?;
    println!("started manual run {}", run.id);
    if let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(10), finished.recv()).await {
        println!("{line}");
    }
    let _ = stop.send(());
    worker.await?;
    if let Some(recorded) = runs.get(run.id).await? {
        println!(
            "run {} recorded as {}",
            recorded.id,
            recorded.status.as_str()
        );
    }
    Ok(())
}
