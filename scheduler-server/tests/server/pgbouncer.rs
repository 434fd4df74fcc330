//! The server behind PgBouncer (Debian's 1.18 with stock settings, started by
//! `.ci/pgbouncer.sh`): in session pooling it migrates, serves, dispatches and records runs,
//! and its statement timeout holds on every pooled connection; in transaction pooling it
//! refuses to start, naming the setting. The URLs come from
//! `SCHEDULER_TEST_PGBOUNCER_SESSION_URL` and `SCHEDULER_TEST_PGBOUNCER_TRANSACTION_URL`
//! (each `postgres://user@host:port`, forwarding every database to the tests' PostgreSQL).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use poem::{EndpointExt, handler, web::Data};
use scheduler_server::Application;
use scheduler_test_support::TestPostgres;
use serde_json::json;

use crate::support::{serve_hook, spawn, test_config};

/// A fresh database on the tests' PostgreSQL and its URL through the pooler `var` names;
/// `None` (skip, when skipping is allowed) without the pooler or PostgreSQL.
async fn behind(var: &str) -> Option<(TestPostgres, String)> {
    let Ok(pooler) = std::env::var(var) else {
        return scheduler_test_support::missing(
            "PgBouncer",
            &format!("{var} is not set"),
            "run .ci/pgbouncer.sh and export the variables it prints",
        );
    };
    let pg = scheduler_test_support::postgres().await?;
    let url = format!("{}/{}", pooler.trim_end_matches('/'), pg.database);
    Some((pg, url))
}

#[handler]
fn count(hits: Data<&Arc<AtomicUsize>>) -> &'static str {
    hits.fetch_add(1, Ordering::SeqCst);
    "ok"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_pooling_serves_dispatches_and_keeps_the_statement_timeout() {
    let Some((pg, url)) = behind("SCHEDULER_TEST_PGBOUNCER_SESSION_URL").await else {
        return;
    };
    let hits = Arc::new(AtomicUsize::new(0));
    let hook = serve_hook(count.data(hits.clone())).await;
    let mut config = test_config(&url);
    config.dispatcher = "on".into();
    let app = spawn(config).await;
    let job = app
        .create_job(&json!({"name": "through-the-pooler", "interval_seconds": 1,
            "target": {"type": "http", "url": hook}}))
        .await;
    let path = format!("/scheduler/jobs/{}/runs/", job["id"]);
    let mut runs = serde_json::Value::Null;
    for _ in 0..100 {
        runs = app.get_json(&path).await.1;
        let succeeded = runs["results"].as_array().map_or(0, |r| {
            r.iter().filter(|run| run["status"] == "succeeded").count()
        });
        if succeeded >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let succeeded = runs["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|run| run["status"] == "succeeded")
        .count();
    assert!(succeeded >= 2, "{runs}");
    assert!(hits.load(Ordering::SeqCst) >= 2);
    // The migrations ran through the pooler: the schema is in the database itself.
    assert!(pg.url.contains(&pg.database));

    // Every pooled connection has the statement timeout, though no startup option carried it
    // (PgBouncer refuses those it does not know).
    let mut db_config = scheduler_adapters::DatabaseConfig::new(&url);
    db_config.statement_timeout = Duration::from_millis(1_234);
    db_config.max_connections = 3;
    let db = scheduler_adapters::connect(&db_config).await.unwrap();
    let pool = db.get_postgres_connection_pool();
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut connection = pool.acquire().await.unwrap();
        let shown: String = sea_orm::sqlx::query_scalar("SHOW statement_timeout")
            .fetch_one(&mut *connection)
            .await
            .unwrap();
        assert_eq!(shown, "1234ms");
        held.push(connection);
    }
    // And it is enforced.
    let slow = sea_orm::sqlx::query("SELECT pg_sleep(3)")
        .execute(&mut *held[0])
        .await
        .unwrap_err();
    assert!(slow.to_string().contains("statement timeout"), "{slow}");
}

#[tokio::test]
async fn transaction_pooling_is_refused_at_start_naming_the_setting() {
    let Some((_pg, url)) = behind("SCHEDULER_TEST_PGBOUNCER_TRANSACTION_URL").await else {
        return;
    };
    let Err(refused) = Application::build(&test_config(&url)).await else {
        panic!("a server started behind a transaction pooler");
    };
    let message = refused.to_string();
    assert!(message.contains("DATABASE_URL"), "{message}");
    assert!(message.contains("pool_mode = transaction"), "{message}");
    assert!(message.contains("pool_mode = session"), "{message}");
}

/// The same check passes on PostgreSQL itself (the other tests start servers on it, but this
/// says why one would not).
#[tokio::test]
async fn postgresql_itself_is_not_taken_for_a_pooler() {
    let Some(pg) = scheduler_test_support::postgres().await else {
        return;
    };
    let db = scheduler_adapters::connect(&scheduler_adapters::DatabaseConfig::new(&pg.url))
        .await
        .unwrap();
    for _ in 0..5 {
        assert_eq!(
            scheduler_adapters::refuse_transaction_pooling(&db).await,
            Ok(())
        );
    }
}
