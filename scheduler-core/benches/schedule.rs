//! Criterion benchmarks for cron parsing and next-run computation.

// Benchmark setup: failing fast on a broken setup is the point.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use std::hint::black_box;

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use scheduler_core::CronSchedule;

fn parse(c: &mut Criterion) {
    c.bench_function("parse '0 9 * * 1-5'", |b| {
        b.iter(|| CronSchedule::parse(black_box("0 9 * * 1-5")))
    });
    c.bench_function("parse '*/15 0-6 1,15 * MON'", |b| {
        b.iter(|| CronSchedule::parse(black_box("*/15 0-6 1,15 * MON")))
    });
}

fn next_run(c: &mut Criterion) {
    let start: DateTime<Utc> = "2025-06-23T09:00:00Z".parse().unwrap_or_default();
    for (expr, tz) in [
        ("*/5 * * * *", chrono_tz::UTC),
        ("0 9 * * 1", chrono_tz::UTC),
        ("0 9 * * 1", chrono_tz::America::New_York),
        ("30 2 1 * *", chrono_tz::Europe::London),
    ] {
        let schedule = CronSchedule::parse(expr).expect("benchmark expressions are valid");
        let mut offset = 0i64;
        c.bench_function(&format!("next_after '{expr}' {tz}"), |b| {
            b.iter(|| {
                // Vary the start so no call is answered from a warm branch only.
                offset = (offset + 7_919) % 31_536_000;
                schedule.next_after(black_box(start + Duration::seconds(offset)), tz)
            })
        });
    }
}

criterion_group!(benches, parse, next_run);
criterion_main!(benches);
