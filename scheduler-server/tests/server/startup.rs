//! Replicas start together (rolling deploys, Compose, Kubernetes): migrations must be applied
//! once, and every replica must start.

use scheduler_migration::MigratorTrait;
use scheduler_server::Application;
use sea_orm::{ConnectionTrait, Database, Statement};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_servers_started_at_once_on_a_fresh_database_all_start() {
    for round in 0..10 {
        let Some(pg) = scheduler_test_support::postgres().await else {
            return;
        };
        let mut starts = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let config = crate::support::test_config(&pg.url);
            starts.spawn(async move { Application::build(&config).await.map(|_| ()) });
        }
        while let Some(started) = starts.join_next().await {
            let started = started.expect("the start task ends");
            assert!(started.is_ok(), "round {round}: {started:?}");
        }
        let db = Database::connect(pg.url.clone()).await.unwrap();
        let applied = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT version, COUNT(*) AS times FROM seaql_migrations GROUP BY version",
            ))
            .await
            .unwrap();
        let applied: Vec<(String, i64)> = applied
            .iter()
            .map(|row| {
                (
                    row.try_get::<String>("", "version").unwrap(),
                    row.try_get::<i64>("", "times").unwrap(),
                )
            })
            .collect();
        let migrations = scheduler_migration::Migrator::migrations().len();
        assert_eq!(applied.len(), migrations, "round {round}: {applied:?}");
        assert!(applied.iter().all(|(_, times)| *times == 1), "{applied:?}");
        db.close().await.unwrap();
    }
}
