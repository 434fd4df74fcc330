//! Per-tenant fairness of the claim on PostgreSQL: every tenant with due fires of a kind gets
//! an equal share of each claim first (its earliest fires), the rest goes earliest first; so
//! a tenant's burst never holds another tenant's few fires back until it drains — with one
//! replica or two claiming side by side.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::support::{Store, TestClock, utc};
use chrono::{DateTime, Utc};
use scheduler_adapters::NoJobCache;
use scheduler_core::{
    ActionHandlers, ClaimRequest, Dispatcher, DispatcherConfig, Job, Run, RunStore,
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Inserts `count` jobs of `tenant` due at `due` (handlers running `ok`, or deliveries to
/// an example host when `delivery`), named `{tenant}-h{n}` (`-d{n}`).
pub(crate) async fn due_jobs(
    s: &Store,
    tenant: &str,
    count: u32,
    due: DateTime<Utc>,
    delivery: bool,
) {
    let target = if delivery {
        "('{\"type\": \"http\", \"url\": \"https://' || $1 || '.example/hook\"}')::jsonb"
    } else {
        "NULL"
    };
    let host = if delivery { "$1 || '.example'" } else { "NULL" };
    let kind = if delivery { "d" } else { "h" };
    let sql = format!(
        "INSERT INTO jobs (name, cron_expression, timezone, start_time, next_run, parameters, \
         is_active, created_at, updated_at, tenant, target, target_host) \
         SELECT $1 || '-{kind}' || n, '0 0 1 1 *', 'UTC', $2, $2, '{{\"action\": \"ok\"}}', true, \
         $2, $2, $1, {target}, {host} FROM generate_series(1, $3) AS n"
    );
    s.db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [tenant.into(), due.into(), i64::from(count).into()],
    ))
    .await
    .unwrap();
}

pub(crate) fn claim(now: DateTime<Utc>, handlers: u32, deliveries: u32) -> ClaimRequest {
    ClaimRequest {
        now,
        worker: "w".into(),
        handlers,
        deliveries,
        saturated_hosts: Vec::new(),
        ..ClaimRequest::default()
    }
}

/// How many runs of each tenant a claim took.
pub(crate) fn by_tenant(runs: &[scheduler_core::ClaimedRun]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for run in runs {
        *counts
            .entry(run.job.tenant.as_str().to_string())
            .or_insert(0) += 1;
    }
    counts
}

/// A claim gives each tenant with due fires an equal share first, even when another
/// tenant's fires are older; what a share leaves unused goes to the earliest fires; each
/// kind is shared on its own.
#[tokio::test]
async fn a_claim_shares_each_kind_between_the_tenants_with_due_fires() {
    let Some(s) = Store::postgres().await else {
        return;
    };
    let now = utc("2025-06-23T09:00:00Z");
    // "big" is a minute older: earliest-first alone would take only its fires.
    due_jobs(&s, "big", 50, now - chrono::Duration::minutes(1), false).await;
    due_jobs(&s, "small", 3, now, false).await;
    due_jobs(&s, "mid", 20, now, false).await;
    due_jobs(&s, "big", 30, now - chrono::Duration::minutes(1), true).await;
    due_jobs(&s, "small", 2, now, true).await;
    // Not due yet: no share.
    due_jobs(&s, "later", 5, now + chrono::Duration::minutes(1), false).await;

    let batch = s.runs.claim_due(&claim(now, 12, 0)).await.unwrap();
    let counts = by_tenant(&batch.runs);
    // Shares of 4: small takes its 3, mid 4, big 4 + the one small left.
    assert_eq!(counts.get("small"), Some(&3), "{counts:?}");
    assert_eq!(counts.get("mid"), Some(&4), "{counts:?}");
    assert_eq!(counts.get("big"), Some(&5), "{counts:?}");
    assert_eq!(counts.get("later"), None);

    let batch = s.runs.claim_due(&claim(now, 0, 6)).await.unwrap();
    let counts = by_tenant(&batch.runs);
    assert_eq!(counts.get("small"), Some(&2), "{counts:?}");
    assert_eq!(counts.get("big"), Some(&4), "{counts:?}");

    // One tenant alone takes the whole budget, earliest first.
    let batch = s.runs.claim_due(&claim(now, 100, 100)).await.unwrap();
    let counts = by_tenant(&batch.runs);
    assert_eq!(counts.get("big"), Some(&(45 + 26)), "{counts:?}");
    assert_eq!(counts.get("mid"), Some(&16), "{counts:?}");
    assert!(
        s.runs
            .claim_due(&claim(now, 100, 100))
            .await
            .unwrap()
            .runs
            .is_empty()
    );
}

/// Two replicas drain tenant "big"'s 1,000 fires due at one instant in claims of 25 while
/// tenant "small" has 10 due at the same instant (its jobs made last, so earliest-first with
/// ties by id would run them last): every fire of "small" is among the first claims of the
/// two replicas, and every fire runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_run_a_small_tenants_fires_first_while_a_big_one_drains() {
    let Some(s) = Store::postgres().await else {
        return;
    };
    let now = utc("2025-06-23T09:00:00Z");
    due_jobs(&s, "big", 1_000, now, false).await;
    due_jobs(&s, "small", 10, now, false).await;
    let replica = |worker: &str, runs: Arc<scheduler_adapters::SeaOrmRunStore>| {
        let mut handlers = ActionHandlers::new();
        handlers.register("ok", |_job: Job, _run: Run| async { Ok(()) });
        let mut config = DispatcherConfig::new(worker);
        config.batch_size = 25;
        config.max_batch_size = 25;
        config.claims_in_flight = 1;
        Dispatcher::new(
            runs,
            Arc::new(handlers),
            Arc::new(NoJobCache),
            TestClock::at("2025-06-23T09:00:00Z"),
            Arc::new(scheduler_core::NoTelemetry),
            config,
        )
    };
    // The second replica: a pool (and run store) of its own.
    let other = scheduler_adapters::connect(&scheduler_adapters::DatabaseConfig::new(s.url()))
        .await
        .unwrap();
    let a = replica("replica-a", s.runs.clone());
    let b = replica(
        "replica-b",
        Arc::new(scheduler_adapters::SeaOrmRunStore::new(other)),
    );
    let drain = |d: Dispatcher| {
        tokio::spawn(async move {
            for _ in 0..400 {
                let ticked = d.tick().await.unwrap();
                if ticked.started == 0 && !ticked.more_due {
                    break;
                }
            }
        })
    };
    let (ra, rb) = (drain(a), drain(b));
    ra.await.unwrap();
    rb.await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The runs in the order they were claimed (ids grow with each claim's insert).
    let rows =
        s.db.query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT j.tenant, r.job_id FROM job_runs AS r JOIN jobs AS j ON j.id = r.job_id \
             ORDER BY r.id"
                .to_string(),
        ))
        .await
        .unwrap();
    let order: Vec<(String, i64)> = rows
        .iter()
        .map(|row| {
            (
                row.try_get::<String>("", "tenant").unwrap(),
                row.try_get::<i64>("", "job_id").unwrap(),
            )
        })
        .collect();
    assert_eq!(order.len(), 1_010, "every fire ran");
    let mut jobs: Vec<i64> = order.iter().map(|(_, job)| *job).collect();
    jobs.sort_unstable();
    jobs.dedup();
    assert_eq!(jobs.len(), 1_010, "each fire once");
    let last_small = order
        .iter()
        .rposition(|(tenant, _)| tenant == "small")
        .unwrap();
    // Two claims of 25 per replica hold every fire of "small" (half of each claim is its
    // share); earliest-first would have put them after all 1,000 of "big".
    assert!(
        last_small < 100,
        "the last fire of small was run {}th of 1,010",
        last_small + 1
    );
}
