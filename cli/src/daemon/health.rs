//! What `/healthz` and `/readyz` answer.
//!
//! * Live: the process serves HTTP (a hung reconcile does not make it unhealthy: the readiness
//!   probe and the alerts on `kfp_gitops_last_success_timestamp_seconds` report that).
//! * Ready: after the first successful reconcile, and for as long as the last success is at most
//!   three intervals old.
//!
//! Anyone who reaches the port can read the answers, so they hold no error text: only ready or not, and
//! the class of the last failure ([`FailureClass`]). What went wrong is in the log.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::FailureClass;

/// How many intervals without a successful reconcile are tolerated before the daemon is not ready.
pub const STALE_AFTER_INTERVALS: u32 = 3;

/// The readiness of the daemon, with the reason when not ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// No reconcile has succeeded yet.
    NotYet {
        last_failure: Option<FailureClass>,
    },
    /// The last success is older than three intervals.
    Stale {
        since: Duration,
        last_failure: Option<FailureClass>,
    },
}

#[derive(Debug, Default)]
struct State {
    last_success: Option<Instant>,
    last_failure: Option<FailureClass>,
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
        state.last_failure = None;
    }

    pub fn record_failure(&self, class: FailureClass) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_failure = Some(class);
    }

    pub fn readiness(&self, now: Instant) -> Readiness {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let last_failure = state.last_failure;
        match state.last_success {
            None => Readiness::NotYet { last_failure },
            Some(at) => {
                let since = now.saturating_duration_since(at);
                if since <= self.interval * STALE_AFTER_INTERVALS {
                    Readiness::Ready
                } else {
                    Readiness::Stale {
                        since,
                        last_failure,
                    }
                }
            }
        }
    }
}

impl Readiness {
    /// The body of `/readyz`: `ok`, or why not, with the class of the last failure (details are in the log).
    pub fn summary(&self) -> String {
        let failure = |last_failure: &Option<FailureClass>| {
            last_failure
                .map(|class| format!("; last failure: {} (see the log)", class.as_str()))
                .unwrap_or_default()
        };
        match self {
            Self::Ready => "ok".to_owned(),
            Self::NotYet { last_failure } => {
                format!(
                    "not ready: no successful reconcile yet{}",
                    failure(last_failure)
                )
            }
            Self::Stale {
                since,
                last_failure,
            } => format!(
                "not ready: last successful reconcile {}s ago{}",
                since.as_secs(),
                failure(last_failure)
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
        health.record_failure(FailureClass::Setup);
        assert_eq!(
            health.readiness(start).summary(),
            "not ready: no successful reconcile yet; last failure: setup (see the log)"
        );
        health.record_success(start);
        assert_eq!(health.readiness(start), Readiness::Ready);
    }

    #[test]
    fn stays_ready_for_three_intervals_after_a_success_then_turns_stale() {
        let health = Health::new(Duration::from_secs(60));
        let start = Instant::now();
        health.record_success(start);
        health.record_failure(FailureClass::Namespace);
        assert_eq!(
            health.readiness(start + Duration::from_secs(180)),
            Readiness::Ready
        );
        assert_eq!(
            health.readiness(start + Duration::from_secs(181)).summary(),
            "not ready: last successful reconcile 181s ago; last failure: namespace (see the log)"
        );
        health.record_success(start + Duration::from_secs(200));
        assert_eq!(
            health.readiness(start + Duration::from_secs(201)),
            Readiness::Ready
        );
    }
}
