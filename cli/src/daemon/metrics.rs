//! The daemon's Prometheus metrics (OpenMetrics text on `/metrics`).

use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use std::collections::{BTreeMap, BTreeSet};

use kfp_reconcile::{Health, JobHealth};

use super::CycleOutcome;

type Labels = Vec<(String, String)>;

/// The kinds of action an apply reports.
const ACTION_KINDS: &[&str] = &[
    "create",
    "disable",
    "enable",
    "delete",
    "re_enable",
    "create_experiment",
    "unarchive_experiment",
];

fn leftover_labels(namespace: &str, state: &str) -> Labels {
    vec![
        ("namespace".to_owned(), namespace.to_owned()),
        ("state".to_owned(), state.to_owned()),
    ]
}

fn job_labels(namespace: &str, recurring_run: &str) -> Labels {
    vec![
        ("namespace".to_owned(), namespace.to_owned()),
        ("recurring_run".to_owned(), recurring_run.to_owned()),
    ]
}

fn health_labels(namespace: &str, recurring_run: &str, health: Health) -> Labels {
    vec![
        ("namespace".to_owned(), namespace.to_owned()),
        ("recurring_run".to_owned(), recurring_run.to_owned()),
        ("health".to_owned(), health.as_str().to_owned()),
    ]
}

/// Content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric of the daemon. Counters get their `_total` suffix from the encoder.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<Labels, Counter>,
    actions: Family<Labels, Counter>,
    action_failures: Family<Labels, Counter>,
    drift: Counter,
    last_success: Gauge<f64, AtomicU64>,
    duration: Histogram,
    managed_jobs: Family<Labels, Gauge>,
    leftovers: Family<Labels, Gauge>,
    health: Family<Labels, Gauge>,
    verifications: Family<Labels, Counter>,
    unverified: Family<Labels, Gauge>,
    missed_fires: Family<Labels, Gauge>,
    /// The recurring runs with health series, by namespace.
    health_series: Mutex<BTreeMap<String, BTreeSet<String>>>,
    /// The namespaces of the last cycle that got as far as listing them.
    namespaces: Mutex<Vec<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let reconciles = Family::<Labels, Counter>::default();
        registry.register(
            "kfp_gitops_reconcile",
            "Reconcile cycles, by result (success, failure, or interrupted by a shutdown)",
            reconciles.clone(),
        );
        let actions = Family::<Labels, Counter>::default();
        registry.register(
            "kfp_gitops_actions",
            "Actions applied to KFP, by kind (create, disable, enable, delete, create_experiment, unarchive_experiment)",
            actions.clone(),
        );
        let action_failures = Family::<Labels, Counter>::default();
        registry.register(
            "kfp_gitops_action_failures",
            "Actions that failed, by kind",
            action_failures.clone(),
        );
        let drift = Counter::default();
        registry.register(
            "kfp_gitops_drift",
            "Differences from git found in the cluster that were not caused by a config change (a version disabled, deleted or edited outside git; two enabled versions)",
            drift.clone(),
        );
        let last_success = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "kfp_gitops_last_success_timestamp_seconds",
            "Unix time of the end of the last successful reconcile cycle",
            last_success.clone(),
        );
        // 50 ms .. ~7 min.
        let duration = Histogram::new(exponential_buckets(0.05, 2.0, 14));
        registry.register(
            "kfp_gitops_reconcile_duration_seconds",
            "Duration of reconcile cycles",
            duration.clone(),
        );
        let managed_jobs = Family::<Labels, Gauge>::default();
        registry.register(
            "kfp_gitops_managed_jobs",
            "Recurring runs declared in git, by namespace",
            managed_jobs.clone(),
        );
        let leftovers = Family::<Labels, Gauge>::default();
        registry.register(
            "kfp_gitops_leftover_recurring_runs",
            "Recurring runs no longer in git that are left in KFP (no prune), by namespace and state: enabled ones still fire",
            leftovers.clone(),
        );
        let health = Family::<Labels, Gauge>::default();
        registry.register(
            "kfp_gitops_recurring_run_health",
            "Health of each managed recurring run after the last cycle, by namespace, recurring run and health word (Healthy, Degraded: its last run failed, Progressing, Suspended, Missing, Missed: a fire produced no run): 1 for its health, 0 for the others",
            health.clone(),
        );
        let verifications = Family::<Labels, Counter>::default();
        registry.register(
            "kfp_gitops_verifications",
            "Verification runs of new versions (verified rollout), by result: started, succeeded (the version took over), failed (failed or timed out; the old version stayed)",
            verifications.clone(),
        );
        let unverified = Family::<Labels, Gauge>::default();
        registry.register(
            "kfp_gitops_unverified_recurring_runs",
            "Recurring runs whose current config failed its verification run, by namespace: the old version keeps the schedule until the config changes",
            unverified.clone(),
        );
        for result in ["started", "succeeded", "failed"] {
            let _ = verifications.get_or_create(&vec![("result".to_owned(), result.to_owned())]);
        }
        let missed_fires = Family::<Labels, Gauge>::default();
        registry.register(
            "kfp_gitops_missed_fires",
            "Fires of each managed recurring run's live version in the window (--window, default 48 hours) that produced no run within --grace (a ScheduledWorkflow controller that lost the schedule), by namespace and recurring run",
            missed_fires.clone(),
        );
        // Series that exist from the start, at 0, so `increase()` and absence alerts work before the
        // first event.
        for result in ["success", "failure", "interrupted"] {
            let _ = reconciles.get_or_create(&vec![("result".to_owned(), result.to_owned())]);
        }
        for kind in ACTION_KINDS {
            let _ = actions.get_or_create(&vec![("kind".to_owned(), (*kind).to_owned())]);
            let _ = action_failures.get_or_create(&vec![("kind".to_owned(), (*kind).to_owned())]);
        }
        Self {
            registry,
            reconciles,
            actions,
            action_failures,
            drift,
            last_success,
            duration,
            managed_jobs,
            leftovers,
            health,
            verifications,
            unverified,
            missed_fires,
            health_series: Mutex::default(),
            namespaces: Mutex::default(),
        }
    }

    /// Records one finished cycle.
    pub fn record(&self, outcome: &CycleOutcome, duration: Duration, finished: SystemTime) {
        self.reconciles
            .get_or_create(&vec![("result".to_owned(), outcome.result().to_owned())])
            .inc();
        self.duration.observe(duration.as_secs_f64());
        if outcome.error.is_none() {
            // Namespaces no longer configured stop being reported.
            let current: Vec<&str> = outcome
                .namespaces
                .iter()
                .map(|ns| ns.namespace.as_str())
                .collect();
            let mut known = self
                .namespaces
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for gone in known.iter().filter(|ns| !current.contains(&ns.as_str())) {
                self.set_health(gone, &[]);
                self.managed_jobs
                    .remove(&vec![("namespace".to_owned(), gone.clone())]);
                for state in ["enabled", "paused"] {
                    self.leftovers.remove(&leftover_labels(gone, state));
                }
                self.unverified
                    .remove(&vec![("namespace".to_owned(), gone.clone())]);
            }
            *known = current.into_iter().map(str::to_owned).collect();
        }
        for namespace in &outcome.namespaces {
            for (kind, count) in &namespace.actions {
                self.actions
                    .get_or_create(&vec![("kind".to_owned(), kind.clone())])
                    .inc_by(*count);
            }
            for (kind, count) in &namespace.failed_actions {
                self.action_failures
                    .get_or_create(&vec![("kind".to_owned(), kind.clone())])
                    .inc_by(*count);
            }
            self.drift.inc_by(namespace.drift);
            self.record_verifications(namespace);
            if let Some(jobs) = namespace.managed_jobs {
                self.managed_jobs
                    .get_or_create(&vec![("namespace".to_owned(), namespace.namespace.clone())])
                    .set(i64::try_from(jobs).unwrap_or(i64::MAX));
            }
            if let Some(health) = &namespace.health {
                self.set_health(&namespace.namespace, health);
            }
            if let Some(leftovers) = namespace.leftovers {
                for (state, count) in [("enabled", leftovers.enabled), ("paused", leftovers.paused)]
                {
                    self.leftovers
                        .get_or_create(&leftover_labels(&namespace.namespace, state))
                        .set(i64::try_from(count).unwrap_or(i64::MAX));
                }
            }
        }
        if outcome.is_success() {
            let seconds = finished
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |since| since.as_secs_f64());
            self.last_success.set(seconds);
        }
    }

    fn record_verifications(&self, namespace: &crate::daemon::NamespaceOutcome) {
        let counts = namespace.verifications;
        for (result, count) in [
            ("started", counts.started),
            ("succeeded", counts.succeeded),
            ("failed", counts.failed),
        ] {
            self.verifications
                .get_or_create(&vec![("result".to_owned(), result.to_owned())])
                .inc_by(count);
        }
        if let Some(unverified) = namespace.unverified {
            self.unverified
                .get_or_create(&vec![("namespace".to_owned(), namespace.namespace.clone())])
                .set(i64::try_from(unverified).unwrap_or(i64::MAX));
        }
    }

    /// Sets the health series of a namespace's recurring runs (one per health word: 1 for the current one)
    /// and removes those of recurring runs no longer reported.
    fn set_health(&self, namespace: &str, health: &[JobHealth]) {
        let mut series = self
            .health_series
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let known = series.entry(namespace.to_owned()).or_default();
        let current: BTreeSet<String> = health.iter().map(|job| job.name.clone()).collect();
        for gone in known.difference(&current) {
            for word in Health::ALL {
                self.health.remove(&health_labels(namespace, gone, word));
            }
            self.missed_fires.remove(&job_labels(namespace, gone));
        }
        for job in health {
            for word in Health::ALL {
                self.health
                    .get_or_create(&health_labels(namespace, &job.name, word))
                    .set(i64::from(word == job.health));
            }
            self.missed_fires
                .get_or_create(&job_labels(namespace, &job.name))
                .set(i64::try_from(job.missed_fires).unwrap_or(i64::MAX));
        }
        *known = current;
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::daemon::NamespaceOutcome;

    fn outcome(failed: bool) -> CycleOutcome {
        CycleOutcome {
            revision: Some("abc".to_owned()),
            error: None,
            interrupted: false,
            namespaces: vec![NamespaceOutcome {
                namespace: "team-1".to_owned(),
                managed_jobs: Some(3),
                actions: BTreeMap::from([("create".to_owned(), 2), ("enable".to_owned(), 2)]),
                failed_actions: if failed {
                    BTreeMap::from([("delete".to_owned(), 1)])
                } else {
                    BTreeMap::new()
                },
                drift: 1,
                leftovers: Some(crate::daemon::LeftoverCounts {
                    enabled: 1,
                    paused: 2,
                }),
                error: None,
                health: Some(vec![
                    job_health("nightly", Health::Degraded, 0),
                    job_health("weekly", Health::Missed, 2),
                ]),
                verifications: crate::daemon::verify::VerificationCounts {
                    started: 2,
                    succeeded: 1,
                    failed: 1,
                },
                unverified: Some(1),
            }],
        }
    }

    fn job_health(name: &str, health: Health, missed_fires: usize) -> JobHealth {
        JobHealth {
            name: name.to_owned(),
            health,
            missed_fires,
        }
    }

    #[test]
    fn a_cycle_is_counted_with_its_actions_drift_jobs_and_success_time() {
        let metrics = Metrics::new();
        let finished = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        metrics.record(&outcome(false), Duration::from_millis(120), finished);
        metrics.record(
            &outcome(true),
            Duration::from_millis(80),
            finished + Duration::from_secs(60),
        );
        let text = metrics.encode();
        for line in [
            "kfp_gitops_reconcile_total{result=\"success\"} 1",
            "kfp_gitops_reconcile_total{result=\"failure\"} 1",
            "kfp_gitops_actions_total{kind=\"create\"} 4",
            "kfp_gitops_verifications_total{result=\"started\"} 4",
            "kfp_gitops_verifications_total{result=\"failed\"} 2",
            "kfp_gitops_unverified_recurring_runs{namespace=\"team-1\"} 1",
            "kfp_gitops_actions_total{kind=\"enable\"} 4",
            "kfp_gitops_action_failures_total{kind=\"delete\"} 1",
            "kfp_gitops_drift_total 2",
            "kfp_gitops_leftover_recurring_runs{namespace=\"team-1\",state=\"enabled\"} 1",
            "kfp_gitops_leftover_recurring_runs{namespace=\"team-1\",state=\"paused\"} 2",
            // The failed cycle does not move the last success.
            "kfp_gitops_last_success_timestamp_seconds 1700000000.0",
            "kfp_gitops_reconcile_duration_seconds_count 2",
            "kfp_gitops_managed_jobs{namespace=\"team-1\"} 3",
            "kfp_gitops_recurring_run_health{namespace=\"team-1\",recurring_run=\"nightly\",health=\"Degraded\"} 1",
            "kfp_gitops_recurring_run_health{namespace=\"team-1\",recurring_run=\"nightly\",health=\"Healthy\"} 0",
            "kfp_gitops_recurring_run_health{namespace=\"team-1\",recurring_run=\"weekly\",health=\"Missed\"} 1",
            "kfp_gitops_missed_fires{namespace=\"team-1\",recurring_run=\"nightly\"} 0",
            "kfp_gitops_missed_fires{namespace=\"team-1\",recurring_run=\"weekly\"} 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in:\n{text}"
            );
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    /// Every `kfp_gitops_*` name in `text`.
    fn metric_names(text: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find("kfp_gitops_") {
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .unwrap_or(tail.len());
            names.push(tail[..end].to_owned());
            rest = &tail[end..];
        }
        names
    }

    #[test]
    fn the_alerts_and_the_operations_guide_name_only_metrics_the_daemon_exports() {
        let metrics = Metrics::new();
        metrics.record(&outcome(true), Duration::from_millis(1), UNIX_EPOCH);
        let exported = metrics.encode();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for file in [
            "deploy/kubernetes/components/alerts/prometheusrule.yaml",
            "docs/operations.md",
        ] {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            let names = metric_names(&text);
            assert!(names.len() >= 4, "{file} names no metrics");
            for name in names {
                assert!(
                    exported.contains(&format!("{name} "))
                        || exported.contains(&format!("{name}{{")),
                    "{file} names {name}, which the daemon does not export:\n{exported}"
                );
            }
        }
    }

    #[test]
    fn a_namespace_removed_from_the_configuration_is_no_longer_reported() {
        let metrics = Metrics::new();
        metrics.record(&outcome(false), Duration::from_millis(1), UNIX_EPOCH);
        assert!(
            metrics
                .encode()
                .contains("kfp_gitops_managed_jobs{namespace=\"team-1\"} 3")
        );
        let mut other = outcome(false);
        other.namespaces[0].namespace = "team-2".to_owned();
        metrics.record(&other, Duration::from_millis(1), UNIX_EPOCH);
        let text = metrics.encode();
        assert!(!text.contains("namespace=\"team-1\""), "{text}");
        assert!(
            text.contains("kfp_gitops_managed_jobs{namespace=\"team-2\"} 3"),
            "{text}"
        );
        // A cycle that could not even read the checkout says nothing about the namespaces.
        metrics.record(
            &CycleOutcome::failed("no checkout".to_owned()),
            Duration::from_millis(1),
            UNIX_EPOCH,
        );
        assert!(
            metrics
                .encode()
                .contains("kfp_gitops_managed_jobs{namespace=\"team-2\"} 3")
        );
    }

    #[test]
    fn a_recurring_run_gets_one_series_per_health_word_and_loses_them_when_it_is_gone() {
        let metrics = Metrics::new();
        metrics.record(&outcome(false), Duration::from_millis(1), UNIX_EPOCH);
        let text = metrics.encode();
        let nightly: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("recurring_run=\"nightly\""))
            .collect();
        assert_eq!(nightly.len(), Health::ALL.len() + 1, "{text}");
        let mut later = outcome(false);
        later.namespaces[0].health = Some(vec![job_health("weekly", Health::Suspended, 0)]);
        metrics.record(&later, Duration::from_millis(1), UNIX_EPOCH);
        let text = metrics.encode();
        assert!(!text.contains("recurring_run=\"nightly\""), "{text}");
        assert!(
            text.contains(
                "kfp_gitops_recurring_run_health{namespace=\"team-1\",recurring_run=\"weekly\",health=\"Suspended\"} 1"
            ),
            "{text}"
        );
        // A namespace whose health could not be read keeps its last series.
        let mut unknown = outcome(false);
        unknown.namespaces[0].health = None;
        metrics.record(&unknown, Duration::from_millis(1), UNIX_EPOCH);
        assert!(
            metrics
                .encode()
                .contains("recurring_run=\"weekly\",health=\"Suspended\"} 1")
        );
    }
}
