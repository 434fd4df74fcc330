//! Coalesced reads by id: concurrent `get`s that wait for a database slot are answered by one
//! `SELECT … WHERE id IN (…)` instead of one round trip each.
//!
//! Why: a point read is cheap for the database but each one costs a round trip, and sqlx also
//! pings every connection it takes back into its pool (a second round trip). Under load the
//! server and the database spend most of their time on those messages, not on the reads.
//!
//! How: lookups go to one task through a queue. When a slot (one of `slots` concurrent
//! queries) is free, the task takes every lookup queued so far (up to [`MAX_BATCH`]) and
//! sends them as one query. An idle server therefore answers a lookup at once with a batch of
//! one; batches grow only while every slot is busy, so no lookup waits for a batch to fill.
//!
//! Consistency is that of a direct read: a lookup joins only a query that is sent after the
//! lookup was queued, so a read issued after a committed write sees that write. Nothing is
//! cached.

use std::collections::HashMap;
use std::sync::Arc;

use scheduler_core::{Job, RepositoryError};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::entity::{Column, Entity};
use super::repository_error;

/// Most lookups answered by one query.
const MAX_BATCH: usize = 64;

/// Lookups that may wait for a slot before `get` itself waits to enqueue.
const QUEUE: usize = 4 * MAX_BATCH;

/// What one lookup is answered with.
type Answer = Result<Option<Job>, RepositoryError>;

/// One pending `get`.
struct Lookup {
    /// The job id asked for.
    id: i64,
    /// Where its answer goes.
    reply: oneshot::Sender<Answer>,
}

/// The front of the coalescing task: cheap to clone, the task ends when the last clone is
/// dropped.
#[derive(Clone)]
pub(crate) struct BatchedReads {
    /// The queue to the coalescing task.
    lookups: mpsc::Sender<Lookup>,
}

impl BatchedReads {
    /// Starts the coalescing task on the current Tokio runtime; at most `slots` queries run at
    /// once (at least one).
    pub(crate) fn start(db: DatabaseConnection, slots: usize) -> Self {
        let (lookups, queue) = mpsc::channel(QUEUE);
        tokio::spawn(coalesce(db, queue, Arc::new(Semaphore::new(slots.max(1)))));
        Self { lookups }
    }

    /// Whether the task is gone (its runtime stopped); lookups sent now would fail.
    pub(crate) fn is_stopped(&self) -> bool {
        self.lookups.is_closed()
    }

    /// The job `id`, `None` when there is none.
    ///
    /// # Errors
    /// `Unavailable` when the store fails or the coalescing task is gone (runtime shutting down).
    pub(crate) async fn get(&self, id: i64) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.lookups
            .send(Lookup { id, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The error for a lookup whose task stopped before answering.
fn stopped() -> RepositoryError {
    RepositoryError::Unavailable("the read task stopped".to_string())
}

/// Takes lookups off `queue` and sends each gathered batch as one query once a slot is free.
async fn coalesce(
    db: DatabaseConnection,
    mut queue: mpsc::Receiver<Lookup>,
    slots: Arc<Semaphore>,
) {
    while let Some(first) = queue.recv().await {
        // Gather only after a slot is free: what arrives while every slot is busy joins
        // the next query instead of waiting behind the running ones.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(lookup) => batch.push(lookup),
                Err(_) => break,
            }
        }
        let db = db.clone();
        tokio::spawn(async move {
            answer(&db, batch).await;
            drop(slot);
        });
    }
}

/// Runs one query for `batch` and answers every lookup in it.
async fn answer(db: &DatabaseConnection, batch: Vec<Lookup>) {
    let ids = padded_ids(batch.iter().map(|lookup| lookup.id).collect());
    let rows = Entity::find().filter(Column::Id.is_in(ids)).all(db).await;
    match rows {
        Err(error) => {
            let error = repository_error(error);
            for lookup in batch {
                let _ = lookup.reply.send(Err(error.clone()));
            }
        }
        Ok(rows) => {
            let jobs: HashMap<i64, Result<Job, RepositoryError>> = rows
                .into_iter()
                .map(|row| (row.id, row.into_job()))
                .collect();
            for lookup in batch {
                // A lookup whose caller went away (request cancelled) is simply dropped.
                let _ = lookup.reply.send(jobs.get(&lookup.id).cloned().transpose());
            }
        }
    }
}

/// The distinct `ids`, padded by repeating the last one to a power of two, so that the
/// database sees at most seven statement shapes (1, 2, 4 … 64 values) and each is prepared
/// once per connection.
fn padded_ids(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids.dedup();
    if let Some(&last) = ids.last() {
        ids.resize(ids.len().next_power_of_two(), last);
    }
    ids
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
