//! Cooperative cancellation: a shared "please stop" flag that long work checks between units of work
//! (an apply between jobs, the daemon between cycles, a render between polls of its command) and that
//! sleeping threads can wait on. One type for every crate, so that one Ctrl-C stops whatever runs.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// A cheap, cloneable stop request. Every clone sees the same flag.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl CancelToken {
    /// A token nobody has cancelled yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every holder to stop and wakes up those waiting.
    pub fn cancel(&self) {
        let (flag, wakeup) = &*self.inner;
        *flag.lock().unwrap_or_else(PoisonError::into_inner) = true;
        wakeup.notify_all();
    }

    /// Whether a stop was requested.
    pub fn is_cancelled(&self) -> bool {
        *self.inner.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps up to `timeout`; returns early (with `true`) when the token is cancelled.
    pub fn wait(&self, timeout: Duration) -> bool {
        let (flag, wakeup) = &*self.inner;
        let guard = flag.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = wakeup
            .wait_timeout_while(guard, timeout, |stopped| !*stopped)
            .unwrap_or_else(PoisonError::into_inner);
        *guard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_returns_false_when_nobody_cancels() {
        let token = CancelToken::new();
        assert!(!token.wait(Duration::from_millis(1)));
        assert!(!token.is_cancelled());
    }

    #[test]
    fn a_cancel_from_another_thread_ends_the_wait() {
        let token = CancelToken::new();
        let remote = token.clone();
        let thread = std::thread::spawn(move || remote.cancel());
        // An hour: the test only finishes because the cancel wakes the waiter.
        assert!(token.wait(Duration::from_secs(3600)));
        thread.join().unwrap();
        assert!(token.is_cancelled());
    }
}
