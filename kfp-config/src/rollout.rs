//! How a new version of a recurring run takes over its schedule: `rollout:` of a recurring run, the
//! project-wide `defaults.rollout` of `kfp-gitops.yaml`, and their resolution (a command-line strategy
//! overrides both).
//!
//! * `swap` (the default): the new version is created paused, the old one disabled, the new one enabled.
//! * `verify`: between creating the new version paused and the swap, one run of exactly that version
//!   must succeed within `timeout`; otherwise the old version stays enabled and untouched.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::ParameterValue;

/// The verification timeout when none is configured: two hours.
pub const DEFAULT_VERIFY_TIMEOUT_SECONDS: u64 = 2 * 60 * 60;

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

    /// The defaults with the timeout in seconds (an invalid timeout is refused when the project file
    /// is read, see [`timeout_seconds`]).
    pub fn resolved(&self) -> DesiredRollout {
        DesiredRollout {
            strategy: self.strategy,
            timeout_seconds: self
                .timeout
                .as_deref()
                .and_then(|text| timeout_seconds(text).ok()),
            keep_failed: self.keep_failed,
            parameters: Vec::new(),
        }
    }
}

/// What a recurring run's config (or the project's defaults) says about its rollout; `None` = not
/// set there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct DesiredRollout {
    /// The strategy.
    pub strategy: Option<RolloutStrategy>,
    /// The verification timeout in seconds.
    pub timeout_seconds: Option<u64>,
    /// Whether a version that failed its verification is kept paused.
    pub keep_failed: Option<bool>,
    /// Parameter values of the verification run only, as KFP receives them, by name.
    pub parameters: Vec<(String, String)>,
}

/// The rollout of one recurring run, everything decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRollout {
    /// The strategy.
    pub strategy: RolloutStrategy,
    /// The verification timeout in seconds.
    pub timeout_seconds: u64,
    /// Whether a version that failed its verification is kept paused.
    pub keep_failed: bool,
    /// Parameter values of the verification run only.
    pub parameters: Vec<(String, String)>,
}

/// The desired rollout of a checked `rollout:` (its timeout valid, its values plain).
pub fn desired(rollout: Option<&Rollout>) -> DesiredRollout {
    let Some(rollout) = rollout else {
        return DesiredRollout::default();
    };
    DesiredRollout {
        strategy: rollout.strategy,
        timeout_seconds: rollout
            .timeout
            .as_deref()
            .and_then(|text| timeout_seconds(text).ok()),
        keep_failed: rollout.keep_failed,
        parameters: rollout
            .parameters
            .iter()
            .map(|(name, value)| (name.clone(), value.as_kfp_string()))
            .collect(),
    }
}

/// Resolves a run's rollout: the command line's strategy (`force`) over the run's own settings over
/// the project's `defaults`, then the built-in defaults (`swap`, `2h`, not kept).
pub fn resolve(
    run: &DesiredRollout,
    defaults: &DesiredRollout,
    force: Option<RolloutStrategy>,
) -> ResolvedRollout {
    ResolvedRollout {
        strategy: force
            .or(run.strategy)
            .or(defaults.strategy)
            .unwrap_or_default(),
        timeout_seconds: run
            .timeout_seconds
            .or(defaults.timeout_seconds)
            .unwrap_or(DEFAULT_VERIFY_TIMEOUT_SECONDS),
        keep_failed: run.keep_failed.or(defaults.keep_failed).unwrap_or(false),
        parameters: run.parameters.clone(),
    }
}

/// A verification timeout (a Go duration) in whole seconds: at least one second.
pub fn timeout_seconds(text: &str) -> Result<u64, String> {
    let nanos = crate::cron::parse_go_duration(text)?;
    let seconds = nanos / 1_000_000_000;
    if seconds < 1 {
        return Err(format!("the timeout `{text}` is shorter than one second"));
    }
    u64::try_from(seconds).map_err(|_| format!("the timeout `{text}` is too long"))
}

/// A number of seconds as a short duration: `2h`, `1h30m`, `45m`, `90s`.
pub fn format_seconds(seconds: u64) -> String {
    let (hours, minutes, rest) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut text = String::new();
    if hours > 0 {
        text.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        text.push_str(&format!("{minutes}m"));
    }
    if rest > 0 || text.is_empty() {
        text.push_str(&format!("{rest}s"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_beats_the_run_which_beats_the_project_defaults() {
        let run = DesiredRollout {
            strategy: Some(RolloutStrategy::Verify),
            timeout_seconds: Some(60),
            ..DesiredRollout::default()
        };
        let defaults = DesiredRollout {
            strategy: Some(RolloutStrategy::Swap),
            timeout_seconds: Some(600),
            keep_failed: Some(true),
            parameters: Vec::new(),
        };
        let resolved = resolve(&run, &defaults, None);
        assert_eq!(resolved.strategy, RolloutStrategy::Verify);
        assert_eq!(resolved.timeout_seconds, 60);
        assert!(resolved.keep_failed);
        let forced = resolve(&run, &defaults, Some(RolloutStrategy::Swap));
        assert_eq!(forced.strategy, RolloutStrategy::Swap);
        let nothing = resolve(&DesiredRollout::default(), &DesiredRollout::default(), None);
        assert_eq!(nothing.strategy, RolloutStrategy::Swap);
        assert_eq!(nothing.timeout_seconds, DEFAULT_VERIFY_TIMEOUT_SECONDS);
        assert!(!nothing.keep_failed);
    }

    #[test]
    fn timeouts_are_go_durations_of_at_least_a_second() {
        assert_eq!(timeout_seconds("2h"), Ok(7200));
        assert_eq!(timeout_seconds("1h30m"), Ok(5400));
        assert_eq!(timeout_seconds("1.5s"), Ok(1));
        assert!(timeout_seconds("500ms").is_err());
        assert!(timeout_seconds("2 hours").is_err());
    }

    #[test]
    fn durations_print_short() {
        assert_eq!(format_seconds(7200), "2h");
        assert_eq!(format_seconds(5400), "1h30m");
        assert_eq!(format_seconds(45 * 60), "45m");
        assert_eq!(format_seconds(90), "1m30s");
        assert_eq!(format_seconds(3), "3s");
    }
}
