//! The schema of `rollout:` (a recurring run's) and `defaults.rollout` (kfp-gitops.yaml); what they
//! resolve to is [`crate::rollout`]'s.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ParameterValue;

/// How a new version takes over the schedule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RolloutStrategy {
    /// Create the new version paused, disable the old one, enable the new one.
    #[default]
    Swap,
    /// Start one run of the new (paused) version first; swap only when it succeeds within `timeout`.
    Verify,
}

impl RolloutStrategy {
    /// `swap` or `verify`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Swap => "swap",
            Self::Verify => "verify",
        }
    }
}

/// `rollout:` of one recurring run in `recurring_runs.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// `swap` or `verify` [default: `defaults.rollout.strategy` of kfp-gitops.yaml, else `swap`];
    /// `--rollout` overrides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<RolloutStrategy>,
    /// How long the verification run may take, a Go duration such as `2h` or `45m` [default:
    /// `defaults.rollout.timeout`, else `2h`].
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub timeout: Option<String>,
    /// Keep the new version (paused) when its verification fails, instead of deleting it [default:
    /// `defaults.rollout.keep_failed`, else `false`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_failed: Option<bool>,
    /// Parameter values for the verification run only (for example a smaller input, for a cheaper
    /// smoke run); each must be one of `pipeline_parameters`. This makes the proof weaker: the schedule
    /// then runs with values that were never tried.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(with = "Option<BTreeMap<String, ParameterValue>>")]
    pub parameters: BTreeMap<String, ParameterValue>,
}

/// `defaults.rollout` of `kfp-gitops.yaml`: the rollout of recurring runs that set none of their own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutDefaults {
    /// `swap` or `verify` [default: `swap`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<RolloutStrategy>,
    /// The verification timeout, a Go duration such as `2h` [default: `2h`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Keep a version whose verification failed, paused [default: `false`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_failed: Option<bool>,
}

impl RolloutDefaults {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.strategy.is_none() && self.timeout.is_none() && self.keep_failed.is_none()
    }
}
