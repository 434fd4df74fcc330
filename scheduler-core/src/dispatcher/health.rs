//! Whether a replica's dispatcher is working.

use std::time::Duration;

use super::Dispatcher;

/// Whether a replica's dispatcher is working, as liveness probes, the metrics and the
/// dashboard all report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatcherHealth {
    /// A tick completed within the bound.
    Up,
    /// No tick completed within the bound: stuck, dead, or its store keeps failing.
    Stalled,
    /// The loop does not run on this replica.
    Off,
}

impl DispatcherHealth {
    /// The health of `dispatcher` (`None` when its loop does not run here): up while its last
    /// good tick is at most `tick_bound` old.
    pub fn of(dispatcher: Option<&Dispatcher>, tick_bound: Duration) -> Self {
        match dispatcher {
            None => Self::Off,
            Some(d) if d.since_last_good_tick() <= tick_bound => Self::Up,
            Some(_) => Self::Stalled,
        }
    }

    /// Whether a liveness probe passes (a replica without the loop is alive).
    pub fn is_alive(self) -> bool {
        self != Self::Stalled
    }
}
