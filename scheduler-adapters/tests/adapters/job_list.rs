//! The list half of the `JobRepository` and `RunStore` contracts, on SQLite and PostgreSQL:
//! cursor pages walk every ordering forward and back and meet the numbered order, counts are
//! exact (also under 16 concurrent writers), a name search takes `%` and `_` literally, and
//! on PostgreSQL no list or count of a million jobs (or of a job's 100,000 runs among a
//! million) is a sequential scan.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::support::{Store, new_job, utc};
use scheduler_adapters::store::{job_list, run_list};
use scheduler_core::{
    Direction, Job, JobFilter, JobId, JobOrdering, JobPosition, JobRepository, JobSlice, Keyset,
    OrderField, RunFilter, RunId, RunSlice, Tenant, Window,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

const ORDERINGS: [&str; 8] = [
    "id",
    "-id",
    "name",
    "-name",
    "next_run",
    "-next_run",
    "created_at",
    "-created_at",
];

fn default_tenant() -> Tenant {
    Tenant::default_tenant()
}

/// A name of lowercase letters only, so every collation sorts it as bytes do.
fn letters(mut n: usize) -> String {
    let mut name = String::from("j");
    for _ in 0..3 {
        name.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
    }
    name
}

/// Jobs with shuffled names, tied and missing next runs, tied creation instants and a third
/// paused; plus jobs of another tenant that no list of the default tenant may show.
async fn seed(store: &Store) -> Vec<Job> {
    let base = utc("2025-07-01T00:00:00Z");
    let mut jobs = Vec::new();
    for i in 0..29usize {
        let mut job = new_job(&letters((i * 11) % 29));
        job.created_at = base + chrono::Duration::minutes(((i * 3) % 7) as i64);
        job.next_run = (i % 4 != 0).then(|| base + chrono::Duration::hours((i % 5) as i64));
        job.spec.is_active = i % 3 != 0;
        jobs.push(store.repo.insert(job).await.unwrap());
    }
    for i in 0..4usize {
        let mut job = new_job(&letters(i));
        job.tenant = Tenant::parse("team-b").unwrap();
        store.repo.insert(job).await.unwrap();
    }
    jobs
}

/// The list order the port promises: by the column then id, nulls after everything else
/// ascending; descending is exactly the reverse.
fn expected(jobs: &[Job], ordering: JobOrdering, is_active: Option<bool>) -> Vec<JobId> {
    let mut shown: Vec<&Job> = jobs
        .iter()
        .filter(|job| is_active.is_none_or(|active| job.spec.is_active == active))
        .collect();
    shown.sort_by(|a, b| {
        let by_key = match ordering.field {
            OrderField::Id => Ordering::Equal,
            OrderField::Name => a.spec.name.as_str().cmp(b.spec.name.as_str()),
            OrderField::CreatedAt => a.created_at.cmp(&b.created_at),
            OrderField::NextRun => match (a.next_run, b.next_run) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
        };
        by_key.then(a.id.cmp(&b.id))
    });
    let mut ids: Vec<JobId> = shown.into_iter().map(|job| job.id).collect();
    if ordering.descending {
        ids.reverse();
    }
    ids
}

fn slice(ordering: JobOrdering, is_active: Option<bool>, window: Window<JobPosition>) -> JobSlice {
    JobSlice {
        filter: JobFilter {
            tenant: Some(default_tenant()),
            is_active,
            search: None,
        },
        ordering,
        window,
    }
}

fn keyset(from: Option<JobPosition>, direction: Direction, limit: u64) -> Window<JobPosition> {
    Window::Keyset {
        keyset: Keyset { from, direction },
        limit,
    }
}

async fn cursor_pages_walk_every_ordering_forward_and_back(store: Store) {
    let jobs = seed(&store).await;
    for wire in ORDERINGS {
        let ordering = JobOrdering::parse(wire).unwrap();
        for is_active in [None, Some(true), Some(false)] {
            let want = expected(&jobs, ordering, is_active);
            let label = format!("{wire} is_active={is_active:?}");

            let numbered = store
                .repo
                .list(&slice(
                    ordering,
                    is_active,
                    Window::Offset {
                        offset: 0,
                        limit: 500,
                    },
                ))
                .await
                .unwrap();
            let ids: Vec<JobId> = numbered.items.iter().map(|job| job.id).collect();
            assert_eq!(ids, want, "numbered {label}");
            assert_eq!(numbered.total, Some(want.len() as u64), "{label}");

            // Forward from the first page, three at a time.
            let mut walked = Vec::new();
            let mut from = None;
            loop {
                let page = store
                    .repo
                    .list(&slice(
                        ordering,
                        is_active,
                        keyset(from, Direction::Forward, 3),
                    ))
                    .await
                    .unwrap();
                assert_eq!(page.total, None);
                walked.extend(page.items.iter().map(|job| job.id));
                let Some(last) = page.items.last() else { break };
                from = Some(JobPosition::of(last, ordering.field));
                if !page.more {
                    break;
                }
            }
            assert_eq!(walked, want, "forward {label}");

            // Backward from the last job, three at a time.
            let by_id: HashMap<JobId, &Job> = jobs.iter().map(|job| (job.id, job)).collect();
            let Some(last) = want.last() else { continue };
            let mut walked = vec![*last];
            let mut from = Some(JobPosition::of(by_id[last], ordering.field));
            loop {
                let page = store
                    .repo
                    .list(&slice(
                        ordering,
                        is_active,
                        keyset(from, Direction::Backward, 3),
                    ))
                    .await
                    .unwrap();
                let mut before: Vec<JobId> = page.items.iter().map(|job| job.id).collect();
                before.append(&mut walked);
                walked = before;
                let Some(first) = page.items.first() else {
                    break;
                };
                from = Some(JobPosition::of(first, ordering.field));
                if !page.more {
                    break;
                }
            }
            assert_eq!(walked, want, "backward {label}");
        }
    }
}

/// `job_counts` against `COUNT(*)`, per tenant and `is_active` (zero counters allowed).
async fn counters_match_the_table(db: &DatabaseConnection) {
    let rows = |sql: &str| {
        let sql = sql.to_string();
        async move {
            db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
                .into_iter()
                .map(|row| {
                    let tenant: String = row.try_get("", "tenant").unwrap();
                    let active: bool = row.try_get("", "is_active").unwrap();
                    let n: i64 = row.try_get("", "n").unwrap();
                    ((tenant, active), n)
                })
                .filter(|(_, n)| *n != 0)
                .collect::<HashMap<_, _>>()
        }
    };
    let counted = rows(
        "SELECT tenant, is_active, CAST(COUNT(*) AS BIGINT) AS n FROM jobs GROUP BY tenant, is_active",
    )
    .await;
    let kept = rows("SELECT tenant, is_active, jobs AS n FROM job_counts").await;
    assert_eq!(kept, counted);
}

async fn counts_follow_inserts_pauses_resumes_and_deletes(store: Store) {
    let jobs = seed(&store).await;
    counters_match_the_table(&store.db).await;
    let total = |is_active| {
        let repo = &store.repo;
        async move {
            repo.list(&slice(
                JobOrdering::default(),
                is_active,
                Window::Offset {
                    offset: 0,
                    limit: 1,
                },
            ))
            .await
            .unwrap()
            .total
            .unwrap()
        }
    };
    assert_eq!(
        (
            total(None).await,
            total(Some(true)).await,
            total(Some(false)).await
        ),
        (29, 19, 10)
    );
    // Pause two active jobs, resume one paused, delete one of each.
    let mut pause = jobs
        .iter()
        .filter(|job| job.spec.is_active)
        .take(2)
        .cloned();
    for mut job in [pause.next().unwrap(), pause.next().unwrap()] {
        job.spec.is_active = false;
        store.repo.update(job).await.unwrap();
    }
    let mut resumed = jobs
        .iter()
        .find(|job| !job.spec.is_active)
        .cloned()
        .unwrap();
    resumed.spec.is_active = true;
    store.repo.update(resumed.clone()).await.unwrap();
    // An update that changes nothing the counters hold leaves them alone.
    store.repo.update(resumed.clone()).await.unwrap();
    store.repo.delete(resumed.id).await.unwrap();
    let paused = jobs.iter().rev().find(|job| !job.spec.is_active).unwrap();
    store.repo.delete(paused.id).await.unwrap();
    assert_eq!(
        (
            total(None).await,
            total(Some(true)).await,
            total(Some(false)).await
        ),
        (27, 17, 10)
    );
    counters_match_the_table(&store.db).await;
}

async fn a_search_ignores_case_and_takes_wildcards_literally(store: Store) {
    for name in [
        "Weekly Report",
        "weekly_backup",
        "weeklyXbackup",
        "100% done",
        "it's done",
        r"C:\temp\x",
        "other",
    ] {
        store.repo.insert(new_job(name)).await.unwrap();
    }
    let names = |search: &str| {
        let repo = &store.repo;
        let search = search.to_string();
        async move {
            let mut slice = slice(
                JobOrdering::parse("name").unwrap(),
                None,
                Window::Offset {
                    offset: 0,
                    limit: 50,
                },
            );
            slice.filter.search = Some(search);
            let page = repo.list(&slice).await.unwrap();
            let mut names: Vec<String> = page
                .items
                .iter()
                .map(|job| job.spec.name.as_str().to_string())
                .collect();
            assert_eq!(page.total, Some(names.len() as u64));
            // Collations order `X` and `_` differently; the set is the contract here.
            names.sort();
            names
        }
    };
    assert_eq!(
        names("WEEKLY").await,
        ["Weekly Report", "weeklyXbackup", "weekly_backup"]
    );
    assert_eq!(names("y_b").await, ["weekly_backup"]);
    assert_eq!(names("0%").await, ["100% done"]);
    // Quotes and backslashes are text too (the PostgreSQL pattern is a quoted literal).
    assert_eq!(names("it's").await, ["it's done"]);
    assert_eq!(names("'").await, ["it's done"]);
    assert_eq!(names(r"\temp\").await, [r"C:\temp\x"]);
    assert_eq!(names(r"\").await, [r"C:\temp\x"]);
    assert!(names("' OR '1'='1").await.is_empty());
    assert!(names("nothing").await.is_empty());
}

async fn run_cursor_pages_walk_a_jobs_history(store: Store) {
    let job = store.repo.insert(new_job("history")).await.unwrap();
    let other = store.repo.insert(new_job("other")).await.unwrap();
    let backend = store.db.get_database_backend();
    for (owner, count) in [(job.id, 11), (other.id, 3)] {
        for n in 0..count {
            store
                .db
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    if backend == DbBackend::Postgres {
                        "INSERT INTO job_runs (job_id, scheduled_for, trigger, attempt, status, \
                         started_at, heartbeat_at, worker) VALUES ($1, $2, 'schedule', 1, \
                         'succeeded', $2, $2, 'w')"
                    } else {
                        "INSERT INTO job_runs (job_id, scheduled_for, trigger, attempt, status, \
                         started_at, heartbeat_at, worker) VALUES (?, ?, 'schedule', 1, \
                         'succeeded', ?, ?, 'w')"
                    },
                    if backend == DbBackend::Postgres {
                        vec![
                            owner.0.into(),
                            (utc("2025-07-01T00:00:00Z") + chrono::Duration::minutes(n)).into(),
                        ]
                    } else {
                        let at = utc("2025-07-01T00:00:00Z") + chrono::Duration::minutes(n);
                        vec![owner.0.into(), at.into(), at.into(), at.into()]
                    },
                ))
                .await
                .unwrap();
        }
    }
    use scheduler_core::RunStore;
    let runs = scheduler_adapters::SeaOrmRunStore::new(store.db.clone());
    let filter = RunFilter {
        job_id: Some(job.id),
        tenant: Some(default_tenant()),
        ..RunFilter::default()
    };
    let all = runs
        .list(&RunSlice {
            filter: filter.clone(),
            window: Window::Offset {
                offset: 0,
                limit: 500,
            },
        })
        .await
        .unwrap();
    assert_eq!(all.total, Some(11));
    let newest_first: Vec<RunId> = all.items.iter().map(|run| run.id).collect();
    assert!(newest_first.windows(2).all(|w| w[0] > w[1]));
    let mut walked = Vec::new();
    let mut from = None;
    loop {
        let page = runs
            .list(&RunSlice {
                filter: filter.clone(),
                window: Window::Keyset {
                    keyset: Keyset {
                        from,
                        direction: Direction::Forward,
                    },
                    limit: 4,
                },
            })
            .await
            .unwrap();
        walked.extend(page.items.iter().map(|run| run.id));
        from = page.items.last().map(|run| run.id);
        if !page.more {
            break;
        }
    }
    assert_eq!(walked, newest_first);
    // Back from the oldest: the newer ones, in list order.
    let page = runs
        .list(&RunSlice {
            filter,
            window: Window::Keyset {
                keyset: Keyset {
                    from: newest_first.last().copied(),
                    direction: Direction::Backward,
                },
                limit: 4,
            },
        })
        .await
        .unwrap();
    let ids: Vec<RunId> = page.items.iter().map(|run| run.id).collect();
    assert_eq!(ids, newest_first[6..10]);
    assert!(page.more);
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => Store::sqlite, postgres => Store::postgres },
    tests: [
    cursor_pages_walk_every_ordering_forward_and_back,
    counts_follow_inserts_pauses_resumes_and_deletes,
    a_search_ignores_case_and_takes_wildcards_literally,
    run_cursor_pages_walk_a_jobs_history,
    ],
}

/// 16 writers create, pause, resume and delete jobs in two tenants for 10 s through the
/// repository (inserts coalesced into shared statements); every counter then equals
/// `COUNT(*)`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counters_stay_exact_under_sixteen_concurrent_writers() {
    let Some(store) = Store::postgres().await else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut writers = Vec::new();
    for writer in 0..16usize {
        let repo = store.repo.clone();
        writers.push(tokio::spawn(async move {
            let tenant = Tenant::parse(if writer % 2 == 0 { "default" } else { "team-b" }).unwrap();
            let mut live: Vec<Job> = Vec::new();
            let mut operations = 0u64;
            let mut n = 0usize;
            while Instant::now() < deadline {
                n += 1;
                match n % 5 {
                    0 | 1 => {
                        let mut job = new_job(&format!("w{writer}-{n}"));
                        job.tenant = tenant.clone();
                        live.push(repo.insert(job).await.unwrap());
                    }
                    2 | 3 if !live.is_empty() => {
                        let index = n % live.len();
                        let mut job = live[index].clone();
                        job.spec.is_active = !job.spec.is_active;
                        live[index] = repo.update(job).await.unwrap();
                    }
                    _ if !live.is_empty() => {
                        let job = live.swap_remove(n % live.len());
                        repo.delete(job.id).await.unwrap();
                    }
                    _ => {}
                }
                operations += 1;
            }
            operations
        }));
    }
    let mut operations = 0;
    for writer in writers {
        operations += writer.await.unwrap();
    }
    assert!(operations > 16 * 10, "only {operations} writes in 10 s");
    counters_match_the_table(&store.db).await;
}

/// Every node of an `EXPLAIN (FORMAT JSON)` plan, for the node types it uses.
fn node_types(plan: &serde_json::Value, found: &mut Vec<String>) {
    match plan {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                if key == "Node Type" {
                    found.push(value.as_str().unwrap_or_default().to_string());
                }
                node_types(value, found);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| node_types(item, found)),
        _ => {}
    }
}

/// The node types of `statement`'s plan.
async fn plan_of(db: &DatabaseConnection, statement: Statement) -> Vec<String> {
    let explained = Statement {
        sql: format!("EXPLAIN (FORMAT JSON) {}", statement.sql),
        ..statement
    };
    let row = db.query_one_raw(explained).await.unwrap().unwrap();
    let plan: serde_json::Value = row.try_get("", "QUERY PLAN").unwrap();
    let mut found = Vec::new();
    node_types(&plan, &mut found);
    found
}

/// A million jobs in two tenants (a tenth paused, a tenth never firing) and a million runs,
/// 100,000 of one job, seeded by SQL: no page (numbered first page, cursor first, middle, backward)
/// of any ordering and filter, no count, and no run page of the job is a sequential scan.
#[tokio::test]
async fn no_list_or_count_of_a_million_jobs_is_a_sequential_scan() {
    let Some(store) = Store::postgres().await else {
        return;
    };
    // Seeding a million rows takes longer than the pool's statement timeout.
    let mut config = scheduler_adapters::DatabaseConfig::new(store.url());
    config.statement_timeout = Duration::from_secs(600);
    let db = &scheduler_adapters::connect(&config).await.unwrap();
    for sql in [
        "INSERT INTO jobs (name, cron_expression, timezone, start_time, next_run, parameters, \
         is_active, created_at, updated_at, tenant) \
         SELECT 'job-' || n, '0 0 1 1 *', 'UTC', now(), \
                CASE WHEN n % 10 = 0 THEN NULL ELSE now() + (n % 1000) * interval '1 minute' END, \
                '{}', n % 10 <> 3, now() - n * interval '1 second', now(), \
                CASE WHEN n % 2 = 0 THEN 'default' ELSE 'team-b' END \
         FROM generate_series(1, 1000000) AS n",
        "INSERT INTO job_runs (job_id, scheduled_for, trigger, attempt, status, started_at, \
         heartbeat_at, worker) \
         SELECT (SELECT min(id) FROM jobs WHERE tenant = 'default'), \
                now() - n * interval '1 minute', 'schedule', 1, 'succeeded', now(), now(), 'w' \
         FROM generate_series(1, 100000) AS n",
        // 900,000 more runs of 9,000 other jobs: the job's history is a tenth of the table.
        "INSERT INTO job_runs (job_id, scheduled_for, trigger, attempt, status, started_at, \
         heartbeat_at, worker) \
         SELECT j.id, now() - n * interval '1 minute', 'schedule', 1, 'succeeded', now(), \
                now(), 'w' \
         FROM (SELECT id FROM jobs ORDER BY id OFFSET 1 LIMIT 9000) AS j, \
              generate_series(1, 100) AS n",
        "ANALYZE jobs",
        "ANALYZE job_runs",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }
    // Positions in the middle of the default tenant's list, for every ordering.
    let middle: Job = {
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT id FROM jobs WHERE tenant = 'default' AND next_run IS NOT NULL \
                 ORDER BY id OFFSET 250000 LIMIT 1",
            ))
            .await
            .unwrap()
            .unwrap();
        let id: i64 = row.try_get("", "id").unwrap();
        store.repo.get(JobId(id)).await.unwrap().unwrap()
    };
    let mut checked = 0;
    for wire in ORDERINGS {
        let ordering = JobOrdering::parse(wire).unwrap();
        let position = JobPosition::of(&middle, ordering.field);
        for is_active in [None, Some(true), Some(false)] {
            for window in [
                Window::Offset {
                    offset: 0,
                    limit: 50,
                },
                keyset(None, Direction::Forward, 50),
                keyset(Some(position.clone()), Direction::Forward, 50),
                keyset(Some(position.clone()), Direction::Backward, 50),
            ] {
                let label = format!("{wire} is_active={is_active:?} {window:?}");
                for statement in job_list::statements(
                    DbBackend::Postgres,
                    &slice(ordering, is_active, window.clone()),
                ) {
                    let plan = plan_of(db, statement).await;
                    assert!(
                        !plan.iter().any(|node| node == "Seq Scan"),
                        "{label}: {plan:?}"
                    );
                    checked += 1;
                }
            }
        }
    }
    let history = RunFilter {
        job_id: Some(middle.id),
        tenant: Some(default_tenant()),
        ..RunFilter::default()
    };
    let middle_run = {
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT max(id) AS last FROM job_runs",
            ))
            .await
            .unwrap()
            .unwrap();
        let id: i64 = row.try_get("", "last").unwrap();
        RunId(id - 50_000)
    };
    let run_job: i64 = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT job_id FROM job_runs LIMIT 1",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "job_id")
        .unwrap();
    // Runs across the tenant's jobs, newest first: the primary key, a probe per run.
    let across = RunSlice {
        filter: RunFilter {
            tenant: Some(default_tenant()),
            ..RunFilter::default()
        },
        window: Window::Keyset {
            keyset: Keyset {
                from: Some(middle_run),
                direction: Direction::Forward,
            },
            limit: 50,
        },
    };
    for statement in run_list::statements(DbBackend::Postgres, &across) {
        let plan = plan_of(db, statement).await;
        assert!(
            !plan.iter().any(|node| node == "Seq Scan"),
            "{across:?}: {plan:?}"
        );
        checked += 1;
    }
    for window in [
        Window::Keyset {
            keyset: Keyset::<RunId>::first(),
            limit: 50,
        },
        Window::Keyset {
            keyset: Keyset {
                from: Some(middle_run),
                direction: Direction::Forward,
            },
            limit: 50,
        },
        Window::Offset {
            offset: 0,
            limit: 50,
        },
    ] {
        let slice = RunSlice {
            filter: RunFilter {
                job_id: Some(JobId(run_job)),
                ..history.clone()
            },
            window,
        };
        for statement in run_list::statements(DbBackend::Postgres, &slice) {
            let plan = plan_of(db, statement).await;
            assert!(
                !plan.iter().any(|node| node == "Seq Scan"),
                "{slice:?}: {plan:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 8 * 3 * 4, "{checked} statements checked");
}
