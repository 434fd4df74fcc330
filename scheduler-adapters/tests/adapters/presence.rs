//! Worker presence on PostgreSQL (`PgWorkerPresence`): a joined worker is present while its
//! own session lives; two processes cannot join with one name; a worker whose session ends
//! (here: terminated by the server, as when its process is killed) is lost to the others at
//! once, joins again on its next `keep`, and is forgotten only when lost with no running
//! run. SQLite has none.

use scheduler_adapters::{DatabaseConfig, PgWorkerPresence, connect};
use scheduler_core::{RepositoryError, WorkerPresence};
use scheduler_migration::{Migrator, MigratorTrait};
use scheduler_test_support::TestSqlite;
use sea_orm::{ConnectionTrait, DatabaseConnection};

/// A pool of its own, like one replica's.
async fn replica(url: &str) -> DatabaseConnection {
    connect(&DatabaseConfig::new(url)).await.unwrap()
}

/// Ends the presence session of `worker` from outside, as the server does when the
/// process holding it dies.
async fn terminate_session_of(db: &DatabaseConnection, worker: &str) {
    let sql = format!(
        "SELECT pg_terminate_backend(l.pid) FROM pg_locks AS l \
         WHERE l.locktype = 'advisory' AND l.objsubid = 2 \
         AND l.objid = hashtext('{worker}')::oid \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    );
    db.execute_unprepared(&sql).await.unwrap();
    // The server ends the backend asynchronously; its lock goes with it.
    for _ in 0..100 {
        let held = db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!(
                    "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' \
                     AND objsubid = 2 AND objid = hashtext('{worker}')::oid"
                ),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        if held == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the session of {worker} did not end");
}

#[tokio::test]
async fn a_worker_whose_session_ends_is_lost_to_the_others_and_joins_again() {
    let Some(pg) = scheduler_test_support::postgres().await else {
        return;
    };
    let admin = replica(&pg.url).await;
    Migrator::up(&admin, None).await.unwrap();
    let a = PgWorkerPresence::new(replica(&pg.url).await).unwrap();
    let b = PgWorkerPresence::new(replica(&pg.url).await).unwrap();
    a.join("a").await.unwrap();
    b.join("b").await.unwrap();
    assert!(b.lost("b").await.unwrap().is_empty());
    assert!(a.lost("a").await.unwrap().is_empty());
    // A second process configured with the same name is refused, naming the setting.
    let twin = PgWorkerPresence::new(replica(&pg.url).await).unwrap();
    match twin.join("a").await {
        Err(RepositoryError::Rejected(why)) => assert!(why.contains("SCHEDULER_WORKER_ID")),
        other => panic!("{other:?}"),
    }
    // Its session ends: lost to b at once, and never to itself.
    terminate_session_of(&admin, "a").await;
    assert_eq!(b.lost("b").await.unwrap(), ["a"]);
    // A running run of a keeps it from being forgotten.
    admin
        .execute_unprepared(
            "INSERT INTO jobs (name, cron_expression, timezone, start_time, next_run, \
             parameters, is_active, created_at, updated_at) \
             VALUES ('j', '0 0 1 1 *', 'UTC', now(), now(), '{}', true, now(), now()); \
             INSERT INTO job_runs (job_id, scheduled_for, trigger, attempt, status, \
             started_at, heartbeat_at, worker) \
             SELECT id, now(), 'schedule', 1, 'running', now(), now(), 'a' FROM jobs",
        )
        .await
        .unwrap();
    b.forget(&["a".to_string()]).await.unwrap();
    assert_eq!(b.lost("b").await.unwrap(), ["a"]);
    // a notices on its next check and joins again: present, not lost.
    assert!(a.keep("a").await.unwrap(), "the lost session is reported");
    assert!(!a.keep("a").await.unwrap());
    assert!(b.lost("b").await.unwrap().is_empty());
    // A present worker is never forgotten; a lost one without running runs is.
    b.forget(&["a".to_string()]).await.unwrap();
    terminate_session_of(&admin, "a").await;
    admin
        .execute_unprepared("UPDATE job_runs SET status = 'abandoned'")
        .await
        .unwrap();
    assert_eq!(b.lost("b").await.unwrap(), ["a"]);
    b.forget(&["a".to_string()]).await.unwrap();
    assert!(b.lost("b").await.unwrap().is_empty());
    // Leaving: the row and the lock go; the name can be joined again by another process.
    b.leave("b").await.unwrap();
    assert!(a.lost("a").await.unwrap().is_empty());
    twin.join("b").await.unwrap();
}

#[tokio::test]
async fn sqlite_has_no_presence() {
    let file = TestSqlite::new();
    let db = replica(&file.url).await;
    assert!(PgWorkerPresence::new(db).is_none());
}
