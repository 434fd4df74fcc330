//! Starts the real server for a test, exactly as `main` does, on a random port.
#![allow(dead_code)]

use scheduler_server::{Application, Config};
use scheduler_test_support::{TestPostgres, TestSqlite};
use tokio::sync::oneshot;

/// A running server and what keeps its database alive.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// HTTP client.
    pub client: reqwest::Client,
    /// The PostgreSQL database, when the app runs on one.
    pub postgres: Option<TestPostgres>,
    /// The SQLite file, when the app runs on one.
    pub sqlite: Option<TestSqlite>,
    /// Stops the server when dropped or sent.
    stop: Option<oneshot::Sender<()>>,
}

impl TestApp {
    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POSTs a JSON body to the jobs collection.
    pub async fn post_job(&self, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url("/scheduler/jobs/"))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// GETs `path` and returns status and JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a server with `config`.
pub async fn spawn(config: Config) -> TestApp {
    let app = Application::build(&config).await.expect("server builds");
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        client: reqwest::Client::new(),
        postgres: None,
        sqlite: None,
        stop: Some(stop),
    }
}

/// The configuration tests start from: a random port, and no dispatcher loop (a fire in the
/// middle of a test would change `last_run`/`next_run` under its assertions; manual runs still
/// execute). Tests of the dispatcher turn it on.
pub fn test_config(database_url: &str) -> Config {
    let mut config = Config::for_database(database_url, "127.0.0.1:0".parse().expect("addr"));
    config.dispatcher = "off".into();
    config
}

/// A server on a fresh SQLite file.
pub async fn sqlite_app() -> Option<TestApp> {
    let file = TestSqlite::new();
    let config = test_config(&file.url);
    let mut app = spawn(config).await;
    app.sqlite = Some(file);
    Some(app)
}

/// A server on the PostgreSQL database `url` with the Redis cache at `redis_url` under
/// `prefix` (several servers may share both, like replicas).
pub async fn replica(url: &str, redis_url: &str, prefix: &str) -> TestApp {
    let mut config = test_config(url);
    config.redis_url = Some(redis_url.to_string());
    config.redis_prefix = prefix.to_string();
    spawn(config).await
}

/// A server on a fresh PostgreSQL database, or `None` (skip) when there is no server.
pub async fn postgres_app() -> Option<TestApp> {
    let pg = scheduler_test_support::postgres().await?;
    let mut config = test_config(&pg.url);
    config.db_acquire_timeout_ms = 1_000;
    let mut app = spawn(config).await;
    app.postgres = Some(pg);
    Some(app)
}
