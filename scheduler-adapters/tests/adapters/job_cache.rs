//! The `JobCache` contract, run against every cache adapter.

use std::time::Duration;

use chrono::{DateTime, Utc};
use scheduler_adapters::{
    InMemoryJobCache, LocalTierConfig, RedisCacheConfig, RedisJobCache, TieredJobCache,
};
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
        next_run: spec.next_run(now, 0),
        next_fire: None,
        spec,
        last_run: None,
        last_status: None,
        last_error: None,
        fire_count: 0,
        pause: None,
        failure_streak: 0,
        created_at: now,
        updated_at: now,
        tenant: scheduler_core::Tenant::default_tenant(),
        created_by: None,
        updated_by: None,
    }
}

fn ticket<T: std::fmt::Debug>(lookup: CacheLookup<T>) -> scheduler_core::CacheTicket {
    match lookup {
        CacheLookup::Miss(ticket) => ticket,
        CacheLookup::Hit(value) => panic!("expected a miss, got {value:?}"),
    }
}

async fn a_stored_job_is_a_hit(cache: Box<dyn JobCache>) {
    let t = ticket(cache.get_job(JobId(1)).await);
    cache.put_job(&job(1, "v1"), t).await;
    assert_eq!(
        cache.get_job(JobId(1)).await,
        CacheLookup::Hit(job(1, "v1"))
    );
}

async fn a_put_after_invalidation_is_dropped(cache: Box<dyn JobCache>) {
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

async fn invalidating_a_job_drops_it_and_every_list(cache: Box<dyn JobCache>) {
    let q = JobQuery::default().slice_for(None, None);
    let page = JobPage {
        total: Some(1),
        items: vec![job(3, "v1")],
        more: false,
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

async fn different_queries_are_different_pages(cache: Box<dyn JobCache>) {
    let q1 = JobQuery::default().slice_for(None, None);
    let q2 = JobQuery::new(Some(2), Some(10), Some(true), Some("-name"))
        .unwrap()
        .slice_for(None, None);
    let t = ticket(cache.get_list(&q1).await);
    cache.put_list(&q1, &JobPage::empty(Some(5)), t).await;
    ticket(cache.get_list(&q2).await);
    // The same page of another tenant, or a cursor page, is another page too.
    let tenant = scheduler_core::Tenant::parse("team-b").unwrap();
    ticket(
        cache
            .get_list(&JobQuery::default().slice_for(Some(tenant), None))
            .await,
    );
    let cursor = scheduler_core::JobListRequest {
        cursor: Some(String::new()),
        ..Default::default()
    }
    .validate()
    .unwrap()
    .slice_for(None, None);
    ticket(cache.get_list(&cursor).await);
}

async fn invalidating_many_jobs_drops_each(cache: Box<dyn JobCache>) {
    for id in [4, 5, 6] {
        let t = ticket(cache.get_job(JobId(id)).await);
        cache.put_job(&job(id, "v1"), t).await;
    }
    cache.invalidate_jobs(&[JobId(4), JobId(6)]).await;
    ticket(cache.get_job(JobId(4)).await);
    assert_eq!(
        cache.get_job(JobId(5)).await,
        CacheLookup::Hit(job(5, "v1"))
    );
    ticket(cache.get_job(JobId(6)).await);
}

async fn memory() -> Option<Box<dyn JobCache>> {
    Some(Box::new(InMemoryJobCache::new(
        1_000,
        Duration::from_secs(60),
    )))
}

async fn redis_cache() -> Option<Box<dyn JobCache>> {
    let server = scheduler_test_support::redis().await?;
    let mut config = RedisCacheConfig::new(&server.url);
    config.prefix = server.prefix.clone();
    Some(Box::new(RedisJobCache::new(config).await.unwrap()))
}

async fn tiered() -> Option<Box<dyn JobCache>> {
    let server = scheduler_test_support::redis().await?;
    let mut config = RedisCacheConfig::new(&server.url);
    config.prefix = server.prefix.clone();
    let cache = TieredJobCache::new(config, LocalTierConfig::new())
        .await
        .unwrap();
    assert!(
        cache.local_tier_live(),
        "no subscription to a healthy Redis"
    );
    Some(Box::new(cache))
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { memory => memory, redis => redis_cache, tiered => tiered },
    tests: [
        a_stored_job_is_a_hit,
        a_put_after_invalidation_is_dropped,
        invalidating_a_job_drops_it_and_every_list,
        different_queries_are_different_pages,
        invalidating_many_jobs_drops_each,
    ],
}

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

#[tokio::test]
async fn redis_outage_degrades_to_misses_and_recovers_without_restart() {
    let Some(server) = scheduler_test_support::redis().await else {
        return;
    };
    let target = scheduler_test_support::redis_host_port(&server.url);
    let proxy = scheduler_test_support::TcpProxy::start(target).await;
    let mut config = RedisCacheConfig::new(format!("redis://{}", proxy.addr));
    config.prefix = server.prefix.clone();
    let cache = RedisJobCache::new(config).await.unwrap();
    let t = ticket(cache.get_job(JobId(1)).await);
    cache.put_job(&job(1, "v1"), t).await;
    assert_eq!(
        cache.get_job(JobId(1)).await,
        CacheLookup::Hit(job(1, "v1"))
    );
    assert_eq!(cache.report().status, scheduler_core::CacheStatus::Ok);

    proxy.set_down(true);
    // A write during the outage cannot reach Redis; it must still win once Redis is back.
    let started = std::time::Instant::now();
    cache.invalidate_job(JobId(1)).await;
    for _ in 0..20 {
        ticket(cache.get_job(JobId(1)).await);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "outage calls must be fast"
    );
    assert_eq!(cache.report().status, scheduler_core::CacheStatus::Degraded);

    proxy.set_down(false);
    let mut recovered = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        match cache.get_job(JobId(1)).await {
            CacheLookup::Miss(t) if t.generation != u64::MAX => {
                recovered = true;
                break;
            }
            CacheLookup::Hit(stale) => {
                panic!("served a value invalidated during the outage: {stale:?}")
            }
            CacheLookup::Miss(_) => {}
        }
    }
    assert!(recovered, "the cache did not reconnect");
    assert_eq!(cache.report().status, scheduler_core::CacheStatus::Ok);
}

/// Redis black-holed (connections accepted, nothing answered): after the breaker's threshold of
/// timeouts, reads skip Redis at once instead of each waiting out the timeout; once Redis answers
/// again the background probe closes the breaker and hits come back, and nothing invalidated
/// during the outage is served.
#[tokio::test]
async fn a_black_holed_redis_opens_the_breaker_and_reads_stop_waiting() {
    let Some(server) = scheduler_test_support::redis().await else {
        return;
    };
    let target = scheduler_test_support::redis_host_port(&server.url);
    let proxy = scheduler_test_support::TcpProxy::start(target).await;
    let mut config = RedisCacheConfig::new(format!("redis://{}", proxy.addr));
    config.prefix = server.prefix.clone();
    config.timeout = Duration::from_millis(100);
    config.breaker_failures = 3;
    config.probe_interval = Duration::from_millis(100);
    let cache = RedisJobCache::new(config).await.unwrap();
    let t = ticket(cache.get_job(JobId(7)).await);
    cache.put_job(&job(7, "before"), t).await;
    assert!(matches!(cache.get_job(JobId(7)).await, CacheLookup::Hit(_)));

    proxy.set_mode(scheduler_test_support::ProxyMode::BlackHole);
    // The threshold: these wait out the timeout and open the breaker.
    for _ in 0..3 {
        ticket(cache.get_job(JobId(7)).await);
    }
    assert_eq!(cache.report().status, scheduler_core::CacheStatus::Degraded);
    // Open: 100 reads that each waited the 100 ms timeout would take 10 s.
    let started = std::time::Instant::now();
    for _ in 0..100 {
        ticket(cache.get_job(JobId(7)).await);
    }
    let open_reads = started.elapsed();
    assert!(
        open_reads < Duration::from_secs(2),
        "100 reads took {open_reads:?} with the breaker open"
    );
    // A write during the outage must still win once Redis is back.
    cache.invalidate_job(JobId(7)).await;

    proxy.set_mode(scheduler_test_support::ProxyMode::Up);
    let mut hit_again = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        match cache.get_job(JobId(7)).await {
            CacheLookup::Hit(stale) => {
                panic!("served a value invalidated during the outage: {stale:?}")
            }
            CacheLookup::Miss(t) if t.generation != u64::MAX => {
                cache.put_job(&job(7, "after"), t).await;
                if cache.get_job(JobId(7)).await == CacheLookup::Hit(job(7, "after")) {
                    hit_again = true;
                    break;
                }
            }
            CacheLookup::Miss(_) => {}
        }
    }
    assert!(hit_again, "hits did not come back after Redis answered");
    assert_eq!(cache.report().status, scheduler_core::CacheStatus::Ok);
}

/// A replica's local tier in front of the Redis at `url` (through a proxy, for some tests).
async fn replica(url: &str, prefix: &str) -> TieredJobCache {
    let mut config = RedisCacheConfig::new(url);
    config.prefix = prefix.to_string();
    config.timeout = Duration::from_millis(100);
    config.probe_interval = Duration::from_millis(100);
    TieredJobCache::new(config, LocalTierConfig::new())
        .await
        .unwrap()
}

/// Reads `id` until the local copy is gone (a miss, or a hit with `fresh`), up to 1 s;
/// returns how long it took.
async fn until_not_stale(cache: &TieredJobCache, id: JobId, stale: &Job) -> Duration {
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(1) {
        match cache.get_job(id).await {
            CacheLookup::Hit(job) if &job == stale => {}
            _ => return started.elapsed(),
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("still served the invalidated value after 1 s");
}

/// Replica B holds a job in its local tier; replica A invalidates it; B stops serving it as
/// soon as the notice arrives, and reads from its local tier cost no Redis call meanwhile.
#[tokio::test]
async fn a_write_on_one_replica_drops_the_local_copy_of_another() {
    let Some(server) = scheduler_test_support::redis().await else {
        return;
    };
    let a = replica(&server.url, &server.prefix).await;
    let b = replica(&server.url, &server.prefix).await;
    let t = ticket(b.get_job(JobId(1)).await);
    b.put_job(&job(1, "v1"), t).await;
    let shared_hits = b.shared().counters().snapshot().0;
    for _ in 0..10 {
        assert_eq!(b.get_job(JobId(1)).await, CacheLookup::Hit(job(1, "v1")));
    }
    assert_eq!(
        b.shared().counters().snapshot().0,
        shared_hits,
        "local hits must not ask Redis"
    );
    a.invalidate_job(JobId(1)).await;
    let took = until_not_stale(&b, JobId(1), &job(1, "v1")).await;
    assert!(took < Duration::from_millis(500), "{took:?}");
    // A read that raced the write cannot store the old value in B's local tier.
    let t = ticket(b.get_job(JobId(2)).await);
    a.invalidate_job(JobId(2)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    b.put_job(&job(2, "old"), t).await;
    ticket(b.get_job(JobId(2)).await);
}

/// Cut between replica B and Redis: B stops serving its local copies at once, never serves
/// one that another replica invalidated meanwhile, and takes the tier back (empty) when the
/// subscription returns.
#[tokio::test]
async fn a_lost_redis_connection_drops_the_local_tier_at_once() {
    let Some(server) = scheduler_test_support::redis().await else {
        return;
    };
    let target = scheduler_test_support::redis_host_port(&server.url);
    let proxy = scheduler_test_support::TcpProxy::start(target).await;
    let b = replica(&format!("redis://{}", proxy.addr), &server.prefix).await;
    let a = replica(&server.url, &server.prefix).await;
    let t = ticket(b.get_job(JobId(3)).await);
    b.put_job(&job(3, "v1"), t).await;
    assert_eq!(b.get_job(JobId(3)).await, CacheLookup::Hit(job(3, "v1")));

    proxy.set_down(true);
    let took = until_not_stale(&b, JobId(3), &job(3, "v1")).await;
    assert!(
        took < Duration::from_millis(100),
        "local tier kept for {took:?}"
    );
    assert!(!b.local_tier_live());
    // A writes while B is cut off; B must not serve its old copy at any time after.
    a.invalidate_job(JobId(3)).await;
    for _ in 0..20 {
        ticket(b.get_job(JobId(3)).await);
    }

    proxy.set_down(false);
    let mut back = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        match b.get_job(JobId(3)).await {
            CacheLookup::Hit(stale) => panic!("served {stale:?} after the cut"),
            CacheLookup::Miss(t) if b.local_tier_live() && t.generation != u64::MAX => {
                b.put_job(&job(3, "v2"), t).await;
                back = b.get_job(JobId(3)).await == CacheLookup::Hit(job(3, "v2"));
                if back {
                    break;
                }
            }
            CacheLookup::Miss(_) => {}
        }
    }
    assert!(back, "the local tier did not come back");
}

/// Redis black-holed for replica B: its pings go unanswered, and within the liveness (300 ms)
/// plus one heartbeat the local tier stops answering.
#[tokio::test]
async fn an_unanswered_ping_ends_the_local_tier_within_its_liveness() {
    let Some(server) = scheduler_test_support::redis().await else {
        return;
    };
    let target = scheduler_test_support::redis_host_port(&server.url);
    let proxy = scheduler_test_support::TcpProxy::start(target).await;
    let b = replica(&format!("redis://{}", proxy.addr), &server.prefix).await;
    let t = ticket(b.get_job(JobId(4)).await);
    b.put_job(&job(4, "v1"), t).await;
    assert_eq!(b.get_job(JobId(4)).await, CacheLookup::Hit(job(4, "v1")));
    proxy.set_mode(scheduler_test_support::ProxyMode::BlackHole);
    let started = std::time::Instant::now();
    while b.local_tier_live() {
        assert!(
            started.elapsed() < Duration::from_millis(1_000),
            "the local tier stayed live with Redis black-holed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        started.elapsed() <= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(!matches!(b.get_job(JobId(4)).await, CacheLookup::Hit(_)));
}
