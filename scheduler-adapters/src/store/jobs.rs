//! `SeaOrmJobRepository`: the `JobRepository` port over sea-orm, for PostgreSQL and SQLite.

use std::collections::HashMap;

use async_trait::async_trait;
use scheduler_core::{
    BulkChange, Conflict, Job, JobChanges, JobId, JobName, JobPage, JobRepository, JobSlice,
    JobSource, NewJob, Owner, RepositoryError, Tenant, WireEnum,
};
use sea_orm::sea_query::{Expr, LikeExpr, LockType, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DbBackend, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use super::coalesce::{Call, Coalescer, Stopped};
use super::entity::{ActiveModel, Column, Entity, Model};
use super::repository_error;

/// A coalesced read by id: the id asked for, answered with the job or `None`.
type ReadCall = Call<i64, Result<Option<Job>, RepositoryError>>;

/// A coalesced insert: the new job, answered with the stored job or `Conflict`.
type InsertCall = Call<NewJob, Result<Job, RepositoryError>>;

/// Most reads by id answered by one query.
const MAX_READ_BATCH: usize = 64;

/// Most names (or ids) one `IN (…)` list of an apply holds: far below both databases' limits
/// on bound parameters.
const MAX_NAMES_PER_QUERY: usize = 500;

/// Most inserts written by one statement (and one commit).
const MAX_INSERT_BATCH: usize = 32;

/// Jobs stored in PostgreSQL or SQLite through one sea-orm connection pool.
///
/// Reads by id and inserts are coalesced under load (see `coalesce`): concurrent calls that
/// arrive while `slots` queries of their kind are running share the next query.
#[derive(Clone)]
pub struct SeaOrmJobRepository {
    /// The pool; cheap to clone.
    db: DatabaseConnection,
    /// Behind `get`.
    reads: Coalescer<i64, Result<Option<Job>, RepositoryError>>,
    /// Behind `insert`.
    inserts: Coalescer<NewJob, Result<Job, RepositoryError>>,
}

impl SeaOrmJobRepository {
    /// Default for [`Self::with_slots`], measured best on a 2-core host running the server
    /// and PostgreSQL (reads by id: 2 slots 21.7k/s; 1: 20k; 4: 16k; 8: 14k). It leaves the
    /// rest of the pool to updates, lists and the dispatcher.
    pub const DEFAULT_SLOTS: usize = 2;

    /// A repository over an open pool whose schema is migrated.
    pub fn new(db: DatabaseConnection) -> Self {
        Self::with_slots(db, Self::DEFAULT_SLOTS)
    }

    /// A repository whose reads by id, and whose inserts, each use at most `slots`
    /// connections at once (at least one). Fewer slots make bigger shared queries; more help
    /// only a database with cores to spare.
    pub fn with_slots(db: DatabaseConnection, slots: usize) -> Self {
        let (read_db, insert_db) = (db.clone(), db.clone());
        Self {
            db,
            reads: Coalescer::new(slots, MAX_READ_BATCH, move |batch| {
                read_batch(read_db.clone(), batch)
            }),
            inserts: Coalescer::new(slots, MAX_INSERT_BATCH, move |batch| {
                insert_batch(insert_db.clone(), batch)
            }),
        }
    }
}

/// The error for a call whose batch was cancelled before answering it.
fn stopped(_: Stopped) -> RepositoryError {
    RepositoryError::Unavailable("the store call was cancelled (shutting down)".to_string())
}

/// Every column of `job` marked for writing (the row conversion is `Model::from_job`'s).
fn writable(job: &Job) -> ActiveModel {
    Model::from_job(job).into_active_model().reset_all()
}

/// The row for a new job; the database assigns its identity.
fn new_row(job: &NewJob) -> ActiveModel {
    let mut row = writable(&Job::from_new(JobId(0), job.clone()));
    row.id = NotSet;
    row
}

/// Answers a batch of reads by id with one `SELECT … WHERE id IN (…)`.
async fn read_batch(db: DatabaseConnection, batch: Vec<ReadCall>) {
    let ids = padded_ids(batch.iter().map(|call| call.input).collect());
    match Entity::find().filter(Column::Id.is_in(ids)).all(&db).await {
        Err(error) => match repository_error(error) {
            RepositoryError::Rejected(_) if batch.len() > 1 => {
                for call in batch {
                    let id = call.input;
                    let answer = read_one(&db, id).await;
                    call.answer(answer);
                }
            }
            error => fail_all(batch, &error),
        },
        Ok(rows) => {
            let jobs: HashMap<i64, Result<Job, RepositoryError>> = rows
                .into_iter()
                .map(|row| (row.id, row.into_job()))
                .collect();
            for call in batch {
                let job = jobs.get(&call.input).cloned().transpose();
                call.answer(job);
            }
        }
    }
}

/// Reads one job by id on its own.
async fn read_one(db: &DatabaseConnection, id: i64) -> Result<Option<Job>, RepositoryError> {
    Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(repository_error)?
        .map(Model::into_job)
        .transpose()
}

/// Answers every call of a batch whose query failed for a reason that is not any one call's
/// (the store is unreachable) with the same error.
fn fail_all<T, A>(batch: Vec<Call<T, Result<A, RepositoryError>>>, error: &RepositoryError) {
    for call in batch {
        call.answer(Err(error.clone()));
    }
}

/// The distinct `ids`, padded by repeating the last one to a power of two, so that the
/// database sees at most seven statement shapes (1, 2, 4 … 64 values), each prepared once per
/// connection.
fn padded_ids(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids.dedup();
    if let Some(&last) = ids.last() {
        ids.resize(ids.len().next_power_of_two(), last);
    }
    ids
}

/// Inserts one job with a plain `INSERT … RETURNING`.
async fn insert_one(db: &DatabaseConnection, job: &NewJob) -> Result<Job, RepositoryError> {
    match new_row(job).insert(db).await {
        Ok(row) => row.into_job(),
        Err(error) => Err(repository_error(error)),
    }
}

/// Writes a batch of new jobs. One job is a plain `INSERT … RETURNING`; several are one
/// `INSERT … ON CONFLICT (tenant, name) DO NOTHING RETURNING *` (one statement, one commit):
/// each job whose row comes back is stored, each whose name was taken in its tenant — by an existing job or by an
/// earlier job of the same batch — gets `Conflict`, exactly as if inserted alone.
///
/// A batch never punishes a neighbour: when the database refuses the shared statement for
/// its content (one row it cannot keep), nothing was written, and each job is inserted on
/// its own, so only the job at fault gets the error.
async fn insert_batch(db: DatabaseConnection, mut batch: Vec<InsertCall>) {
    if batch.len() == 1 {
        if let Some(call) = batch.pop() {
            let stored = insert_one(&db, &call.input).await;
            call.answer(stored);
        }
        return;
    }
    // Rows in name order: two batches running at once then wait on each other's names in
    // the same order, so they can never deadlock. The sort is stable, so the first call of a
    // name stays first.
    let order = |call: &InsertCall| {
        (
            call.input.tenant.as_str().to_string(),
            call.input.spec.name.as_str().to_string(),
        )
    };
    batch.sort_by_key(order);
    let mut insert = Entity::insert_many(batch.iter().map(|call| new_row(&call.input)))
        .on_conflict(
            OnConflict::columns([Column::Tenant, Column::Name])
                .do_nothing()
                .to_owned(),
        )
        .into_query();
    insert.returning_all();
    let statement = db.get_database_backend().build(&insert);
    match Entity::find().from_raw_sql(statement).all(&db).await {
        Err(error) => match repository_error(error) {
            RepositoryError::Rejected(cause) => {
                tracing::warn!(%cause, calls = batch.len(), "a shared insert was refused; inserting each job on its own");
                for call in batch {
                    let stored = insert_one(&db, &call.input).await;
                    call.answer(stored);
                }
            }
            // Unreachable store: nothing was written, every job of the batch fails alike.
            error => fail_all(batch, &error),
        },
        Ok(rows) => {
            let mut stored: HashMap<(String, String), Model> = rows
                .into_iter()
                .map(|row| ((row.tenant.clone(), row.name.clone()), row))
                .collect();
            for call in batch {
                // The first job of a name takes its row; a later one of the same name finds
                // it gone and conflicts, as it would have after the first was written.
                let answer = match stored.remove(&order(&call)) {
                    Some(row) => row.into_job(),
                    None => Err(RepositoryError::Conflict(Conflict::JobName)),
                };
                call.answer(answer);
            }
        }
    }
}

/// Writes every column of the stored job `job.id` but `fire_count` (the claim's alone: an edit
/// never writes back the count it read, or a fire claimed meanwhile would be lost and
/// `max_runs` overrun) and the failure streak (the outcomes'). `NotFound` when no row is.
async fn update_row<C: ConnectionTrait>(conn: &C, job: &Job) -> Result<(), RepositoryError> {
    let mut row = writable(job);
    row.id = NotSet;
    row.fire_count = NotSet;
    // The failure streak is the outcomes' alone too, except that a row written while it
    // is stored paused (its resume among such writes) starts counting afresh (the
    // right-hand side reads the row before the write).
    row.failure_streak = NotSet;
    let result = Entity::update_many()
        .set(row)
        .col_expr(
            Column::FailureStreak,
            Expr::cust("CASE WHEN is_active THEN failure_streak ELSE 0 END"),
        )
        .filter(Column::Id.eq(job.id.0))
        .exec(conn)
        .await
        .map_err(repository_error)?;
    if result.rows_affected == 0 {
        return Err(RepositoryError::NotFound);
    }
    Ok(())
}

#[async_trait]
impl JobRepository for SeaOrmJobRepository {
    async fn insert(&self, job: NewJob) -> Result<Job, RepositoryError> {
        self.inserts.call(job).await.map_err(stopped)?
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, RepositoryError> {
        self.reads.call(id.0).await.map_err(stopped)?
    }

    async fn list(&self, slice: &JobSlice) -> Result<JobPage, RepositoryError> {
        super::job_list::list(&self.db, slice).await
    }

    async fn update(&self, job: Job) -> Result<Job, RepositoryError> {
        let id = job.id.0;
        update_row(&self.db, &job).await?;
        read_one(&self.db, id)
            .await?
            .ok_or(RepositoryError::NotFound)
    }

    async fn delete(&self, id: JobId) -> Result<(), RepositoryError> {
        let result = Entity::delete_by_id(id.0)
            .exec(&self.db)
            .await
            .map_err(repository_error)?;
        if result.rows_affected == 0 {
            return Err(RepositoryError::NotFound);
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), RepositoryError> {
        self.db.ping().await.map_err(repository_error)
    }

    async fn find_by_name(
        &self,
        tenant: &Tenant,
        name: &JobName,
    ) -> Result<Option<Job>, RepositoryError> {
        Entity::find()
            .filter(Column::Tenant.eq(tenant.as_str()))
            .filter(Column::Name.eq(name.as_str()))
            .one(&self.db)
            .await
            .map_err(repository_error)?
            .map(Model::into_job)
            .transpose()
    }

    async fn change_matching(
        &self,
        tenant: &Tenant,
        prefix: &str,
        change: &BulkChange,
        by: Option<String>,
    ) -> Result<Vec<Job>, RepositoryError> {
        let txn = super::begin_write(&self.db).await?;
        // LIKE narrows the rows read (SQLite's ignores ASCII case); the exact prefix is
        // checked below.
        let pattern = format!("{}%", super::like_literal(prefix));
        let mut select = Entity::find()
            .filter(Column::Tenant.eq(tenant.as_str()))
            .filter(Column::IsActive.eq(change.applies_to(true)))
            .filter(Column::Name.like(LikeExpr::new(pattern).escape('\\')))
            .order_by_asc(Column::Id);
        if self.db.get_database_backend() == DbBackend::Postgres {
            select = select.lock(LockType::Update);
        }
        let rows = select.all(&txn).await.map_err(repository_error)?;
        let mut changed = Vec::new();
        for row in rows {
            let job = row.into_job()?;
            if !job.spec.name.as_str().starts_with(prefix) {
                continue;
            }
            let job = Job {
                updated_by: by.clone(),
                ..change.apply(job)
            };
            let mut row = writable(&job);
            row.id = NotSet;
            row.fire_count = NotSet;
            Entity::update_many()
                .set(row)
                .filter(Column::Id.eq(job.id.0))
                .exec(&txn)
                .await
                .map_err(repository_error)?;
            changed.push(job);
        }
        txn.commit().await.map_err(repository_error)?;
        Ok(changed)
    }

    async fn list_for_apply(
        &self,
        tenant: &Tenant,
        owner: &Owner,
        names: &[JobName],
    ) -> Result<Vec<Job>, RepositoryError> {
        let mut rows: HashMap<i64, Model> = HashMap::new();
        let managed = Entity::find()
            .filter(Column::Tenant.eq(tenant.as_str()))
            .filter(Column::ManagedBy.eq(owner.as_str()))
            .all(&self.db)
            .await
            .map_err(repository_error)?;
        rows.extend(managed.into_iter().map(|row| (row.id, row)));
        for chunk in names.chunks(MAX_NAMES_PER_QUERY) {
            let named = Entity::find()
                .filter(Column::Tenant.eq(tenant.as_str()))
                .filter(Column::Name.is_in(chunk.iter().map(JobName::as_str)))
                .all(&self.db)
                .await
                .map_err(repository_error)?;
            rows.extend(named.into_iter().map(|row| (row.id, row)));
        }
        let mut rows: Vec<Model> = rows.into_values().collect();
        rows.sort_by_key(|row| row.id);
        rows.into_iter().map(Model::into_job).collect()
    }

    async fn apply_changes(&self, changes: JobChanges) -> Result<Vec<Job>, RepositoryError> {
        // Dropped without a commit on any error below: the transaction rolls back.
        let txn = super::begin_write(&self.db).await?;
        let mut stored = Vec::with_capacity(changes.inserts.len() + changes.updates.len());
        for job in &changes.inserts {
            // One statement per job: a taken name is this job's `Conflict` (the unique
            // constraint decides, as for `insert`), and the whole apply rolls back.
            let row = new_row(job).insert(&txn).await.map_err(repository_error)?;
            stored.push(row.into_job()?);
        }
        for job in &changes.updates {
            update_row(&txn, job).await?;
        }
        for chunk in changes.deletes.chunks(MAX_NAMES_PER_QUERY) {
            let ids: Vec<i64> = chunk.iter().map(|id| id.0).collect();
            let result = Entity::delete_many()
                .filter(Column::Id.is_in(ids))
                .exec(&txn)
                .await
                .map_err(repository_error)?;
            if result.rows_affected != chunk.len() as u64 {
                return Err(RepositoryError::NotFound);
            }
        }
        // The updated rows as stored (their counts and streaks are the store's).
        let mut updated: HashMap<i64, Model> = HashMap::new();
        let ids: Vec<i64> = changes.updates.iter().map(|job| job.id.0).collect();
        for chunk in ids.chunks(MAX_NAMES_PER_QUERY) {
            let rows = Entity::find()
                .filter(Column::Id.is_in(chunk.to_vec()))
                .all(&txn)
                .await
                .map_err(repository_error)?;
            updated.extend(rows.into_iter().map(|row| (row.id, row)));
        }
        for id in ids {
            let row = updated.remove(&id).ok_or(RepositoryError::NotFound)?;
            stored.push(row.into_job()?);
        }
        txn.commit().await.map_err(repository_error)?;
        Ok(stored)
    }

    async fn list_by_source(
        &self,
        tenant: &Tenant,
        source: JobSource,
    ) -> Result<Vec<Job>, RepositoryError> {
        Entity::find()
            .filter(Column::Tenant.eq(tenant.as_str()))
            .filter(Column::Source.eq(source.as_str()))
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await
            .map_err(repository_error)?
            .into_iter()
            .map(Model::into_job)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::padded_ids;

    #[test]
    fn ids_are_deduplicated_and_padded_to_a_power_of_two() {
        assert_eq!(padded_ids(vec![7]), vec![7]);
        assert_eq!(padded_ids(vec![7, 7, 7]), vec![7]);
        assert_eq!(padded_ids(vec![3, 1, 2]), vec![1, 2, 3, 3]);
        assert_eq!(padded_ids((1..=5).collect()), vec![1, 2, 3, 4, 5, 5, 5, 5]);
        assert_eq!(padded_ids((1..=64).collect()).len(), 64);
        assert!(padded_ids(Vec::new()).is_empty());
    }
}
