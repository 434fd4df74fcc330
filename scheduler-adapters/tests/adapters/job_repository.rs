//! The `JobRepository` contract, run against SQLite (a temp file) and PostgreSQL (from
//! `SCHEDULER_TEST_DATABASE_URL`, testcontainers, or skipped — see scheduler-test-support).

use crate::support::{Backend, Store, new_job, utc};
use chrono::Utc;
use scheduler_adapters::{DatabaseConfig, SeaOrmJobRepository, connect};
use scheduler_core::{BulkChange, Conflict, Job, JobId, JobQuery, JobRepository, RepositoryError};
use scheduler_migration::{Migrator, MigratorTrait};
use scheduler_test_support::TestSqlite;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;

async fn insert_round_trip(store: Store) {
    let inserted = store.repo.insert(new_job("alpha")).await.unwrap();
    assert!(inserted.id.0 > 0);
    assert_eq!(inserted.spec.name.as_str(), "alpha");
    assert_eq!(inserted.next_run, Some(utc("2025-06-23T09:00:00Z")));
    assert_eq!(inserted.last_run, None);
    let fetched = store.repo.get(inserted.id).await.unwrap();
    assert_eq!(fetched, Some(inserted));
    assert_eq!(store.repo.get(JobId(999_999)).await.unwrap(), None);
}

async fn parameters_and_instants_survive_exactly(store: Store) {
    let mut job = new_job("params");
    job.spec.parameters = scheduler_core::Parameters::parse(json!({
        "action": "send_report",
        "nested": {"list": [1, 2.5, null, true], "deep": {"ключ": "значение ✓ 🚀"}},
        "empty": {}
    }))
    .unwrap();
    job.spec.end_time = Some(utc("2030-01-01T00:00:00.000001Z"));
    job.created_at = utc("2025-06-23T08:00:00.654321Z");
    let inserted = store.repo.insert(job.clone()).await.unwrap();
    let fetched = store.repo.get(inserted.id).await.unwrap().unwrap();
    assert_eq!(fetched.spec.parameters, job.spec.parameters);
    assert_eq!(fetched.spec.end_time, job.spec.end_time);
    assert_eq!(fetched.created_at, utc("2025-06-23T08:00:00.654321Z"));
    assert_eq!(fetched.created_at.timezone(), Utc);
}

async fn update_and_delete(store: Store) {
    let job = store.repo.insert(new_job("beta")).await.unwrap();
    let mut changed = job.clone();
    changed.spec.description = scheduler_core::Description::parse("changed").unwrap();
    changed.last_run = Some(utc("2025-06-23T09:00:00.5Z"));
    changed.next_run = None;
    changed.updated_at = utc("2025-06-24T00:00:00Z");
    let updated = store.repo.update(changed.clone()).await.unwrap();
    assert_eq!(updated, changed);
    assert_eq!(store.repo.get(job.id).await.unwrap(), Some(changed));

    let mut ghost = job.clone();
    ghost.id = JobId(987_654);
    assert_eq!(
        store.repo.update(ghost).await,
        Err(RepositoryError::NotFound)
    );

    store.repo.delete(job.id).await.unwrap();
    assert_eq!(store.repo.get(job.id).await.unwrap(), None);
    assert_eq!(
        store.repo.delete(job.id).await,
        Err(RepositoryError::NotFound)
    );
}

/// The maintenance switch reaches exactly the tenant's jobs whose name starts with the prefix
/// (case and `_`/`%` taken literally), pauses only active ones and resumes only paused ones.
async fn the_maintenance_switch_changes_exactly_the_matching_jobs(store: Store) {
    let mut ids = std::collections::HashMap::new();
    for name in ["etl-a", "etl-b", "ETL-c", "etl_x", "etlyx", "report"] {
        ids.insert(name, store.repo.insert(new_job(name)).await.unwrap().id);
    }
    let mut other = new_job("etl-z");
    other.tenant = scheduler_core::Tenant::parse("other").unwrap();
    let other = store.repo.insert(other).await.unwrap();
    let tenant = scheduler_core::Tenant::default_tenant();
    let now = utc("2025-06-23T09:30:00Z");
    let pause = BulkChange::Pause(scheduler_core::PauseNote {
        by: Some("ops".into()),
        note: Some("db upgrade".into()),
        at: now,
        auto: false,
        until: None,
    });
    let paused = store
        .repo
        .change_matching(&tenant, "etl-", &pause, Some("ops".into()))
        .await
        .unwrap()
        .into_iter()
        .map(|job| job.id)
        .collect::<Vec<_>>();
    assert_eq!(paused, [ids["etl-a"], ids["etl-b"]]);
    let a = store.repo.get(ids["etl-a"]).await.unwrap().unwrap();
    assert!(!a.spec.is_active);
    assert_eq!(a.next_run, None);
    assert_eq!(
        a.pause.as_ref().unwrap().note.as_deref(),
        Some("db upgrade")
    );
    assert_eq!(a.updated_by.as_deref(), Some("ops"));
    // `_` is a character, not a wildcard; paused jobs are not paused again.
    let underscore = store
        .repo
        .change_matching(&tenant, "etl_", &pause, None)
        .await
        .unwrap()
        .into_iter()
        .map(|job| job.id)
        .collect::<Vec<_>>();
    assert_eq!(underscore, [ids["etl_x"]]);
    assert_eq!(
        store
            .repo
            .change_matching(&tenant, "etl-", &pause, None)
            .await
            .unwrap()
            .len(),
        0
    );
    assert!(
        store
            .repo
            .get(other.id)
            .await
            .unwrap()
            .unwrap()
            .spec
            .is_active
    );
    // Every paused job of the tenant resumes, its next run from then.
    let later = utc("2025-06-24T10:00:00Z");
    let resumed = store
        .repo
        .change_matching(&tenant, "", &BulkChange::Resume(later), None)
        .await
        .unwrap()
        .into_iter()
        .map(|job| job.id)
        .collect::<Vec<_>>();
    assert_eq!(resumed, [ids["etl-a"], ids["etl-b"], ids["etl_x"]]);
    let a = store.repo.get(ids["etl-a"]).await.unwrap().unwrap();
    assert!(a.spec.is_active);
    assert_eq!((a.pause, a.updated_at), (None, later));
    // Mondays at 09:00 from 2025-06-23 09:00: the next after the 24th is the 30th.
    assert_eq!(a.next_run, Some(utc("2025-06-30T09:00:00Z")));
}

async fn duplicate_names_conflict(store: Store) {
    let first = store.repo.insert(new_job("dup")).await.unwrap();
    assert_eq!(
        store.repo.insert(new_job("dup")).await,
        Err(RepositoryError::Conflict(Conflict::JobName))
    );
    let other = store.repo.insert(new_job("other")).await.unwrap();
    let mut renamed = other.clone();
    renamed.spec.name = first.spec.name.clone();
    assert_eq!(
        store.repo.update(renamed).await,
        Err(RepositoryError::Conflict(Conflict::JobName))
    );
}

async fn concurrent_inserts_of_one_name_let_exactly_one_win(store: Store) {
    for round in 0..20 {
        let name = format!("race-{round}");
        let (a, b) = tokio::join!(
            store.repo.insert(new_job(&name)),
            store.repo.insert(new_job(&name))
        );
        let results = [a, b];
        let wins = results.iter().filter(|r| r.is_ok()).count();
        let conflicts = results
            .iter()
            .filter(|r| matches!(r, Err(RepositoryError::Conflict(Conflict::JobName))))
            .count();
        assert_eq!((wins, conflicts), (1, 1), "round {round}: {results:?}");
    }
}

/// The store's slice for a numbered page of `query` over the default tenant's jobs.
fn numbered(query: &JobQuery) -> scheduler_core::JobSlice {
    query.slice_for(Some(scheduler_core::Tenant::default_tenant()), None)
}

async fn pagination_filter_and_ordering(store: Store) {
    // Names inserted out of order; every third job inactive without a next run.
    let names = [
        "delta", "alpha", "echo", "charlie", "bravo", "foxtrot", "golf",
    ];
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut job = new_job(name);
        job.created_at = utc("2025-01-01T00:00:00Z") + chrono::Duration::minutes(i as i64);
        if i % 3 == 0 {
            job.spec.is_active = false;
            job.next_run = None;
        } else {
            job.next_run = Some(utc("2025-07-01T00:00:00Z") - chrono::Duration::hours(i as i64));
        }
        ids.push(store.repo.insert(job).await.unwrap().id);
    }
    let names_of = |page: &scheduler_core::JobPage| -> Vec<String> {
        page.items
            .iter()
            .map(|j: &Job| j.spec.name.as_str().to_string())
            .collect()
    };

    let q = JobQuery::new(Some(1), Some(3), None, None).unwrap();
    let page = store.repo.list(&numbered(&q)).await.unwrap();
    assert_eq!(page.total, Some(7));
    assert_eq!(
        page.items.iter().map(|j| j.id).collect::<Vec<_>>(),
        ids[..3]
    );
    let q = JobQuery::new(Some(3), Some(3), None, None).unwrap();
    let page = store.repo.list(&numbered(&q)).await.unwrap();
    assert_eq!((page.total, page.items.len()), (Some(7), 1));
    let q = JobQuery::new(Some(9), Some(3), None, None).unwrap();
    assert!(
        store
            .repo
            .list(&numbered(&q))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let q = JobQuery::new(None, None, Some(false), Some("name")).unwrap();
    let page = store.repo.list(&numbered(&q)).await.unwrap();
    assert_eq!(page.total, Some(3));
    assert_eq!(names_of(&page), ["charlie", "delta", "golf"]);
    let q = JobQuery::new(None, None, Some(true), Some("-name")).unwrap();
    assert_eq!(
        names_of(&store.repo.list(&numbered(&q)).await.unwrap()),
        ["foxtrot", "echo", "bravo", "alpha"]
    );
    let q = JobQuery::new(None, None, None, Some("-id")).unwrap();
    let page = store.repo.list(&numbered(&q)).await.unwrap();
    assert_eq!(page.items.first().map(|j| j.id), ids.last().copied());

    // next_run ascending: earliest first, jobs that never fire last (ties by id).
    let q = JobQuery::new(None, None, None, Some("next_run")).unwrap();
    assert_eq!(
        names_of(&store.repo.list(&numbered(&q)).await.unwrap()),
        [
            "foxtrot", "bravo", "echo", "alpha", "delta", "charlie", "golf"
        ]
    );
    // Descending: jobs that never fire first, ties by id descending too.
    let q = JobQuery::new(None, None, None, Some("-next_run")).unwrap();
    assert_eq!(
        names_of(&store.repo.list(&numbered(&q)).await.unwrap()),
        [
            "golf", "charlie", "delta", "alpha", "echo", "bravo", "foxtrot"
        ]
    );
    let q = JobQuery::new(None, None, None, Some("-created_at")).unwrap();
    assert_eq!(
        names_of(&store.repo.list(&numbered(&q)).await.unwrap())[0],
        "golf"
    );
}

async fn a_stopped_database_is_unavailable(store: Store) {
    let job = store.repo.insert(new_job("before-outage")).await.unwrap();
    store.repo.ping().await.unwrap();
    store.stop().await;
    let started = std::time::Instant::now();
    assert!(matches!(
        store.repo.get(job.id).await,
        Err(RepositoryError::Unavailable(_))
    ));
    assert!(matches!(
        store.repo.insert(new_job("during")).await,
        Err(RepositoryError::Unavailable(_))
    ));
    assert!(matches!(
        store.repo.ping().await,
        Err(RepositoryError::Unavailable(_))
    ));
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
}

/// Many concurrent reads (coalesced into shared queries by the repository) each get their own
/// job, or `None` for an id that does not exist, whatever else shares their query.
async fn concurrent_reads_each_get_their_own_job(store: Store) {
    let mut names = std::collections::HashMap::new();
    for i in 0..40 {
        let job = store
            .repo
            .insert(new_job(&format!("reader-{i}")))
            .await
            .unwrap();
        names.insert(job.id.0, job.spec.name.as_str().to_string());
    }
    let known: Vec<i64> = names.keys().copied().collect();
    let mut reads = tokio::task::JoinSet::new();
    for round in 0..400usize {
        // Known ids (often the same one many times) interleaved with missing ones.
        let id = if round % 5 == 4 {
            1_000_000 + round as i64
        } else {
            known[(round * 7) % known.len()]
        };
        let repo = store.repo.clone();
        reads.spawn(async move { (id, repo.get(JobId(id)).await) });
    }
    let mut answered = 0;
    while let Some(joined) = reads.join_next().await {
        let (id, read) = joined.unwrap();
        let found = read.unwrap();
        match names.get(&id) {
            Some(name) => assert_eq!(
                found.map(|j| j.spec.name.as_str().to_string()),
                Some(name.clone())
            ),
            None => assert_eq!(found, None, "id {id} does not exist"),
        }
        answered += 1;
    }
    assert_eq!(answered, 400);
}

/// A read issued after a write returns has the write, even while other reads of the same row
/// are in flight (a read never joins a query sent before it was issued).
async fn a_read_after_a_write_sees_it_under_concurrent_reads(store: Store) {
    let job = store.repo.insert(new_job("hot")).await.unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut background = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (repo, stop) = (store.repo.clone(), stop.clone());
        background.spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                repo.get(job.id).await.unwrap();
                tokio::task::yield_now().await;
            }
        });
    }
    let mut current = job.clone();
    for round in 0..30 {
        current.spec.description =
            scheduler_core::Description::parse(&format!("round {round}")).unwrap();
        store.repo.update(current.clone()).await.unwrap();
        let read = store.repo.get(job.id).await.unwrap().unwrap();
        assert_eq!(
            read.spec.description, current.spec.description,
            "round {round}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    while let Some(done) = background.join_next().await {
        done.unwrap();
    }
}

/// Many concurrent inserts (coalesced into shared statements by the repository): every new
/// name is stored exactly once and returned with its own row; a name already stored, or sent
/// several times at once, is stored once and every other attempt gets `Conflict`.
async fn concurrent_inserts_each_store_their_own_job_once(store: Store) {
    store.repo.insert(new_job("taken")).await.unwrap();
    let mut inserts = tokio::task::JoinSet::new();
    for i in 0..240usize {
        let name = match i % 4 {
            0 => "taken".to_string(),
            1 => format!("shared-{}", i % 10),
            _ => format!("unique-{i}"),
        };
        let repo = store.repo.clone();
        inserts.spawn(async move { (name.clone(), repo.insert(new_job(&name)).await) });
    }
    let mut stored = std::collections::HashMap::new();
    let mut conflicts = std::collections::HashMap::<String, usize>::new();
    while let Some(done) = inserts.join_next().await {
        let (name, result) = done.unwrap();
        match result {
            Ok(job) => {
                assert_eq!(job.spec.name.as_str(), name);
                assert_eq!(store.repo.get(job.id).await.unwrap(), Some(job.clone()));
                assert!(
                    stored.insert(name.clone(), job).is_none(),
                    "{name} stored twice"
                );
            }
            Err(RepositoryError::Conflict(Conflict::JobName)) => {
                *conflicts.entry(name).or_default() += 1;
            }
            Err(other) => panic!("{name}: {other:?}"),
        }
    }
    assert!(!stored.contains_key("taken"));
    assert_eq!(conflicts.get("taken"), Some(&60));
    // The 60 values of i with i % 4 == 1 give i % 10 in {1, 3, 5, 7, 9}, 12 times each.
    for n in [1, 3, 5, 7, 9] {
        let name = format!("shared-{n}");
        assert!(stored.contains_key(&name), "{name} never stored");
        assert_eq!(conflicts.get(&name), Some(&11), "{name}");
    }
    assert_eq!(stored.len(), 120 + 5);
    let page = store
        .repo
        .list(&numbered(&JobQuery::default()))
        .await
        .unwrap();
    assert_eq!(page.total, Some(1 + 120 + 5));
}

/// Makes the store refuse one name, as it would refuse a value it cannot keep: a CHECK
/// constraint on PostgreSQL, a trigger on SQLite (which cannot add constraints to a table).
async fn refuse_name(store: &Store, name: &str) {
    let statement = match store.backend {
        Backend::Postgres(_) => {
            format!("ALTER TABLE jobs ADD CONSTRAINT refused CHECK (name <> '{name}')")
        }
        Backend::Sqlite(_) => format!(
            "CREATE TRIGGER refused BEFORE INSERT ON jobs WHEN NEW.name = '{name}' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ),
    };
    store.db.execute_unprepared(&statement).await.unwrap();
}

async fn a_refused_row_fails_only_its_own_insert_in_a_shared_batch(store: Store) {
    refuse_name(&store, "poison").await;
    let alone = store.repo.insert(new_job("poison")).await;
    assert!(
        matches!(alone, Err(RepositoryError::Rejected(_))),
        "{alone:?}"
    );
    // 40 inserts at once share statements (two slots): the one the store refuses must fail
    // alone, every other one is stored.
    for round in 0..3 {
        let mut inserts = tokio::task::JoinSet::new();
        for n in 0..40 {
            let name = if n == 17 {
                "poison".to_string()
            } else {
                format!("neighbour-{round}-{n}")
            };
            let repo = store.repo.clone();
            inserts.spawn(async move {
                let result = repo.insert(new_job(&name)).await;
                (name, result)
            });
        }
        while let Some(done) = inserts.join_next().await {
            let (name, result) = done.unwrap();
            if name == "poison" {
                assert!(
                    matches!(result, Err(RepositoryError::Rejected(_))),
                    "{result:?}"
                );
            } else {
                assert!(result.is_ok(), "{name}: {result:?}");
            }
        }
    }
    let page = store
        .repo
        .list(&numbered(&JobQuery::default()))
        .await
        .unwrap();
    assert_eq!(page.total, Some(3 * 39));
}

fn owner(name: &str) -> scheduler_core::Owner {
    scheduler_core::Owner::parse(name).unwrap()
}

fn job_name(name: &str) -> scheduler_core::JobName {
    scheduler_core::JobName::parse(name).unwrap()
}

/// An apply's comparison reads the owner's jobs and the listed names, each once, of the
/// tenant only; the owner survives the round trip.
async fn an_apply_reads_the_owners_jobs_and_the_listed_names(store: Store) {
    let mut managed = new_job("managed");
    managed.spec.managed_by = Some(owner("team-a"));
    let managed = store.repo.insert(managed).await.unwrap();
    assert_eq!(managed.spec.managed_by, Some(owner("team-a")));
    let listed = store.repo.insert(new_job("listed")).await.unwrap();
    let mut theirs = new_job("theirs");
    theirs.spec.managed_by = Some(owner("team-b"));
    store.repo.insert(theirs).await.unwrap();
    let mut elsewhere = new_job("listed");
    elsewhere.tenant = scheduler_core::Tenant::parse("other").unwrap();
    elsewhere.spec.managed_by = Some(owner("team-a"));
    store.repo.insert(elsewhere).await.unwrap();
    let tenant = scheduler_core::Tenant::default_tenant();
    let found = store
        .repo
        .list_for_apply(
            &tenant,
            &owner("team-a"),
            &[job_name("listed"), job_name("managed"), job_name("absent")],
        )
        .await
        .unwrap();
    let ids: Vec<JobId> = found.iter().map(|job| job.id).collect();
    assert_eq!(ids, vec![managed.id, listed.id]);
    assert_eq!(found[0], managed);
}

/// An apply's writes are made together or not at all: an insert whose name is taken fails
/// the whole apply with `Conflict`, and the update and delete made before it in the same
/// transaction are rolled back; a clean apply returns inserts then updates as stored.
async fn an_apply_writes_everything_or_nothing(store: Store) {
    let kept = store.repo.insert(new_job("kept")).await.unwrap();
    let doomed = store.repo.insert(new_job("doomed")).await.unwrap();
    store.repo.insert(new_job("taken")).await.unwrap();
    let mut rewritten = kept.clone();
    rewritten.spec.description = scheduler_core::Description::parse("rewritten").unwrap();
    let failing = scheduler_core::JobChanges {
        inserts: vec![new_job("fresh"), new_job("taken")],
        updates: vec![rewritten.clone()],
        deletes: vec![doomed.id],
    };
    assert_eq!(
        store.repo.apply_changes(failing).await,
        Err(RepositoryError::Conflict(Conflict::JobName))
    );
    assert_eq!(store.repo.get(kept.id).await.unwrap(), Some(kept.clone()));
    assert!(
        store.repo.get(doomed.id).await.unwrap().is_some(),
        "not deleted"
    );
    let tenant = scheduler_core::Tenant::default_tenant();
    assert_eq!(
        store
            .repo
            .find_by_name(&tenant, &job_name("fresh"))
            .await
            .unwrap(),
        None,
        "not inserted"
    );
    // A gone job fails it too, and nothing is written.
    let ghost = scheduler_core::JobChanges {
        inserts: vec![new_job("fresh")],
        updates: vec![],
        deletes: vec![JobId(987_654)],
    };
    assert_eq!(
        store.repo.apply_changes(ghost).await,
        Err(RepositoryError::NotFound)
    );
    assert_eq!(
        store
            .repo
            .find_by_name(&tenant, &job_name("fresh"))
            .await
            .unwrap(),
        None
    );
    let clean = scheduler_core::JobChanges {
        inserts: vec![new_job("fresh")],
        updates: vec![rewritten.clone()],
        deletes: vec![doomed.id],
    };
    let stored = store.repo.apply_changes(clean).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].spec.name.as_str(), "fresh");
    assert!(stored[0].id.0 > 0);
    assert_eq!(stored[1], rewritten);
    assert_eq!(store.repo.get(kept.id).await.unwrap(), Some(rewritten));
    assert_eq!(store.repo.get(doomed.id).await.unwrap(), None);
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test,
    setups: { sqlite => Store::sqlite, postgres => Store::postgres },
    tests: [
    insert_round_trip,
    parameters_and_instants_survive_exactly,
    update_and_delete,
    the_maintenance_switch_changes_exactly_the_matching_jobs,
    duplicate_names_conflict,
    concurrent_inserts_of_one_name_let_exactly_one_win,
    pagination_filter_and_ordering,
    a_stopped_database_is_unavailable,
    concurrent_reads_each_get_their_own_job,
    a_read_after_a_write_sees_it_under_concurrent_reads,
    concurrent_inserts_each_store_their_own_job_once,
    a_refused_row_fails_only_its_own_insert_in_a_shared_batch,
    an_apply_reads_the_owners_jobs_and_the_listed_names,
    an_apply_writes_everything_or_nothing,
    ],
}

#[tokio::test]
async fn migrations_go_down_and_up_again_on_sqlite() {
    let file = TestSqlite::new();
    let db = connect(&DatabaseConfig::new(&file.url)).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    Migrator::down(&db, None).await.unwrap();
    assert!(db.execute_unprepared("SELECT 1 FROM jobs").await.is_err());
    Migrator::up(&db, None).await.unwrap();
    db.execute_unprepared("SELECT 1 FROM jobs").await.unwrap();
}

#[tokio::test]
async fn migrations_go_down_and_up_again_on_postgres() {
    let Some(pg) = scheduler_test_support::postgres().await else {
        return;
    };
    let db = connect(&DatabaseConfig::new(&pg.url)).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    Migrator::down(&db, None).await.unwrap();
    assert!(db.execute_unprepared("SELECT 1 FROM jobs").await.is_err());
    Migrator::up(&db, None).await.unwrap();
    db.execute_unprepared("SELECT 1 FROM jobs").await.unwrap();
}

/// The tenants migration rebuilds `jobs` and `job_runs` on SQLite: every job and run is kept,
/// jobs land in `default`, and deleting a job still deletes its runs (the rebuilt foreign key
/// points at the new `jobs`).
#[tokio::test]
async fn the_tenant_migration_keeps_every_job_and_run_on_sqlite() {
    use sea_orm::{DbBackend, Statement};
    let file = TestSqlite::new();
    let db = connect(&DatabaseConfig::new(&file.url)).await.unwrap();
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    let before = names
        .iter()
        .position(|name| name.ends_with("_tenants"))
        .unwrap();
    Migrator::up(&db, Some(u32::try_from(before).unwrap()))
        .await
        .unwrap();
    for statement in [
        "INSERT INTO jobs (name, cron_expression, start_time, created_at, updated_at) VALUES \
         ('kept', '@daily', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        "INSERT INTO job_runs (job_id, scheduled_for, trigger, attempt, status, started_at, \
         heartbeat_at, worker) VALUES (1, '2026-01-02T00:00:00Z', 'schedule', 1, 'succeeded', \
         '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z', 'w')",
    ] {
        db.execute_unprepared(statement).await.unwrap();
    }
    Migrator::up(&db, None).await.unwrap();
    let runs = |db: DatabaseConnection| async move {
        db.query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT COUNT(*) AS n FROM job_runs",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap()
    };
    assert_eq!(runs(db.clone()).await, 1);
    let repo = SeaOrmJobRepository::new(db.clone());
    let job = repo.get(JobId(1)).await.unwrap().unwrap();
    assert_eq!(job.spec.name.as_str(), "kept");
    assert_eq!(job.tenant, scheduler_core::Tenant::default_tenant());
    repo.delete(JobId(1)).await.unwrap();
    assert_eq!(runs(db.clone()).await, 0);
}

/// Jobs written before `jobs.target_host` existed get it from the migration, by the core's
/// rule (`host_key`), and every write stores it: the claim compares the column instead of
/// deriving the host in SQL.
async fn target_hosts_are_the_cores_before_and_after_the_migration(url: &str) {
    use sea_orm::{ConnectionTrait, Statement};
    let db = connect(&DatabaseConfig::new(url)).await.unwrap();
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    let before = names
        .iter()
        .position(|name| name.ends_with("_target_host"))
        .unwrap();
    Migrator::up(&db, Some(u32::try_from(before).unwrap()))
        .await
        .unwrap();
    let urls = [
        "HTTPS://Hooks.Example.COM:8443/a?b#c",
        "http://[::1]:9/x",
        "https://example.org",
    ];
    for (n, url) in urls.iter().enumerate() {
        db.execute_unprepared(&format!(
            "INSERT INTO jobs (name, cron_expression, start_time, created_at, updated_at, \
             target) VALUES ('old-{n}', '@daily', '2026-01-01T00:00:00Z', \
             '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '{}')",
            serde_json::json!({"type": "http", "url": url})
        ))
        .await
        .unwrap();
    }
    db.execute_unprepared(
        "INSERT INTO jobs (name, cron_expression, start_time, created_at, updated_at) VALUES \
         ('no-target', '@daily', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', \
         '2026-01-01T00:00:00Z')",
    )
    .await
    .unwrap();
    Migrator::up(&db, None).await.unwrap();
    let hosts = |db: DatabaseConnection| async move {
        let backend = db.get_database_backend();
        db.query_all_raw(Statement::from_string(
            backend,
            "SELECT name, target_host FROM jobs ORDER BY id",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.try_get::<String>("", "name").unwrap(),
                row.try_get::<Option<String>>("", "target_host").unwrap(),
            )
        })
        .collect::<Vec<_>>()
    };
    let mut expected: Vec<(String, Option<String>)> = urls
        .iter()
        .enumerate()
        .map(|(n, url)| (format!("old-{n}"), Some(scheduler_core::host_key(url))))
        .collect();
    expected.push(("no-target".into(), None));
    assert_eq!(hosts(db.clone()).await, expected);
    assert_eq!(expected[0].1.as_deref(), Some("hooks.example.com:8443"));
    // A job written now carries its host too.
    let repo = SeaOrmJobRepository::new(db.clone());
    let mut job = repo.get(JobId(4)).await.unwrap().unwrap();
    job.spec.target = Some(
        scheduler_core::HttpTarget::parse(
            &serde_json::json!({"type": "http", "url": "http://New.Example/"}),
        )
        .unwrap(),
    );
    repo.update(job).await.unwrap();
    assert_eq!(hosts(db.clone()).await[3].1.as_deref(), Some("new.example"));
}

#[tokio::test]
async fn target_hosts_are_the_cores_on_sqlite() {
    let file = TestSqlite::new();
    target_hosts_are_the_cores_before_and_after_the_migration(&file.url).await;
}

#[tokio::test]
async fn target_hosts_are_the_cores_on_postgres() {
    let Some(pg) = scheduler_test_support::postgres().await else {
        return;
    };
    target_hosts_are_the_cores_before_and_after_the_migration(&pg.url).await;
}
