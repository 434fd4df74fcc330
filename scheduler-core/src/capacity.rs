//! Execution capacity of one replica: how many runs of each [`ExecutionKind`] execute at
//! once, how many deliveries go to one receiving host at once, and how many claimed runs
//! may wait for their outcome to be stored.
//!
//! Claims reserve capacity before they ask the store for fires ([`Capacity::reserve`]), so
//! several claims in flight never take more than the replica can run. A claimed run holds an
//! execution slot of its kind while it executes and a record slot until its outcome is
//! stored ([`RunSlot`], then [`RecordSlot`]): a handler that returned frees its execution
//! slot at once, while the record slots (as many as both kinds together) bound the outcomes
//! waiting for the store, so a slow store slows claims instead of piling up unrecorded runs.
//! A host with `per_host` deliveries executing is *saturated*: claims leave its fires to
//! later claims (or other replicas), so one slow receiver cannot take every delivery slot;
//! deliveries of a host beyond its cap that one claim still brought wait for a sending
//! permit of that host.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::plan::ExecutionKind;
use crate::sync::lock;

/// Slots of both kinds, the record slots and the per-host accounting of one dispatcher.
pub(crate) struct Capacity {
    /// One permit per handler run executing.
    handlers: Arc<Semaphore>,
    /// How many handler permits exist.
    handler_limit: u32,
    /// One permit per delivery executing.
    deliveries: Arc<Semaphore>,
    /// How many delivery permits exist.
    delivery_limit: u32,
    /// One permit per claimed run whose outcome is not stored yet.
    unrecorded: Arc<Semaphore>,
    /// How many record permits exist (both kinds' limits together).
    unrecorded_limit: u32,
    /// Most deliveries executing (and sent at once) per host key.
    per_host: usize,
    /// Host key → its deliveries; an entry exists only while something is held.
    hosts: Mutex<HashMap<String, HostState>>,
    /// Woken whenever a slot is given back (a loop waiting for capacity claims again).
    freed: Notify,
}

/// One host's deliveries.
struct HostState {
    /// Deliveries of the host claimed and not yet done executing.
    held: usize,
    /// Permits to send to it at once (`per_host` of them).
    sending: Arc<Semaphore>,
}

/// Permits taken by a claim before it asks the store, `count` of each (an execution slot
/// and a record slot per run); each claimed run takes one of each, and what is left goes
/// back when the reservation is dropped.
pub(crate) struct Reservation {
    /// Execution permits, `None` when none could be taken.
    execution: Option<OwnedSemaphorePermit>,
    /// Record permits, as many.
    record: Option<OwnedSemaphorePermit>,
}

/// Takes one permit off a bundle.
fn take_one(bundle: &mut Option<OwnedSemaphorePermit>) -> Option<OwnedSemaphorePermit> {
    let permits = bundle.as_mut()?;
    if permits.num_permits() > 1 {
        permits.split(1)
    } else {
        bundle.take()
    }
}

impl Reservation {
    /// How many runs the reservation can still take.
    pub(crate) fn count(&self) -> u32 {
        self.execution
            .as_ref()
            .map_or(0, |p| u32::try_from(p.num_permits()).unwrap_or(u32::MAX))
    }

    /// Permits for one run, `None` when the reservation is used up.
    fn take_one(&mut self) -> Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)> {
        let execution = take_one(&mut self.execution)?;
        let record = take_one(&mut self.record)?;
        Some((execution, record))
    }

    fn empty() -> Self {
        Self {
            execution: None,
            record: None,
        }
    }
}

/// What a claimed run holds while it executes: an execution slot of its kind, for a
/// delivery its place among its host's, and its record slot. [`RunSlot::executed`] gives
/// the execution part back and keeps the record slot.
pub(crate) struct RunSlot {
    /// The kind's permit.
    execution: Option<OwnedSemaphorePermit>,
    /// The host the delivery counts against.
    host: Option<String>,
    /// Kept until the outcome is stored.
    record: Option<RecordSlot>,
    /// Where to give it back.
    capacity: Arc<Capacity>,
}

/// A run's place among the outcomes waiting to be stored; dropping it gives it back.
pub(crate) struct RecordSlot {
    /// The record permit.
    _permit: OwnedSemaphorePermit,
    /// Where to say it was given back.
    capacity: Arc<Capacity>,
}

impl Drop for RecordSlot {
    fn drop(&mut self) {
        self.capacity.freed.notify_waiters();
    }
}

impl RunSlot {
    /// The permit to send to this run's host, waited for when the host is at its cap (`None`
    /// for a handler run).
    pub(crate) async fn sending_permit(&self) -> Option<OwnedSemaphorePermit> {
        let host = self.host.as_ref()?;
        let semaphore = {
            let hosts = lock(&self.capacity.hosts);
            hosts.get(host).map(|state| Arc::clone(&state.sending))?
        };
        semaphore.acquire_owned().await.ok()
    }

    /// The run finished executing: its execution slot (and host place) go back; the record
    /// slot stays with the outcome until it is stored.
    pub(crate) fn executed(mut self) -> Option<RecordSlot> {
        self.release_execution();
        self.record.take()
    }

    fn release_execution(&mut self) {
        if let Some(host) = self.host.take() {
            let mut hosts = lock(&self.capacity.hosts);
            if let Some(state) = hosts.get_mut(&host) {
                state.held = state.held.saturating_sub(1);
                if state.held == 0 {
                    hosts.remove(&host);
                }
            }
        }
        if self.execution.take().is_some() {
            self.capacity.freed.notify_waiters();
        }
    }
}

impl Drop for RunSlot {
    fn drop(&mut self) {
        self.release_execution();
    }
}

impl Capacity {
    /// `handlers` handler runs and `deliveries` deliveries executing at once (each at least
    /// 1), at most `per_host` deliveries per host (at least 1), and as many outcomes waiting
    /// for the store as both kinds together.
    pub(crate) fn new(handlers: usize, deliveries: usize, per_host: usize) -> Arc<Self> {
        let handler_limit = u32::try_from(handlers.max(1)).unwrap_or(u32::MAX);
        let delivery_limit = u32::try_from(deliveries.max(1)).unwrap_or(u32::MAX);
        let unrecorded_limit = handler_limit.saturating_add(delivery_limit);
        Arc::new(Self {
            handlers: Arc::new(Semaphore::new(permits(handler_limit))),
            handler_limit,
            deliveries: Arc::new(Semaphore::new(permits(delivery_limit))),
            delivery_limit,
            unrecorded: Arc::new(Semaphore::new(permits(unrecorded_limit))),
            unrecorded_limit,
            per_host: per_host.max(1),
            hosts: Mutex::new(HashMap::new()),
            freed: Notify::new(),
        })
    }

    fn semaphore(&self, kind: ExecutionKind) -> &Arc<Semaphore> {
        match kind {
            ExecutionKind::Handler => &self.handlers,
            ExecutionKind::Delivery => &self.deliveries,
        }
    }

    /// Free slots of `kind` now (execution and record slots both).
    pub(crate) fn free(&self, kind: ExecutionKind) -> u32 {
        let execution = self.semaphore(kind).available_permits();
        let record = self.unrecorded.available_permits();
        u32::try_from(execution.min(record)).unwrap_or(u32::MAX)
    }

    /// Runs claimed and not yet recorded, of any kind.
    #[cfg(test)]
    pub(crate) fn held(&self) -> u32 {
        let free = u32::try_from(self.unrecorded.available_permits()).unwrap_or(u32::MAX);
        self.unrecorded_limit.saturating_sub(free)
    }

    /// Takes up to `want` free slots of `kind` without waiting (fewer when fewer are free).
    pub(crate) fn reserve(&self, kind: ExecutionKind, want: u32) -> Reservation {
        let semaphore = self.semaphore(kind);
        loop {
            let n = self.free(kind).min(want);
            if n == 0 {
                return Reservation::empty();
            }
            let execution = match Arc::clone(semaphore).try_acquire_many_owned(n) {
                Ok(permits) => permits,
                // Another claim took some in between: try again with what is left.
                Err(TryAcquireError::NoPermits) => continue,
                Err(TryAcquireError::Closed) => return Reservation::empty(),
            };
            match Arc::clone(&self.unrecorded).try_acquire_many_owned(n) {
                Ok(record) => {
                    return Reservation {
                        execution: Some(execution),
                        record: Some(record),
                    };
                }
                Err(TryAcquireError::NoPermits) => {}
                Err(TryAcquireError::Closed) => return Reservation::empty(),
            }
        }
    }

    /// Waits for the slots of one run of `kind` (a manual run is started even when claims
    /// filled every slot; it waits its turn).
    pub(crate) async fn wait_for(
        self: &Arc<Self>,
        kind: ExecutionKind,
        host: Option<String>,
    ) -> Option<RunSlot> {
        let execution = Arc::clone(self.semaphore(kind))
            .acquire_owned()
            .await
            .ok()?;
        let record = Arc::clone(&self.unrecorded).acquire_owned().await.ok()?;
        Some(self.hold(execution, record, host))
    }

    /// The slot of one claimed run, and for a delivery its place among `host`'s.
    fn hold(
        self: &Arc<Self>,
        execution: OwnedSemaphorePermit,
        record: OwnedSemaphorePermit,
        host: Option<String>,
    ) -> RunSlot {
        if let Some(host) = &host {
            let mut hosts = lock(&self.hosts);
            let state = hosts.entry(host.clone()).or_insert_with(|| HostState {
                held: 0,
                sending: Arc::new(Semaphore::new(self.per_host)),
            });
            state.held += 1;
        }
        RunSlot {
            execution: Some(execution),
            host,
            record: Some(RecordSlot {
                _permit: record,
                capacity: Arc::clone(self),
            }),
            capacity: Arc::clone(self),
        }
    }

    /// [`Capacity::hold`] with the permits of one run from `reservation`; `None` when it is
    /// used up.
    pub(crate) fn hold_reserved(
        self: &Arc<Self>,
        reservation: &mut Reservation,
        host: Option<String>,
    ) -> Option<RunSlot> {
        let (execution, record) = reservation.take_one()?;
        Some(self.hold(execution, record, host))
    }

    /// Hosts with `per_host` deliveries executing: claims leave their fires for later.
    pub(crate) fn saturated_hosts(&self) -> Vec<String> {
        lock(&self.hosts)
            .iter()
            .filter(|(_, state)| state.held >= self.per_host)
            .map(|(host, _)| host.clone())
            .collect()
    }

    /// Each host with deliveries held here, and how many.
    pub(crate) fn host_loads(&self) -> Vec<(String, usize)> {
        lock(&self.hosts)
            .iter()
            .map(|(host, state)| (host.clone(), state.held))
            .collect()
    }

    /// Waits until some slot is given back.
    pub(crate) async fn freed(&self) {
        self.freed.notified().await;
    }

    /// Waits until every run claimed here has executed and been recorded (shutdown may end).
    pub(crate) async fn drained(&self) {
        let handlers = self.handlers.acquire_many(self.handler_limit).await;
        let deliveries = self.deliveries.acquire_many(self.delivery_limit).await;
        let unrecorded = self.unrecorded.acquire_many(self.unrecorded_limit).await;
        drop((handlers, deliveries, unrecorded));
    }
}

/// Semaphore permits for a limit (tokio caps them at `Semaphore::MAX_PERMITS`).
fn permits(limit: u32) -> usize {
    usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .min(Semaphore::MAX_PERMITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_takes_what_is_free_and_gives_back_what_is_unused() {
        let capacity = Capacity::new(10, 5, 2);
        let mut first = capacity.reserve(ExecutionKind::Handler, 7);
        assert_eq!(first.count(), 7);
        let second = capacity.reserve(ExecutionKind::Handler, 7);
        assert_eq!(second.count(), 3, "only what is left");
        assert_eq!(capacity.reserve(ExecutionKind::Handler, 1).count(), 0);
        let slot = capacity.hold_reserved(&mut first, None).unwrap();
        drop(first);
        drop(second);
        assert_eq!(
            capacity.free(ExecutionKind::Handler),
            9,
            "one slot held by the run"
        );
        drop(slot);
        assert_eq!(capacity.free(ExecutionKind::Handler), 10);
        assert_eq!(
            capacity.free(ExecutionKind::Delivery),
            5,
            "kinds are separate"
        );
    }

    #[test]
    fn an_executed_run_frees_its_execution_slot_but_holds_a_record_slot() {
        let capacity = Capacity::new(2, 1, 1);
        let mut reservation = capacity.reserve(ExecutionKind::Handler, 2);
        let a = capacity.hold_reserved(&mut reservation, None).unwrap();
        let b = capacity.hold_reserved(&mut reservation, None).unwrap();
        assert_eq!(capacity.free(ExecutionKind::Handler), 0);
        let a_record = a.executed().unwrap();
        let b_record = b.executed().unwrap();
        assert_eq!(
            capacity.free(ExecutionKind::Handler),
            1,
            "3 record slots, 2 held"
        );
        assert_eq!(capacity.held(), 2);
        // Outcomes waiting for the store bound the claims of every kind.
        let mut more = capacity.reserve(ExecutionKind::Handler, 2);
        assert_eq!(more.count(), 1);
        let c = capacity.hold_reserved(&mut more, None).unwrap();
        assert_eq!(capacity.free(ExecutionKind::Delivery), 0);
        drop((a_record, b_record, c));
        assert_eq!(capacity.held(), 0);
        assert_eq!(capacity.free(ExecutionKind::Delivery), 1);
    }

    #[test]
    fn a_host_with_per_host_deliveries_executing_is_saturated_until_one_ends() {
        let capacity = Capacity::new(1, 10, 2);
        let mut reservation = capacity.reserve(ExecutionKind::Delivery, 3);
        let host = || Some("slow.example".to_string());
        let a = capacity.hold_reserved(&mut reservation, host()).unwrap();
        assert!(capacity.saturated_hosts().is_empty());
        let b = capacity.hold_reserved(&mut reservation, host()).unwrap();
        assert_eq!(capacity.saturated_hosts(), ["slow.example"]);
        let other = capacity
            .hold_reserved(&mut reservation, Some("fast.example".into()))
            .unwrap();
        assert_eq!(capacity.saturated_hosts(), ["slow.example"]);
        let mut loads = capacity.host_loads();
        loads.sort();
        assert_eq!(
            loads,
            [
                ("fast.example".to_string(), 1),
                ("slow.example".to_string(), 2)
            ]
        );
        let a_record = a.executed();
        assert!(capacity.saturated_hosts().is_empty());
        drop((b, other, a_record));
        assert!(capacity.host_loads().is_empty());
        assert!(lock(&capacity.hosts).is_empty(), "idle hosts are forgotten");
        assert_eq!(capacity.held(), 0);
    }

    #[tokio::test]
    async fn deliveries_beyond_a_hosts_cap_wait_for_a_sending_permit() {
        let capacity = Capacity::new(1, 10, 1);
        let mut reservation = capacity.reserve(ExecutionKind::Delivery, 2);
        let first = capacity
            .hold_reserved(&mut reservation, Some("h".into()))
            .unwrap();
        let second = capacity
            .hold_reserved(&mut reservation, Some("h".into()))
            .unwrap();
        let sending = first.sending_permit().await.unwrap();
        let waiting = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            second.sending_permit(),
        )
        .await;
        assert!(waiting.is_err(), "the host's one permit is taken");
        drop(sending);
        assert!(second.sending_permit().await.is_some());
        let handler = capacity
            .wait_for(ExecutionKind::Handler, None)
            .await
            .unwrap();
        assert!(
            handler.sending_permit().await.is_none(),
            "a handler run sends nothing"
        );
    }
}
