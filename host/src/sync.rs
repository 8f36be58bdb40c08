//! How the engine's threads meet: one policy for poisoned locks, and the one way guest
//! code is run from async code.
//!
//! Guest calls block (wasmtime runs them synchronously, up to their CPU deadline), so
//! async code runs them through [`blocking`]: a slow guest never holds up the runtime's
//! other tasks.
//!
//! A lock is poisoned when a thread panicked while holding it. Every critical section
//! in Refold replaces whole values (no multi-step update is left half done), so the data
//! behind a poisoned lock is still consistent: take it and go on, rather than spread one
//! panic to every later caller.

use crate::{Error, Result};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Lock `mutex`, taking it even if a panicking thread poisoned it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read `lock`, taking it even if a panicking thread poisoned it.
pub(crate) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

/// Write `lock`, taking it even if a panicking thread poisoned it.
pub(crate) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// Run `work`, which blocks, without holding up the async runtime's other tasks, and
/// wait for it. On a multi-threaded runtime it runs in place (`block_in_place`): from a
/// worker thread, the worker's other tasks move to another thread first; from a thread
/// in `Runtime::block_on` nothing needs to move. Elsewhere (a current-thread runtime)
/// it goes to tokio's blocking pool, inside the caller's span. A panic in `work`
/// resumes here; a pool shutting down cancels it.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread) {
        return Ok(tokio::task::block_in_place(work));
    }
    let span = tracing::Span::current();
    match tokio::task::spawn_blocking(move || span.in_scope(work)).await {
        Ok(value) => Ok(value),
        Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
        Err(_) => Err(Error::Cancelled),
    }
}
