//! Coalescing of concurrent store calls: calls that arrive while every query slot is busy are
//! answered together by the next query instead of one round trip each.
//!
//! Why: a point read or a single-row insert is cheap for the database, but each costs a round
//! trip, sqlx pings every connection it takes back into its pool (a second round trip), and
//! each insert is its own commit (a WAL flush). Under load the server and the database spend
//! most of their time on those, not on the rows.
//!
//! How: calls go to one task through a queue. When a slot (one of `slots` concurrent queries)
//! is free, the task takes every call queued so far (up to `max_batch`) and hands them to the
//! batch handler, which answers each. An idle store therefore answers a call at once in a
//! batch of one; batches grow only while every slot is busy, so no call waits for a batch to
//! fill.
//!
//! Consistency: a call joins only a query sent after the call was queued, so it sees every
//! write committed before it was made. Nothing is cached.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

/// One queued call: its input and where its answer goes.
pub(crate) struct Call<T, A> {
    /// What the caller asked for.
    pub input: T,
    /// Where the answer goes; a caller that went away (request cancelled) just drops it.
    reply: oneshot::Sender<A>,
}

impl<T, A> Call<T, A> {
    /// Sends this call's answer.
    pub fn answer(self, answer: A) {
        // The caller may have gone away (its request was cancelled); nothing to do then.
        let _ = self.reply.send(answer);
    }
}

/// The coalescing task was gone before it answered: its Tokio runtime stopped.
#[derive(Debug)]
pub(crate) struct Stopped;

/// The front of a coalescing task: cheap to clone; the task ends when the last clone drops.
pub(crate) struct Coalescer<T, A> {
    /// The queue to the task.
    calls: mpsc::Sender<Call<T, A>>,
}

impl<T, A> Clone for Coalescer<T, A> {
    fn clone(&self) -> Self {
        Self {
            calls: self.calls.clone(),
        }
    }
}

impl<T: Send + 'static, A: Send + 'static> Coalescer<T, A> {
    /// Starts the task on the current Tokio runtime. At most `slots` batches (at least one)
    /// run at once, each of at most `max_batch` calls, each handed to `handler`, which must
    /// answer every call of its batch.
    pub fn start<H, F>(slots: usize, max_batch: usize, handler: H) -> Self
    where
        H: Fn(Vec<Call<T, A>>) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let (calls, queue) = mpsc::channel(4 * max_batch.max(1));
        let slots = Arc::new(Semaphore::new(slots.max(1)));
        tokio::spawn(gather(queue, slots, max_batch.max(1), handler));
        Self { calls }
    }

    /// Queues `input` and waits for its answer.
    ///
    /// # Errors
    /// `Stopped` when the task is gone (its runtime is shutting down).
    pub async fn call(&self, input: T) -> Result<A, Stopped> {
        let (reply, answer) = oneshot::channel();
        self.calls
            .send(Call { input, reply })
            .await
            .map_err(|_| Stopped)?;
        answer.await.map_err(|_| Stopped)
    }

    /// Whether the task is gone; calls made now would fail.
    pub fn is_stopped(&self) -> bool {
        self.calls.is_closed()
    }
}

/// Takes calls off `queue` and hands each gathered batch to `handler` once a slot is free.
async fn gather<T, A, H, F>(
    mut queue: mpsc::Receiver<Call<T, A>>,
    slots: Arc<Semaphore>,
    max_batch: usize,
    handler: H,
) where
    T: Send + 'static,
    A: Send + 'static,
    H: Fn(Vec<Call<T, A>>) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    while let Some(first) = queue.recv().await {
        // Gather only once a slot is free: what arrives while every slot is busy joins the
        // next batch instead of waiting behind the running ones.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match queue.try_recv() {
                Ok(call) => batch.push(call),
                Err(_) => break,
            }
        }
        let work = handler(batch);
        tokio::spawn(async move {
            work.await;
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn calls_queued_while_slots_are_busy_share_a_batch_and_each_get_their_answer() {
        let batches = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&batches);
        let doubler = Coalescer::start(1, 64, move |batch: Vec<Call<u32, u32>>| {
            seen.fetch_add(1, Ordering::SeqCst);
            async move {
                // A slow query: everything queued meanwhile forms the next batch.
                tokio::time::sleep(Duration::from_millis(20)).await;
                for call in batch {
                    let doubled = call.input * 2;
                    call.answer(doubled);
                }
            }
        });
        let mut calls = tokio::task::JoinSet::new();
        for n in 0..100u32 {
            let doubler = doubler.clone();
            calls.spawn(async move { (n, doubler.call(n).await.unwrap()) });
        }
        let mut answered = 0;
        while let Some(done) = calls.join_next().await {
            let (n, doubled) = done.unwrap();
            assert_eq!(doubled, n * 2);
            answered += 1;
        }
        assert_eq!(answered, 100);
        let batches = batches.load(Ordering::SeqCst);
        // 100 calls in batches of at most 64, and far fewer batches than calls.
        assert!((2..=10).contains(&batches), "{batches} batches");
    }

    #[tokio::test]
    async fn an_idle_coalescer_answers_a_lone_call_at_once() {
        let echo = Coalescer::start(2, 64, |batch: Vec<Call<u8, u8>>| async move {
            assert_eq!(batch.len(), 1);
            for call in batch {
                let input = call.input;
                call.answer(input);
            }
        });
        for n in 0..5 {
            assert_eq!(echo.call(n).await.unwrap(), n);
        }
    }

    #[test]
    fn a_coalescer_whose_runtime_stopped_says_so() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let echo = runtime.block_on(async {
            Coalescer::start(1, 8, |batch: Vec<Call<u8, u8>>| async move {
                for call in batch {
                    call.answer(0);
                }
            })
        });
        drop(runtime);
        assert!(echo.is_stopped());
        let other = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(other.block_on(echo.call(1)).is_err());
    }
}
