//! Criterion benchmarks of the job store on PostgreSQL: insert and get-by-id.
//!
//! Needs `SCHEDULER_TEST_DATABASE_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`);
//! a database of its own is created and dropped.

// Benchmark setup: failing fast on a broken setup is the point.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use scheduler_adapters::{DatabaseConfig, SeaOrmJobRepository, connect};
use scheduler_core::{JobDraft, JobId, JobRepository, NewJob};
use scheduler_migration::{Migrator, MigratorTrait};

fn new_job(n: u64) -> NewJob {
    let now = Utc::now();
    let spec = JobDraft {
        name: Some(format!("bench-{n}")),
        cron_expression: Some("*/5 * * * *".into()),
        parameters: Some(serde_json::json!({"action": "report", "n": n})),
        ..JobDraft::default()
    }
    .validate(now)
    .expect("bench job is valid");
    NewJob {
        next_run: spec.next_run(now, 0),
        next_fire: None,
        spec,
        created_at: now,
        tenant: scheduler_core::Tenant::default_tenant(),
        created_by: None,
    }
}

fn store(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let Some(pg) = runtime.block_on(scheduler_test_support::postgres()) else {
        return;
    };
    let repo = runtime.block_on(async {
        let db = connect(&DatabaseConfig::new(&pg.url))
            .await
            .expect("connect");
        Migrator::up(&db, None).await.expect("migrate");
        SeaOrmJobRepository::new(db)
    });
    let counter = AtomicU64::new(0);
    c.bench_function("postgres insert job", |b| {
        b.to_async(&runtime).iter(|| async {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            repo.insert(new_job(n)).await.expect("insert")
        })
    });
    let first = runtime
        .block_on(repo.insert(new_job(u64::MAX)))
        .expect("insert");
    let id: JobId = first.id;
    c.bench_function("postgres get job by id", |b| {
        b.to_async(&runtime)
            .iter(|| async { repo.get(id).await.expect("get") })
    });
    drop(repo);
    drop(pg);
}

criterion_group!(benches, store);
criterion_main!(benches);
