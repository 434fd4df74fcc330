//! The channel store and the notification outbox on SQLite and PostgreSQL: channels are
//! unique per tenant; concurrent claimers (several pools, like replicas) take disjoint
//! notifications, each exactly once; an expired lease hands a notification back; settling
//! retries, delivers or fails it; retention deletes only settled ones.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use scheduler_adapters::{DatabaseConfig, SeaOrmChannelStore, SeaOrmOutbox, connect};
use scheduler_core::{
    AlertEvent, Channel, ChannelDraft, ChannelStore, Conflict, EventKind, JobId, NotificationQuery,
    NotificationStatus, Outbox, RepositoryError, RunFacts, Settlement, Tenant,
};

use crate::support::Store;

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
}

fn channel(tenant: &str, name: &str) -> Channel {
    let def = ChannelDraft {
        name: Some(name.into()),
        kind: Some("email".into()),
        to: Some(serde_json::json!(["ops@example.com"])),
        ..ChannelDraft::default()
    }
    .validate(None)
    .unwrap();
    Channel {
        id: 0,
        def,
        tenant: Tenant::parse(tenant).unwrap(),
        created_at: at(0),
        updated_at: at(0),
        created_by: Some("ops".into()),
        updated_by: Some("ops".into()),
    }
}

fn event(job: i64) -> AlertEvent {
    AlertEvent {
        event: EventKind::Failed,
        tenant: Tenant::default_tenant(),
        job_id: JobId(job),
        job_name: format!("job-{job}"),
        run: RunFacts::default(),
        count: 1,
        digest: false,
        at: at(0),
    }
}

async fn channels_are_unique_per_tenant_and_replaced_in_place(store: Store) {
    let channels = SeaOrmChannelStore::new(store.db.clone());
    let (first, created) = channels
        .save(channel("default", "ops"), false)
        .await
        .unwrap();
    assert!(created);
    assert_eq!(
        channels.save(channel("default", "ops"), false).await,
        Err(RepositoryError::Conflict(Conflict::ChannelName))
    );
    // Another tenant may use the name.
    channels.save(channel("acme", "ops"), false).await.unwrap();
    let mut changed = channel("default", "ops");
    changed.def.enabled = false;
    changed.updated_by = Some("other".into());
    let (replaced, created) = channels.save(changed, true).await.unwrap();
    assert!(!created);
    assert_eq!(replaced.id, first.id);
    assert_eq!(replaced.created_by.as_deref(), Some("ops"));
    assert!(!replaced.def.enabled);
    let listed = channels.list(&Tenant::default_tenant()).await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&replaced));
    channels
        .delete(&Tenant::default_tenant(), &replaced.def.name)
        .await
        .unwrap();
    assert_eq!(
        channels
            .delete(&Tenant::default_tenant(), &replaced.def.name)
            .await,
        Err(RepositoryError::NotFound)
    );
}

async fn concurrent_claimers_take_each_notification_once(store: Store) {
    let (stored, _) = SeaOrmChannelStore::new(store.db.clone())
        .save(channel("default", "ops"), false)
        .await
        .unwrap();
    let outbox = SeaOrmOutbox::new(store.db.clone());
    let mut made = HashSet::new();
    for job in 0..60 {
        made.insert(outbox.enqueue(&stored, &event(job), at(0)).await.unwrap());
    }
    // Four claimers on their own pools, as four replicas.
    let mut claimers = Vec::new();
    for _ in 0..4 {
        let db = connect(&DatabaseConfig::new(store.url())).await.unwrap();
        claimers.push(Arc::new(SeaOrmOutbox::new(db)));
    }
    let tasks = claimers.into_iter().map(|outbox| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..20 {
                for claimed in outbox
                    .claim(at(1), Duration::from_secs(60), 4)
                    .await
                    .unwrap()
                {
                    assert_eq!(claimed.notification.status, NotificationStatus::Sending);
                    assert_eq!(claimed.notification.attempts, 1);
                    assert_eq!(claimed.channel.as_ref().map(|c| c.id), Some(stored.id));
                    got.push(claimed.notification.id);
                }
            }
            got
        })
    });
    let mut taken = Vec::new();
    for task in tasks {
        taken.extend(task.await.unwrap());
    }
    let unique: HashSet<i64> = taken.iter().copied().collect();
    assert_eq!(
        taken.len(),
        unique.len(),
        "a notification was claimed twice"
    );
    assert_eq!(unique, made);
    // Within the lease nothing is claimable; after it, everything is again.
    assert!(
        outbox
            .claim(at(30), Duration::from_secs(60), 100)
            .await
            .unwrap()
            .is_empty()
    );
    let again = outbox
        .claim(at(62), Duration::from_secs(60), 100)
        .await
        .unwrap();
    assert_eq!(again.len(), 60);
    assert!(again.iter().all(|c| c.notification.attempts == 2));
}

async fn settling_retries_delivers_fails_and_retention_keeps_the_undelivered(store: Store) {
    let (stored, _) = SeaOrmChannelStore::new(store.db.clone())
        .save(channel("default", "ops"), false)
        .await
        .unwrap();
    let outbox = SeaOrmOutbox::new(store.db.clone());
    let mut ids = Vec::new();
    for job in 0..3 {
        ids.push(outbox.enqueue(&stored, &event(job), at(0)).await.unwrap());
    }
    assert_eq!(outbox.depth().await.unwrap().undelivered, 3);
    let claimed = outbox
        .claim(at(0), Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    outbox
        .settle(ids[0], &Settlement::Sent(at(1)))
        .await
        .unwrap();
    outbox
        .settle(ids[1], &Settlement::Retry(at(100), "HTTP 500".into()))
        .await
        .unwrap();
    outbox
        .settle(ids[2], &Settlement::Failed("gone".into()))
        .await
        .unwrap();
    // A settle of a notification no longer `sending` changes nothing.
    outbox
        .settle(ids[0], &Settlement::Failed("late".into()))
        .await
        .unwrap();
    let listed = outbox
        .list(&NotificationQuery {
            tenant: Tenant::default_tenant(),
            status: None,
            job_id: None,
            before_id: None,
            limit: 10,
        })
        .await
        .unwrap();
    let states: Vec<(i64, NotificationStatus, Option<&str>)> = listed
        .iter()
        .map(|n| (n.id, n.status, n.last_error.as_deref()))
        .collect();
    assert_eq!(
        states,
        [
            (ids[2], NotificationStatus::Failed, Some("gone")),
            (ids[1], NotificationStatus::Pending, Some("HTTP 500")),
            (ids[0], NotificationStatus::Sent, None),
        ]
    );
    assert_eq!(listed[2].sent_at, Some(at(1)));
    // The retry is due at its instant, not before.
    assert!(
        outbox
            .claim(at(99), Duration::from_secs(60), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        outbox
            .claim(at(100), Duration::from_secs(60), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(outbox.depth().await.unwrap().undelivered, 1);
    // Retention: the sent and the failed go, the one still being sent stays.
    assert_eq!(outbox.prune(at(1_000), 1).await.unwrap(), 1);
    assert_eq!(outbox.prune(at(1_000), 10).await.unwrap(), 1);
    assert_eq!(outbox.prune(at(1_000), 10).await.unwrap(), 0);
    assert_eq!(outbox.depth().await.unwrap().undelivered, 1);
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
    setups: { sqlite => Store::sqlite, postgres => Store::postgres },
    tests: [
        channels_are_unique_per_tenant_and_replaced_in_place,
        concurrent_claimers_take_each_notification_once,
        settling_retries_delivers_fails_and_retention_keeps_the_undelivered,
    ],
}
