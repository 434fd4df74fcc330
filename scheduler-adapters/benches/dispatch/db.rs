//! The bench's own database (`bench_dispatch_<pid>`, created and dropped here) and seeding.
//! For a profile: `DISPATCH_LOG_STATEMENTS=1` logs every statement with its duration, and
//! `DISPATCH_EXPLAIN_MS=<ms>` the plan of every statement slower than that (server log).

use chrono::{DateTime, Utc};
use scheduler_adapters::{DatabaseConfig, connect};
use scheduler_migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

/// The database every scenario of one bench run uses.
pub(crate) struct BenchDb {
    /// `postgres://.../bench_dispatch_<pid>?sslmode=disable`.
    pub(crate) url: String,
    /// The server URL it was created from.
    server: String,
    /// Its name.
    name: String,
    /// A connection for seeding and reading results.
    pub(crate) db: DatabaseConnection,
}

/// `url` with its database (path) replaced by `name`, query string kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, ""), |(b, q)| (b, q));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{}/{name}{query}", &base[..path_start])
}

impl BenchDb {
    /// Creates `bench_dispatch_<pid>` on the server at `server` and migrates it.
    pub(crate) async fn create(server: &str) -> BenchDb {
        let name = format!("bench_dispatch_{}", std::process::id());
        let admin = connect(&DatabaseConfig::new(server))
            .await
            .expect("connect to the PostgreSQL server");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the bench database");
        if std::env::var("DISPATCH_LOG_STATEMENTS").is_ok_and(|v| v == "1") {
            // Every statement of this database only, with its duration, in the server log.
            admin
                .execute_unprepared(&format!(
                    "ALTER DATABASE {name} SET log_min_duration_statement = 0"
                ))
                .await
                .expect("log statements");
        }
        if let Ok(ms) = std::env::var("DISPATCH_EXPLAIN_MS") {
            // The plan of every statement of this database slower than that, in the server
            // log (auto_explain, loaded per session; needs a superuser).
            for setting in [
                "session_preload_libraries = 'auto_explain'".to_string(),
                format!(
                    "auto_explain.log_min_duration = {}",
                    ms.parse::<u32>().expect("ms")
                ),
            ] {
                admin
                    .execute_unprepared(&format!("ALTER DATABASE {name} SET {setting}"))
                    .await
                    .expect("auto_explain");
            }
        }
        let mut url = with_database(server, &name);
        if !url.contains("sslmode=") {
            url.push_str(if url.contains('?') { "&" } else { "?" });
            url.push_str("sslmode=disable");
        }
        // Seeding a 1M-row history takes longer than a server's statement timeout.
        let mut seeding = DatabaseConfig::new(&url);
        seeding.statement_timeout = std::time::Duration::from_secs(900);
        let db = connect(&seeding).await.expect("connect");
        Migrator::up(&db, None).await.expect("migrate");
        // Each scenario vacuums and analyzes the tables it seeded; an autovacuum worker waking
        // in the middle of a burst would be counted in that burst's database CPU.
        for table in ["jobs", "job_runs"] {
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} SET (autovacuum_enabled = off)"
            ))
            .await
            .expect("autovacuum off");
        }
        BenchDb {
            url,
            server: server.to_string(),
            name,
            db,
        }
    }

    /// The URL as libpq (pgbench) reads it.
    pub(crate) fn libpq_url(&self) -> String {
        self.url.replace("postgres://", "postgresql://")
    }

    /// Drops the database (only this one: it was created by this run).
    pub(crate) async fn drop_database(self) {
        self.db.close().await.ok();
        if let Ok(admin) = connect(&DatabaseConfig::new(&self.server)).await {
            let _ = admin
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
        }
    }

    /// Runs a statement.
    pub(crate) async fn exec(&self, sql: &str) {
        self.db
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The first column of the first row, as an integer.
    pub(crate) async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_string(),
            ))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .expect("a row");
        row.try_get_by_index::<i64>(0).expect("an integer")
    }

    /// Every value of the first column, as floats.
    pub(crate) async fn floats(&self, sql: &str) -> Vec<f64> {
        let rows = self
            .db
            .query_all_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_string(),
            ))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter()
            .map(|row| row.try_get_by_index::<f64>(0).expect("a float"))
            .collect()
    }

    /// Empties both tables, then inserts `count` yearly jobs due at `due` (a target at
    /// `target_url` when given; the no-op handler otherwise) and refreshes the statistics,
    /// so every scenario starts from the same clean tables.
    pub(crate) async fn seed(&self, count: usize, due: DateTime<Utc>, target_url: Option<&str>) {
        self.seed_tenants(count, due, target_url, "'default'").await;
    }

    /// [`BenchDb::seed`], the tenant of job `n` (1-based) being the SQL expression `tenant`
    /// over `n` (set in the insert: an update of 100,000 rows afterwards takes minutes here).
    pub(crate) async fn seed_tenants(
        &self,
        count: usize,
        due: DateTime<Utc>,
        target_url: Option<&str>,
        tenant: &str,
    ) {
        self.exec("TRUNCATE job_runs, jobs RESTART IDENTITY CASCADE")
            .await;
        let target = target_url.map_or_else(
            || "NULL".to_string(),
            |url| format!("'{{\"type\": \"http\", \"url\": \"{url}\", \"method\": \"POST\", \"headers\": {{}}}}'::jsonb"),
        );
        // The host key as the job store writes it: computed by the core.
        let host = target_url.map_or_else(
            || "NULL".to_string(),
            |url| format!("'{}'", scheduler_core::host_key(url)),
        );
        let due = due.to_rfc3339();
        self.exec(&format!(
            "INSERT INTO jobs (name, cron_expression, timezone, start_time, next_run, parameters, \
             is_active, target, target_host, created_at, updated_at, tenant) \
             SELECT 'bench-' || n, '0 0 1 1 *', 'UTC', '2020-01-01T00:00:00Z', '{due}', \
             '{{\"action\": \"noop\"}}', true, {target}, {host}, now(), now(), {tenant} \
             FROM generate_series(1, {count}) AS n"
        ))
        .await;
        self.exec("VACUUM ANALYZE jobs").await;
        self.exec("VACUUM ANALYZE job_runs").await;
        // Every scenario starts right after a checkpoint: none falls inside a burst, and each
        // pays the same full-page writes for the pages it first touches.
        self.exec("CHECKPOINT").await;
    }
}
