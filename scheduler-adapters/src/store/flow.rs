//! Flow control's storage. Per host: `host_holds` — receiving hosts held back from claims
//! until an instant (a throttle's `Retry-After`, `scheduler_core::HostHold`, or a host limit
//! that made fires wait), [`super::run_sql::HELD_HOSTS`] being the claims' side — and
//! `host_rates`, each limited host's GCRA state (`scheduler_core::host_limit`), read under a
//! row lock in the claim's transaction so that replicas share one budget. Per tenant: the
//! running runs of capped tenants (`scheduler_core::tenant_limit`), counted under a
//! transaction-level advisory lock per tenant.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use scheduler_core::{Admission, HostHold, HostLimits, HostUse, RepositoryError};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, Value};

use super::{micros, repository_error};

/// Stores `holds` in one statement: a host already held keeps the later of the two
/// instants. A host held twice in the batch counts once, at its latest.
pub(super) async fn hold(
    conn: &impl ConnectionTrait,
    holds: &[&HostHold],
) -> Result<(), RepositoryError> {
    let mut latest: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for hold in holds {
        let until = latest.entry(hold.host.as_str()).or_insert(hold.until);
        *until = (*until).max(hold.until);
    }
    if latest.is_empty() {
        return Ok(());
    }
    let backend = conn.get_database_backend();
    let later = if backend == DbBackend::Postgres {
        "GREATEST"
    } else {
        "max"
    };
    let mut values: Vec<Value> = Vec::with_capacity(latest.len() * 2);
    let mut rows = Vec::with_capacity(latest.len());
    for (host, until) in latest {
        rows.push(format!(
            "({}, {})",
            placeholder(backend, values.len() + 1),
            placeholder(backend, values.len() + 2)
        ));
        values.push(host.to_string().into());
        values.push(micros(until).into());
    }
    let sql = format!(
        "INSERT INTO host_holds (host, until) VALUES {} \
         ON CONFLICT (host) DO UPDATE SET until = {later}(host_holds.until, excluded.until)",
        rows.join(", ")
    );
    conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .map_err(repository_error)?;
    Ok(())
}

/// The `n`-th placeholder of `backend` (1-based).
fn placeholder(backend: DbBackend, n: usize) -> String {
    if backend == DbBackend::Postgres {
        format!("${n}")
    } else {
        "?".to_string()
    }
}

/// `(p1, p2, ...)` for `count` values after `first - 1` others.
fn list(backend: DbBackend, first: usize, count: usize) -> String {
    let items: Vec<String> = (first..first + count)
        .map(|n| placeholder(backend, n))
        .collect();
    items.join(", ")
}

/// What the store knows of the limited `hosts` (sorted) in the claim's transaction: their
/// running deliveries and their rate state. Each host's `host_rates` row is locked first, in
/// host order, on PostgreSQL — for a `parallel`-only host too — so a concurrent claim for the
/// same host waits here and then sees this claim's runs and arrival time (SQLite claims are
/// serialized already).
pub(super) async fn load_use(
    txn: &DatabaseTransaction,
    limits: &HostLimits,
    hosts: &[String],
) -> Result<HashMap<String, HostUse>, RepositoryError> {
    let backend = txn.get_database_backend();
    let mut used: HashMap<String, HostUse> = hosts
        .iter()
        .map(|host| (host.clone(), HostUse::default()))
        .collect();
    if !hosts.is_empty() {
        let values: Vec<Value> = hosts.iter().map(|h| h.clone().into()).collect();
        let rows: Vec<String> = (1..=hosts.len())
            .map(|n| format!("({})", placeholder(backend, n)))
            .collect();
        let insert = format!(
            "INSERT INTO host_rates (host) VALUES {} ON CONFLICT (host) DO NOTHING",
            rows.join(", ")
        );
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            insert,
            values.clone(),
        ))
        .await
        .map_err(repository_error)?;
        let lock = if backend == DbBackend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let select = format!(
            "SELECT host, tat FROM host_rates WHERE host IN ({}) ORDER BY host{lock}",
            list(backend, 1, hosts.len())
        );
        let rows = txn
            .query_all_raw(Statement::from_sql_and_values(backend, select, values))
            .await
            .map_err(repository_error)?;
        for row in rows {
            let host: String = row.try_get("", "host").map_err(repository_error)?;
            let tat: Option<DateTime<Utc>> = row.try_get("", "tat").map_err(repository_error)?;
            if let Some(entry) = used.get_mut(&host) {
                entry.tat = tat;
            }
        }
    }
    let parallel: Vec<String> = hosts
        .iter()
        .filter(|host| limits.get(host).is_some_and(|l| l.parallel.is_some()))
        .cloned()
        .collect();
    for (host, running) in running_by(txn, RunsOf::Host, parallel).await? {
        if let Some(entry) = used.get_mut(&host) {
            entry.running = running;
        }
    }
    Ok(used)
}

/// Which jobs' column [`running_by`] groups running runs by.
#[derive(Clone, Copy)]
enum RunsOf {
    /// `jobs.target_host`.
    Host,
    /// `jobs.tenant`.
    Tenant,
}

/// The runs `running` now of the jobs whose host (or tenant) is one of `keys`, by key; a key
/// without running runs is missing.
async fn running_by(
    txn: &DatabaseTransaction,
    of: RunsOf,
    keys: Vec<String>,
) -> Result<HashMap<String, u32>, RepositoryError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = txn.get_database_backend();
    let column = match of {
        RunsOf::Host => "target_host",
        RunsOf::Tenant => "tenant",
    };
    let count = format!(
        "SELECT j.{column} AS k, count(*) AS n FROM job_runs AS r \
         JOIN jobs AS j ON j.id = r.job_id \
         WHERE r.status = 'running' AND j.{column} IN ({}) GROUP BY j.{column}",
        list(backend, 1, keys.len())
    );
    let values: Vec<Value> = keys.into_iter().map(Value::from).collect();
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(backend, count, values))
        .await
        .map_err(repository_error)?;
    let mut running = HashMap::new();
    for row in rows {
        let key: String = row.try_get("", "k").map_err(repository_error)?;
        let n: i64 = row.try_get("", "n").map_err(repository_error)?;
        running.insert(key, u32::try_from(n).unwrap_or(u32::MAX));
    }
    Ok(running)
}

/// Stores what a claim's admissions decided: each rated host's new arrival time, and a hold
/// for each host whose fires had to wait.
pub(super) async fn store_admissions(
    txn: &DatabaseTransaction,
    admissions: &[(String, Admission)],
) -> Result<(), RepositoryError> {
    let backend = txn.get_database_backend();
    for (host, admission) in admissions {
        if let Some(tat) = admission.tat {
            let update = format!(
                "UPDATE host_rates SET tat = {} WHERE host = {}",
                placeholder(backend, 1),
                placeholder(backend, 2)
            );
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                update,
                [micros(tat).into(), host.clone().into()],
            ))
            .await
            .map_err(repository_error)?;
        }
    }
    let holds: Vec<HostHold> = admissions
        .iter()
        .filter_map(|(host, admission)| {
            admission.hold_until.map(|until| HostHold {
                host: host.clone(),
                until,
            })
        })
        .collect();
    let holds: Vec<&HostHold> = holds.iter().collect();
    hold(txn, &holds).await
}

/// The first key of the per-tenant advisory locks (`tent`); the second is the tenant's
/// `hashtext`.
const TENANT_LOCK_KEY: i32 = 0x7465_6e74;

/// The runs `running` now of each of the capped `tenants` (sorted), in the claim's
/// transaction. On PostgreSQL each tenant's transaction-level advisory lock is taken first,
/// in tenant order, so claims of several replicas for one tenant take turns and each counts
/// the runs the previous one inserted.
pub(super) async fn running_of_tenants(
    txn: &DatabaseTransaction,
    tenants: &[String],
) -> Result<HashMap<String, u32>, RepositoryError> {
    let backend = txn.get_database_backend();
    if backend == DbBackend::Postgres {
        for tenant in tenants {
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                format!("SELECT pg_advisory_xact_lock({TENANT_LOCK_KEY}, hashtext($1))"),
                [tenant.clone().into()],
            ))
            .await
            .map_err(repository_error)?;
        }
    }
    running_by(txn, RunsOf::Tenant, tenants.to_vec()).await
}
