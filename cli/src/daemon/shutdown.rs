//! Graceful shutdown: SIGTERM or SIGINT asks the daemon to stop; the reconcile in progress finishes the
//! actions of the job it is working on, then the process exits 0. A second signal exits at once.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use kfp_client::CancelToken;

/// A shared "please stop" flag that sleeping threads can wait on; the library's cancel token, which
/// an apply in progress checks between jobs.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    token: CancelToken,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every holder to stop and wakes up those waiting.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Sleeps up to `timeout`; returns early (with `true`) when shutdown is triggered.
    pub fn wait(&self, timeout: Duration) -> bool {
        self.token.wait(timeout)
    }

    /// The token library work stops at.
    pub fn token(&self) -> &CancelToken {
        &self.token
    }

    /// Routes SIGTERM, SIGINT (and SIGHUP) here. The first signal triggers a graceful shutdown; a
    /// second one ends the process immediately with 130, for an operator who does not want to wait.
    pub fn install_signal_handlers(&self) -> Result<(), ctrlc::Error> {
        let shutdown = self.clone();
        let received = AtomicU32::new(0);
        ctrlc::set_handler(move || {
            if received.fetch_add(1, Ordering::SeqCst) == 0 {
                tracing::info!(
                    "shutdown requested: finishing the current job's actions, then exiting (signal again to exit now)"
                );
                shutdown.trigger();
            } else {
                tracing::warn!("second shutdown signal: exiting immediately");
                #[allow(clippy::exit)] // the one deliberate hard exit, on the operator's request
                std::process::exit(130);
            }
        })
    }
}
