//! The `JobCache` contract, run against every cache adapter.

use std::time::Duration;

use chrono::{DateTime, Utc};
use scheduler_adapters::InMemoryJobCache;
use scheduler_core::{CacheLookup, Job, JobCache, JobDraft, JobId, JobPage, JobQuery};

fn job(id: i64, description: &str) -> Job {
    let now: DateTime<Utc> = "2025-06-23T08:00:00Z".parse().unwrap();
    let spec = JobDraft {
        name: Some(format!("job-{id}")),
        cron_expression: Some("*/5 * * * *".into()),
        description: Some(description.into()),
        ..JobDraft::default()
    }
    .validate(now)
    .unwrap();
    Job {
        id: JobId(id),
        next_run: spec.next_run(now),
        spec,
        last_run: None,
        created_at: now,
        updated_at: now,
    }
}

fn ticket<T: std::fmt::Debug>(lookup: CacheLookup<T>) -> scheduler_core::CacheTicket {
    match lookup {
        CacheLookup::Miss(ticket) => ticket,
        CacheLookup::Hit(value) => panic!("expected a miss, got {value:?}"),
    }
}

async fn a_stored_job_is_a_hit(cache: &dyn JobCache) {
    let t = ticket(cache.get_job(JobId(1)).await);
    cache.put_job(&job(1, "v1"), t).await;
    assert_eq!(
        cache.get_job(JobId(1)).await,
        CacheLookup::Hit(job(1, "v1"))
    );
}

async fn a_put_after_invalidation_is_dropped(cache: &dyn JobCache) {
    let t = ticket(cache.get_job(JobId(2)).await);
    // A writer changes the job while the reader is still at the database.
    cache.invalidate_job(JobId(2)).await;
    cache.put_job(&job(2, "stale"), t).await;
    let fresh = ticket(cache.get_job(JobId(2)).await);
    cache.put_job(&job(2, "fresh"), fresh).await;
    assert_eq!(
        cache.get_job(JobId(2)).await,
        CacheLookup::Hit(job(2, "fresh"))
    );
}

async fn invalidating_a_job_drops_it_and_every_list(cache: &dyn JobCache) {
    let q = JobQuery::default();
    let page = JobPage {
        total: 1,
        items: vec![job(3, "v1")],
    };
    let t = ticket(cache.get_list(&q).await);
    cache.put_list(&q, &page, t).await;
    assert_eq!(cache.get_list(&q).await, CacheLookup::Hit(page.clone()));
    let t = ticket(cache.get_job(JobId(3)).await);
    cache.put_job(&job(3, "v1"), t).await;

    cache.invalidate_job(JobId(3)).await;
    ticket(cache.get_job(JobId(3)).await);
    ticket(cache.get_list(&q).await);
    // A list read that started before the invalidation cannot store its stale page.
    cache.put_list(&q, &page, t).await;
    ticket(cache.get_list(&q).await);
}

async fn different_queries_are_different_pages(cache: &dyn JobCache) {
    let q1 = JobQuery::default();
    let q2 = JobQuery::new(Some(2), Some(10), Some(true), Some("-name")).unwrap();
    let t = ticket(cache.get_list(&q1).await);
    cache
        .put_list(
            &q1,
            &JobPage {
                total: 5,
                items: vec![],
            },
            t,
        )
        .await;
    ticket(cache.get_list(&q2).await);
}

async fn invalidate_all_drops_everything(cache: &dyn JobCache) {
    let t = ticket(cache.get_job(JobId(4)).await);
    cache.put_job(&job(4, "v1"), t).await;
    cache.invalidate_all().await;
    ticket(cache.get_job(JobId(4)).await);
}

macro_rules! contract {
    ($module:ident, $setup:expr, [$($test:ident),* $(,)?]) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test]
                async fn $test() {
                    let Some(cache) = $setup.await else { return };
                    super::$test(&*cache).await;
                }
            )*
        }
    };
}

async fn memory() -> Option<Box<dyn JobCache>> {
    Some(Box::new(InMemoryJobCache::new(
        1_000,
        Duration::from_secs(60),
    )))
}

contract!(
    memory,
    memory(),
    [
        a_stored_job_is_a_hit,
        a_put_after_invalidation_is_dropped,
        invalidating_a_job_drops_it_and_every_list,
        different_queries_are_different_pages,
        invalidate_all_drops_everything,
    ]
);

#[tokio::test]
async fn memory_entries_expire_after_their_ttl() {
    let cache = InMemoryJobCache::new(10, Duration::from_millis(50));
    let t = ticket(cache.get_job(JobId(1)).await);
    cache.put_job(&job(1, "v1"), t).await;
    assert!(matches!(cache.get_job(JobId(1)).await, CacheLookup::Hit(_)));
    tokio::time::sleep(Duration::from_millis(120)).await;
    ticket(cache.get_job(JobId(1)).await);
    assert_eq!(cache.counters().snapshot(), (1, 2));
}
