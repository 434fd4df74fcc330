//! Starts the real server for a test, exactly as `main` does, on a random port, and talks to
//! it through a client that checks every answer against the served OpenAPI document.

pub(crate) mod browser;
mod contract;
pub(crate) mod smtp;

use std::sync::Arc;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use scheduler_server::{Application, Config};
use scheduler_test_support::{TestPostgres, TestRedis, TestSqlite};
use tokio::sync::oneshot;

pub(crate) use contract::Contract;

/// An HTTP client whose every answer is checked against the served OpenAPI document.
#[derive(Clone)]
pub(crate) struct CheckedClient {
    /// The client.
    inner: reqwest::Client,
    /// What the answers must match.
    contract: Arc<Contract>,
}

impl CheckedClient {
    /// A client checking answers against `contract`.
    pub(crate) fn new(contract: Arc<Contract>) -> Self {
        Self {
            inner: reqwest::Client::new(),
            contract,
        }
    }

    /// A request with any method.
    pub(crate) fn request(&self, method: Method, url: impl reqwest::IntoUrl) -> CheckedRequest {
        CheckedRequest {
            inner: self.inner.request(method, url),
            client: self.inner.clone(),
            contract: self.contract.clone(),
        }
    }

    /// A GET request.
    pub(crate) fn get(&self, url: impl reqwest::IntoUrl) -> CheckedRequest {
        self.request(Method::GET, url)
    }

    /// A POST request.
    pub(crate) fn post(&self, url: impl reqwest::IntoUrl) -> CheckedRequest {
        self.request(Method::POST, url)
    }

    /// A PUT request.
    pub(crate) fn put(&self, url: impl reqwest::IntoUrl) -> CheckedRequest {
        self.request(Method::PUT, url)
    }

    /// A PATCH request.
    pub(crate) fn patch(&self, url: impl reqwest::IntoUrl) -> CheckedRequest {
        self.request(Method::PATCH, url)
    }

    /// A DELETE request.
    pub(crate) fn delete(&self, url: impl reqwest::IntoUrl) -> CheckedRequest {
        self.request(Method::DELETE, url)
    }
}

/// A request being built; `send` checks its answer.
pub(crate) struct CheckedRequest {
    /// The request.
    inner: reqwest::RequestBuilder,
    /// The client that sends it.
    client: reqwest::Client,
    /// What the answer must match.
    contract: Arc<Contract>,
}

impl CheckedRequest {
    /// A JSON body.
    pub(crate) fn json(self, body: &serde_json::Value) -> Self {
        Self {
            inner: self.inner.json(body),
            ..self
        }
    }

    /// A header.
    pub(crate) fn header(self, name: &str, value: &str) -> Self {
        Self {
            inner: self.inner.header(name, value),
            ..self
        }
    }

    /// A raw body.
    pub(crate) fn body(self, body: impl Into<reqwest::Body>) -> Self {
        Self {
            inner: self.inner.body(body),
            ..self
        }
    }

    /// Sends the request; panics when the answer is not what the document describes.
    pub(crate) async fn send(self) -> reqwest::Result<Reply> {
        let request = self.inner.build()?;
        let (method, path) = (request.method().clone(), request.url().path().to_string());
        let response = self.client.execute(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?.to_vec();
        self.contract
            .check(method.as_str(), &path, status.as_u16(), &body);
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}

/// An answer, already checked against the document.
pub(crate) struct Reply {
    /// Its status.
    status: StatusCode,
    /// Its headers.
    headers: HeaderMap,
    /// Its body.
    body: Vec<u8>,
}

impl Reply {
    /// The status.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub(crate) fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body as JSON.
    pub(crate) async fn json<T: serde::de::DeserializeOwned>(self) -> serde_json::Result<T> {
        serde_json::from_slice(&self.body)
    }

    /// The body as text.
    pub(crate) async fn text(self) -> Result<String, std::string::FromUtf8Error> {
        String::from_utf8(self.body)
    }
}

/// A running server and what keeps its database alive.
pub(crate) struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    /// HTTP client checking every answer against the served OpenAPI document.
    pub(crate) client: CheckedClient,
    /// The PostgreSQL database, when the app runs on one.
    pub(crate) postgres: Option<TestPostgres>,
    /// The SQLite file, when the app runs on one.
    pub(crate) sqlite: Option<TestSqlite>,
    /// The Redis server the app caches in, when a test started one for it.
    redis: Option<TestRedis>,
    /// Stops the server when dropped or sent.
    stop: Option<oneshot::Sender<()>>,
}

impl TestApp {
    /// The absolute URL of `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POSTs a JSON body to the jobs collection.
    /// Creates the job `body` describes, asserting 201, and returns it as the API answered.
    pub(crate) async fn create_job(&self, body: &serde_json::Value) -> serde_json::Value {
        let response = self.post_job(body).await;
        assert_eq!(response.status(), 201, "create {body}");
        response.json().await.expect("JSON body")
    }

    /// POSTs `body` to the jobs collection.
    pub(crate) async fn post_job(&self, body: &serde_json::Value) -> Reply {
        self.client
            .post(self.url("/scheduler/jobs/"))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Runs `sql` on the app's database (SQLite file or PostgreSQL database) behind its back,
    /// as a row written by another version or by hand would be.
    #[allow(dead_code)] // not every test binary writes rows directly
    pub(crate) async fn execute_sql(&self, sql: &str) {
        use sea_orm::ConnectionTrait;
        let url = match (&self.sqlite, &self.postgres) {
            (Some(file), _) => file.url.clone(),
            (None, Some(pg)) => pg.url.clone(),
            (None, None) => panic!("the app has no database of its own"),
        };
        let db = sea_orm::Database::connect(url).await.expect("connect");
        db.execute_unprepared(sql)
            .await
            .expect("the statement runs");
    }

    /// GETs `path` and returns status and JSON body.
    pub(crate) async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
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
pub(crate) async fn spawn(config: Config) -> TestApp {
    let app = Application::build(&config).await.expect("server builds");
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let document: serde_json::Value = reqwest::get(format!("{base}/openapi.json"))
        .await
        .expect("the document is served")
        .json()
        .await
        .expect("the document is JSON");
    TestApp {
        base,
        client: CheckedClient::new(Arc::new(Contract::new(&document))),
        postgres: None,
        sqlite: None,
        redis: None,
        stop: Some(stop),
    }
}

/// The configuration tests start from: a random port, and no dispatcher loop (a fire in the
/// middle of a test would change `last_run`/`next_run` under its assertions; manual runs still
/// execute). Tests of the dispatcher turn it on.
pub(crate) fn test_config(database_url: &str) -> Config {
    let mut config = Config::for_database(database_url, "127.0.0.1:0".parse().expect("addr"));
    config.dispatcher = "off".into();
    // The tests' receivers listen on loopback, which the SSRF guard refuses by default.
    config.target_allow = "127.0.0.1".into();
    // Tests send nothing beyond loopback, not even a DNS query for a target's name.
    config.target_resolve = false;
    config
}

/// A server on a fresh SQLite file.
pub(crate) async fn sqlite_app() -> Option<TestApp> {
    sqlite_app_with(|_| {}).await
}

/// A server on a fresh SQLite file, with the test configuration changed by `configure`.
pub(crate) async fn sqlite_app_with(configure: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let file = TestSqlite::new();
    let mut config = test_config(&file.url);
    configure(&mut config);
    let mut app = spawn(config).await;
    app.sqlite = Some(file);
    Some(app)
}

/// A server on the PostgreSQL database `url` with the Redis cache at `redis_url` under
/// `prefix` (several servers may share both, like replicas).
pub(crate) async fn replica(url: &str, redis_url: &str, prefix: &str) -> TestApp {
    let mut config = test_config(url);
    config.redis_url = Some(redis_url.to_string());
    config.redis_prefix = prefix.to_string();
    spawn(config).await
}

/// A server on a fresh PostgreSQL database, or `None` (skip) when there is no server.
pub(crate) async fn postgres_app() -> Option<TestApp> {
    postgres_app_with(|_| {}).await
}

/// A server on a fresh PostgreSQL database, with the test configuration changed by
/// `configure`; `None` (skip) when there is no server.
pub(crate) async fn postgres_app_with(configure: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let pg = scheduler_test_support::postgres().await?;
    let mut config = test_config(&pg.url);
    config.db_acquire_timeout_ms = 1_000;
    configure(&mut config);
    let mut app = spawn(config).await;
    app.postgres = Some(pg);
    Some(app)
}

/// Serves `hook` at `POST /hook` on a random loopback port (a receiver for HTTP targets) and
/// returns its URL.
pub(crate) async fn serve_hook(hook: impl poem::Endpoint + 'static) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("an acceptor");
    tokio::spawn(async move {
        poem::Server::new_with_acceptor(acceptor)
            .run(poem::Route::new().at("/hook", poem::post(hook)))
            .await
    });
    format!("http://{addr}/hook")
}

/// Starts a manual run of `job_id` (asserting 202 and its `Location`) and returns the run.
pub(crate) async fn run_now(app: &TestApp, job_id: &serde_json::Value) -> serde_json::Value {
    let response = app
        .client
        .post(app.url(&format!("/scheduler/jobs/{job_id}/run/")))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"]
        .to_str()
        .expect("a text header")
        .to_string();
    let run: serde_json::Value = response.json().await.expect("JSON body");
    assert_eq!(location, format!("/scheduler/runs/{}/", run["id"]));
    run
}

/// Polls the run until it is no longer running.
pub(crate) async fn settled(app: &TestApp, run_id: &serde_json::Value) -> serde_json::Value {
    for _ in 0..200 {
        let (status, run) = app.get_json(&format!("/scheduler/runs/{run_id}/")).await;
        assert_eq!(status, 200);
        if run["status"] != "running" {
            return run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("run {run_id} still running");
}

/// The dispatcher on, with a 1 s lease: a run left `running` would be run again within
/// seconds.
pub(crate) fn dispatching(config: &mut Config) {
    config.dispatcher = "on".into();
    config.lease_seconds = 1;
    // The grace must be shorter than the lease.
    config.shutdown_grace_seconds = 0;
    config.poll_interval_ms = 100;
}

/// A dispatching server ([`dispatching`]) on a fresh SQLite file.
pub(crate) async fn sqlite_dispatching() -> Option<TestApp> {
    sqlite_app_with(dispatching).await
}

/// A dispatching server ([`dispatching`]) on a fresh PostgreSQL database.
pub(crate) async fn postgres_dispatching() -> Option<TestApp> {
    postgres_app_with(dispatching).await
}

/// Two dispatching servers ([`dispatching`]) sharing a fresh SQLite file, like replicas:
/// their job cache is Redis (an in-process cache would let one serve the other's stale
/// rows); `None` (skip) without Redis. The first keeps the file.
pub(crate) async fn sqlite_replicas() -> Option<(TestApp, TestApp)> {
    let redis = scheduler_test_support::redis().await?;
    let file = TestSqlite::new();
    let start = |file: &TestSqlite| {
        let mut config = test_config(&file.url);
        dispatching(&mut config);
        config.redis_url = Some(redis.url.clone());
        config.redis_prefix = redis.prefix.clone();
        config.local_cache = false;
        spawn(config)
    };
    let mut first = start(&file).await;
    let second = start(&file).await;
    first.sqlite = Some(file);
    first.redis = Some(redis);
    Some((first, second))
}

/// Two dispatching servers ([`dispatching`]) sharing a fresh PostgreSQL database, without a
/// cache (reads go to the database); `None` (skip) when there is no server. The first keeps
/// the database.
pub(crate) async fn postgres_replicas() -> Option<(TestApp, TestApp)> {
    let first = postgres_dispatching().await?;
    let url = first.postgres.as_ref()?.url.clone();
    let mut config = test_config(&url);
    config.db_acquire_timeout_ms = 1_000;
    dispatching(&mut config);
    let second = spawn(config).await;
    Some((first, second))
}
