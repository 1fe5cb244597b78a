//! The drift decision of the `watch` daemon: a job that needs actions although git did not change since
//! it last converged was changed in the cluster (drift); a job whose config changed is just a change.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use kfp_config::DesiredRecurringRun;

use crate::model::{JobPlan, Reason};

/// The identity of what git declares for one recurring run (stable within one process).
pub type ConfigFingerprint = u64;

/// What a recurring run last converged to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvergedJob {
    /// The fingerprint of its config then.
    pub fingerprint: ConfigFingerprint,
    /// The name of its newest version then, when it had one.
    pub version: Option<String>,
}

/// (namespace, recurring run) → what it last converged to.
pub type Converged = HashMap<(String, String), ConvergedJob>;

/// Why a drifted job needs actions, in words: a newest version deleted outside git says so (the planner
/// only sees the older version left, which then "differs"); otherwise the plan's reasons.
pub fn drift_reasons(job: &JobPlan, previous: Option<&ConvergedJob>) -> Vec<String> {
    if let Some(version) = previous.and_then(|previous| previous.version.as_deref())
        && !job.versions.iter().any(|observed| observed.name == version)
    {
        return vec![format!(
            "its newest version {version} was deleted outside git"
        )];
    }
    job.reasons.iter().map(ToString::to_string).collect()
}

/// A stable hash of everything git declares for one recurring run.
pub fn config_fingerprint(run: &DesiredRecurringRun) -> ConfigFingerprint {
    let mut hasher = DefaultHasher::new();
    run.name.hash(&mut hasher);
    run.description.hash(&mut hasher);
    run.experiment.hash(&mut hasher);
    run.enabled.hash(&mut hasher);
    run.max_concurrency.hash(&mut hasher);
    run.service_account.hash(&mut hasher);
    run.keep_history.hash(&mut hasher);
    run.trigger.catchup.hash(&mut hasher);
    run.trigger
        .start
        .map(jiff::Timestamp::as_nanosecond)
        .hash(&mut hasher);
    run.trigger
        .end
        .map(jiff::Timestamp::as_nanosecond)
        .hash(&mut hasher);
    format!("{:?}", run.trigger.schedule).hash(&mut hasher);
    format!("{:?}", run.trigger.zone).hash(&mut hasher);
    run.parameters.hash(&mut hasher);
    run.pipeline.digest().as_str().hash(&mut hasher);
    hasher.finish()
}

/// The identity of a failed verification: the config fingerprint and the rollout settings (a change of
/// either, such as smoke-run parameters, is worth a new verification).
pub fn verification_fingerprint(run: &DesiredRecurringRun) -> ConfigFingerprint {
    let mut hasher = DefaultHasher::new();
    config_fingerprint(run).hash(&mut hasher);
    run.rollout.hash(&mut hasher);
    hasher.finish()
}

/// (namespace, recurring run) → the verification fingerprint of the config whose verification failed.
pub type FailedVerifications = HashMap<(String, String), ConfigFingerprint>;

/// Drift: the job needs actions although git did not change since it last converged (something
/// changed it in the cluster), or it has a second enabled version (never our doing).
pub fn is_drift(
    job: &JobPlan,
    previous: Option<&ConfigFingerprint>,
    current: Option<&ConfigFingerprint>,
) -> bool {
    let unchanged_in_git = previous.is_some() && previous == current;
    job.reasons.iter().any(|reason| match reason {
        Reason::OtherVersionsEnabled { .. } | Reason::DuplicateNames { .. } => true,
        Reason::NoVersion
        | Reason::Differs { .. }
        | Reason::LatestDisabled
        | Reason::LatestEnabled
        // A version paused (by hand) after it converged; while a rollout is under way, the job has
        // not converged to the current config.
        | Reason::Unverified { .. }
        // An adopted job enabled again in the UI after its adoption.
        | Reason::Adopts { .. } => unchanged_in_git,
        // The translation of a zoned cron changes with the clock, not in the cluster.
        Reason::HistoryBeyondKeep { .. }
        | Reason::NotInConfig
        | Reason::UtcOffsetChanges { .. } => false,
    })
}

#[cfg(test)]
mod tests {
    use crate::model::JobChange;

    use super::*;

    fn job(reasons: Vec<Reason>) -> JobPlan {
        JobPlan {
            name: "nightly".to_owned(),
            change: JobChange::Update,
            reasons,
            diffs: Vec::new(),
            workflow_diff: None,
            versions: Vec::new(),
            actions: Vec::new(),
        }
    }

    #[test]
    fn a_second_enabled_version_is_always_drift() {
        let plan = job(vec![Reason::OtherVersionsEnabled { count: 1 }]);
        assert!(is_drift(&plan, None, Some(&1)));
    }

    #[test]
    fn changes_needed_while_git_is_unchanged_since_convergence_are_drift() {
        for reason in [
            Reason::LatestDisabled,
            Reason::LatestEnabled,
            Reason::NoVersion,
            Reason::Differs {
                fields: vec!["cron".to_owned()],
            },
        ] {
            let plan = job(vec![reason.clone()]);
            assert!(is_drift(&plan, Some(&7), Some(&7)), "{reason:?}");
            // Git changed (or the job never converged): the change is git's, not drift.
            assert!(!is_drift(&plan, Some(&7), Some(&8)), "{reason:?}");
            assert!(!is_drift(&plan, None, Some(&7)), "{reason:?}");
        }
    }

    #[test]
    fn trimming_history_and_orphans_are_not_drift() {
        let plan = job(vec![
            Reason::HistoryBeyondKeep {
                count: 2,
                keep_history: 1,
            },
            Reason::NotInConfig,
        ]);
        assert!(!is_drift(&plan, Some(&7), Some(&7)));
    }
}
