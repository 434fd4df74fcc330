//! `RateLimiter`: the in-process GCRA, the budget shared by replicas through Redis, and a
//! Redis outage degrading to the in-process limit without failing or slowing requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use scheduler_adapters::{RateDecision, RateLimitConfig, RateLimiter};
use scheduler_test_support::{ProxyMode, TcpProxy};

const TEN_PER_SECOND_BURST_5: RateLimitConfig = RateLimitConfig {
    per_second: 10.0,
    burst: 5,
};

fn retry_after(decision: RateDecision) -> Duration {
    match decision {
        RateDecision::Limited { retry_after } => retry_after,
        RateDecision::Allowed => panic!("expected Limited, got Allowed"),
    }
}

/// Burst `config.burst` at once, then limited with a wait of about `1 / per_second`; after that
/// wait, one more is allowed (and only one).
async fn burst_then_one_per_interval(limiter: &RateLimiter, key: &str) {
    for i in 0..TEN_PER_SECOND_BURST_5.burst {
        assert_eq!(
            limiter.check(key).await,
            RateDecision::Allowed,
            "request {i} of the burst"
        );
    }
    let wait = retry_after(limiter.check(key).await);
    // T = 100 ms, minus the little time the burst took.
    assert!(
        wait > Duration::from_millis(50) && wait <= Duration::from_millis(100),
        "retry_after {wait:?}, expected about 100 ms"
    );
    // Limited requests do not push the wait further.
    let again = retry_after(limiter.check(key).await);
    assert!(again <= wait, "{again:?} > {wait:?}");

    tokio::time::sleep(again + Duration::from_millis(5)).await;
    assert_eq!(limiter.check(key).await, RateDecision::Allowed);
    let next = retry_after(limiter.check(key).await);
    assert!(next > Duration::from_millis(50), "{next:?}");
}

#[tokio::test]
async fn local_allows_the_burst_then_one_per_interval_per_key() {
    let limiter = RateLimiter::local(TEN_PER_SECOND_BURST_5);
    assert!(!limiter.is_degraded());
    burst_then_one_per_interval(&limiter, "key-a").await;
    // A clone is the same limiter (shares the state): key-a is still spent.
    assert!(matches!(
        limiter.clone().check("key-a").await,
        RateDecision::Limited { .. }
    ));
    // Another key has a budget of its own, untouched by key-a's.
    burst_then_one_per_interval(&limiter, "key-b").await;
}

#[tokio::test]
async fn redis_allows_the_burst_then_one_per_interval_per_key() {
    let Some(server) = scheduler_test_support::redis().await else {
        return;
    };
    let limiter = RateLimiter::redis(
        TEN_PER_SECOND_BURST_5,
        &server.url,
        &server.prefix,
        Duration::from_millis(200),
    )
    .await
    .unwrap();
    assert!(!limiter.is_degraded());
    burst_then_one_per_interval(&limiter, "key-a").await;
    burst_then_one_per_interval(&limiter, "key-b").await;
    assert!(
        !limiter.is_degraded(),
        "answered by the fallback, not Redis"
    );
}

/// Several tasks per replica call `check` on one key as fast as they can for `run_for`.
/// Returns (allowed per replica, checks, elapsed).
async fn hammer(replicas: &[RateLimiter], key: &str, run_for: Duration) -> (Vec<u64>, u64, f64) {
    const TASKS_PER_REPLICA: usize = 2;
    let checks = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + run_for;
    let mut tasks = Vec::new();
    for (index, replica) in replicas.iter().enumerate() {
        for _ in 0..TASKS_PER_REPLICA {
            let replica = replica.clone();
            let key = key.to_owned();
            let checks = Arc::clone(&checks);
            tasks.push((
                index,
                tokio::spawn(async move {
                    let mut allowed = 0u64;
                    while Instant::now() < deadline {
                        if replica.check(&key).await == RateDecision::Allowed {
                            allowed += 1;
                        }
                        checks.fetch_add(1, Ordering::Relaxed);
                        // Local checks never await: let the other tasks run.
                        tokio::task::yield_now().await;
                    }
                    allowed
                }),
            ));
        }
    }
    let mut allowed = vec![0u64; replicas.len()];
    for (index, task) in tasks {
        allowed[index] += task.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    (allowed, checks.load(Ordering::Relaxed), elapsed)
}

const FIFTY_PER_SECOND_BURST_10: RateLimitConfig = RateLimitConfig {
    per_second: 50.0,
    burst: 10,
};

/// Most a single GCRA budget may allow in `elapsed` seconds (+1 for rounding at the edges).
fn budget(config: RateLimitConfig, elapsed: f64) -> f64 {
    f64::from(config.burst) + config.per_second * elapsed + 1.0
}

/// The acceptance test: two replicas sharing one Redis, hammering one key concurrently, allow
/// together no more than one budget — and close to it (they are not starved either).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_through_redis_share_one_budget() {
    let Some(server) = scheduler_test_support::redis().await else {
        return;
    };
    let config = FIFTY_PER_SECOND_BURST_10;
    let timeout = Duration::from_millis(200);
    let replica_a = RateLimiter::redis(config, &server.url, &server.prefix, timeout)
        .await
        .unwrap();
    let replica_b = RateLimiter::redis(config, &server.url, &server.prefix, timeout)
        .await
        .unwrap();
    let replicas = [replica_a, replica_b];

    let (allowed, checks, elapsed) = hammer(&replicas, "api-key-7", Duration::from_secs(2)).await;
    let total: u64 = allowed.iter().sum();
    let most = budget(config, elapsed);
    let least = 0.8 * config.per_second * elapsed;
    eprintln!(
        "two replicas via Redis: {total} allowed ({allowed:?}) of {checks} checks in {elapsed:.3} s \
         ({:.0} checks/s, {:.0} µs per check in each of the 4 tasks); budget {most:.1}",
        checks as f64 / elapsed,
        elapsed * 1e6 / (checks as f64 / 4.0),
    );
    assert!(
        replicas.iter().all(|r| !r.is_degraded()),
        "a replica fell back to its own limit: the run does not test sharing"
    );
    assert!(
        (total as f64) <= most,
        "{total} allowed > budget {most:.1}: the replicas do not share one budget"
    );
    assert!(
        (total as f64) >= least,
        "{total} allowed < {least:.1}: the shared limiter starves the key"
    );
    assert!(
        allowed.iter().all(|&n| n > 0),
        "one replica got nothing: {allowed:?}"
    );
}

/// At a high rate each replica takes a lease of cells per Redis call (10 ms of the rate) and
/// spends it locally: the replicas still share one budget, give or take one lease each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leased_cells_keep_two_replicas_within_one_budget() {
    let Some(server) = scheduler_test_support::redis().await else {
        return;
    };
    // Lease: min(2000/s x 10 ms, 400 / 4) = 20 cells.
    let config = RateLimitConfig {
        per_second: 2000.0,
        burst: 400,
    };
    let timeout = Duration::from_millis(200);
    let replicas = [
        RateLimiter::redis(config, &server.url, &server.prefix, timeout)
            .await
            .unwrap(),
        RateLimiter::redis(config, &server.url, &server.prefix, timeout)
            .await
            .unwrap(),
    ];
    let (allowed, checks, elapsed) = hammer(&replicas, "api-key-9", Duration::from_secs(2)).await;
    let total: u64 = allowed.iter().sum();
    let most = budget(config, elapsed) + 2.0 * 20.0;
    let least = 0.8 * config.per_second * elapsed;
    eprintln!(
        "leases: {total} allowed ({allowed:?}) of {checks} checks in {elapsed:.3} s; budget {most:.1}"
    );
    assert!(replicas.iter().all(|r| !r.is_degraded()));
    assert!((total as f64) <= most, "{total} allowed > budget {most:.1}");
    assert!((total as f64) >= least, "{total} allowed < {least:.1}");
}

/// The control for the test above: two in-process limiters (what replicas without Redis
/// are) allow about twice the budget, so that test's bound does tell sharing from not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_local_limiters_each_allow_a_full_budget() {
    let config = FIFTY_PER_SECOND_BURST_10;
    let replicas = [RateLimiter::local(config), RateLimiter::local(config)];
    let (allowed, _, elapsed) = hammer(&replicas, "api-key-7", Duration::from_secs(1)).await;
    let total: u64 = allowed.iter().sum();
    let most = budget(config, elapsed);
    assert!(
        (total as f64) > 1.5 * most,
        "{total} allowed ({allowed:?}) in {elapsed:.3} s, one budget {most:.1}"
    );
    for n in allowed {
        assert!(
            (n as f64) <= most,
            "one local limiter exceeded its budget: {n}"
        );
    }
}

/// Nothing listens on the port: the constructor still succeeds, starts degraded, and every
/// check is answered at once by the in-process limit.
#[tokio::test]
async fn an_unreachable_redis_at_start_degrades_to_the_local_limit() {
    let timeout = Duration::from_millis(50);
    let started = Instant::now();
    let limiter = RateLimiter::redis(
        TEN_PER_SECOND_BURST_5,
        "redis://127.0.0.1:1",
        "rate-test:",
        timeout,
    )
    .await
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "building took {:?}",
        started.elapsed()
    );
    assert!(limiter.is_degraded());
    let started = Instant::now();
    burst_then_one_per_interval(&limiter, "key-a").await;
    // The burst and its checks, plus the one ~100 ms wait.
    assert!(
        started.elapsed() < Duration::from_millis(100) + 4 * timeout,
        "checks took {:?}: they waited for Redis",
        started.elapsed()
    );
    assert!(limiter.is_degraded());
}

/// A malformed URL or settings out of range are errors (not a silent local limiter).
#[tokio::test]
async fn a_malformed_url_or_bad_settings_are_errors() {
    let timeout = Duration::from_millis(50);
    assert!(
        RateLimiter::redis(TEN_PER_SECOND_BURST_5, "not a url", "p:", timeout)
            .await
            .is_err()
    );
    let no_burst = RateLimitConfig {
        per_second: 10.0,
        burst: 0,
    };
    assert!(
        RateLimiter::redis(no_burst, "redis://127.0.0.1:1", "p:", timeout)
            .await
            .is_err()
    );
}

/// Redis black-holed under a live limiter: the breaker's threshold of checks each wait at most
/// the timeout, then checks skip Redis at once; the in-process limit holds meanwhile; once
/// Redis answers again the probe closes the breaker and the budget is shared again.
#[tokio::test]
async fn a_redis_outage_degrades_to_the_local_limit_and_recovers() {
    let Some(server) = scheduler_test_support::redis().await else {
        return;
    };
    let timeout = Duration::from_millis(50);
    let proxy = TcpProxy::start(scheduler_test_support::redis_host_port(&server.url)).await;
    let limiter = RateLimiter::redis(
        TEN_PER_SECOND_BURST_5,
        &format!("redis://{}", proxy.addr),
        &server.prefix,
        timeout,
    )
    .await
    .unwrap();
    // Another replica, straight to Redis.
    let other = RateLimiter::redis(TEN_PER_SECOND_BURST_5, &server.url, &server.prefix, timeout)
        .await
        .unwrap();
    assert_eq!(limiter.check("warm-up").await, RateDecision::Allowed);
    assert!(!limiter.is_degraded());

    proxy.set_mode(ProxyMode::BlackHole);
    // The breaker's threshold (3): each waits out the timeout, then the local limit answers.
    for i in 0..3 {
        let started = Instant::now();
        assert_eq!(limiter.check("key-a").await, RateDecision::Allowed, "{i}");
        assert!(
            started.elapsed() < 4 * timeout,
            "check {i} took {:?}",
            started.elapsed()
        );
    }
    assert!(limiter.is_degraded());
    // Breaker open: no waiting at all, and the local budget (5, of which 3 spent) holds.
    let started = Instant::now();
    assert_eq!(limiter.check("key-a").await, RateDecision::Allowed);
    assert_eq!(limiter.check("key-a").await, RateDecision::Allowed);
    let mut limited = 0;
    for _ in 0..100 {
        if matches!(limiter.check("key-a").await, RateDecision::Limited { .. }) {
            limited += 1;
        }
    }
    let open_checks = started.elapsed();
    assert!(
        open_checks < timeout,
        "102 checks took {open_checks:?} with the breaker open"
    );
    assert!(
        limited >= 99,
        "local limit not enforced: {limited} of 100 limited"
    );

    proxy.set_mode(ProxyMode::Up);
    let mut recovered = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if !limiter.is_degraded() {
            recovered = true;
            break;
        }
    }
    assert!(recovered, "the breaker did not close after Redis answered");
    // Shared again: the other replica spends key-b's budget, and this one sees it spent.
    for _ in 0..TEN_PER_SECOND_BURST_5.burst {
        assert_eq!(other.check("key-b").await, RateDecision::Allowed);
    }
    assert!(matches!(
        limiter.check("key-b").await,
        RateDecision::Limited { .. }
    ));
    assert!(!limiter.is_degraded());
}
