//! One poison-tolerant lock: a panic while a lock was held (a handler's, say) must not take
//! every later user of that lock down with it; the data a panic interrupted is still the best
//! state there is.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, taking the guard even if another thread panicked while holding it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
