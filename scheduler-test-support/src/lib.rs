//! # scheduler-test-support
//!
//! How every crate's tests obtain real servers, the same way everywhere:
//!
//! 1. PostgreSQL from `SCHEDULER_TEST_DATABASE_URL` (a server URL; each test gets a database of
//!    its own, created here and dropped afterwards, so tests run in parallel), Redis from
//!    `SCHEDULER_TEST_REDIS_URL` (each test gets its own key prefix);
//! 2. otherwise a `testcontainers` container, when a Docker daemon answers (images
//!    `SCHEDULER_TEST_POSTGRES_IMAGE`, default `postgres:16-alpine`, and
//!    `SCHEDULER_TEST_REDIS_IMAGE`, default `redis:7-alpine`: locally built images here);
//! 3. otherwise the test **fails** with one line saying how to provide the service — unless
//!    skipping was asked for with `SCHEDULER_TEST_SKIP_SERVICES=1`: then it prints one
//!    `skipped: no PostgreSQL (...)` line and returns (`SCHEDULER_TEST_REQUIRE_SERVICES=1`,
//!    which CI sets, overrides a skip).
//!
//! ```no_run
//! # async fn example() {
//! let Some(pg) = scheduler_test_support::postgres().await else { return };
//! // ... connect to pg.url ...
//! # }
//! ```

// Test infrastructure only: a test database that cannot be set up is a failed test.
#![allow(clippy::expect_used)]

use std::io::Write as _;
use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Database};
use testcontainers_modules::postgres::Postgres;
use testcontainers_modules::redis::Redis;
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::{ContainerAsync, ImageExt, TestcontainersError};

/// Env var naming a PostgreSQL server for tests.
pub const DATABASE_URL_VAR: &str = "SCHEDULER_TEST_DATABASE_URL";
/// Env var naming a Redis server for tests.
pub const REDIS_URL_VAR: &str = "SCHEDULER_TEST_REDIS_URL";
/// Env var that makes a missing service a failure even when a skip is asked for (CI sets
/// it).
pub const REQUIRE_VAR: &str = "SCHEDULER_TEST_REQUIRE_SERVICES";
/// Env var that lets a test whose service is missing skip: it prints one `skipped:` line and
/// passes. Without it a missing service fails the test.
pub const SKIP_VAR: &str = "SCHEDULER_TEST_SKIP_SERVICES";
/// Env var naming the PostgreSQL image testcontainers starts (`name:tag`).
pub const POSTGRES_IMAGE_VAR: &str = "SCHEDULER_TEST_POSTGRES_IMAGE";
/// Env var naming the Redis image testcontainers starts (`name:tag`).
pub const REDIS_IMAGE_VAR: &str = "SCHEDULER_TEST_REDIS_IMAGE";

/// Whether a test may skip for a missing service: [`SKIP_VAR`] is `1` and [`REQUIRE_VAR`]
/// is not.
pub fn skip_allowed() -> bool {
    std::env::var(SKIP_VAR).is_ok_and(|v| v == "1")
        && !std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1")
}

/// Says `what` is missing (`reason`): when a skip is allowed ([`skip_allowed`]), one
/// `skipped:` line on stderr (written directly, so the harness does not capture it) and
/// `None`; otherwise a panic whose one line says how to provide it (`how`).
///
/// # Panics
/// Unless a skip is allowed.
pub fn missing<T>(what: &str, reason: &str, how: &str) -> Option<T> {
    if !skip_allowed() {
        panic!("no {what} ({reason}): {how}, or set {SKIP_VAR}=1 to skip the tests that need it");
    }
    let _ = writeln!(std::io::stderr(), "skipped: no {what} ({reason})");
    None
}

/// [`missing`] for PostgreSQL or Redis.
fn unavailable<T>(service: &str, reason: &str) -> Option<T> {
    let how = if service == "PostgreSQL" {
        format!(
            "set {DATABASE_URL_VAR}=postgres://postgres@127.0.0.1:5432/postgres (a server the \
             tests may create databases on) or start a Docker daemon for testcontainers"
        )
    } else {
        format!(
            "set {REDIS_URL_VAR}=redis://127.0.0.1:6379 or start a Docker daemon for \
             testcontainers"
        )
    };
    missing(service, reason, &how)
}

/// The image `var` names (`name` or `name:tag`), else `default_name:default_tag`.
fn image(var: &str, default_name: &str, default_tag: &str) -> (String, String) {
    match std::env::var(var) {
        Ok(image) if !image.trim().is_empty() => match image.trim().rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name.to_string(), tag.to_string()),
            _ => (image.trim().to_string(), "latest".to_string()),
        },
        _ => (default_name.to_string(), default_tag.to_string()),
    }
}

fn unique_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Replaces the database name (the URL path) of a PostgreSQL URL, keeping any query string.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// A PostgreSQL database of this test's own, dropped when this value is dropped.
pub struct TestPostgres {
    /// URL of the test's database.
    pub url: String,
    /// URL of the server's maintenance database (for CREATE/DROP DATABASE).
    pub admin_url: String,
    /// The database's name.
    pub database: String,
    /// Keeps a testcontainers server alive for the test's duration.
    _container: Option<ContainerAsync<Postgres>>,
}

impl TestPostgres {
    async fn admin(&self, statement: &str) {
        let admin = Database::connect(self.admin_url.clone())
            .await
            .expect("connect to the maintenance database");
        admin
            .execute_unprepared(statement)
            .await
            .expect("run an administrative statement");
        let _ = admin.close().await;
    }

    /// Simulates the database going down for its clients: new connections are refused and
    /// every open one is terminated.
    pub async fn refuse_connections(&self) {
        self.admin(&format!(
            "ALTER DATABASE \"{0}\" WITH ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}'",
            self.database
        ))
        .await;
    }

    /// Ends [`TestPostgres::refuse_connections`]: the database accepts connections again.
    pub async fn accept_connections(&self) {
        self.admin(&format!(
            "ALTER DATABASE \"{}\" WITH ALLOW_CONNECTIONS true",
            self.database
        ))
        .await;
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.database);
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(db) = Database::connect(admin_url).await {
                    let _ = db.execute_unprepared(&statement).await;
                    let _ = db.close().await;
                }
            });
        })
        .join();
    }
}

async fn create_database(server_url: &str) -> Result<(String, String, String), String> {
    let admin_url = with_database(server_url, "postgres");
    let database = format!("sched_test_{}", unique_suffix());
    let admin = Database::connect(admin_url.clone())
        .await
        .map_err(|e| e.to_string())?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{database}\""))
        .await
        .map_err(|e| e.to_string())?;
    let _ = admin.close().await;
    Ok((with_database(server_url, &database), admin_url, database))
}

/// A PostgreSQL container of the configured image.
async fn start_postgres() -> Result<ContainerAsync<Postgres>, TestcontainersError> {
    let (name, tag) = image(POSTGRES_IMAGE_VAR, "postgres", "16-alpine");
    Postgres::default()
        .with_name(name)
        .with_tag(tag)
        .start()
        .await
}

/// A Redis container of the configured image.
async fn start_redis() -> Result<ContainerAsync<Redis>, TestcontainersError> {
    let (name, tag) = image(REDIS_IMAGE_VAR, "redis", "7-alpine");
    Redis::default().with_name(name).with_tag(tag).start().await
}

/// A fresh PostgreSQL database for one test; when no server can be had, a failure, or `None`
/// (after the skip line) when a skip was asked for ([`missing`]).
pub async fn postgres() -> Option<TestPostgres> {
    let (server_url, container) = match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => (url, None),
        _ => match start_postgres().await {
            Ok(container) => match container.get_host_port_ipv4(5432).await {
                Ok(port) => (
                    format!("postgres://postgres:postgres@127.0.0.1:{port}/postgres"),
                    Some(container),
                ),
                Err(e) => return unavailable("PostgreSQL", &e.to_string()),
            },
            Err(e) => {
                return unavailable(
                    "PostgreSQL",
                    &format!("{DATABASE_URL_VAR} unset and no Docker: {e}"),
                );
            }
        },
    };
    match create_database(&server_url).await {
        Ok((url, admin_url, database)) => Some(TestPostgres {
            url,
            admin_url,
            database,
            _container: container,
        }),
        Err(e) => unavailable("PostgreSQL", &format!("cannot create a test database: {e}")),
    }
}

/// A Redis server for one test, with a key prefix no other test uses.
pub struct TestRedis {
    /// Server URL.
    pub url: String,
    /// Prefix for every key this test writes.
    pub prefix: String,
    /// Keeps a testcontainers server alive for the test's duration.
    _container: Option<ContainerAsync<Redis>>,
}

/// A Redis server for one test; when none can be had, a failure, or `None` (after the skip
/// line) when a skip was asked for ([`missing`]).
pub async fn redis() -> Option<TestRedis> {
    let prefix = format!("sched-test-{}:", unique_suffix());
    let (url, container) = match std::env::var(REDIS_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => (url, None),
        _ => match start_redis().await {
            Ok(container) => match container.get_host_port_ipv4(6379).await {
                Ok(port) => (format!("redis://127.0.0.1:{port}"), Some(container)),
                Err(e) => return unavailable("Redis", &e.to_string()),
            },
            Err(e) => {
                return unavailable(
                    "Redis",
                    &format!("{REDIS_URL_VAR} unset and no Docker: {e}"),
                );
            }
        },
    };
    let reachable = async {
        let client = redis::Client::open(url.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(std::time::Duration::from_secs(3), reachable).await {
        Ok(Ok(_)) => Some(TestRedis {
            url,
            prefix,
            _container: container,
        }),
        Ok(Err(e)) => unavailable("Redis", &e.to_string()),
        Err(_) => unavailable("Redis", "no answer within 3 s"),
    }
}

/// A SQLite database file of this test's own, deleted when this value is dropped.
pub struct TestSqlite {
    /// `sqlite://<path>?mode=rwc`.
    pub url: String,
    /// The file.
    pub path: PathBuf,
}

impl TestSqlite {
    /// A new, not yet created, database file in the system temp directory.
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("sched-test-{}.db", unique_suffix()));
        Self {
            url: format!("sqlite://{}?mode=rwc", path.display()),
            path,
        }
    }
}

impl Default for TestSqlite {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestSqlite {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

/// How a [`TcpProxy`] treats traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forwards both ways.
    Up,
    /// Drops every connection and refuses new ones, as if the server died.
    Down,
    /// Keeps connections open and accepts new ones but forwards nothing, as if the network
    /// black-holed the server: callers wait until their own timeouts.
    BlackHole,
}

/// A TCP proxy in front of a real server that a test can cut or black-hole, and restore.
pub struct TcpProxy {
    /// Where clients connect.
    pub addr: std::net::SocketAddr,
    /// The current mode.
    mode: tokio::sync::watch::Sender<ProxyMode>,
}

/// Copies `from` → `to` while the mode allows: pauses while black-holed, stops when down.
async fn relay(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: tokio::sync::watch::Receiver<ProxyMode>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            _ = mode.wait_for(|m| *m == ProxyMode::Down) => return,
        };
        let Ok(n) = read else { return };
        if n == 0 {
            return;
        }
        // Held while black-holed; nothing is lost, only late (or dropped when it goes down).
        match mode.wait_for(|m| *m != ProxyMode::BlackHole).await {
            Ok(m) if *m == ProxyMode::Up => {}
            _ => return,
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

impl TcpProxy {
    /// Starts forwarding a local port to `target` (`host:port`).
    pub async fn start(target: String) -> TcpProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("local address");
        let (mode, watch) = tokio::sync::watch::channel(ProxyMode::Up);
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    return;
                };
                let mut watch = watch.clone();
                if *watch.borrow() == ProxyMode::Down {
                    continue; // down: the connection is dropped at once
                }
                let target = target.clone();
                tokio::spawn(async move {
                    // A black-holed server accepts but does not answer: connect only when up.
                    let up = watch
                        .wait_for(|m| *m != ProxyMode::BlackHole)
                        .await
                        .is_ok_and(|m| *m == ProxyMode::Up);
                    if !up {
                        return;
                    }
                    let Ok(outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let (in_read, in_write) = inbound.into_split();
                    let (out_read, out_write) = outbound.into_split();
                    tokio::join!(
                        relay(in_read, out_write, watch.clone()),
                        relay(out_read, in_write, watch),
                    );
                });
            }
        });
        TcpProxy { addr, mode }
    }

    /// Cuts (`true`) or restores (`false`) the path to the server.
    pub fn set_down(&self, down: bool) {
        self.set_mode(if down { ProxyMode::Down } else { ProxyMode::Up });
    }

    /// Switches how traffic is treated.
    pub fn set_mode(&self, mode: ProxyMode) {
        let _ = self.mode.send(mode);
    }
}

/// Runs each named `async fn(T)` once per setup, as one test each: a module per setup, whose
/// tests get their subject from the setup (`async fn() -> Option<T>`; `None` means the service
/// is missing and the test returns after the setup's skip line). The one way every crate runs
/// a suite against several backends (SQLite and PostgreSQL, memory and Redis, ...).
///
/// ```ignore
/// scheduler_test_support::backend_tests! {
///     attribute: tokio::test,
///     setups: { sqlite => Store::sqlite, postgres => Store::postgres },
///     tests: [insert_round_trip, update_and_delete],
/// }
/// ```
#[macro_export]
macro_rules! backend_tests {
    (
        attribute: $attribute:meta,
        setups: { $($module:ident => $setup:path),+ $(,)? },
        tests: $tests:tt $(,)?
    ) => {
        $(
            mod $module {
                #[allow(unused_imports)]
                use super::*;
                $crate::backend_tests!(@tests $attribute, $setup, $tests);
            }
        )+
    };
    (@tests $attribute:meta, $setup:path, [$($test:ident),* $(,)?]) => {
        $(
            #[$attribute]
            async fn $test() {
                let Some(subject) = $setup().await else { return };
                super::$test(subject).await;
            }
        )*
    };
}

/// `host:port` of a `redis://host:port[/db]` URL.
pub fn redis_host_port(url: &str) -> String {
    let rest = url.trim_start_matches("redis://");
    rest.split('/').next().unwrap_or(rest).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_only_the_path() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h:1/db?sslmode=disable", "x"),
            "postgres://u:p@h:1/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:1", "x"), "postgres://h:1/x");
    }
}
