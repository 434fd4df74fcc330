//! The dispatch benchmark, side by side on one PostgreSQL database (`bash bench/dispatch.sh`
//! runs it): the project's dispatch with a no-op handler (1 and 2 replicas, 10,000 and
//! 100,000 fires due at one instant), the same claim protocol as plain SQL through pgbench
//! (the limit this database allows on this machine), HTTP deliveries to a local receiver
//! answering after a delay, dispatch while a 1M-row history is pruned, and pruning by delete
//! against dropping a partition. Scenarios run in rounds, interleaved, so each ratio to the
//! SQL limit compares runs made minutes apart on the same machine; the summary gives the
//! median and the spread over rounds.
//!
//! Settings (environment): `BENCH_DATABASE_URL` (a PostgreSQL server URL; default
//! `postgres://postgres@127.0.0.1:5432/postgres`; the bench creates and drops
//! `bench_dispatch_<pid>` on it), `DISPATCH_ROUNDS` (3), `DISPATCH_SCENARIOS` (comma-separated,
//! see [`Scenario::parse`]; default [`DEFAULT_SCENARIOS`]), `DISPATCH_HTTP_DELAY_MS` (200),
//! `DISPATCH_PARTITION_ROWS` (1,000,000; 0 skips that experiment), `PGBENCH` (the pgbench
//! binary).

// Benchmark setup: failing fast on a broken setup is the point, and its numbers are small.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss
)]
#![allow(missing_docs)]

// The system allocator, not the server's mimalloc: each scenario starts its replicas in fresh
// threads, and mimalloc backs a fresh thread's arena with transparent huge pages (Debian's
// THP `madvise` mode), zeroing 2 MiB on first touch — 55% of the dispatchers' CPU here
// (perf), a cost a long-running server pays once, not per burst of fires.
mod db;
mod receiver;
mod scenarios;
mod stats;

use std::time::Duration;

use db::BenchDb;
use receiver::Receiver;
use stats::Figures;

/// What runs when `DISPATCH_SCENARIOS` is unset.
const DEFAULT_SCENARIOS: &str = "sql:10000:4:100,sql:10000:4:500,ours:10000:1,ours:10000:2,\
     sql:100000:4:500,ours:100000:2,tenants:100000:10:2,http:10000:2,prune:10000:2:1000000";

/// One scenario of a round.
#[derive(Debug, Clone)]
enum Scenario {
    /// `sql:<jobs>:<clients>:<batch>`: the claim protocol through pgbench.
    Sql {
        jobs: usize,
        clients: usize,
        batch: usize,
    },
    /// `ours:<jobs>:<replicas>`: the dispatcher, no-op handler.
    Ours { jobs: usize, replicas: usize },
    /// `http:<jobs>:<replicas>`: deliveries to the slow receiver.
    Http { jobs: usize, replicas: usize },
    /// `tenants:<big>:<small>:<replicas>`: fairness — the small tenant's lateness while the
    /// big one's burst drains (all due at one instant).
    Tenants {
        big: usize,
        small: usize,
        replicas: usize,
    },
    /// `prune:<jobs>:<replicas>:<history rows>`: dispatch during a large prune.
    Prune {
        jobs: usize,
        replicas: usize,
        history: usize,
    },
}

impl Scenario {
    /// Reads `kind:n:m[:k]`.
    fn parse(text: &str) -> Option<Scenario> {
        let parts: Vec<&str> = text.trim().split(':').collect();
        let n = |i: usize| parts.get(i).and_then(|p| p.parse::<usize>().ok());
        match *parts.first()? {
            "sql" => Some(Scenario::Sql {
                jobs: n(1)?,
                clients: n(2).unwrap_or(4),
                batch: n(3).unwrap_or(100),
            }),
            "ours" => Some(Scenario::Ours {
                jobs: n(1)?,
                replicas: n(2).unwrap_or(1),
            }),
            "http" => Some(Scenario::Http {
                jobs: n(1)?,
                replicas: n(2).unwrap_or(2),
            }),
            "tenants" => Some(Scenario::Tenants {
                big: n(1)?,
                small: n(2).unwrap_or(10),
                replicas: n(3).unwrap_or(2),
            }),
            "prune" => Some(Scenario::Prune {
                jobs: n(1)?,
                replicas: n(2).unwrap_or(2),
                history: n(3).unwrap_or(1_000_000),
            }),
            _ => None,
        }
    }

    /// How many fires are due at once.
    fn jobs(&self) -> usize {
        match self {
            Scenario::Sql { jobs, .. }
            | Scenario::Ours { jobs, .. }
            | Scenario::Http { jobs, .. }
            | Scenario::Prune { jobs, .. } => *jobs,
            Scenario::Tenants { big, small, .. } => big + small,
        }
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn main() {
    let server = env_or(
        "BENCH_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let rounds: usize = env_or("DISPATCH_ROUNDS", "3").parse().unwrap_or(3);
    let scenarios: Vec<Scenario> = env_or("DISPATCH_SCENARIOS", DEFAULT_SCENARIOS)
        .split(',')
        .map(|s| Scenario::parse(s).unwrap_or_else(|| panic!("unknown scenario {s:?}")))
        .collect();
    let delay = Duration::from_millis(
        env_or("DISPATCH_HTTP_DELAY_MS", "200")
            .parse()
            .unwrap_or(200),
    );
    let partition_rows: usize = env_or("DISPATCH_PARTITION_ROWS", "1000000")
        .parse()
        .unwrap_or(1_000_000);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/dispatch_claim.sql");

    let main_runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = main_runtime.block_on(BenchDb::create(&server));
    let receiver = Receiver::start(delay);
    println!(
        "dispatch benchmark: {rounds} round(s) of {} scenario(s) on {}; HTTP receiver delay {} ms",
        scenarios.len(),
        db.url,
        delay.as_millis()
    );
    println!("{}", stats::header());
    let mut results: Vec<(usize, Figures, Option<f64>)> = Vec::new();
    for round in 1..=rounds {
        let mut limits: Vec<(usize, f64)> = Vec::new();
        let mut pending: Vec<(Scenario, Figures)> = Vec::new();
        for scenario in &scenarios {
            let figures = match scenario.clone() {
                Scenario::Sql {
                    jobs,
                    clients,
                    batch,
                } => scenarios::sql(&main_runtime, &db, script, jobs, clients, batch),
                Scenario::Ours { jobs, replicas } => {
                    scenarios::ours(&main_runtime, &db, jobs, replicas)
                }
                Scenario::Http { jobs, replicas } => {
                    scenarios::http(&main_runtime, &db, &receiver, jobs, replicas)
                }
                Scenario::Prune {
                    jobs,
                    replicas,
                    history,
                } => scenarios::during_prune(&main_runtime, &db, jobs, replicas, history),
                Scenario::Tenants {
                    big,
                    small,
                    replicas,
                } => scenarios::tenants(&main_runtime, &db, big, small, replicas),
            };
            // Shown at once (ratios follow at the end of the round, when every limit is known).
            eprintln!("{}", stats::row(round, &figures, None));
            if let Scenario::Sql { jobs, .. } = scenario {
                limits.push((*jobs, figures.fires_per_s));
            }
            pending.push((scenario.clone(), figures));
        }
        // The limit of a round: the best plain-SQL rate at the same number of fires (or the
        // nearest measured).
        let limit_for = |jobs: usize| -> Option<f64> {
            let same: Vec<f64> = limits
                .iter()
                .filter(|(n, _)| *n == jobs)
                .map(|(_, rate)| *rate)
                .collect();
            if !same.is_empty() {
                return same.into_iter().reduce(f64::max);
            }
            let nearest = limits.iter().min_by_key(|(n, _)| n.abs_diff(jobs))?.0;
            limits
                .iter()
                .filter(|(n, _)| *n == nearest)
                .map(|(_, rate)| *rate)
                .reduce(f64::max)
        };
        for (scenario, figures) in pending {
            let ratio = match scenario {
                // The small tenant's few fires are not a rate to compare.
                Scenario::Sql { .. } | Scenario::Tenants { .. } => None,
                _ => limit_for(scenario.jobs()).map(|limit| figures.fires_per_s / limit),
            };
            println!("{}", stats::row(round, &figures, ratio));
            results.push((round, figures, ratio));
        }
    }
    println!(
        "\nsummary over {rounds} round(s) (\"of limit\": fires/s divided by the best plain-SQL rate of the same round at the same number of fires)"
    );
    print!("{}", stats::summary(&results));
    if partition_rows > 0 {
        println!(
            "\npartitions: {}",
            scenarios::partitions(&main_runtime, &db, partition_rows)
        );
    }
    receiver.stop();
    main_runtime.block_on(db.drop_database());
}
