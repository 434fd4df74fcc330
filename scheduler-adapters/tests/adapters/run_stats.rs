//! The `RunStats` contract on SQLite and PostgreSQL: the runs of one tenant's jobs serving
//! fires since an instant, newest fires first, with what lateness is measured from.

use crate::support::{DueJob, Store, utc};
use scheduler_adapters::SeaOrmRunStats;
use scheduler_core::{
    ClaimRequest, RunSample, RunStats, RunStatus, RunStore, RunTrigger, Tenant, plan_cancel,
};
use sea_orm::ConnectionTrait;

fn claim(now: &str) -> ClaimRequest {
    ClaimRequest {
        now: utc(now),
        worker: "w".into(),
        handlers: 10,
        deliveries: 10,
        saturated_hosts: Vec::new(),
        ..ClaimRequest::default()
    }
}

/// Only the tenant's runs whose fire is at or after `since` are read, newest fire first,
/// each with its fire, start, status, trigger and attempt as stored.
async fn the_runs_of_a_tenants_fires_since_an_instant_are_read(s: Store) {
    let stats = SeaOrmRunStats::new(s.db.clone());
    let ours = s
        .due_job(DueJob::new("ours", utc("2025-06-23T09:00:00Z")))
        .await;
    let before = s
        .due_job(DueJob::new("before", utc("2025-06-23T07:00:00Z")))
        .await;
    let theirs = s
        .due_job(DueJob::new("theirs", utc("2025-06-23T09:00:00Z")))
        .await;
    s.db.execute_unprepared(&format!(
        "UPDATE jobs SET tenant = 'other' WHERE id = {}",
        theirs.id.0
    ))
    .await
    .unwrap();
    // Claimed 2 s after the fires were due: the scheduled runs start 2 s late.
    let claimed = s
        .runs
        .claim_due(&claim("2025-06-23T09:00:02Z"))
        .await
        .unwrap();
    assert_eq!(claimed.runs.len(), 3);
    let manual = s
        .runs
        .start_manual(ours.id, utc("2025-06-23T09:30:00Z"), "w")
        .await
        .unwrap();
    let cancelled = s
        .runs
        .cancel(
            manual.run.id,
            &plan_cancel(&manual.run, Some("k"), utc("2025-06-23T09:30:01Z")),
        )
        .await
        .unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);

    let default = Tenant::default_tenant();
    let read = stats
        .runs_since(&default, utc("2025-06-23T08:00:00Z"))
        .await
        .unwrap();
    assert!(!read.truncated);
    assert_eq!(
        read.samples,
        [
            RunSample {
                scheduled_for: manual.run.scheduled_for,
                due_at: None,
                started_at: utc("2025-06-23T09:30:00Z"),
                status: RunStatus::Cancelled,
                trigger: RunTrigger::Manual,
                attempt: 1,
            },
            RunSample {
                scheduled_for: utc("2025-06-23T09:00:00Z"),
                due_at: None,
                started_at: utc("2025-06-23T09:00:02Z"),
                status: RunStatus::Running,
                trigger: RunTrigger::Schedule,
                attempt: 1,
            },
        ],
        "the run of {before:?} serves a fire before the window"
    );
    assert_eq!(
        read.samples[1].fire_lateness(),
        Some(chrono::Duration::seconds(2))
    );

    let other = Tenant::parse("other").unwrap();
    let theirs_read = stats
        .runs_since(&other, utc("2025-06-23T08:00:00Z"))
        .await
        .unwrap();
    assert_eq!(theirs_read.samples.len(), 1);
    assert_eq!(theirs_read.samples[0].trigger, RunTrigger::Schedule);
    // The window's start is inclusive; a later one leaves the scheduled fire out.
    let later = stats
        .runs_since(&default, utc("2025-06-23T09:00:00.000001Z"))
        .await
        .unwrap();
    assert_eq!(later.samples.len(), 1);
    let nobody = Tenant::parse("nobody").unwrap();
    assert!(
        stats
            .runs_since(&nobody, utc("2025-06-23T00:00:00Z"))
            .await
            .unwrap()
            .samples
            .is_empty()
    );
}

/// A store that cannot be reached is `Unavailable`.
async fn an_unreachable_store_is_unavailable(s: Store) {
    let stats = SeaOrmRunStats::new(s.db.clone());
    s.stop().await;
    let read = stats
        .runs_since(&Tenant::default_tenant(), utc("2025-06-23T00:00:00Z"))
        .await;
    assert!(
        matches!(read, Err(scheduler_core::RepositoryError::Unavailable(_))),
        "{read:?}"
    );
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
    setups: { sqlite => Store::sqlite, postgres => Store::postgres },
    tests: [
        the_runs_of_a_tenants_fires_since_an_instant_are_read,
        an_unreachable_store_is_unavailable,
    ],
}
