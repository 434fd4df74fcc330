//! Coalescing of concurrent store calls: calls that arrive while every query slot is busy are
//! answered together by the next query instead of one round trip each.
//!
//! Why: a point read or a single-row insert is cheap for the database, but each costs a round
//! trip, sqlx pings every connection it takes back into its pool (a second round trip), and
//! each insert is its own commit (a WAL flush). Under load the server and the database spend
//! most of their time on those, not on the rows.
//!
//! How: a call joins a queue, then tries to take one of `slots` query slots. With a free slot
//! and nobody else queued, the caller runs its own query of one right away, in its own task
//! (an idle store adds no hop between tasks). Otherwise every call queued so far (up to
//! `max_batch`) becomes one batch, run in a task of its own so that a caller that goes away
//! cannot take other callers' answers with it. Whenever a slot is given back, whatever queued
//! meanwhile becomes the next batch: batches grow only while every slot is busy, so no call
//! waits for a batch to fill.
//!
//! Consistency: a call joins only a query sent after the call was queued, so it sees every
//! write committed before it was made. Nothing is cached.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// One queued call: its input and where its answer goes.
pub(crate) struct Call<T, A> {
    /// What the caller asked for.
    pub(crate) input: T,
    /// Identifies the call within its coalescer (to recognise a caller's own call).
    ticket: u64,
    /// Where the answer goes.
    reply: oneshot::Sender<A>,
}

impl<T, A> Call<T, A> {
    /// Sends this call's answer.
    pub(crate) fn answer(self, answer: A) {
        // The caller may have gone away (its request was cancelled); nothing to do then.
        let _ = self.reply.send(answer);
    }
}

/// The call was dropped unanswered: its batch's task was cancelled (the runtime is shutting
/// down).
#[derive(Debug)]
pub(crate) struct Stopped;

/// What runs one batch; it must answer every call in it.
type Handler<T, A> =
    dyn Fn(Vec<Call<T, A>>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;

/// Coalesces calls of one kind. Cheap to clone; clones share the queue and the slots.
pub(crate) struct Coalescer<T, A> {
    /// The queue, slots and handler.
    shared: Arc<Shared<T, A>>,
}

impl<T, A> Clone for Coalescer<T, A> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// What the clones of a coalescer share.
struct Shared<T, A> {
    /// Calls waiting for a batch, oldest first.
    queue: Mutex<VecDeque<Call<T, A>>>,
    /// One permit per query that may run at once.
    slots: Arc<Semaphore>,
    /// Most calls in one batch.
    max_batch: usize,
    /// Source of call tickets.
    tickets: AtomicU64,
    /// Runs a batch.
    handler: Box<Handler<T, A>>,
}

impl<T: Send + 'static, A: Send + 'static> Coalescer<T, A> {
    /// A coalescer running at most `slots` batches at once (at least one), each of at most
    /// `max_batch` calls, each handed to `handler`, which must answer every call of its batch.
    pub(crate) fn new<H, F>(slots: usize, max_batch: usize, handler: H) -> Self
    where
        H: Fn(Vec<Call<T, A>>) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        Self {
            shared: Arc::new(Shared {
                queue: Mutex::new(VecDeque::new()),
                slots: Arc::new(Semaphore::new(slots.max(1))),
                max_batch: max_batch.max(1),
                tickets: AtomicU64::new(0),
                handler: Box::new(move |batch| Box::pin(handler(batch))),
            }),
        }
    }

    /// Queues `input` and waits for its answer. Must run inside a Tokio runtime.
    ///
    /// # Errors
    /// `Stopped` when the call's batch was cancelled before answering it (runtime shutdown).
    pub(crate) async fn call(&self, input: T) -> Result<A, Stopped> {
        let (reply, answer) = oneshot::channel();
        let ticket = self.shared.tickets.fetch_add(1, Ordering::Relaxed);
        self.shared.lock().push_back(Call {
            input,
            ticket,
            reply,
        });
        if let Ok(permit) = Arc::clone(&self.shared.slots).try_acquire_owned() {
            let slot = Slot {
                permit: Some(permit),
                shared: Arc::clone(&self.shared),
            };
            let alone = {
                let mut queue = self.shared.lock();
                let only_mine =
                    queue.len() == 1 && queue.front().is_some_and(|c| c.ticket == ticket);
                if only_mine { queue.pop_front() } else { None }
            };
            match alone {
                // Nobody else is waiting: run the query of one here, without a task hop.
                // Cancelling this future loses only this call; the slot is handed on.
                Some(mine) => (self.shared.handler)(vec![mine]).await,
                // Others are queued with this call: batches run in their own tasks.
                None => drop(slot),
            }
        }
        answer.await.map_err(|_| Stopped)
    }
}

impl<T: Send + 'static, A: Send + 'static> Shared<T, A> {
    /// The queue, whatever a panicking holder left in it.
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Call<T, A>>> {
        scheduler_core::lock(&self.queue)
    }

    /// Starts a batch task for what is queued, for as long as there are queued calls and free
    /// slots. Called whenever a slot is given back, and after a call joins a busy queue.
    fn pump(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        loop {
            if self.lock().is_empty() {
                return;
            }
            let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() else {
                // Every slot is busy; the next one given back pumps again.
                return;
            };
            let slot = Slot {
                permit: Some(permit),
                shared: Arc::clone(self),
            };
            let batch: Vec<_> = {
                let mut queue = self.lock();
                let size = queue.len().min(self.max_batch);
                queue.drain(..size).collect()
            };
            if batch.is_empty() {
                continue;
            }
            let work = (self.handler)(batch);
            runtime.spawn(async move {
                work.await;
                drop(slot);
            });
        }
    }
}

/// A held query slot. Giving it back (also when its holder is cancelled) starts a batch for
/// whatever queued meanwhile, so no call is stranded.
struct Slot<T: Send + 'static, A: Send + 'static> {
    /// The permit, released first on drop.
    permit: Option<OwnedSemaphorePermit>,
    /// Where to pump.
    shared: Arc<Shared<T, A>>,
}

impl<T: Send + 'static, A: Send + 'static> Drop for Slot<T, A> {
    fn drop(&mut self) {
        // Release before looking at the queue: a call that found every slot busy queued
        // before trying, so it is seen here.
        drop(self.permit.take());
        self.shared.pump();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[tokio::test]
    async fn calls_queued_while_slots_are_busy_share_a_batch_and_each_get_their_answer() {
        let batches = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&batches);
        let doubler = Coalescer::new(1, 64, move |batch: Vec<Call<u32, u32>>| {
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
        let echo = Coalescer::new(2, 64, |batch: Vec<Call<u8, u8>>| async move {
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

    #[tokio::test]
    async fn a_cancelled_caller_loses_only_its_own_call() {
        // One slot; the first caller's query hangs until released, then the caller is
        // cancelled. Calls queued behind it must still be answered.
        let gate = Arc::new(tokio::sync::Notify::new());
        let opened = Arc::clone(&gate);
        let echo = Coalescer::new(1, 64, move |batch: Vec<Call<u8, u8>>| {
            let opened = Arc::clone(&opened);
            async move {
                if batch.iter().any(|c| c.input == 0) {
                    opened.notified().await;
                }
                for call in batch {
                    let input = call.input;
                    call.answer(input);
                }
            }
        });
        let first = {
            let echo = echo.clone();
            tokio::spawn(async move { echo.call(0).await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut others = tokio::task::JoinSet::new();
        for n in 1..=10u8 {
            let echo = echo.clone();
            others.spawn(async move { (n, echo.call(n).await.unwrap()) });
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        first.abort();
        assert!(first.await.is_err(), "the first caller was cancelled");
        let answered = tokio::time::timeout(Duration::from_secs(5), async {
            let mut answered = 0;
            while let Some(done) = others.join_next().await {
                let (n, echoed) = done.unwrap();
                assert_eq!(echoed, n);
                answered += 1;
            }
            answered
        })
        .await
        .expect("queued calls are answered after the holder is cancelled");
        assert_eq!(answered, 10);
        gate.notify_waiters();
    }
}
