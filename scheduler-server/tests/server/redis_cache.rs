//! The shared Redis cache seen from the API: hits, invalidation on every write, replicas that
//! never serve each other stale data, and a Redis outage that fails no request.

use std::time::Duration;

use crate::support::{TestApp, replica};
use scheduler_test_support::{TcpProxy, TestPostgres, TestRedis};
use serde_json::{Value, json};

/// PostgreSQL and Redis for a test, or `None` (skip).
async fn services() -> Option<(TestPostgres, TestRedis)> {
    let pg = scheduler_test_support::postgres().await?;
    let redis = scheduler_test_support::redis().await?;
    Some((pg, redis))
}

async fn body_text(app: &TestApp, path: &str) -> (u16, String) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn metric(app: &TestApp, name: &str) -> u64 {
    let (_, text) = body_text(app, "/metrics").await;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing in {text}"))
}

#[tokio::test]
async fn a_second_read_is_a_hit_and_byte_for_byte_the_database_answer() {
    let Some((pg, redis)) = services().await else {
        return;
    };
    let app = replica(&pg.url, &redis.url, &redis.prefix).await;
    let created: Value = app
        .post_job(&json!({"name": "cached", "cron_expression": "0 9 * * 1", "parameters": {"ü": [1, {"x": null}]}}))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/scheduler/jobs/{}/", created["id"]);
    let hits_before = metric(&app, "scheduler_cache_hits_total").await;
    let (status, from_database) = body_text(&app, &path).await;
    assert_eq!(status, 200);
    let (_, from_cache) = body_text(&app, &path).await;
    assert_eq!(from_cache, from_database);
    assert_eq!(
        metric(&app, "scheduler_cache_hits_total").await,
        hits_before + 1
    );
    assert!(metric(&app, "scheduler_cache_misses_total").await >= 1);

    let (_, list_db) = body_text(&app, "/scheduler/jobs/?ordering=-id").await;
    let (_, list_cache) = body_text(&app, "/scheduler/jobs/?ordering=-id").await;
    assert_eq!(list_cache, list_db);
    assert_eq!(
        metric(&app, "scheduler_cache_hits_total").await,
        hits_before + 2
    );
    let (_, ready) = app.get_json("/ready").await;
    assert_eq!(ready["cache"], "ok");
}

/// GETs `path` on `app` until `seen` holds for the answer: at once (the first read) when
/// `at_once`, otherwise within one notice delay (bounded here by 1 s); once seen, the old
/// value never comes back.
async fn sees(app: &TestApp, path: &str, at_once: bool, seen: impl Fn(&(u16, Value)) -> bool) {
    let started = std::time::Instant::now();
    loop {
        let answer = app.get_json(path).await;
        if seen(&answer) {
            break;
        }
        assert!(
            !at_once && started.elapsed() < Duration::from_secs(1),
            "{path}: still {answer:?} after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for _ in 0..5 {
        let answer = app.get_json(path).await;
        assert!(seen(&answer), "{path}: went back to {answer:?}");
    }
}

/// Replica B never serves what replica A changed: with Redis alone, B's next read sees it;
/// with the local tier, B's reads see it within one notice delay and never go back.
async fn replicas_never_serve_each_others_stale_data(local_cache: bool) {
    let Some((pg, redis)) = services().await else {
        return;
    };
    let start = |_: ()| {
        let mut config = crate::support::test_config(&pg.url);
        config.redis_url = Some(redis.url.clone());
        config.redis_prefix = redis.prefix.clone();
        config.local_cache = local_cache;
        crate::support::spawn(config)
    };
    let a = start(()).await;
    let b = start(()).await;
    let at_once = !local_cache;
    let created: Value = a
        .post_job(&json!({"name": "shared", "cron_expression": "@daily"}))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/scheduler/jobs/{}/", created["id"]);
    // B caches the job and the list page.
    for _ in 0..2 {
        assert_eq!(b.get_json(&path).await.1["description"], "");
        assert_eq!(b.get_json("/scheduler/jobs/").await.1["count"], 1);
    }
    // A writes; B must see it.
    let response = a
        .client
        .patch(a.url(&path))
        .json(&json!({"description": "changed on A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    sees(&b, &path, at_once, |(_, job)| {
        job["description"] == "changed on A"
    })
    .await;
    sees(&b, "/scheduler/jobs/", at_once, |(_, page)| {
        page["results"][0]["description"] == "changed on A"
    })
    .await;

    a.post_job(&json!({"name": "second", "cron_expression": "@daily"}))
        .await;
    sees(&b, "/scheduler/jobs/", at_once, |(_, page)| {
        page["count"] == 2
    })
    .await;

    let paused = a
        .client
        .post(a.url(&format!("{path}pause/")))
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), 200);
    sees(&b, &path, at_once, |(_, job)| job["is_active"] == false).await;

    let deleted = a.client.delete(a.url(&path)).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    sees(&b, &path, at_once, |answer| {
        answer == &(404, json!({"error": "Job not found"}))
    })
    .await;
    sees(&b, "/scheduler/jobs/", at_once, |(_, page)| {
        page["count"] == 1
    })
    .await;
}

#[tokio::test]
async fn replicas_sharing_redis_never_serve_each_others_stale_data() {
    replicas_never_serve_each_others_stale_data(false).await;
}

#[tokio::test]
async fn replicas_with_local_tiers_see_each_others_writes_within_a_notice() {
    replicas_never_serve_each_others_stale_data(true).await;
}

/// Replica B's local tier with its Redis connection cut: from the cut on, B never serves a
/// job that replica A changed, and takes its local tier back when Redis returns.
#[tokio::test]
async fn a_replica_cut_from_redis_never_serves_its_local_copies() {
    let Some((pg, redis)) = services().await else {
        return;
    };
    let proxy = TcpProxy::start(scheduler_test_support::redis_host_port(&redis.url)).await;
    let a = replica(&pg.url, &redis.url, &redis.prefix).await;
    let b = replica(&pg.url, &format!("redis://{}", proxy.addr), &redis.prefix).await;
    let created: Value = a
        .post_job(&json!({"name": "cut", "cron_expression": "@daily"}))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/scheduler/jobs/{}/", created["id"]);
    for _ in 0..3 {
        assert_eq!(b.get_json(&path).await.1["description"], "");
    }
    proxy.set_down(true);
    // Give B's subscriber its turn to see the closed connection (it is on this runtime).
    tokio::time::sleep(Duration::from_millis(20)).await;
    let response = a
        .client
        .patch(a.url(&path))
        .json(&json!({"description": "changed while B was cut off"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for _ in 0..50 {
        let (status, job) = b.get_json(&path).await;
        assert_eq!(
            (status, job["description"].as_str()),
            (200, Some("changed while B was cut off"))
        );
    }
    proxy.set_down(false);
    for _ in 0..100 {
        let (_, job) = b.get_json(&path).await;
        assert_eq!(job["description"], "changed while B was cut off");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(b.get_json("/ready").await.1["cache"], "ok");
}

#[tokio::test]
async fn a_redis_outage_fails_no_request_and_recovers_without_restart() {
    let Some((pg, redis)) = services().await else {
        return;
    };
    let proxy = TcpProxy::start(scheduler_test_support::redis_host_port(&redis.url)).await;
    let app = replica(&pg.url, &format!("redis://{}", proxy.addr), &redis.prefix).await;
    let created: Value = app
        .post_job(&json!({"name": "outage", "cron_expression": "@hourly"}))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/scheduler/jobs/{}/", created["id"]);
    let mut failures = 0;
    let mut served = 0;
    for round in 0..300 {
        if round == 100 {
            proxy.set_down(true);
        }
        if round == 150 {
            // A write while Redis is unreachable must not be hidden by the cache later.
            let response = app
                .client
                .patch(app.url(&path))
                .json(&json!({"description": "written during the outage"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
        if round == 200 {
            proxy.set_down(false);
        }
        let (status, body) = app.get_json(&path).await;
        if status == 200 {
            served += 1;
            if round >= 150 {
                assert_eq!(
                    body["description"], "written during the outage",
                    "round {round}"
                );
            }
        } else {
            failures += 1;
        }
        if round == 120 {
            let (status, ready) = app.get_json("/ready").await;
            assert_eq!((status, ready["cache"].as_str()), (200, Some("degraded")));
        }
    }
    assert_eq!((served, failures), (300, 0));
    let mut recovered = false;
    for _ in 0..50 {
        if app.get_json("/ready").await.1["cache"] == "ok" {
            recovered = true;
            break;
        }
        app.get_json(&path).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recovered, "the cache did not recover");
}

#[tokio::test]
async fn a_dispatcher_fire_invalidates_the_cached_job() {
    let Some((pg, redis)) = services().await else {
        return;
    };
    let mut config = crate::support::test_config(&pg.url);
    config.dispatcher = "on".into();
    config.redis_url = Some(redis.url.clone());
    config.redis_prefix = redis.prefix.clone();
    config.poll_interval_ms = 50;
    let app = crate::support::spawn(config).await;
    let created: Value = app
        .post_job(&json!({"name": "fires", "cron_expression": "0 0 1 1 *", "start_time": "2020-01-01T00:00:00Z"}))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/scheduler/jobs/{}/", created["id"]);
    // Cached with last_run null.
    for _ in 0..2 {
        assert_eq!(app.get_json(&path).await.1["last_run"], Value::Null);
    }
    // Make it due behind the cache's back; only the dispatcher's invalidation can refresh it.
    let db = sea_orm::Database::connect(pg.url.clone()).await.unwrap();
    use sea_orm::ConnectionTrait;
    db.execute_unprepared(&format!(
        "UPDATE jobs SET next_run = now() - interval '1 second' WHERE id = {}",
        created["id"]
    ))
    .await
    .unwrap();
    let mut fired = Value::Null;
    for _ in 0..100 {
        let (_, job) = app.get_json(&path).await;
        if !job["last_run"].is_null() {
            fired = job;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!fired.is_null(), "the cached job never showed the fire");
    assert_eq!(
        fired["next_run"], created["next_run"],
        "next_run advanced to the next yearly fire"
    );
}
