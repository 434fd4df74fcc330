//! Operator settings per tenant (`scheduler_core::tenant_limit`): a tenant's `weight` sets
//! its share of each claim while others have due fires (PostgreSQL; SQLite claims earliest
//! first), and its `running` cap holds on both backends — on PostgreSQL under a lock per
//! tenant that claims of other replicas take turns on.

use std::sync::Arc;
use std::time::Duration;

use crate::fairness::{by_tenant, claim, due_jobs};
use crate::support::{DueJob, Store, utc};
use scheduler_core::{ClaimRequest, Job, JobRepository, RunStore, TenantLimits};
use sea_orm::{ConnectionTrait, TransactionTrait};

fn with_limits(request: ClaimRequest, limits: &str) -> ClaimRequest {
    ClaimRequest {
        tenant_limits: Arc::new(TenantLimits::parse(limits).unwrap()),
        ..request
    }
}

/// Weights 3 and 1: a claim of 40 gives the heavy tenant 30 and the light one 10 while both
/// have due fires; a tenant without a weight counts 1.
#[tokio::test]
async fn a_tenants_weight_sets_its_share_of_a_claim() {
    let Some(s) = Store::postgres().await else {
        return;
    };
    let now = utc("2025-06-23T09:00:00Z");
    due_jobs(&s, "heavy", 100, now, false).await;
    due_jobs(&s, "light", 100, now - chrono::Duration::minutes(1), false).await;
    let limits = "heavy weight=3";
    let batch = s
        .runs
        .claim_due(&with_limits(claim(now, 40, 0), limits))
        .await
        .unwrap();
    let counts = by_tenant(&batch.runs);
    assert_eq!(counts.get("heavy"), Some(&30), "{counts:?}");
    assert_eq!(counts.get("light"), Some(&10), "{counts:?}");
    // A third tenant (weight 1): shares 3:1:1 of 50.
    due_jobs(&s, "third", 100, now, false).await;
    let batch = s
        .runs
        .claim_due(&with_limits(claim(now, 50, 0), limits))
        .await
        .unwrap();
    let counts = by_tenant(&batch.runs);
    assert_eq!(counts.get("heavy"), Some(&30), "{counts:?}");
    assert_eq!(counts.get("light"), Some(&10), "{counts:?}");
    assert_eq!(counts.get("third"), Some(&10), "{counts:?}");
    // Without weights: equal shares.
    let batch = s.runs.claim_due(&claim(now, 30, 0)).await.unwrap();
    let counts = by_tenant(&batch.runs);
    assert_eq!(
        (
            counts.get("heavy"),
            counts.get("light"),
            counts.get("third")
        ),
        (Some(&10), Some(&10), Some(&10)),
        "{counts:?}"
    );
}

async fn tenant_jobs(s: &Store, tenant: &str, count: usize) -> Vec<Job> {
    let now = utc("2025-06-23T09:00:00Z");
    let mut jobs = Vec::new();
    for n in 0..count {
        let name = format!("{tenant}-{n}");
        jobs.push(
            s.due_job(DueJob {
                action: Some("ok"),
                tenant: Some(tenant),
                ..DueJob::new(&name, now)
            })
            .await,
        );
    }
    jobs
}

/// A cap of 3 running runs: a claim starts 3 of the tenant's 10 due fires and every fire of
/// another tenant; while they run, claims start none of its fires (they stay due); as runs
/// end, that many more start.
async fn a_tenants_running_cap_holds_and_its_fires_wait_due(s: Store) {
    let now = utc("2025-06-23T09:00:00Z");
    let capped = tenant_jobs(&s, "batch", 10).await;
    tenant_jobs(&s, "other", 4).await;
    let limits = "batch running=3";
    let batch = s
        .runs
        .claim_due(&with_limits(claim(now, 100, 0), limits))
        .await
        .unwrap();
    let counts = by_tenant(&batch.runs);
    assert_eq!(counts.get("batch"), Some(&3), "{counts:?}");
    assert_eq!(counts.get("other"), Some(&4), "{counts:?}");
    assert_eq!(batch.capped_tenants, ["batch"], "the claim says who waited");
    let mut waiting = 0;
    for job in &capped {
        if s.repo.get(job.id).await.unwrap().unwrap().next_run == Some(now) {
            waiting += 1;
        }
    }
    assert_eq!(waiting, 7, "the fires past the cap stay due");
    let later = now + chrono::Duration::seconds(1);
    let again = s
        .runs
        .claim_due(&with_limits(claim(later, 100, 0), limits))
        .await
        .unwrap();
    assert!(
        again.runs.is_empty(),
        "at its cap: {:?}",
        by_tenant(&again.runs)
    );
    // Two of the three end.
    for claimed in batch
        .runs
        .iter()
        .filter(|r| r.job.tenant.as_str() == "batch")
        .take(2)
    {
        let outcome = scheduler_core::RunOutcome {
            status: scheduler_core::RunStatus::Succeeded,
            error: None,
            finished_at: later,
            retry_at: None,
        };
        s.runs.finish(&claimed.run, &outcome).await.unwrap();
    }
    let more = s
        .runs
        .claim_due(&with_limits(claim(later, 100, 0), limits))
        .await
        .unwrap();
    assert_eq!(by_tenant(&more.runs).get("batch"), Some(&2));
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => Store::sqlite, postgres => Store::postgres },
    tests: [a_tenants_running_cap_holds_and_its_fires_wait_due],
}

/// On PostgreSQL a claim counts a capped tenant's running runs under the tenant's lock:
/// while another transaction holds it (a claim of another replica), the claim waits, and
/// then counts the runs that transaction inserted — here the cap's worth — so it starts none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_waits_for_another_claims_tenant_lock_and_counts_its_runs() {
    let Some(s) = Store::postgres().await else {
        return;
    };
    let now = utc("2025-06-23T09:00:00Z");
    let capped = tenant_jobs(&s, "batch", 5).await;
    let other = scheduler_adapters::connect(&scheduler_adapters::DatabaseConfig::new(s.url()))
        .await
        .unwrap();
    let txn = other.begin().await.unwrap();
    txn.execute_unprepared(&format!(
        "SELECT pg_advisory_xact_lock({}, hashtext('batch'))",
        0x7465_6e74
    ))
    .await
    .unwrap();
    let runs = s.runs.clone();
    let claim = tokio::spawn(async move {
        // A claim of 3: it locks the tenant's first 3 jobs (the other claim has the rest).
        runs.claim_due(&with_limits(claim(now, 3, 0), "batch running=2"))
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !claim.is_finished(),
        "the claim waits for the tenant's lock"
    );
    // The other claim started two runs of the tenant (of jobs this claim could not lock).
    for job in &capped[3..] {
        txn.execute_unprepared(&format!(
            "INSERT INTO job_runs (job_id, scheduled_for, trigger, attempt, status, \
             started_at, heartbeat_at, worker) \
             VALUES ({}, '2025-06-23T08:00:00Z', 'schedule', 1, 'running', now(), now(), 'b')",
            job.id.0
        ))
        .await
        .unwrap();
    }
    txn.commit().await.unwrap();
    let batch = claim.await.unwrap();
    assert!(batch.runs.is_empty(), "{:?}", by_tenant(&batch.runs));
}
