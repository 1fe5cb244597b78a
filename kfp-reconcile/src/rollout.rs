//! Planning a verified rollout (pure): with `rollout: {strategy: verify}`, a [`Action::Verify`] goes
//! before the swap of every job plan that enables a paused version — right after the version is created
//! (a replacement, a first creation, an adoption), or first of all when the newest version exists paused
//! (a rollout that was interrupted, or whose failed version was kept): the old version is disabled only
//! after the new one has proved itself.

use kfp_config::DesiredRecurringRun;
use kfp_config::{DesiredRollout, ResolvedRollout, RolloutStrategy, resolve_rollout};

use crate::model::{Action, JobChange, JobPlan, Parameter, Reason, Verification};

/// The rollout settings planning applies to every recurring run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutPolicy {
    /// The project's `defaults.rollout`, for runs that set no `rollout` of their own.
    pub defaults: DesiredRollout,
    /// The command line's `--rollout`, over every run's own setting.
    pub force: Option<RolloutStrategy>,
}

impl RolloutPolicy {
    /// The rollout of `run`.
    pub fn resolve(&self, run: &DesiredRecurringRun) -> ResolvedRollout {
        resolve_rollout(&run.rollout, &self.defaults, self.force)
    }
}

/// Inserts the verification into `job` when its rollout verifies and the plan enables a version.
pub(crate) fn insert_verification(job: &mut JobPlan, rollout: &ResolvedRollout) {
    if rollout.strategy != RolloutStrategy::Verify {
        return;
    }
    let Some(version) = job.actions.iter().find_map(|action| match action {
        Action::Enable { version } => Some(version.clone()),
        _ => None,
    }) else {
        return;
    };
    let at = job
        .actions
        .iter()
        .position(|action| matches!(action, Action::CreateVersion { .. }))
        .map_or(0, |index| index + 1);
    if job.change == JobChange::Update {
        // The older version that still runs is the rollout's own doing, not drift.
        job.reasons.retain(|reason| {
            !matches!(
                reason,
                Reason::OtherVersionsEnabled { .. } | Reason::LatestDisabled
            )
        });
        job.reasons.insert(
            0,
            Reason::Unverified {
                version: version.name.clone(),
            },
        );
    }
    job.actions.insert(
        at,
        Action::Verify {
            version,
            verification: Verification {
                timeout_seconds: rollout.timeout_seconds,
                keep_failed: rollout.keep_failed,
                parameters: rollout
                    .parameters
                    .iter()
                    .map(|(name, value)| Parameter {
                        name: name.clone(),
                        value: value.clone(),
                    })
                    .collect(),
            },
        },
    );
}

/// The verification of a job plan, if it has one.
pub fn verification(job: &JobPlan) -> Option<&Verification> {
    job.actions.iter().find_map(|action| match action {
        Action::Verify { verification, .. } => Some(verification),
        _ => None,
    })
}
