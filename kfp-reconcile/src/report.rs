//! What an apply did: one [`StepReport`] per action with its [`Outcome`], grouped per job and per
//! namespace. Shared by the apply and the verification of new versions.

use serde::{Deserialize, Serialize};

/// The action of the step that enables the old version again after the new one could not be
/// enabled.
pub const RE_ENABLE: &str = "re_enable";

/// What happened to one planned action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The call succeeded.
    Done,
    /// The object was already gone (delete, disable): nothing left to do.
    AlreadyGone,
    /// The call's answer was lost, but its effect is in place (a created version found by name, an
    /// enabled version found enabled): it was adopted.
    Adopted,
    /// The call failed; the job's remaining actions were skipped.
    Failed {
        /// The error, with its causes.
        message: String,
    },
    /// Not attempted because an earlier action of the same job (or its experiment) failed.
    Skipped,
    /// Not decided yet (a verification run still in progress, or the wait for it interrupted): the
    /// job's later actions were not attempted, and the next apply continues from here.
    Pending {
        /// Why, with the run's name and id.
        message: String,
    },
}

impl Outcome {
    /// Whether the action's effect is in place.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Done | Self::AlreadyGone | Self::Adopted)
    }
}

/// One action and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    /// `create`, `disable`, `enable`, `delete`, `create_experiment`, `unarchive_experiment`, or
    /// [`RE_ENABLE`] (the old version enabled again because the new one could not be).
    pub action: String,
    /// The display name of the version (or experiment) acted on.
    pub target: String,
    /// Its KFP id when known (for a created version: the new id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What happened.
    pub outcome: Outcome,
}

/// The steps done for one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobReport {
    /// The logical job name.
    pub name: String,
    /// Its steps, in order.
    pub steps: Vec<StepReport>,
}

/// What [`crate::apply`] did to one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    /// The namespace.
    pub namespace: String,
    /// Experiment steps.
    pub experiments: Vec<StepReport>,
    /// Job steps, in plan order.
    pub jobs: Vec<JobReport>,
    /// Jobs not started because the apply was cancelled (their versions are as they were); the next
    /// apply picks them up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_started: Vec<String>,
}

impl ApplyReport {
    /// Whether every action succeeded.
    pub fn is_success(&self) -> bool {
        self.steps().all(|step| step.outcome.is_success())
    }

    /// Every step, experiments first.
    pub fn steps(&self) -> impl Iterator<Item = &StepReport> {
        self.experiments
            .iter()
            .chain(self.jobs.iter().flat_map(|job| job.steps.iter()))
    }

    /// Whether the apply was cancelled before every job was started.
    pub fn is_interrupted(&self) -> bool {
        !self.not_started.is_empty()
    }

    /// Number of actions that failed (skipped ones not counted).
    pub fn failed_count(&self) -> usize {
        self.steps()
            .filter(|step| matches!(step.outcome, Outcome::Failed { .. }))
            .count()
    }
}
