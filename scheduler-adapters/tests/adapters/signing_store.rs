//! The signing secret store on SQLite and PostgreSQL: a tenant's first secret is made once
//! however many callers race for it (jobs due at one instant, replicas), and racing rotations
//! each leave one current secret.

use std::sync::Arc;

use crate::support::Store;
use scheduler_adapters::{SeaOrmSigningStore, SystemClock};
use scheduler_core::{Clock, SigningService, SigningStore, Tenant};

/// A signing service of its own over `store`'s database, as each replica has.
fn replica(store: &Store) -> SigningService {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    SigningService::new(
        Arc::new(SeaOrmSigningStore::new(store.db.clone())),
        clock,
        Arc::new(scheduler_adapters::OsEntropy),
    )
}

async fn first_uses_racing_make_one_secret(store: Store) {
    let tenant = Tenant::parse("team-a").unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let service = replica(&store);
            let tenant = tenant.clone();
            tokio::spawn(async move { service.secrets(&tenant).await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    let now = chrono::Utc::now();
    let stored = SeaOrmSigningStore::new(store.db.clone());
    let valid = stored.valid(&tenant, now).await.unwrap();
    assert_eq!(valid.len(), 1, "{valid:?}");
    assert_eq!(valid[0].expires_at, None);
    // Every caller got that one secret: deliveries signed with it verify with what
    // `signing show` lists.
    for secrets in &seen {
        assert_eq!(secrets.len(), 1, "{secrets:?}");
        assert_eq!(secrets[0].id, valid[0].id);
        assert_eq!(secrets[0].secret, valid[0].secret);
    }
    // No other secret was stored and expired behind the callers' backs.
    let far_past = now - chrono::Duration::days(3650);
    assert_eq!(stored.valid(&tenant, far_past).await.unwrap().len(), 1);
    // Another tenant gets its own.
    let other = Tenant::parse("team-b").unwrap();
    let theirs = replica(&store).secrets(&other).await.unwrap();
    assert_ne!(theirs[0].secret, valid[0].secret);
}

async fn racing_rotations_each_leave_one_current_secret(store: Store) {
    let tenant = Tenant::parse("team-a").unwrap();
    let first = replica(&store).secrets(&tenant).await.unwrap();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let service = replica(&store);
            let tenant = tenant.clone();
            tokio::spawn(async move {
                service
                    .rotate(&tenant, chrono::Duration::hours(1))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut rotated = Vec::new();
    for task in tasks {
        rotated.push(task.await.unwrap());
    }
    let valid = SeaOrmSigningStore::new(store.db.clone())
        .valid(&tenant, chrono::Utc::now())
        .await
        .unwrap();
    // The first and every rotated secret overlap for the hour; one alone is current.
    assert_eq!(valid.len(), 7, "{valid:?}");
    let current: Vec<_> = valid.iter().filter(|s| s.expires_at.is_none()).collect();
    assert_eq!(current.len(), 1, "{valid:?}");
    assert_eq!(current[0].id, valid[0].id, "the newest is current");
    assert!(valid.iter().any(|s| s.id == first[0].id));
    assert!(rotated.iter().all(|r| valid.iter().any(|s| s.id == r.id)));
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
    setups: { sqlite => Store::sqlite, postgres => Store::postgres },
    tests: [
        first_uses_racing_make_one_secret,
        racing_rotations_each_leave_one_current_secret,
    ],
}
