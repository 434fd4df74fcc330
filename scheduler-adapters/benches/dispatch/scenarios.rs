//! The scenarios: the project's dispatch (no-op handler), the claim protocol as plain SQL
//! through pgbench (the limit), HTTP deliveries to a slow local receiver, dispatch while a
//! 1M-row history is pruned, and pruning by delete against dropping a partition.
//!
//! Over 500 lines for one reason: each scenario is one function that seeds, runs and reports
//! its own case, and they share the seeding and waiting helpers of this file; splitting them
//! apart would only move those helpers into a file of their own that every scenario imports.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use scheduler_adapters::{
    DatabaseConfig, HttpExecutor, NoJobCache, SeaOrmRunStore, SystemClock, connect,
};
use scheduler_core::{
    ActionHandlers, Dispatcher, DispatcherConfig, Job, JobExecutor, RoutingExecutor, Run,
    TargetGuard,
};
use tokio::runtime::Runtime;
use tokio::sync::watch;

use crate::db::BenchDb;
use crate::receiver::Receiver;
use crate::stats::{Figures, figures};

/// Longest any one scenario may take before it gives up (and says so).
const SCENARIO_BOUND: Duration = Duration::from_secs(180);

/// How often a wait checks a condition in this process (lateness samples).
const IN_MEMORY: Duration = Duration::from_millis(20);

/// How often a wait asks the database (a count of runs, which the scenario itself pays for).
const IN_DATABASE: Duration = Duration::from_millis(200);

/// How far ahead of the due instant the fires are seeded: replicas (or pgbench) are started
/// and idle when the instant comes.
fn lead(jobs: usize) -> chrono::Duration {
    chrono::Duration::milliseconds(2_500 + i64::try_from(jobs / 20).unwrap_or(0))
}

/// Sleeps (this thread) until `at`.
fn sleep_until(at: DateTime<Utc>) {
    if let Ok(wait) = (at - Utc::now()).to_std() {
        std::thread::sleep(wait);
    }
}

/// Dispatchers started as replicas: each on a runtime of its own (two worker threads, as a
/// separate process would have) with its own pool.
struct Replicas {
    /// One runtime per replica.
    runtimes: Vec<Runtime>,
    /// Their dispatch loops.
    loops: Vec<tokio::task::JoinHandle<()>>,
    /// Set to stop them.
    stop: watch::Sender<bool>,
}

impl Replicas {
    fn start(url: &str, count: usize, executor: impl Fn() -> Arc<dyn JobExecutor>) -> Replicas {
        let (stop, stopped) = watch::channel(false);
        let mut runtimes = Vec::new();
        let mut loops = Vec::new();
        for replica in 0..count {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("replica runtime");
            let pool = runtime
                .block_on(connect(&DatabaseConfig::new(url)))
                .expect("connect");
            let mut config = DispatcherConfig::new(format!("bench-{replica}"));
            configured(&mut config);
            let dispatcher = Dispatcher::new(
                Arc::new(SeaOrmRunStore::new(pool)),
                executor(),
                Arc::new(NoJobCache),
                Arc::new(SystemClock),
                Arc::new(scheduler_adapters::MetricsTelemetry),
                config,
            );
            let mut stopped = stopped.clone();
            loops.push(runtime.spawn(async move {
                dispatcher
                    .run(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await;
            }));
            runtimes.push(runtime);
        }
        Replicas {
            runtimes,
            loops,
            stop,
        }
    }

    /// Stops claiming, waits for in-flight runs to be recorded, and ends the runtimes.
    fn stop(self) {
        let _ = self.stop.send(true);
        for (runtime, looping) in self.runtimes.iter().zip(self.loops) {
            let _ = runtime.block_on(looping);
        }
        for runtime in self.runtimes {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

/// Applies `DISPATCH_CONFIG` (`name=value,...` for `claims_in_flight`, `max_batch_size`,
/// `batch_size`, `max_concurrent_runs`, `max_concurrent_deliveries`,
/// `max_deliveries_per_host`, `record_batch`) over the defaults, to try other settings.
pub(crate) fn configured(config: &mut DispatcherConfig) {
    let Ok(settings) = std::env::var("DISPATCH_CONFIG") else {
        return;
    };
    for setting in settings.split(',').filter(|s| !s.is_empty()) {
        let (name, value) = setting.split_once('=').expect("name=value");
        let value: usize = value.parse().expect("a number");
        let small = u32::try_from(value).expect("a u32");
        match name {
            "claims_in_flight" => config.claims_in_flight = value,
            "max_batch_size" => config.max_batch_size = small,
            "batch_size" => config.batch_size = small,
            "max_concurrent_runs" => config.max_concurrent_runs = value,
            "max_concurrent_deliveries" => config.max_concurrent_deliveries = value,
            "max_deliveries_per_host" => config.max_deliveries_per_host = value,
            "record_batch" => config.record_batch = value,
            other => panic!("DISPATCH_CONFIG: unknown setting {other}"),
        }
    }
}

/// A handler registry whose `noop` handler records its lateness (start − fire, ms).
fn noop_handlers(samples: Arc<Mutex<Vec<f64>>>) -> Arc<dyn JobExecutor> {
    noop_handlers_by(move |_| samples.clone())
}

/// [`noop_handlers`], recording each run's lateness where `pick` says for its job.
fn noop_handlers_by(
    pick: impl Fn(&Job) -> Arc<Mutex<Vec<f64>>> + Send + Sync + 'static,
) -> Arc<dyn JobExecutor> {
    let mut handlers = ActionHandlers::new();
    handlers.register("noop", move |job: Job, run: Run| {
        let samples = pick(&job);
        async move {
            let late = (Utc::now() - run.scheduled_for)
                .num_microseconds()
                .unwrap_or(0) as f64
                / 1000.0;
            samples.lock().expect("samples").push(late);
            Ok(())
        }
    });
    Arc::new(handlers)
}

/// A process's command name and CPU seconds so far (user + system), from the text of its
/// `/proc/<pid>/stat`.
fn process_cpu(stat: &str) -> (&str, f64) {
    // The command name is in parentheses and may hold spaces: split at the last ')'.
    let (head, rest) = stat.rsplit_once(')').unwrap_or(("", ""));
    let name = head.split_once('(').map_or("", |(_, name)| name);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the name; 100 Hz.
    (name, (ticks(11) + ticks(12)) / 100.0)
}

/// CPU seconds this process has used so far (user + system), from `/proc/self/stat`; 0
/// where that is not readable.
pub(crate) fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat").map_or(0.0, |stat| process_cpu(&stat).1)
}

/// CPU seconds used so far by the processes named `postgres` on this machine (the server and
/// its backends; a backend that has exited is no longer counted, so read this before the
/// clients disconnect). The machine is CPU-bound in these scenarios, so the database's CPU
/// per fire is the cost that decides throughput, and it is far steadier than a rate.
fn postgres_cpu_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            name.to_string_lossy().bytes().all(|b| b.is_ascii_digit())
        })
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .map(|stat| match process_cpu(&stat) {
            ("postgres", seconds) => seconds,
            _ => 0.0,
        })
        .sum()
}

/// CPU seconds spent on `fires` fires, for a note: `<what> CPU 1.23 s (123 µs/fire)`.
fn cpu_per_fire(what: &str, seconds: f64, fires: usize) -> String {
    format!(
        "{what} CPU {seconds:.2} s ({:.0} µs/fire)",
        seconds * 1e6 / fires.max(1) as f64
    )
}

/// Whether all `jobs` runs of the scenario are stored as succeeded (a count in the database).
fn all_succeeded(main: &Runtime, db: &BenchDb, jobs: usize) -> bool {
    main.block_on(db.count("SELECT count(*) FROM job_runs WHERE status = 'succeeded'"))
        >= i64::try_from(jobs).unwrap_or(i64::MAX)
}

/// The machine's CPU time so far, busy and in all, in clock ticks (`/proc/stat`).
fn machine_ticks() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    let total: f64 = ticks.iter().sum();
    // idle and iowait are the 4th and 5th.
    let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

/// How busy the machine's CPUs were between `since` (a [`machine_ticks`] reading) and now.
fn busy_since(since: (f64, f64)) -> f64 {
    let now = machine_ticks();
    let total = now.1 - since.1;
    if total <= 0.0 {
        0.0
    } else {
        (now.0 - since.0) / total * 100.0
    }
}

/// Waits until `done()` or the scenario bound, checking every `every`; false when the
/// bound came first. A check that queries the database should be rare (200 ms): a count of
/// `job_runs` every 20 ms took 5% of a core at 10,000 runs and half a core at 100,000, from
/// the very scenario it measured.
fn wait_for(every: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > SCENARIO_BOUND {
            return false;
        }
        std::thread::sleep(every);
    }
    true
}

/// "N runs, N distinct jobs, N succeeded", from the database.
async fn exactly_once(db: &BenchDb, jobs: usize) -> String {
    let runs = db.count("SELECT count(*) FROM job_runs").await;
    let distinct = db
        .count("SELECT count(DISTINCT job_id) FROM job_runs")
        .await;
    let ok = db
        .count("SELECT count(*) FROM job_runs WHERE status = 'succeeded'")
        .await;
    let verdict = if runs == distinct && usize::try_from(ok).ok() == Some(jobs) {
        "exactly once"
    } else {
        "NOT EXACTLY ONCE"
    };
    format!("{verdict}: {runs} runs, {distinct} jobs, {ok} succeeded")
}

/// Fairness between tenants: `big` no-op jobs of tenant `big` and then `small` of tenant
/// `small` (made last, so earliest-first with ties by id would run them last), all due at
/// one instant, `replicas` dispatchers with the default settings. The figures are the small
/// tenant's lateness; the note has the big tenant's p99 and when its last fire started.
pub(crate) fn tenants(
    main: &Runtime,
    db: &BenchDb,
    big: usize,
    small: usize,
    replicas: usize,
) -> Figures {
    let jobs = big + small;
    let due = Utc::now() + lead(jobs);
    let tenant = format!("CASE WHEN n > {big} THEN 'small' ELSE 'big' END");
    main.block_on(db.seed_tenants(jobs, due, None, &tenant));
    let small_samples = Arc::new(Mutex::new(Vec::with_capacity(small)));
    let big_samples = Arc::new(Mutex::new(Vec::with_capacity(big)));
    let executor = || {
        let (small_samples, big_samples) = (small_samples.clone(), big_samples.clone());
        noop_handlers_by(move |job| {
            if job.tenant.as_str() == "small" {
                small_samples.clone()
            } else {
                big_samples.clone()
            }
        })
    };
    let running = Replicas::start(&db.url, replicas, executor);
    sleep_until(due);
    let finished = wait_for(IN_MEMORY, || {
        small_samples.lock().expect("samples").len() >= small
            && big_samples.lock().expect("samples").len() >= big
    });
    let _ = wait_for(IN_DATABASE, || all_succeeded(main, db, jobs));
    running.stop();
    let mut bigs = big_samples.lock().expect("samples").clone();
    bigs.sort_by(f64::total_cmp);
    let mut note = format!(
        "{}; tenant big: p50 {:.0} ms, p99 {:.0} ms, last started {:.0} ms",
        main.block_on(exactly_once(db, jobs)),
        crate::stats::percentile(&bigs, 0.50),
        crate::stats::percentile(&bigs, 0.99),
        bigs.last().copied().unwrap_or(0.0)
    );
    if !finished {
        note = format!("GAVE UP after {SCENARIO_BOUND:?}; {note}");
    }
    let samples = small_samples.lock().expect("samples").clone();
    figures(
        format!("tenants {small} of {jobs} x{replicas}"),
        samples,
        note,
    )
}

/// The project's dispatch: `jobs` no-op jobs due at one instant, `replicas` dispatchers
/// with the default settings.
pub(crate) fn ours(main: &Runtime, db: &BenchDb, jobs: usize, replicas: usize) -> Figures {
    let due = Utc::now() + lead(jobs);
    main.block_on(db.seed(jobs, due, None));
    let samples = Arc::new(Mutex::new(Vec::with_capacity(jobs)));
    let running = Replicas::start(&db.url, replicas, || noop_handlers(samples.clone()));
    sleep_until(due);
    let (cpu, machine, pg) = (cpu_seconds(), machine_ticks(), postgres_cpu_seconds());
    let finished = wait_for(IN_MEMORY, || samples.lock().expect("samples").len() >= jobs);
    // Every run started; its outcome is stored a moment later (counted too).
    let _ = wait_for(IN_DATABASE, || all_succeeded(main, db, jobs));
    let (cpu, busy) = (cpu_seconds() - cpu, busy_since(machine));
    let pg = postgres_cpu_seconds() - pg;
    running.stop();
    let mut note = format!(
        "{}; {}; {}; machine {busy:.0}% busy",
        main.block_on(exactly_once(db, jobs)),
        cpu_per_fire("dispatchers'", cpu, jobs),
        cpu_per_fire("database", pg, jobs)
    );
    if !finished {
        note = format!("GAVE UP after {SCENARIO_BOUND:?}; {note}");
    }
    let samples = samples.lock().expect("samples").clone();
    figures(format!("ours {jobs} x{replicas}"), samples, note)
}

/// The claim protocol as plain SQL (`bench/dispatch_claim.sql`) through pgbench: `clients`
/// connections claiming `batch` at a time, started at the due instant; lateness is each
/// run's `started_at − scheduled_for`.
pub(crate) fn sql(
    main: &Runtime,
    db: &BenchDb,
    script: &str,
    jobs: usize,
    clients: usize,
    batch: usize,
) -> Figures {
    let due = Utc::now() + lead(jobs);
    main.block_on(db.seed(jobs, due, None));
    // Started a little early: like idle dispatchers, its clients are polling when the
    // instant comes (claims before it find nothing).
    sleep_until(due - chrono::Duration::milliseconds(100));
    let mut pgbench = spawn_pgbench(db, script, clients, batch);
    sleep_until(due);
    let (machine, pg) = (machine_ticks(), postgres_cpu_seconds());
    let finished = wait_for(IN_DATABASE, || all_succeeded(main, db, jobs));
    let busy = busy_since(machine);
    // Read before pgbench disconnects (its backends' CPU leaves with them).
    let pg = postgres_cpu_seconds() - pg;
    let _ = pgbench.kill();
    let _ = pgbench.wait();
    let samples = main.block_on(db.floats(
        "SELECT (extract(epoch FROM started_at - scheduled_for) * 1000)::float8 FROM job_runs",
    ));
    let mut note = format!(
        "{}; {}; machine {busy:.0}% busy",
        main.block_on(exactly_once(db, jobs)),
        cpu_per_fire("database", pg, jobs)
    );
    if !finished {
        note = format!("GAVE UP after {SCENARIO_BOUND:?}; {note}");
    }
    figures(format!("sql {jobs} c{clients} b{batch}"), samples, note)
}

fn spawn_pgbench(db: &BenchDb, script: &str, clients: usize, batch: usize) -> Child {
    Command::new(std::env::var("PGBENCH").unwrap_or_else(|_| "pgbench".into()))
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &clients.to_string(),
            "-j",
            &clients.min(2).to_string(),
            "-T",
            &SCENARIO_BOUND.as_secs().to_string(),
            "-D",
            &format!("batch={batch}"),
            "-f",
            script,
            &db.libpq_url(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pgbench (PostgreSQL's client tools) on PATH, or PGBENCH=/path/to/pgbench")
}

/// HTTP deliveries: `jobs` jobs targeting the local receiver (answering after its delay),
/// due at one instant, `replicas` dispatchers with the default settings; lateness is when
/// each delivery arrived at the receiver, and every (job, fire) must arrive exactly once.
pub(crate) fn http(
    main: &Runtime,
    db: &BenchDb,
    receiver: &Receiver,
    jobs: usize,
    replicas: usize,
) -> Figures {
    receiver.reset();
    let due = Utc::now() + lead(jobs);
    main.block_on(db.seed(jobs, due, Some(&receiver.url)));
    let executor = || -> Arc<dyn JobExecutor> {
        let guard = TargetGuard::from_allow_list("127.0.0.1").expect("allow list");
        Arc::new(RoutingExecutor {
            http: Some(Arc::new(
                HttpExecutor::with_guard(guard).expect("HTTP client"),
            )),
            actions: ActionHandlers::new(),
        })
    };
    let running = Replicas::start(&db.url, replicas, executor);
    let jobs_i64 = i64::try_from(jobs).unwrap_or(i64::MAX);
    let finished = wait_for(IN_DATABASE, || {
        receiver.received() >= jobs
            && main.block_on(db.count("SELECT count(*) FROM job_runs WHERE status <> 'running'"))
                >= jobs_i64
    });
    running.stop();
    let (samples, per_fire) = {
        let seen = receiver.seen.lock().expect("seen");
        (seen.lateness_ms.clone(), seen.per_fire.clone())
    };
    let twice = per_fire.values().filter(|n| **n > 1).count();
    let mut note = format!(
        "receiver: {} deliveries of {} fires, {} more than once; {}",
        samples.len(),
        per_fire.len(),
        twice,
        main.block_on(exactly_once(db, jobs))
    );
    if !finished {
        note = format!("GAVE UP after {SCENARIO_BOUND:?}; {note}");
    }
    figures(format!("http {jobs} x{replicas}"), samples, note)
}

/// Dispatch while history retention prunes a 1M-row `job_runs` (every row past the 30-day
/// horizon): the pruner starts a second before the due instant and keeps going through the
/// burst; the note says how long the whole prune took.
pub(crate) fn during_prune(
    main: &Runtime,
    db: &BenchDb,
    jobs: usize,
    replicas: usize,
    history: usize,
) -> Figures {
    let due = main.block_on(async {
        // Seeding the history takes longer than any lead: the jobs fall due only once it is
        // in place (before this fix every fire of this scenario was late by the seeding).
        db.seed(jobs, Utc::now() + chrono::Duration::days(1), None)
            .await;
        let per_job = history / jobs.max(1);
        db.exec(&format!(
            "INSERT INTO job_runs (job_id, scheduled_for, trigger, attempt, retries, status, \
             started_at, finished_at, heartbeat_at, worker) \
             SELECT 1 + n % {jobs}, now() - interval '61 days' + n * interval '2 seconds', \
             'schedule', 1, 0, 'succeeded', now() - interval '61 days', \
             now() - interval '61 days', now() - interval '61 days', 'old' \
             FROM generate_series(1, {history}) AS n"
        ))
        .await;
        db.exec(&format!("UPDATE jobs SET run_count = {per_job}"))
            .await;
        db.exec("VACUUM ANALYZE job_runs").await;
        let due = Utc::now() + lead(jobs) + chrono::Duration::seconds(5);
        db.exec(&format!(
            "UPDATE jobs SET next_run = '{}'",
            due.to_rfc3339()
        ))
        .await;
        db.exec("VACUUM ANALYZE jobs").await;
        due
    });
    let pruner_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("pruner runtime");
    let pool = pruner_runtime
        .block_on(connect(&DatabaseConfig::new(&db.url)))
        .expect("connect");
    let pruner = Dispatcher::new(
        Arc::new(SeaOrmRunStore::new(pool)),
        Arc::new(ActionHandlers::new()),
        Arc::new(NoJobCache),
        Arc::new(SystemClock),
        Arc::new(scheduler_adapters::MetricsTelemetry),
        DispatcherConfig::new("pruner"),
    );
    let samples = Arc::new(Mutex::new(Vec::with_capacity(jobs)));
    let running = Replicas::start(&db.url, replicas, || noop_handlers(samples.clone()));
    sleep_until(due - chrono::Duration::seconds(1));
    let prune_started = Instant::now();
    let pruning = pruner_runtime.spawn(async move {
        let mut total = 0u64;
        loop {
            match pruner.prune_history().await {
                Ok(0) => return Ok(total),
                Ok(n) => total += n,
                Err(e) => return Err(e),
            }
        }
    });
    let finished = wait_for(IN_MEMORY, || samples.lock().expect("samples").len() >= jobs);
    let burst_ms = samples
        .lock()
        .expect("samples")
        .iter()
        .copied()
        .fold(0.0, f64::max);
    running.stop();
    let pruned = pruner_runtime.block_on(pruning);
    let prune_s = prune_started.elapsed().as_secs_f64();
    pruner_runtime.shutdown_timeout(Duration::from_secs(5));
    let left = main.block_on(db.count("SELECT count(*) FROM job_runs WHERE worker = 'old'"));
    let pruned = match pruned {
        Ok(Ok(n)) => format!(
            "pruned {n} rows in {prune_s:.1} s ({:.0} rows/s), {left} left; the burst took {:.1} s of it",
            n as f64 / prune_s,
            burst_ms / 1000.0
        ),
        other => format!("pruning failed: {other:?}"),
    };
    let mut note = format!("{pruned}; {}", main.block_on(exactly_once_new(db, jobs)));
    if !finished {
        note = format!("GAVE UP after {SCENARIO_BOUND:?}; {note}");
    }
    let samples = samples.lock().expect("samples").clone();
    figures(format!("ours {jobs} x{replicas} +prune"), samples, note)
}

/// [`exactly_once`] over the runs of the burst only (the seeded history aside).
async fn exactly_once_new(db: &BenchDb, jobs: usize) -> String {
    let runs = db
        .count("SELECT count(*) FROM job_runs WHERE worker <> 'old'")
        .await;
    let distinct = db
        .count("SELECT count(DISTINCT job_id) FROM job_runs WHERE worker <> 'old'")
        .await;
    let verdict = if runs == distinct && usize::try_from(runs).ok() == Some(jobs) {
        "exactly once"
    } else {
        "NOT EXACTLY ONCE"
    };
    format!("{verdict}: {runs} runs of {distinct} jobs")
}

/// Retention by delete against by partition, on copies of `job_runs` holding `rows` runs
/// over 30 days: the time to load them, to remove the oldest day (1,000-row deletes, as
/// `RunStore::prune` does, against `DROP TABLE` of a daily partition), and 10,000 reads by
/// id (what `GET /scheduler/runs/{id}` does; a partitioned table cannot check `id` without
/// the partition key, so it looks in every partition).
pub(crate) fn partitions(main: &Runtime, db: &BenchDb, rows: usize) -> String {
    main.block_on(async {
        let columns = "id bigint NOT NULL, job_id bigint NOT NULL, scheduled_for timestamptz NOT NULL, \
            trigger varchar(16) NOT NULL, attempt int NOT NULL, retries int NOT NULL DEFAULT 0, \
            status varchar(16) NOT NULL, started_at timestamptz NOT NULL, \
            finished_at timestamptz, heartbeat_at timestamptz NOT NULL, retry_at timestamptz, \
            error text, worker varchar(255) NOT NULL";
        let base = "'2026-01-01T00:00:00Z'::timestamptz";
        let fill = |table: &str| {
            format!(
                "INSERT INTO {table} SELECT n, 1 + n % 10000, {base} + (n % (30 * 86400)) * interval '1 second', \
                 'schedule', 1, 0, 'succeeded', {base}, {base}, {base}, NULL, NULL, 'w' \
                 FROM generate_series(1, {rows}) AS n"
            )
        };
        db.exec("DROP TABLE IF EXISTS bench_runs_plain, bench_runs_part").await;
        db.exec(&format!("CREATE TABLE bench_runs_plain ({columns}, PRIMARY KEY (id), UNIQUE (job_id, scheduled_for, attempt))")).await;
        db.exec("CREATE INDEX ON bench_runs_plain (scheduled_for)").await;
        db.exec("CREATE INDEX ON bench_runs_plain (job_id, id DESC)").await;
        db.exec(&format!("CREATE TABLE bench_runs_part ({columns}, PRIMARY KEY (id, scheduled_for), UNIQUE (job_id, scheduled_for, attempt)) PARTITION BY RANGE (scheduled_for)")).await;
        for day in 0..30 {
            db.exec(&format!(
                "CREATE TABLE bench_runs_part_{day} PARTITION OF bench_runs_part \
                 FOR VALUES FROM ({base} + interval '{day} days') TO ({base} + interval '{} days')",
                day + 1
            ))
            .await;
        }
        db.exec("CREATE INDEX ON bench_runs_part (scheduled_for)").await;
        db.exec("CREATE INDEX ON bench_runs_part (job_id, id DESC)").await;
        let timed = |started: Instant| started.elapsed().as_secs_f64();
        let t = Instant::now();
        db.exec(&fill("bench_runs_plain")).await;
        let load_plain = timed(t);
        let t = Instant::now();
        db.exec(&fill("bench_runs_part")).await;
        let load_part = timed(t);
        db.exec("VACUUM ANALYZE bench_runs_plain").await;
        db.exec("VACUUM ANALYZE bench_runs_part").await;
        let day_rows = db
            .count(&format!("SELECT count(*) FROM bench_runs_plain WHERE scheduled_for < {base} + interval '1 day'"))
            .await;
        let t = Instant::now();
        loop {
            let deleted = db
                .count(&format!(
                    "WITH gone AS (DELETE FROM bench_runs_plain WHERE id IN (\
                       SELECT id FROM bench_runs_plain WHERE scheduled_for < {base} + interval '1 day' \
                       ORDER BY scheduled_for LIMIT 1000) RETURNING 1) SELECT count(*) FROM gone"
                ))
                .await;
            if deleted == 0 {
                break;
            }
        }
        let delete_day = timed(t);
        let t = Instant::now();
        db.exec("DROP TABLE bench_runs_part_0").await;
        let drop_day = timed(t);
        let reads = |table: &str| {
            format!(
                "SELECT count(*) FROM generate_series(1, 10000) AS g(n) \
                 CROSS JOIN LATERAL (SELECT status FROM {table} WHERE id = 1 + (g.n * 7919) % {rows}) AS r"
            )
        };
        let t = Instant::now();
        db.count(&reads("bench_runs_plain")).await;
        let read_plain = timed(t);
        let t = Instant::now();
        db.count(&reads("bench_runs_part")).await;
        let read_part = timed(t);
        db.exec("DROP TABLE IF EXISTS bench_runs_plain, bench_runs_part").await;
        format!(
            "retention over {rows} runs in 30 days: remove the oldest day ({day_rows} rows): \
             1,000-row deletes {delete_day:.2} s ({:.0} rows/s) vs DROP of a daily partition {:.1} ms; \
             load {load_plain:.1} s plain vs {load_part:.1} s partitioned; 10,000 reads by id \
             {:.0} ms plain vs {:.0} ms partitioned (30 partitions)",
            day_rows as f64 / delete_day,
            drop_day * 1000.0,
            read_plain * 1000.0,
            read_part * 1000.0
        )
    })
}
