//! `SystemClock`: the `Clock` port over the operating system's clock.

use chrono::{DateTime, SubsecRound, Utc};
use scheduler_core::Clock;

/// Reads the system clock, at microsecond precision (what the databases store).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}
