//! Verified rollouts in the daemon: a log line per change of a verification run's state, and the
//! counts behind the metrics (`kfp_gitops_verifications_total`, `kfp_gitops_unverified_recurring_runs`).
//!
//! The daemon never waits for a verification run: each cycle looks at the run once (it is found again
//! in KFP by name, so nothing is lost across cycles or restarts) and swaps when it has succeeded. A
//! config whose verification failed is remembered by the reconciler and left alone until it changes.

use kfp_reconcile::{NamespaceReconcile, Outcome, ProgressSink, VerifyProgress};
use kfp_reconcile::{START_VERIFICATION, VERIFY};

use super::NamespaceOutcome;

/// Verification runs by what happened to them in a cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerificationCounts {
    /// Runs started.
    pub started: u64,
    /// Runs that succeeded (their versions took over).
    pub succeeded: u64,
    /// Runs that failed or timed out (the old versions stayed).
    pub failed: u64,
}

/// Logs each change of state of a verification run.
pub fn progress_log() -> ProgressSink {
    ProgressSink::new(|progress: &VerifyProgress| {
        if progress.changed {
            tracing::info!(
                namespace = progress.namespace.as_str(),
                recurring_run = progress.job.as_str(),
                version = progress.version.as_str(),
                run = progress.run_name.as_str(),
                run_id = progress.run_id.as_str(),
                state = if progress.state.is_empty() {
                    "starting"
                } else {
                    progress.state.as_str()
                },
                elapsed_s = progress.elapsed_seconds,
                "verification run"
            );
        }
    })
}

/// Counts the verifications of a namespace's reconcile into `outcome`.
pub fn count(result: &NamespaceReconcile, outcome: &mut NamespaceOutcome) {
    for job in &result.held {
        tracing::debug!(
            namespace = result.namespace.as_str(),
            recurring_run = job.as_str(),
            "left alone: the verification of this config failed (change it, or restart with --retry-failed)"
        );
    }
    let mut counts = VerificationCounts::default();
    if let Some(report) = &result.report {
        for step in report.jobs.iter().flat_map(|job| &job.steps) {
            match (step.action.as_str(), &step.outcome) {
                (START_VERIFICATION, Outcome::Done) => counts.started += 1,
                (VERIFY, Outcome::Done) => counts.succeeded += 1,
                (VERIFY, Outcome::Failed { .. }) => counts.failed += 1,
                _ => {}
            }
        }
    }
    outcome.verifications = counts;
    if result.error.is_none() && result.managed_jobs.is_some() {
        outcome.unverified = Some((result.held.len() + result.failed_verifications.len()) as u64);
    }
}
