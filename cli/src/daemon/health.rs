//! What `/healthz` and `/readyz` answer.
//!
//! * Live: the process serves HTTP (a hung reconcile does not make it unhealthy: the readiness
//!   probe and the alerts on `kfp_gitops_last_success_timestamp_seconds` report that).
//! * Ready: after the first successful reconcile, and for as long as the last success is at most
//!   three intervals old.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How many intervals without a successful reconcile are tolerated before the daemon is not ready.
pub const STALE_AFTER_INTERVALS: u32 = 3;

/// The readiness of the daemon, with the reason when not ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// No reconcile has succeeded yet.
    NotYet {
        last_error: Option<String>,
    },
    /// The last success is older than three intervals.
    Stale {
        since: Duration,
        last_error: Option<String>,
    },
}

#[derive(Debug, Default)]
struct State {
    last_success: Option<Instant>,
    last_error: Option<String>,
}

/// Shared between the reconcile loop (which records) and the HTTP server (which reads).
#[derive(Debug)]
pub struct Health {
    interval: Duration,
    state: Mutex<State>,
}

impl Health {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::default(),
        }
    }

    pub fn record_success(&self, at: Instant) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.last_success = Some(at);
        state.last_error = None;
    }

    pub fn record_failure(&self, error: String) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_error = Some(error);
    }

    pub fn readiness(&self, now: Instant) -> Readiness {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let last_error = state.last_error.clone();
        match state.last_success {
            None => Readiness::NotYet { last_error },
            Some(at) => {
                let since = now.saturating_duration_since(at);
                if since <= self.interval * STALE_AFTER_INTERVALS {
                    Readiness::Ready
                } else {
                    Readiness::Stale { since, last_error }
                }
            }
        }
    }
}

impl Readiness {
    /// The body of `/readyz`: `ok`, or why not.
    pub fn describe(&self) -> String {
        let error = |last_error: &Option<String>| {
            last_error
                .as_ref()
                .map(|e| format!("; last error: {e}"))
                .unwrap_or_default()
        };
        match self {
            Self::Ready => "ok".to_owned(),
            Self::NotYet { last_error } => {
                format!(
                    "not ready: no successful reconcile yet{}",
                    error(last_error)
                )
            }
            Self::Stale { since, last_error } => format!(
                "not ready: last successful reconcile {}s ago{}",
                since.as_secs(),
                error(last_error)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_ready_until_the_first_success() {
        let health = Health::new(Duration::from_secs(60));
        let start = Instant::now();
        health.record_failure("connection refused".to_owned());
        assert_eq!(
            health.readiness(start).describe(),
            "not ready: no successful reconcile yet; last error: connection refused"
        );
        health.record_success(start);
        assert_eq!(health.readiness(start), Readiness::Ready);
    }

    #[test]
    fn stays_ready_for_three_intervals_after_a_success_then_turns_stale() {
        let health = Health::new(Duration::from_secs(60));
        let start = Instant::now();
        health.record_success(start);
        health.record_failure("503".to_owned());
        assert_eq!(
            health.readiness(start + Duration::from_secs(180)),
            Readiness::Ready
        );
        assert_eq!(
            health
                .readiness(start + Duration::from_secs(181))
                .describe(),
            "not ready: last successful reconcile 181s ago; last error: 503"
        );
        health.record_success(start + Duration::from_secs(200));
        assert_eq!(
            health.readiness(start + Duration::from_secs(201)),
            Readiness::Ready
        );
    }
}
