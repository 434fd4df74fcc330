//! Criterion benchmarks for cron parsing and next-run computation (the cron search alone,
//! and the job-level rule beside it).

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
use scheduler_core::{CalendarDraft, CronSchedule, JobCalendars, JobDraft, OnExcluded};

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

/// The job-level next-run rule (`JobSpec::next_run`: schedule, jitter, window, `max_runs`)
/// beside its reference in the same run, `CronSchedule::next_after` alone: the ratio is what
/// the rule adds to a plain cron job, then with a jitter, and for an interval.
fn job_next_run(c: &mut Criterion) {
    let start: DateTime<Utc> = "2025-06-23T09:00:00Z".parse().unwrap_or_default();
    let job = |expr: Option<&str>, interval: Option<i64>, jitter: Option<i64>| {
        JobDraft {
            name: Some("bench".into()),
            cron_expression: expr.map(Into::into),
            interval_seconds: interval,
            jitter_seconds: jitter,
            start_time: Some(start),
            timezone: Some("America/New_York".into()),
            ..JobDraft::default()
        }
        .validate(start)
        .expect("a valid job")
    };
    let reference = CronSchedule::parse("0 9 * * 1").expect("valid");
    let tz = chrono_tz::America::New_York;
    let mut offset = 0i64;
    c.bench_function("reference: next_after '0 9 * * 1' New_York", |b| {
        b.iter(|| {
            offset = (offset + 7_919) % 31_536_000;
            reference.next_after(black_box(start + Duration::seconds(offset)), tz)
        })
    });
    for (name, spec) in [
        (
            "job next_run '0 9 * * 1' New_York",
            job(Some("0 9 * * 1"), None, None),
        ),
        (
            "job next_run '0 9 * * 1' New_York, jitter 900 s",
            job(Some("0 9 * * 1"), None, Some(900)),
        ),
        ("job next_run every 5400 s", job(None, Some(5_400), None)),
    ] {
        let mut offset = 0i64;
        c.bench_function(name, |b| {
            b.iter(|| {
                offset = (offset + 7_919) % 31_536_000;
                spec.next_run(black_box(start + Duration::seconds(offset)), 0)
            })
        });
    }
}

/// The next run of a job excluding 3 calendars of 50 dates each (the bound: 5 µs),
/// skipping and moving, beside the same job without calendars in the same run. The dates are
/// spread over two years so that about one weekday in five is excluded.
fn job_next_run_with_calendars(c: &mut Criterion) {
    let start: DateTime<Utc> = "2025-06-23T09:00:00Z".parse().unwrap_or_default();
    let first = chrono::NaiveDate::from_ymd_opt(2025, 6, 23).expect("a date");
    let mut defs = Vec::new();
    for k in 0..3u64 {
        let dates: Vec<serde_json::Value> = (0..50u64)
            .map(|i| {
                let day = first + chrono::Days::new(k + i * 14);
                serde_json::json!({"date": day.to_string()})
            })
            .collect();
        defs.push(
            CalendarDraft {
                name: Some(format!("cal-{k}")),
                timezone: Some(["UTC", "Europe/London", "America/New_York"][k as usize].into()),
                dates: Some(serde_json::Value::Array(dates)),
                ..CalendarDraft::default()
            }
            .validate()
            .expect("a valid calendar"),
        );
    }
    let job = |on_excluded: OnExcluded, calendars: bool| {
        let mut spec = JobDraft {
            name: Some("bench".into()),
            cron_expression: Some("0 9 * * 1-5".into()),
            start_time: Some(start),
            timezone: Some("America/New_York".into()),
            ..JobDraft::default()
        }
        .validate(start)
        .expect("a valid job");
        if calendars {
            spec.calendars = JobCalendars {
                names: defs.iter().map(|d| d.name.clone()).collect(),
                on_excluded,
                rules: Vec::new(),
            }
            .resolve(&defs)
            .expect("resolved");
        }
        spec
    };
    for (name, spec) in [
        (
            "reference: job next allowed run '0 9 * * 1-5' New_York, no calendar",
            job(OnExcluded::Skip, false),
        ),
        (
            "job next allowed run '0 9 * * 1-5' New_York, 3 calendars x 50 dates, skip",
            job(OnExcluded::Skip, true),
        ),
        (
            "job next allowed run '0 9 * * 1-5' New_York, 3 calendars x 50 dates, move",
            job(OnExcluded::Move, true),
        ),
    ] {
        let mut offset = 0i64;
        c.bench_function(name, |b| {
            b.iter(|| {
                // Within the calendars' two years.
                offset = (offset + 7_919) % 60_000_000;
                spec.next_allowed_fire(black_box(start + Duration::seconds(offset)), 0)
            })
        });
    }
}

criterion_group!(
    benches,
    parse,
    next_run,
    job_next_run,
    job_next_run_with_calendars
);
criterion_main!(benches);
