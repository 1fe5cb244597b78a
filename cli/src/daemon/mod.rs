//! The `watch` daemon's machinery, independent of what a reconcile does: the loop (interval with
//! jitter, backoff after failures, one cycle at a time), graceful shutdown, health, metrics and the
//! HTTP endpoints. `commands::watch` plugs the real reconcile into it.

pub mod checkout;
pub mod health;
pub mod http;
pub mod metrics;
pub mod shutdown;
pub mod verify;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime};

use self::health::Health;
use self::metrics::Metrics;
use self::shutdown::Shutdown;

/// What one cycle did in one namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceOutcome {
    pub namespace: String,
    /// Recurring runs declared in git for the namespace (unknown when its config failed to load).
    pub managed_jobs: Option<u64>,
    /// Successful actions by kind (`create`, `disable`, `enable`, `delete`, `create_experiment`, ...).
    pub actions: BTreeMap<String, u64>,
    /// Failed actions by kind.
    pub failed_actions: BTreeMap<String, u64>,
    /// Drift found (changes made outside git, corrected by this cycle).
    pub drift: u64,
    /// Recurring runs no longer in git left in KFP, when the namespace got as far as planning.
    pub leftovers: Option<LeftoverCounts>,
    /// Why the namespace could not be reconciled at all (config, sources, listing).
    pub error: Option<String>,
    /// The health of each managed recurring run after the cycle, when it could be read.
    pub health: Option<Vec<kfp_reconcile::JobHealth>>,
    /// Verification runs started, succeeded and failed in the cycle.
    pub verifications: verify::VerificationCounts,
    /// Recurring runs whose current config failed its verification (the old version keeps the
    /// schedule), when the namespace got as far as planning.
    pub unverified: Option<u64>,
}

/// Recurring runs no longer in git that were left in KFP, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeftoverCounts {
    /// Still enabled: they fire.
    pub enabled: u64,
    /// Paused.
    pub paused: u64,
}

/// What one cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycleOutcome {
    /// The configuration revision read (see [`checkout::Snapshot::revision`]).
    pub revision: Option<String>,
    pub namespaces: Vec<NamespaceOutcome>,
    /// Why the cycle could not start (no checkout, no project file, no API client).
    pub error: Option<String>,
    /// A shutdown was requested during the cycle: jobs not yet started were left for later.
    pub interrupted: bool,
}

impl CycleOutcome {
    /// A cycle that could not start.
    pub fn failed(error: String) -> Self {
        Self {
            error: Some(error),
            ..Self::default()
        }
    }

    /// Every namespace reconciled with every action successful, and not interrupted.
    pub fn is_success(&self) -> bool {
        self.error.is_none()
            && !self.interrupted
            && self
                .namespaces
                .iter()
                .all(|ns| ns.error.is_none() && ns.failed_actions.is_empty())
    }

    /// `success`, `failure` or `interrupted`: the `result` label of `kfp_gitops_reconcile_total`.
    pub fn result(&self) -> &'static str {
        if self.is_success() {
            "success"
        } else if self.interrupted && self.first_error().is_none() {
            "interrupted"
        } else {
            "failure"
        }
    }

    pub fn action_count(&self) -> u64 {
        self.namespaces
            .iter()
            .flat_map(|ns| ns.actions.values())
            .sum()
    }

    pub fn failed_action_count(&self) -> u64 {
        self.namespaces
            .iter()
            .flat_map(|ns| ns.failed_actions.values())
            .sum()
    }

    pub fn drift(&self) -> u64 {
        self.namespaces.iter().map(|ns| ns.drift).sum()
    }

    /// What kind of problem the cycle had, for `/readyz`, which anyone who reaches the port can read: a
    /// fixed word, never the error text (that goes to the log only).
    pub fn failure_class(&self) -> Option<FailureClass> {
        if self.error.is_some() {
            Some(FailureClass::Setup)
        } else if self.namespaces.iter().any(|ns| ns.error.is_some()) {
            Some(FailureClass::Namespace)
        } else if self
            .namespaces
            .iter()
            .any(|ns| !ns.failed_actions.is_empty())
        {
            Some(FailureClass::Actions)
        } else {
            None
        }
    }

    /// The first problem, for the log.
    pub fn first_error(&self) -> Option<String> {
        if let Some(error) = &self.error {
            return Some(error.clone());
        }
        if let Some(ns) = self.namespaces.iter().find(|ns| ns.error.is_some()) {
            return Some(format!(
                "namespace {}: {}",
                ns.namespace,
                ns.error.as_deref().unwrap_or_default()
            ));
        }
        self.namespaces
            .iter()
            .find(|ns| !ns.failed_actions.is_empty())
            .map(|ns| {
                format!(
                    "namespace {}: {} action(s) failed",
                    ns.namespace,
                    ns.failed_actions.values().sum::<u64>()
                )
            })
    }
}

/// The kind of problem of a failed cycle, as `/readyz` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The cycle could not start: no checkout, no project file, no API client.
    Setup,
    /// A namespace could not be reconciled at all: its config, its sources or the listing of its jobs.
    Namespace,
    /// Some actions failed.
    Actions,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Setup => "setup",
            Self::Namespace => "namespace",
            Self::Actions => "actions",
        }
    }
}

/// One reconcile of everything configured. Implementations check `shutdown` between jobs and stop
/// starting new ones once it is triggered (the job in progress finishes its actions).
pub trait Reconciler {
    fn reconcile(&mut self, shutdown: &Shutdown) -> CycleOutcome;
}

/// When cycles run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Time between the end of one cycle and the start of the next, ±10 % jitter.
    pub interval: Duration,
    /// The first retry after a failure; doubled after every further failure, up to `interval`.
    pub first_retry: Duration,
    /// Run one cycle and return.
    pub once: bool,
}

/// The share of the interval by which a delay may be shortened or lengthened.
const JITTER: f64 = 0.1;

impl Schedule {
    /// The delay before the next cycle after `consecutive_failures` failures, `jitter` in [-1, 1].
    pub fn delay(&self, consecutive_failures: u32, jitter: f64) -> Duration {
        let base = if consecutive_failures == 0 {
            self.interval
        } else {
            let factor = 2u32.saturating_pow(consecutive_failures.saturating_sub(1).min(20));
            self.first_retry.saturating_mul(factor).min(self.interval)
        };
        base.mul_f64(1.0 + JITTER * jitter.clamp(-1.0, 1.0))
    }
}

/// A number in [-1, 1] that differs between processes and cycles, so that several daemons (or a
/// daemon and a CI apply) drift apart instead of hitting the API server in lockstep.
fn jitter(cycle: u64) -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(cycle);
    let value = hasher.finish();
    // 53 random bits mapped onto [0, 1), then onto [-1, 1).
    #[allow(clippy::cast_precision_loss)]
    let unit = (value >> 11) as f64 / (1u64 << 53) as f64;
    unit * 2.0 - 1.0
}

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopEnd {
    /// `--once`: the single cycle's success.
    Once { success: bool },
    /// A shutdown was requested.
    Shutdown,
}

/// Runs cycles until `--once` is done or a shutdown is requested. One cycle at a time: the next
/// starts only after the previous one has finished and the delay has passed.
pub fn run_loop(
    reconciler: &mut dyn Reconciler,
    schedule: Schedule,
    health: &Health,
    metrics: &Metrics,
    shutdown: &Shutdown,
) -> LoopEnd {
    let mut consecutive_failures = 0u32;
    let mut cycle = 0u64;
    loop {
        if shutdown.is_triggered() {
            return LoopEnd::Shutdown;
        }
        cycle += 1;
        let started = Instant::now();
        let outcome = reconciler.reconcile(shutdown);
        let duration = started.elapsed();
        metrics.record(&outcome, duration, SystemTime::now());
        let success = outcome.is_success();
        if success {
            consecutive_failures = 0;
            health.record_success(Instant::now());
        } else {
            consecutive_failures = consecutive_failures.saturating_add(1);
            if let Some(class) = outcome.failure_class() {
                health.record_failure(class);
            }
        }
        let delay = schedule.delay(consecutive_failures, jitter(cycle));
        log_summary(cycle, &outcome, duration, (!schedule.once).then_some(delay));
        if schedule.once {
            // A shutdown that only cut the cycle short is no failure: the jobs under way were finished
            // and the rest wait for the next run. A failed action during that cycle still is one.
            if outcome.interrupted && outcome.first_error().is_none() {
                return LoopEnd::Shutdown;
            }
            return LoopEnd::Once { success };
        }
        if outcome.interrupted || shutdown.wait(delay) {
            return LoopEnd::Shutdown;
        }
    }
}

/// The one log line of each cycle.
fn log_summary(cycle: u64, outcome: &CycleOutcome, duration: Duration, next: Option<Duration>) {
    let revision = outcome.revision.as_deref().unwrap_or("-");
    let namespaces = outcome.namespaces.len();
    let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    let next_in_s = next.map_or(0, |d| d.as_secs());
    let actions = outcome.action_count();
    let failed = outcome.failed_action_count();
    let drift = outcome.drift();
    let result = outcome.result();
    match outcome.first_error() {
        None => tracing::info!(
            cycle,
            result,
            revision,
            namespaces,
            actions,
            failed,
            drift,
            duration_ms,
            next_in_s,
            "reconcile finished"
        ),
        Some(error) => tracing::warn!(
            cycle,
            result,
            revision,
            namespaces,
            actions,
            failed,
            drift,
            duration_ms,
            next_in_s,
            error = error.as_str(),
            "reconcile failed"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_keep_the_interval_within_ten_percent_jitter() {
        let schedule = Schedule {
            interval: Duration::from_secs(300),
            first_retry: Duration::from_secs(5),
            once: false,
        };
        assert_eq!(schedule.delay(0, 0.0), Duration::from_secs(300));
        assert_eq!(schedule.delay(0, 1.0), Duration::from_secs(330));
        assert_eq!(schedule.delay(0, -1.0), Duration::from_secs(270));
        for cycle in 0..100 {
            let j = jitter(cycle);
            assert!((-1.0..=1.0).contains(&j), "{j}");
        }
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_interval() {
        let schedule = Schedule {
            interval: Duration::from_secs(300),
            first_retry: Duration::from_secs(5),
            once: false,
        };
        let delays: Vec<u64> = (1..=8).map(|n| schedule.delay(n, 0.0).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(schedule.delay(u32::MAX, 0.0), Duration::from_secs(300));
    }

    struct Scripted {
        outcomes: Vec<CycleOutcome>,
        calls: usize,
        stop_after: Option<usize>,
    }

    impl Reconciler for Scripted {
        fn reconcile(&mut self, shutdown: &Shutdown) -> CycleOutcome {
            self.calls += 1;
            if self.stop_after == Some(self.calls) {
                shutdown.trigger();
            }
            self.outcomes
                .get(self.calls - 1)
                .cloned()
                .unwrap_or_default()
        }
    }

    fn fast() -> Schedule {
        Schedule {
            interval: Duration::from_millis(1),
            first_retry: Duration::from_millis(1),
            once: false,
        }
    }

    /// One `--once` cycle that ends with `outcome`; with `signalled`, a shutdown is requested during it.
    /// Returns how the loop ended, how many cycles ran, and the metrics.
    fn once(outcome: CycleOutcome, signalled: bool) -> (LoopEnd, usize, String) {
        let metrics = Metrics::new();
        let mut reconciler = Scripted {
            outcomes: vec![outcome],
            calls: 0,
            stop_after: signalled.then_some(1),
        };
        let end = run_loop(
            &mut reconciler,
            Schedule {
                once: true,
                ..fast()
            },
            &Health::new(Duration::from_secs(60)),
            &metrics,
            &Shutdown::new(),
        );
        (end, reconciler.calls, metrics.encode())
    }

    #[test]
    fn once_runs_a_single_cycle_and_reports_its_success() {
        let (end, calls, metrics) = once(CycleOutcome::failed("no checkout".to_owned()), false);
        assert_eq!(end, LoopEnd::Once { success: false });
        assert_eq!(calls, 1);
        assert!(metrics.contains("kfp_gitops_reconcile_total{result=\"failure\"} 1"));
    }

    #[test]
    fn cycles_repeat_until_shutdown_and_a_success_makes_the_daemon_ready() {
        let health = Health::new(Duration::from_secs(60));
        let metrics = Metrics::new();
        let mut reconciler = Scripted {
            outcomes: vec![
                CycleOutcome::failed("connection refused".to_owned()),
                CycleOutcome::default(),
                CycleOutcome::default(),
            ],
            calls: 0,
            stop_after: Some(3),
        };
        let end = run_loop(&mut reconciler, fast(), &health, &metrics, &Shutdown::new());
        assert_eq!(end, LoopEnd::Shutdown);
        assert_eq!(reconciler.calls, 3);
        assert_eq!(health.readiness(Instant::now()), health::Readiness::Ready);
        let text = metrics.encode();
        assert!(
            text.contains("kfp_gitops_reconcile_total{result=\"success\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("kfp_gitops_reconcile_total{result=\"failure\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn readiness_names_the_class_of_a_failure_never_its_text() {
        let secret_error =
            "namespace team-1: cannot fetch https://u:readyz-s3cret@git.example/r.git";
        for (outcome, class) in [
            (CycleOutcome::failed(secret_error.to_owned()), "setup"),
            (
                CycleOutcome {
                    namespaces: vec![NamespaceOutcome {
                        namespace: "team-1".into(),
                        error: Some(secret_error.to_owned()),
                        ..NamespaceOutcome::default()
                    }],
                    ..CycleOutcome::default()
                },
                "namespace",
            ),
            (
                CycleOutcome {
                    namespaces: vec![NamespaceOutcome {
                        namespace: "team-1".into(),
                        failed_actions: BTreeMap::from([("create".to_owned(), 1)]),
                        ..NamespaceOutcome::default()
                    }],
                    ..CycleOutcome::default()
                },
                "actions",
            ),
        ] {
            let health = Health::new(Duration::from_secs(60));
            let mut reconciler = Scripted {
                outcomes: vec![outcome],
                calls: 0,
                stop_after: None,
            };
            let schedule = Schedule {
                once: true,
                ..fast()
            };
            run_loop(
                &mut reconciler,
                schedule,
                &health,
                &Metrics::new(),
                &Shutdown::new(),
            );
            assert_eq!(
                health.readiness(Instant::now()).summary(),
                format!(
                    "not ready: no successful reconcile yet; last failure: {class} (see the log)"
                )
            );
        }
    }

    #[test]
    fn no_cycle_starts_after_a_shutdown_request() {
        let shutdown = Shutdown::new();
        shutdown.trigger();
        let mut reconciler = Scripted {
            outcomes: Vec::new(),
            calls: 0,
            stop_after: None,
        };
        let end = run_loop(
            &mut reconciler,
            fast(),
            &Health::new(Duration::from_secs(1)),
            &Metrics::new(),
            &shutdown,
        );
        assert_eq!(end, LoopEnd::Shutdown);
        assert_eq!(reconciler.calls, 0);
    }

    #[test]
    fn once_interrupted_by_a_shutdown_ends_as_a_shutdown_not_a_failure() {
        let interrupted = CycleOutcome {
            interrupted: true,
            ..CycleOutcome::default()
        };
        let (end, calls, metrics) = once(interrupted, true);
        assert_eq!(end, LoopEnd::Shutdown);
        assert_eq!(calls, 1);
        assert!(metrics.contains("kfp_gitops_reconcile_total{result=\"interrupted\"} 1"));
    }

    #[test]
    fn once_interrupted_after_a_failed_action_still_reports_the_failure() {
        let mut failed_actions = BTreeMap::new();
        failed_actions.insert("create".to_owned(), 1);
        let interrupted = CycleOutcome {
            namespaces: vec![NamespaceOutcome {
                namespace: "team-a".to_owned(),
                failed_actions,
                ..NamespaceOutcome::default()
            }],
            interrupted: true,
            ..CycleOutcome::default()
        };
        let (end, _, _) = once(interrupted, true);
        assert_eq!(end, LoopEnd::Once { success: false });
    }

    #[test]
    fn an_interrupted_cycle_is_neither_success_nor_failure() {
        let outcome = CycleOutcome {
            interrupted: true,
            ..CycleOutcome::default()
        };
        assert!(!outcome.is_success());
        assert_eq!(outcome.result(), "interrupted");
    }
}
