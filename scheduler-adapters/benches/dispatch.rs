//! Dispatch benchmark on PostgreSQL: N jobs due at the same instant, a no-op handler; prints
//! fires per second and lateness (execution start − scheduled instant) p50/p99/max.
//!
//! `SCHEDULER_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!  cargo bench -p scheduler-adapters --bench dispatch` (optional: `DISPATCH_JOBS=1000,10000`,
//! `DISPATCH_REPLICAS=1`).

// Benchmark setup: failing fast on a broken setup is the point.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]
#![allow(missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use migration::{Migrator, MigratorTrait};
use scheduler_adapters::{DatabaseConfig, NoJobCache, SeaOrmRunStore, SystemClock, connect};
use scheduler_core::{ActionHandlers, Dispatcher, DispatcherConfig, Job, Run};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tokio::sync::watch;

async fn seed(db: &DatabaseConnection, count: usize, due: DateTime<Utc>) {
    db.execute_unprepared("TRUNCATE job_runs, jobs RESTART IDENTITY")
        .await
        .expect("truncate");
    let due = due.to_rfc3339();
    db.execute_unprepared(&format!(
        "INSERT INTO jobs (name, cron_expression, timezone, start_time, next_run, parameters, \
         is_active, created_at, updated_at) \
         SELECT 'bench-' || n, '0 0 1 1 *', 'UTC', '2020-01-01T00:00:00Z', '{due}', \
         '{{\"action\": \"noop\"}}', true, now(), now() FROM generate_series(1, {count}) AS n"
    ))
    .await
    .expect("seed jobs");
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn run_once(url: &str, count: usize, replicas: usize) {
    let db = connect(&DatabaseConfig::new(url)).await.expect("connect");
    let due = Utc::now() + chrono::Duration::seconds(2);
    seed(&db, count, due).await;
    let lateness = Arc::new(Mutex::new(Vec::<f64>::with_capacity(count)));
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    for replica in 0..replicas {
        let mut handlers = ActionHandlers::new();
        let samples = lateness.clone();
        handlers.register("noop", move |_job: Job, run: Run| {
            let samples = samples.clone();
            async move {
                let late = (Utc::now() - run.scheduled_for)
                    .num_microseconds()
                    .unwrap_or(0);
                samples.lock().expect("samples").push(late as f64 / 1000.0);
                Ok(())
            }
        });
        let pool = connect(&DatabaseConfig::new(url)).await.expect("connect");
        let dispatcher = Dispatcher::new(
            Arc::new(SeaOrmRunStore::new(pool)),
            Arc::new(handlers),
            Arc::new(NoJobCache),
            Arc::new(SystemClock),
            DispatcherConfig::new(format!("bench-{replica}")),
        );
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            dispatcher
                .run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        }));
    }
    let started = Instant::now();
    while lateness.lock().expect("samples").len() < count {
        if started.elapsed() > Duration::from_secs(120) {
            eprintln!("gave up after 120 s");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    let mut samples = lateness.lock().expect("samples").clone();
    samples.sort_by(f64::total_cmp);
    let span_ms = samples.last().copied().unwrap_or(0.0);
    println!(
        "{count} jobs due at once, {replicas} dispatcher(s): {:.0} fires/s; lateness p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        count as f64 / (span_ms / 1000.0).max(0.001),
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        span_ms,
    );
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        let Some(pg) = scheduler_test_support::postgres().await else {
            return;
        };
        {
            let db = connect(&DatabaseConfig::new(&pg.url))
                .await
                .expect("connect");
            Migrator::up(&db, None).await.expect("migrate");
        }
        let sizes = std::env::var("DISPATCH_JOBS").unwrap_or_else(|_| "1000,10000".into());
        let replicas = std::env::var("DISPATCH_REPLICAS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(1);
        for size in sizes.split(',').filter_map(|s| s.trim().parse().ok()) {
            run_once(&pg.url, size, replicas).await;
        }
    });
}
