//! One run: executed in a task of its own under its timeout (its unwind caught, dropped at
//! the end of a shutdown grace), its outcome planned and handed to the recorder.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use tracing::Instrument;

use crate::capacity::RunSlot;
use crate::claim::{ClaimedRun, FinishedRun, HostHold};
use crate::plan::{Execution, plan_outcome};
use crate::ports::Executed;
use crate::recorder::Pending;
use crate::run::{ErrorText, RunId};
use crate::run_status::RunStatus;
use crate::sync::lock;
use crate::wire::WireEnum;

use super::Dispatcher;

/// The `run` span of one execution: a child of the span current where it starts (the
/// `claim` that took it, or the `request` that asked for it), the parent of its delivery's.
fn run_span(run: &ClaimedRun) -> tracing::Span {
    tracing::info_span!(
        "run",
        run_id = %run.run.id,
        job_id = %run.job.id,
        attempt = run.run.attempt,
        trigger = run.run.trigger.as_str(),
    )
}

impl Dispatcher {
    /// Executes `run` in a task of its own, holding `slot` until its outcome is stored.
    pub(super) fn start(&self, run: ClaimedRun, slot: RunSlot) {
        self.track_in_flight([run.run.id], true);
        let dispatcher = self.clone();
        let span = run_span(&run);
        tokio::spawn(async move { dispatcher.execute(run, slot).await }.instrument(span));
    }

    /// Counts `ids` in flight (heartbeated while there) when `add`, or no longer; tells the
    /// telemetry how many are.
    pub(super) fn track_in_flight(&self, ids: impl IntoIterator<Item = RunId>, add: bool) {
        let mut in_flight = lock(&self.inner.in_flight);
        for id in ids {
            if add {
                in_flight.insert(id);
            } else {
                in_flight.remove(&id);
            }
        }
        self.inner.telemetry.in_flight(in_flight.len());
    }

    /// Executes `run` in the caller's task (counted in flight) and returns once its outcome
    /// is recorded: runs that must not overlap go one after the other this way.
    pub(super) async fn execute_here(&self, run: ClaimedRun, slot: RunSlot) {
        self.track_in_flight([run.run.id], true);
        let span = run_span(&run);
        self.execute(run, slot).instrument(span).await;
    }

    /// After a cancelled run's execution was dropped: counts it, forgets it, and tells the
    /// store it stopped ([`crate::RunStore::mark_stopped`]: a `replace` fire waits for that
    /// before it starts), then gives its slot back.
    async fn stopped(&self, run: &crate::run::Run, slot: RunSlot) {
        tracing::info!(
            target: "scheduler_core::run",
            job_id = %run.job_id,
            run_id = %run.id,
            attempt = run.attempt,
            "run cancelled; its execution is stopped"
        );
        let ran_for = (self.inner.clock.now() - run.started_at)
            .to_std()
            .unwrap_or_default();
        self.inner.telemetry.run_recorded(
            crate::run_status::RunStatus::Cancelled,
            run.trigger,
            Some(ran_for),
        );
        if let Err(error) = self.inner.store.mark_stopped(&[run.id]).await {
            tracing::warn!(run_id = %run.id, %error, "could not record that a cancelled run stopped");
        }
        self.track_in_flight([run.id], false);
        drop(slot);
    }

    /// Executes one claimed run under its timeout and records the outcome.
    async fn execute(&self, claimed: ClaimedRun, slot: RunSlot) {
        let ClaimedRun { run, job } = claimed;
        let policy = job.spec.policy;
        let timeout = Duration::from_secs(u64::from(policy.timeout_seconds));
        // A panicking handler fails its run, not the dispatcher: the unwind is caught here, in
        // this run's task (a second task per run, with the job and run cloned into it, cost
        // more CPU per fire than the claim's SQL took; measured in `bench/dispatch.sh`). A
        // timed-out execution is dropped, which cancels it at its next await.
        // (The call is inside the async block, so an executor that panics while making its
        // future is caught too.)
        let executor = &self.inner.executor;
        let work = AssertUnwindSafe(async { executor.execute_with_output(&job, &run).await })
            .catch_unwind();
        let mut abandon = self.inner.abandon.subscribe();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        lock(&self.inner.stops).insert(run.id, stop);
        let executed = tokio::select! {
            biased;
            // The shutdown grace is over: drop the execution (a delivery's connection closes)
            // and leave the run `running` for the shutdown to release.
            _ = abandon.wait_for(|abandon| *abandon) => None,
            // Cancelled: the store holds the run `cancelled` already; drop the execution.
            Ok(()) = stopped => Some(None),
            executed = async {
                // A delivery beyond its host's cap waits here for one of the host's runs to
                // end.
                let sending = slot.sending_permit().await;
                let executed = tokio::time::timeout(timeout, work).await;
                drop(sending);
                executed
            } => Some(Some(executed)),
        };
        lock(&self.inner.stops).remove(&run.id);
        // The execution is dropped by now (a delivery's connection closed).
        if let Some(None) = executed {
            self.stopped(&run, slot).await;
            return;
        }
        let Some(Some(executed)) = executed else {
            tracing::warn!(
                target: "scheduler_core::run",
                job_id = %run.job_id,
                run_id = %run.id,
                attempt = run.attempt,
                "run abandoned at the end of the shutdown grace; released to other replicas"
            );
            lock(&self.inner.abandoned).push(run.id);
            return;
        };
        let (execution, output) = match executed {
            Ok(Ok(Executed {
                result: Ok(()),
                output,
                ..
            })) => (Execution::Succeeded, output),
            // Whatever a handler or receiver said is sanitized before it goes near the store.
            Ok(Ok(Executed {
                result: Err(message),
                output,
                retry_after: Some(after),
            })) => {
                let error = ErrorText::sanitize(&message);
                (Execution::Throttled { error, after }, output)
            }
            Ok(Ok(Executed {
                result: Err(message),
                output,
                retry_after: None,
            })) => (Execution::Failed(ErrorText::sanitize(&message)), output),
            Ok(Err(_panic)) => (Execution::Panicked, None),
            Err(_) => (Execution::TimedOut, None),
        };
        // The execution slot goes back now; the record slot stays until the outcome is stored.
        let slot = slot.executed();
        let outcome = plan_outcome(&run, &policy, execution, self.inner.clock.now());
        let host_hold = match (outcome.status, outcome.retry_at, &job.spec.target) {
            (RunStatus::Throttled, Some(until), Some(target)) => {
                let host = target.host_key();
                self.inner.telemetry.host_throttled(&host);
                Some(HostHold { host, until })
            }
            _ => None,
        };
        let ran_for = (outcome.finished_at - run.started_at)
            .to_std()
            .unwrap_or_default();
        let duration_ms = u64::try_from(ran_for.as_millis()).unwrap_or(u64::MAX);
        match &outcome.error {
            None => tracing::info!(
                target: "scheduler_core::run",
                job_id = %run.job_id,
                run_id = %run.id,
                attempt = run.attempt,
                status = outcome.status.as_str(),
                duration_ms,
                "run finished"
            ),
            Some(error) => tracing::warn!(
                target: "scheduler_core::run",
                job_id = %run.job_id,
                run_id = %run.id,
                attempt = run.attempt,
                status = outcome.status.as_str(),
                duration_ms,
                error = error.as_str(),
                retry_at = ?outcome.retry_at,
                "run failed"
            ),
        }
        self.inner
            .telemetry
            .run_recorded(outcome.status, run.trigger, Some(ran_for));
        self.inner
            .recorder
            .record(Pending {
                finished: FinishedRun {
                    run,
                    outcome,
                    pause_after_failures: policy.pause_after_failures,
                    output,
                    host_hold,
                },
                slot,
            })
            .await;
    }
}
